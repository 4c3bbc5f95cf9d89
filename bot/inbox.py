"""Handling updates from the inbox: each chat's in order, chats side by side,
retried when handling fails, and never lost (docs/architecture.md rule 1).

The receiver (bot/telegram.py) keeps each batch of updates in the inbox and only
then confirms it to Telegram. This drains the inbox: an update is handled (one
transaction, deduped by update id) and then deleted. If handling fails (the
database is down, a bug) it is tried again with growing pauses; if it keeps
failing while the database works, the person and the team are told once, and
the chat's later messages are handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.lanes import Lanes
from bot.store import Database
from bot.store import inbox as kept
from bot.store.base import utcnow
from bot.store.db import trouble

log = logging.getLogger(__name__)

#: How long an instance may take to handle one update before another may.
LEASE = timedelta(seconds=60)
#: After this many failed attempts (a minute or so) the person and the team are told.
GIVE_UP_AFTER = 6


def pause(attempts: int) -> timedelta:
    """1, 2, 4, 8... seconds, at most five minutes."""
    return timedelta(seconds=min(2.0 ** (attempts - 1), 300.0))


Handler = Callable[[dict[str, Any]], Awaitable[None]]
#: Called once for an update given up on (with the raw update).
GivenUp = Callable[[dict[str, Any]], Awaitable[None]]


class InboxDrain:
    def __init__(
        self,
        db: Database,
        handle: Handler,
        *,
        instance: str,
        given_up: GivenUp | None = None,
        clock: Callable[[], datetime] = utcnow,
        chats_at_once: int = 16,
    ) -> None:
        self.db = db
        self.handle = handle
        self.instance = instance
        self.given_up = given_up
        self.clock = clock
        self.wake = asyncio.Event()
        self.lanes = Lanes(chats_at_once, self.wake.set)
        self.last_pass = time.monotonic()
        #: Set to stop after the pass under way.
        self.stopping = False
        #: Updates being handled by this process now.
        self.in_hand: set[int] = set()

    async def run(self, idle_seconds: float = 1.0) -> None:
        """Handle what arrives until `stopping`, a lane per chat; `wake` is set when
        the receiver keeps new updates, and whenever a chat's lane finishes."""
        while not self.stopping:
            # Cleared before looking: a wake-up that comes meanwhile is not lost.
            self.wake.clear()
            try:
                async with self.db.reading() as session:
                    due = await kept.due(session, self.clock(), 50)
                for update_id, chat_id in due:
                    lane = chat_id if chat_id is not None else -update_id
                    if not self.lanes.is_busy(lane):
                        self.lanes.start(lane, self._lane(update_id))
            except Exception as exc:
                log.warning("inbox pass failed (%s); retrying", trouble(exc))
            self.last_pass = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), idle_seconds)

    async def finish(self, within: float) -> None:
        """Let handling under way finish (after `stopping`), for up to `within` seconds."""
        await self.lanes.finish(within)

    async def drain(self, batch: int = 50) -> int:
        """One pass, waiting for it to end (for tests): every chat's next update.
        Returns how many were dealt with (handled or put off): 0 means none was due."""
        async with self.db.reading() as session:
            due = await kept.due(session, self.clock(), batch)
        results = await asyncio.gather(*(self._one(update_id) for update_id, _ in due))
        return sum(results)

    async def _lane(self, update_id: int) -> None:
        await self._one(update_id)

    async def _one(self, update_id: int) -> bool:
        if update_id in self.in_hand:
            return False
        self.in_hand.add(update_id)
        try:
            payload = await self._take(update_id)
            if payload is None:  # another instance has it
                return False
            try:
                await self.handle(payload)
            except Exception as exc:
                await self._failed(update_id, payload, exc)
                return True
            # Handling takes it out of the inbox in its own transaction; an update
            # that turned out to be nothing for us is taken out here.
            async with self.db.reading() as session:
                left = await kept.still_kept(session, update_id)
            if left:
                async with self.db.transaction() as session:
                    await kept.handled(session, update_id)
            return True
        finally:
            self.in_hand.discard(update_id)

    async def _take(self, update_id: int) -> dict[str, Any] | None:
        """The update to handle. Several instances (PostgreSQL) lease it; one process
        alone (SQLite) needs no lease: `in_hand` says what it is handling."""
        if not self.db.locks_rows:
            async with self.db.reading() as session:
                row = await session.get(kept.InboxUpdate, update_id)
                return dict(row.payload) if row is not None else None
        async with self.db.transaction() as session:
            row = await kept.lease(session, update_id, self.instance, self.clock(), LEASE)
            return dict(row.payload) if row is not None else None

    async def _failed(self, update_id: int, payload: dict[str, Any], exc: Exception) -> None:
        error = type(exc).__name__
        # Never the exception's text: a database error can quote what they wrote.
        log.warning("handling an update failed (%s); it is kept and tried again", trouble(exc),
                    extra={"update_id": update_id, "error": error})  # fmt: skip
        async with self.db.transaction() as session:
            attempts = await kept.failed(session, update_id, error, self.clock(), pause)
            if attempts < GIVE_UP_AFTER:
                return
            await kept.give_up(session, update_id, self.clock())
        log.error("update given up on", extra={"update_id": update_id, "error": error})
        if self.given_up is not None:
            try:
                await self.given_up(payload)
            except Exception as told:
                log.error("could not tell anyone about it", extra={"error": type(told).__name__})
