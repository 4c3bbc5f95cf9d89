"""Telegram updates already handled, so that one delivered twice has one effect.

Telegram may deliver an update again (after a restart, or when the bot did not
confirm it in time). Handling an update starts by recording its id here, inside
the transaction that does its work: if the id is already there, the work was
done and committed before, and nothing happens a second time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, is_sqlite, utcnow
from bot.store.inbox import InboxUpdate


class ProcessedUpdate(Base):
    """Telegram update ids already handled: a redelivered update has no second effect."""

    __tablename__ = "processed_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


async def first_delivery(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record the update as handled, in the transaction that handles it (and take it
    out of the inbox there too: no second commit); False if it already was."""
    insert = sqlite_insert if is_sqlite(session) else postgresql_insert
    statement = insert(ProcessedUpdate).values(update_id=update_id, processed_at=now)
    result = await session.execute(statement.on_conflict_do_nothing())
    await session.execute(delete(InboxUpdate).where(InboxUpdate.update_id == update_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def forget_before(session: AsyncSession, before: datetime) -> int:
    """Ids handled long ago: Telegram never redelivers after a day, so a week is
    plenty to dedupe, and nothing is kept for ever."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
