"""Telegram updates already handled, so that one delivered twice has one effect.

Telegram may deliver an update again (after a restart, or when the bot did not
confirm it in time). Handling an update starts by recording its id here, inside
the transaction that does its work: if the id is already there, the work was
done and committed before, and nothing happens a second time.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Table, bindparam, delete
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


async def first_delivery(
    session: AsyncSession, update_id: int, now: datetime, *, kept: bool = True
) -> bool:
    """Record the update as handled, in the transaction that handles it (and take it
    out of the inbox there too: no second commit); False if it already was.
    `kept`: it is in the inbox (not when handled as it arrived: bot/inbox.py)."""
    record = _RECORD_SQLITE if is_sqlite(session) else _RECORD_POSTGRESQL
    result = await session.execute(record, {"update_id": update_id, "processed_at": now})
    if kept:
        await session.execute(_TAKE_OUT, {"update_id": update_id})
    return bool(result.rowcount)  # type: ignore[attr-defined]


# `first_delivery`'s statements, built once (building them cost more than running them).
_PROCESSED = cast(Table, ProcessedUpdate.__table__)
_INBOX = cast(Table, InboxUpdate.__table__)
_RECORD_SQLITE = sqlite_insert(_PROCESSED).on_conflict_do_nothing()
_RECORD_POSTGRESQL = postgresql_insert(_PROCESSED).on_conflict_do_nothing()
_TAKE_OUT = delete(_INBOX).where(_INBOX.c.update_id == bindparam("update_id"))


async def forget_before(session: AsyncSession, before: datetime) -> int:
    """Ids handled long ago: Telegram never redelivers after a day, so a week is
    plenty to dedupe, and nothing is kept for ever."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
