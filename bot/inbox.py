"""Handling updates from the inbox: each chat's in order, chats side by side,
retried when handling fails, and never lost (docs/architecture.md rule 1).

The receiver (bot/telegram.py) keeps each batch of updates in the inbox and only
then confirms it to Telegram. This drains the inbox: an update is handled (one
transaction, deduped by update id) and then deleted. If handling fails (the
database is down, a bug) it is tried again with growing pauses; if it keeps
failing while the database works, the person and the team are told once, and
the chat's later messages are handled.

A chat that sends faster than anyone types (hundreds of messages a minute) is
flooding: past a burst, and with more of its updates waiting behind the next. It is
told once, and slowed: while any other chat has an update waiting or under way, a
flooding chat's next one waits for its turn at a steady pace (`FloodLimit`); when
nobody else is waiting it carries on at full speed. Nothing of it is dropped: every
update stays kept until it is handled. What a chat has used is counted in memory:
it is a matter of pace, not of record (a restart starts everyone afresh).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import lanes
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
#: Chats looked at in one pass (each chat's next update).
BATCH = 50


def pause(attempts: int) -> timedelta:
    """1, 2, 4, 8... seconds, at most five minutes."""
    return timedelta(seconds=min(2.0 ** (attempts - 1), 300.0))


#: Handles one update (what it says, and whether it came from an active link worker
#: when it was looked for: `bot.store.inbox.Due.from_worker`); True when its own
#: transaction took it out of the inbox (as handling does:
#: bot.store.updates.first_delivery), so nobody need look again.
Handler = Callable[[dict[str, Any], bool], Awaitable[bool | None]]
#: Whether an update may be handled as it arrived, asked first in the transaction
#: that would handle it (`InboxDrain.at_once`): nothing of its chat's waits.
MayGo = Callable[[AsyncSession], Awaitable[bool]]
#: Handles one update as it arrived, given what to ask first (`MayGo`): True when a
#: patient's transaction handled it, and so kept it; False when it may not go, or
#: is not the patient side's (nothing written).
AtOnce = Callable[[MayGo], Awaitable[bool]]
#: Called once for an update given up on (with the raw update).
GivenUp = Callable[[dict[str, Any]], Awaitable[None]]
#: Called once a flood, with the first update of the chat's that had to wait: to
#: tell them their replies may take a moment.
Flooding = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class FloodLimit:
    """How fast one chat's updates are handled while other chats are waiting."""

    #: Updates a chat may send at once, each handled as soon as it arrives (a
    #: forwarded batch, a few quick taps).
    burst: int = 20
    #: After the burst, this many a second (300 a minute: far past anyone typing).
    per_second: float = 5.0
    #: A chat told it is sending very fast is not told again for this long.
    tell_again_after: float = 3600.0


DEFAULT_FLOOD_LIMIT = FloodLimit()


