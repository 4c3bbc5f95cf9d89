"""Delivers the outbox: in order within each chat, within Telegram's limits, retried.

Delivery is separate from handling (ARCHITECTURE.md rule 2): a message written to
the outbox is sent even if the process restarts in between. Several instances can
drain one outbox: on PostgreSQL each row is taken with FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aiolimiter import AsyncLimiter
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased

from bot.store import Database
from bot.store.models import OutboxMessage, Patient, utcnow

log = logging.getLogger(__name__)

Keyboard = list[list[dict[str, str]]]
MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=60)
TEAM_CHAT_RETRY = timedelta(minutes=5)


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
        earlier = aliased(OutboxMessage)
        query = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.channel == self.channel,
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.failed_reason.is_(None),
                OutboxMessage.next_attempt_at <= self.clock(),
                ~exists().where(
                    and_(
                        earlier.chat_id == OutboxMessage.chat_id,
                        earlier.channel == OutboxMessage.channel,
                        earlier.id < OutboxMessage.id,
                        earlier.sent_at.is_(None),
                        earlier.failed_reason.is_(None),
                    )
                ),
            )
            .order_by(OutboxMessage.id)
            .limit(batch)
        )
        async with self.db.sessions() as session:
            return list((await session.execute(query)).scalars())

    async def _deliver_one(self, row_id: int) -> bool:
        claimed = await self._claim(row_id)
        if claimed is None:  # another instance has it, or it went already
            return False
        row, target_message_id = claimed
        text, buttons = row.payload.get("text", ""), row.payload.get("buttons", [])
        await self._throttle(row.chat_id)
        outcome: dict[str, object] = {}
        try:
            if row.action == "edit":
                assert target_message_id is not None
                await self.sender.edit(row.chat_id, target_message_id, text, buttons)
            else:
                outcome["message_id"] = await self.sender.send(row.chat_id, text, buttons)
            outcome["sent_at"] = self.clock()
            outcome["delivered_digest"] = digest(text, buttons)
        except RetryLater as exc:
            if row.attempts + 1 >= MAX_ATTEMPTS and not row.payload.get("urgent"):
                outcome["failed_reason"] = (
                    f"gave up after {row.attempts + 1} attempts: {exc.reason}"[:200]
                )
                log.error("message undelivered", extra={"outbox_id": row.id})
            else:
                wait = (
                    exc.seconds
                    if exc.seconds is not None
                    else min(2.0 ** (row.attempts + 1), 300.0)
                )
                outcome["next_attempt_at"] = self.clock() + timedelta(seconds=wait)
                log.warning(
                    "delivery postponed", extra={"outbox_id": row.id, "seconds": exc.seconds}
                )
        except Blocked:
            if row.chat_id < 0:
                # A group (the team chat): the bot was removed or muted. This is an
                # alert that must not be dropped: keep trying, loudly.
                outcome["next_attempt_at"] = self.clock() + TEAM_CHAT_RETRY
                log.error(
                    "cannot post to the team chat: re-add the bot", extra={"chat_id": row.chat_id}
                )
            else:
                outcome["failed_reason"] = "blocked by the person"
                log.warning("patient blocked the bot", extra={"chat_id": row.chat_id})
        except Undeliverable as exc:
            outcome["failed_reason"] = str(exc)[:200]
            log.error("message refused", extra={"outbox_id": row.id})
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(attempts=OutboxMessage.attempts + 1, **outcome)
            )
            if row.action == "edit" and "sent_at" in outcome:
                # The original message now shows this edit's content.
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.target_id)
                    .values(delivered_digest=outcome["delivered_digest"])
                )
            if outcome.get("failed_reason") == "blocked by the person":
                await session.execute(
                    update(Patient)
                    .where(Patient.channel == row.channel, Patient.chat_id == row.chat_id)
                    .values(blocked_at=self.clock())
                )
        return True

    async def _claim(self, row_id: int) -> tuple[OutboxMessage, int | None] | None:
        """Take a row for a short lease, so no other instance sends it meanwhile;
        the network call itself happens outside any transaction."""
        async with self.db.transaction() as session:
            query = select(OutboxMessage).where(
                OutboxMessage.id == row_id,
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.next_attempt_at <= self.clock(),
            )
            if self.db.locks_rows:
                query = query.with_for_update(skip_locked=True)
            row = (await session.execute(query)).scalar_one_or_none()
            if row is None:
                return None
            target_message_id = None
            if row.action == "edit":
                target = await session.get(OutboxMessage, row.target_id) if row.target_id else None
                target_message_id = target.message_id if target else None
                if target_message_id is None:  # the original never arrived: nothing to edit
                    row.sent_at = self.clock()
                    return None
                if target is not None and target.delivered_digest == digest(
                    row.payload.get("text", ""), row.payload.get("buttons", [])
                ):
                    row.sent_at = self.clock()  # it already shows exactly this
                    return None
            row.next_attempt_at = self.clock() + LEASE
            return row, target_message_id

    async def _throttle(self, chat_id: int) -> None:
        limiter = self.per_chat.get(chat_id)
        if limiter is None:
            limiter = AsyncLimiter(self.limits.per_chat_burst, self.limits.per_chat_seconds)
            self.per_chat[chat_id] = limiter
        async with self.overall, limiter:
            return


def digest(text: str, buttons: Keyboard) -> str:
    """What a message shows, in 64 characters: to tell whether an edit changes it."""
    shown = json.dumps({"text": text, "buttons": buttons}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(shown.encode()).hexdigest()
