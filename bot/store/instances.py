"""Running bot processes, so that what a dead one held is let go within seconds.

Each process registers an instance id and beats a heartbeat. Outbox rows and inbox
updates it leases carry its id; when it stops beating (it was killed, or lost its
machine), another process, or the same one started again, releases them. A crash
then stalls a chat for seconds, not for the length of a lease.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, utcnow
from bot.store.inbox import InboxUpdate
from bot.store.outbox import OutboxMessage


class BotInstance(Base):
    __tablename__ = "bot_instance"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(200), default="")
    pid: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


async def register(
    session: AsyncSession, instance: str, host: str, pid: int, now: datetime
) -> None:
    session.add(BotInstance(id=instance, host=host[:200], pid=pid, started_at=now, seen_at=now))


async def beat(session: AsyncSession, instance: str, now: datetime) -> None:
    await session.execute(update(BotInstance).where(BotInstance.id == instance).values(seen_at=now))


async def others_running(
    session: AsyncSession, me: str, now: datetime, silent_for: timedelta
) -> bool:
    """Whether another instance has beaten its heartbeat within `silent_for`."""
    alive = select(BotInstance.id).where(
        BotInstance.id != me, BotInstance.seen_at >= now - silent_for
    )
    return (await session.execute(alive.limit(1))).first() is not None


async def release_the_dead(
    session: AsyncSession, me: str, now: datetime, silent_for: timedelta | None
) -> int:
    """Let go of what instances that stopped beating held. `silent_for=None`: every
    instance but `me` is dead (SQLite: only one process can run the bot)."""
    query = select(BotInstance.id).where(BotInstance.id != me)
    if silent_for is not None:
        query = query.where(BotInstance.seen_at < now - silent_for)
    dead = list((await session.execute(query)).scalars())
    if not dead:
        return 0
    released = 0
    for table in (OutboxMessage, InboxUpdate):
        result = await session.execute(
            update(table)
            .where(table.leased_by.in_(dead))
            .values(leased_by=None, next_attempt_at=now)
        )
        released += int(result.rowcount or 0)  # type: ignore[attr-defined]
    await session.execute(delete(BotInstance).where(BotInstance.id.in_(dead)))
    return released


async def stop(session: AsyncSession, instance: str, now: datetime) -> None:
    """A clean stop lets go at once of what it still held."""
    for table in (OutboxMessage, InboxUpdate):
        await session.execute(
            update(table)
            .where(table.leased_by == instance)
            .values(leased_by=None, next_attempt_at=now)
        )
    await session.execute(delete(BotInstance).where(BotInstance.id == instance))
