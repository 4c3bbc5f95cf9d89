"""Delivers the outbox: in order within each chat, within Telegram's limits, retried.

Delivery is separate from handling (docs/architecture.md rule 2): a message written to
the outbox is sent even if the process restarts in between. Several instances can
drain one outbox: on PostgreSQL each row is taken with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aiolimiter import AsyncLimiter

from bot.store import Database
from bot.store.base import utcnow
from bot.store.outbox import Attempt, Keyboard, Leased, digest, due_ids, lease, record_attempt
from bot.store.patients import mark_blocked

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=60)
TEAM_CHAT_RETRY = timedelta(minutes=5)
BLOCKED = "blocked by the person"


class RetryLater(Exception):
    """Telegram asked us to wait (429) or the network failed: try again later."""

    def __init__(self, seconds: float | None, reason: str) -> None:
        """seconds: as Telegram asked, or None to back off by the number of attempts."""
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class Blocked(Exception):
    """The person blocked the bot (403): stop sending to them."""


class Undeliverable(Exception):
    """Telegram refused this message for good (400): retrying will not help."""


class Sender(Protocol):
    """What a channel must do to deliver. Raises the exceptions above."""

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> int | None: ...

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> None: ...


@dataclass(frozen=True)
class Limits:
    overall_per_second: float = 30
    #: A short burst per chat is fine; over time about one message a second.
    per_chat_burst: int = 3
    per_chat_seconds: float = 3.0


DEFAULT_LIMITS = Limits()


class Delivery:
    def __init__(
        self,
        db: Database,
        sender: Sender,
        channel: str,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.sender = sender
        self.channel = channel
        self.clock = clock
        self.limits = limits
        self.overall = AsyncLimiter(limits.overall_per_second, 1)
        self.per_chat: dict[int, AsyncLimiter] = {}
        self.wake = asyncio.Event()

    async def run(self, idle_seconds: float = 1.0) -> None:
        """Deliver for as long as the bot runs; `wake` is set after each update."""
        while True:
            try:
                sent = await self.deliver_due()
            except Exception:
                log.exception("delivery pass failed; retrying")
                sent = 0
            if sent:
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), idle_seconds)

    async def deliver_due(self, batch: int = 50) -> int:
        """One pass over due rows (each the oldest unsent one in its chat). Returns
        how many were dealt with (sent, postponed or given up), so 0 means idle."""
        handled = 0
        for row_id in await self._due_ids(batch):
            if await self._deliver_one(row_id):
                handled += 1
        return handled

    async def _due_ids(self, batch: int) -> list[int]:
        async with self.db.reading() as session:
            return await due_ids(session, self.channel, self.clock(), batch)

    async def _deliver_one(self, row_id: int) -> bool:
        async with self.db.transaction() as session:
            # A short lease, so no other instance sends it meanwhile; the network
            # call itself happens outside any transaction.
            leased = await lease(session, row_id, self.clock(), LEASE)
        if leased is None:  # another instance has it, it went already, or nothing to do
            return False
        row = leased.row
        await self._throttle(row.chat_id)
        attempt = await self._attempt(leased)
        async with self.db.transaction() as session:
            await record_attempt(session, row, attempt)
            if attempt.failed_reason == BLOCKED:
                await mark_blocked(session, row.channel, row.chat_id, self.clock())
        return True

    async def _attempt(self, leased: Leased) -> Attempt:
        """Send or edit once, and say how it went."""
        row, chat_id = leased.row, leased.row.chat_id
        text, buttons = row.payload["text"], row.payload["buttons"]
        try:
            message_id = None
            if leased.target_message_id is not None:  # an edit
                await self.sender.edit(chat_id, leased.target_message_id, text, buttons)
            else:
                message_id = await self.sender.send(chat_id, text, buttons)
            return Attempt(sent_at=self.clock(), message_id=message_id,
                           delivered_digest=digest(text, buttons))  # fmt: skip
        except RetryLater as exc:
            tries = row.attempts + 1
            if tries >= MAX_ATTEMPTS and not row.payload.get("urgent"):
                log.error("message undelivered", extra={"outbox_id": row.id})
                return Attempt(failed_reason=f"gave up after {tries} attempts: {exc.reason}"[:200])
            wait = exc.seconds if exc.seconds is not None else min(2.0**tries, 300.0)
            log.warning("delivery postponed", extra={"outbox_id": row.id, "seconds": exc.seconds})
            return Attempt(next_attempt_at=self.clock() + timedelta(seconds=wait))
        except Blocked:
            if chat_id < 0:
                # A group (the team chat): the bot was removed or muted. This is an
                # alert that must not be dropped: keep trying, loudly.
                log.error(
                    "cannot post to the team chat: re-add the bot", extra={"chat_id": chat_id}
                )
                return Attempt(next_attempt_at=self.clock() + TEAM_CHAT_RETRY)
            log.warning("patient blocked the bot", extra={"chat_id": chat_id})
            return Attempt(failed_reason=BLOCKED)
        except Undeliverable as exc:
            log.error("message refused", extra={"outbox_id": row.id})
            return Attempt(failed_reason=str(exc)[:200])

    async def _throttle(self, chat_id: int) -> None:
        limiter = self.per_chat.get(chat_id)
        if limiter is None:
            limiter = AsyncLimiter(self.limits.per_chat_burst, self.limits.per_chat_seconds)
            self.per_chat[chat_id] = limiter
        async with self.overall, limiter:
            return