class Budgets:
    """What each chat may still have handled at once: a bucket of `burst` updates,
    filled again at `per_second`. Only chats that used some of it are remembered."""

    def __init__(self, limit: FloodLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self.used: dict[int, tuple[float, float]] = {}  # chat -> (updates left, as of when)
        self.told: dict[int, float] = {}  # chat -> when it was told it is flooding
        #: Chats whose backlog is handled at full speed whoever waits (crisis words in it).
        self.hurried: set[int] = set()

    def left(self, chat: int) -> float:
        if chat not in self.used:
            return float(self.limit.burst)
        tokens, at = self.used[chat]
        now = self.clock()
        tokens = min(float(self.limit.burst), tokens + (now - at) * self.limit.per_second)
        if tokens >= self.limit.burst:
            del self.used[chat]  # full again: nothing to remember
        else:
            self.used[chat] = (tokens, now)
        return tokens

    def over(self, chat: int) -> bool:
        """Past its burst: it has sent more than the pace allows."""
        return chat not in self.hurried and self.left(chat) < 1

    def spend(self, chat: int) -> None:
        self.used[chat] = (max(self.left(chat) - 1, 0.0), self.clock())

    def seconds_to_next(self, chat: int) -> float:
        return max(1 - self.left(chat), 0.0) / self.limit.per_second

    def forget_idle(self) -> None:
        """Drop every chat whose bucket is full again, and notices long past: each is
        dropped when next looked at too; this sweeps the ones nobody looks at, so a
        chat that wrote once is not remembered for good."""
        for chat in list(self.used):
            self.left(chat)
        now = self.clock()
        for quiet in [c for c, at in self.told.items() if now - at > self.limit.tell_again_after]:
            del self.told[quiet]

    def first_notice(self, chat: int) -> bool:
        """Whether to tell the chat it is sending fast (once, then not again for a while)."""
        now = self.clock()
        for quiet in [c for c, at in self.told.items() if now - at > self.limit.tell_again_after]:
            del self.told[quiet]
        if chat in self.told:
            return False
        self.told[chat] = now
        return True


def _lane(due: kept.Due) -> int:
    """The lane an update goes in: its chat's (an update from no chat, its own)."""
    return due.chat_id if due.chat_id is not None else -due.update_id


class InboxDrain:
    def __init__(
        self,
        db: Database,
        handle: Handler,
        *,
        instance: str,
        given_up: GivenUp | None = None,
        flooding: Flooding | None = None,
        clock: Callable[[], datetime] = utcnow,
        chats_at_once: int = 16,
        flood_limit: FloodLimit = DEFAULT_FLOOD_LIMIT,
        on_handled: Callable[[float], None] | None = None,
    ) -> None:
        """`on_handled(seconds)`: told of each update handled, and how long it took."""
        self.db = db
        self.on_handled = on_handled
        self.handle = handle
        self.instance = instance
        self.given_up = given_up
        self.flooding = flooding
        self.clock = clock
        self.budgets = Budgets(flood_limit)
        #: Chats flooding now: past their burst, with more waiting behind the next.
        self.flooding_now: set[int] = set()
        #: Chats to tell, with the next of their updates handled, that they are flooding.
        self.to_tell: set[int] = set()
        self._wake_at: float | None = None
        self.wake = asyncio.Event()
        #: Chats whose lane's end must look again: more of theirs may be waiting.
        self.behind: set[int] = set()
        self.lanes = Lanes(chats_at_once, self._lane_ended)
        self.last_pass = time.monotonic()
        #: Set to stop after the pass under way.
        self.stopping = False
        #: Updates being handled by this process now.
        self.in_hand: set[int] = set()
        #: Other instances are running on this database (PostgreSQL), as the
        #: heartbeat last saw (bot/telegram.py); taken to be until it says.
        self.sharing = db.locks_rows

    def _lane_ended(self, chat: int) -> None:
        # Another instance may have kept updates for this chat meanwhile, which wait
        # for this lane's: look at once, not at the next idle pass.
        if chat in self.behind or self.sharing:
            self.behind.discard(chat)
            self.wake.set()

    async def run(self, idle_seconds: float | None = None) -> None:
        """Handle what arrives until `stopping`, a lane per chat; `wake` is set when
        the receiver keeps new updates, and when a chat's lane ends with more of its
        updates waiting, and when an update that failed is due again. An idle pass
        each `idle_seconds` (by default `bot.lanes.idle_seconds`) finds the rest
        (what another instance let go)."""
        while not self.stopping:
            idle = idle_seconds if idle_seconds is not None else lanes.idle_seconds(self.sharing)
            # Cleared before looking: a wake-up that comes meanwhile is not lost.
            self.wake.clear()
            try:
                busy = set(self.lanes.busy)  # some may end while the query runs
                # What is kept for a chat being handled waits for its lane's end.
                self.behind |= busy
                async with self.db.reading() as session:
                    # One process alone (SQLite) takes no lease: what the updates
                    # say is read with the look, not in a session of each its own.
                    due = await kept.due(
                        session, self.clock(), BATCH, with_payloads=not self.db.locks_rows
                    )
                # A lane busy as the look began may have handled its update since
                # (gone from the inbox): what the look read of it is read again, if
                # it is still kept, when it is taken.
                due = [d._replace(payload=None) if _lane(d) in busy else d for d in due]
                self._start_lanes(due, busy_before=busy, everything=len(due) < BATCH)
            except Exception as exc:
                log.warning("inbox pass failed (%s); retrying", trouble(exc))
            self.budgets.forget_idle()
            self.last_pass = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), idle)

    def _start_lanes(self, due: list[kept.Due], *, busy_before: set[int], everything: bool) -> None:
        """Each chat's next update, in its lane; a flooding chat's waits for its pace
        while any other chat has work waiting or under way. `everything`: `due` is
        every chat with an update waiting; `busy_before`: the lanes busy when it was
        read."""
        if everything:  # a chat whose backlog is done is flooding (or hurried) no more
            still = {d.chat_id for d in due} | busy_before | set(self.lanes.busy)
            self.budgets.hurried &= still
            self.flooding_now &= still
        ready = [d for d in due if not self.lanes.is_busy(_lane(d))]
        for d in ready:
            if d.chat_id is not None and self.budgets.over(d.chat_id) and d.waiting > 1:
                self.flooding_now.add(d.chat_id)
            elif d.chat_id is not None and not self.budgets.over(d.chat_id):
                self.flooding_now.discard(d.chat_id)
        others = {d.chat_id for d in ready if d.chat_id is not None} | set(self.lanes.busy)
        pressing = others - self.flooding_now
        for d in ready:
            chat = d.chat_id
            if chat is not None and chat in self.flooding_now:
                if self.budgets.first_notice(chat):
                    log.info("chat sending very fast: slowed", extra={"chat_id": chat})
                    self.to_tell.add(chat)
                if pressing - {chat} and self.budgets.left(chat) < 1:
                    # Look again when it may go on at its pace (or when a lane ends).
                    self._wake_in(self.budgets.seconds_to_next(chat))
                    continue
            if chat is not None:  # (not from a chat: nobody's budget)
                self.budgets.spend(chat)
            if d.waiting > 1 or not everything:  # more may be waiting behind this one
                self.behind.add(_lane(d))
            self.lanes.start(_lane(d), self._lane(d.update_id, chat, d.payload, d.from_worker))

    def _wake_in(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        at = loop.time() + seconds
        if self._wake_at is None or self._wake_at <= loop.time() or at < self._wake_at:
            loop.call_later(seconds, self.wake.set)
            self._wake_at = at

    def hurry(self, chat: int) -> None:
        """Handle this chat's backlog at full speed, whoever else waits (there are
        crisis words in it), until it has been worked through."""
        self.budgets.hurried.add(chat)
        self.flooding_now.discard(chat)

    def is_flooding(self, chat: int, arriving: int = 1) -> bool:
        """Whether this chat's updates will wait their turn: it is flooding, or these
        `arriving` at once are more than its burst has left."""
        if chat in self.budgets.hurried:
            return False
        return chat in self.flooding_now or (arriving > 1 and self.budgets.left(chat) < arriving)

    async def finish(self, within: float) -> None:
        """Let handling under way finish (after `stopping`), for up to `within` seconds."""
        await self.lanes.finish(within)

    async def at_once(self, update_id: int, chat: int, handle: AtOnce) -> bool:
        """A lone update from a private chat, handled as it arrives rather than kept
        first and then found by a look: True when it was (its own transaction kept
        it: `bot.patients.service.Inbound.kept`); False when it is to be kept, as
        usual (it must wait its turn: the chat's earlier updates are kept or being
        handled, or it is sending very fast; it is a link worker's, for the staff
        side; or handling failed, and is tried again from the inbox). Order and
        pace are as if it had been kept: only what could have gone at once does.
        Whether it may is asked first in the transaction that handles it, not in
        one of its own before."""
        if self.lanes.is_busy(chat) or self.is_flooding(chat) or self.budgets.over(chat):
            return False

        async def may_go(session: AsyncSession) -> bool:
            seen = await kept.waiting(session, chat)
            if seen.kept or seen.from_worker or self.lanes.is_busy(chat):
                return False
            self.budgets.spend(chat)
            return True

        began = time.monotonic()
        try:
            handled = await handle(may_go)
        except Exception as exc:
            log.warning("handling an update as it arrived failed (%s); it is kept and tried "
                        "again", trouble(exc), extra={"update_id": update_id})  # fmt: skip
            return False
        if handled and self.on_handled is not None:
            self.on_handled(time.monotonic() - began)
        return handled

    async def drain(self, batch: int = 50) -> int:
        """One pass, waiting for it to end (for tests): every chat's next update.
        Returns how many were dealt with (handled or put off): 0 means none was due."""
        async with self.db.reading() as session:
            due = await kept.due(session, self.clock(), batch, with_payloads=not self.db.locks_rows)
        results = await asyncio.gather(
            *(self._one(d.update_id, payload=d.payload, from_worker=d.from_worker) for d in due)
        )
        return sum(results)

    async def _lane(
        self, update_id: int, chat: int | None, payload: dict[str, Any] | None, from_worker: bool
    ) -> None:
        tell = chat is not None and chat in self.to_tell
        if tell:
            self.to_tell.discard(chat)
        await self._one(update_id, tell=tell, payload=payload, from_worker=from_worker)

    async def _one(
        self,
        update_id: int,
        *,
        tell: bool = False,
        payload: dict[str, Any] | None = None,
        from_worker: bool = False,
    ) -> bool:
        """`payload`: what the update says, if read already (SQLite: with the look);
        `from_worker`: it came from an active link worker, as of the look."""
        if update_id in self.in_hand:
            return False
        self.in_hand.add(update_id)
        try:
            if payload is None:
                payload = await self._take(update_id)
            if payload is None:  # another instance has it
                return False
            if tell and self.flooding is not None:
                try:
                    await self.flooding(payload)
                except Exception as exc:  # a notice is a kindness: the update comes first
                    log.warning("could not tell a chat it is sending fast (%s)", trouble(exc))
            began = time.monotonic()
            try:
                taken_out = await self.handle(payload, from_worker)
            except Exception as exc:
                await self._failed(update_id, payload, exc)
                return True
            if self.on_handled is not None:
                self.on_handled(time.monotonic() - began)
            # Handling takes it out of the inbox in its own transaction; an update
            # that turned out to be nothing for us is taken out here.
            if taken_out:
                return True
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
        alone (SQLite) needs no lease: `in_hand` says what it is handling (and a
        chat's lane takes its next update only once the last one is done)."""
        if not self.db.locks_rows:
            async with self.db.reading() as session:
                row = await session.get(kept.InboxUpdate, update_id)
                return dict(row.payload) if row is not None else None
        async with self.db.transaction() as session:
            return await kept.lease(session, update_id, self.instance, self.clock(), LEASE)

    async def _failed(self, update_id: int, payload: dict[str, Any], exc: Exception) -> None:
        error = type(exc).__name__
        # Never the exception's text: a database error can quote what they wrote.
        log.warning("handling an update failed (%s); it is kept and tried again", trouble(exc),
                    extra={"update_id": update_id, "error": error})  # fmt: skip
        async with self.db.transaction() as session:
            attempts = await kept.failed(session, update_id, error, self.clock(), pause)
            if attempts < GIVE_UP_AFTER:
                # Looked for again when it is due, not at the next idle pass.
                asyncio.get_running_loop().call_later(
                    pause(attempts).total_seconds(), self.wake.set
                )
                return
            await kept.give_up(session, update_id, self.clock())
        log.error("update given up on", extra={"update_id": update_id, "error": error})
        if self.given_up is not None:
            try:
                await self.given_up(payload)
            except Exception as told:
                log.error("could not tell anyone about it", extra={"error": type(told).__name__})
