"""What `GET /healthz` and `GET /metrics` report: how much is waiting, and how long
the oldest message has waited. Counts only: nothing about anyone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.cases import SafetyAlert
from bot.store.checkins import CheckIn
from bot.store.inbox import InboxUpdate
from bot.store.outbox import OutboxMessage


@dataclass(frozen=True)
class Backlog:
    #: Messages not yet sent (and not given up on).
    outbox: int
    #: Seconds the oldest of them has waited (0: none waiting).
    oldest_unsent_seconds: float
    #: Updates kept and not yet handled.
    inbox: int
    #: Check-ins due now and not yet sent.
    due_check_ins: int
    #: Safety alerts nobody has marked Seen.
    unseen_alerts: int


async def backlog(session: AsyncSession, now: datetime) -> Backlog:
    unsent = (OutboxMessage.sent_at.is_(None), OutboxMessage.failed_reason.is_(None))
    outbox, oldest = (
        await session.execute(
            select(func.count(), func.min(OutboxMessage.created_at)).where(*unsent)
        )
    ).one()
    inbox = await session.scalar(
        select(func.count()).select_from(InboxUpdate).where(InboxUpdate.failed_at.is_(None))
    )
    due = await session.scalar(
        select(func.count())
        .select_from(CheckIn)
        .where(CheckIn.status == "due", CheckIn.due_at <= now)
    )
    unseen = await session.scalar(
        select(func.count()).select_from(SafetyAlert).where(SafetyAlert.seen_at.is_(None))
    )
    waited = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return Backlog(int(outbox or 0), waited, int(inbox or 0), int(due or 0), int(unseen or 0))
