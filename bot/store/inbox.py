"""The inbox: every update Telegram sends, kept before it is confirmed.

Telegram forgets an update once the next `getUpdates` offset passes it, so the
receiver commits each batch here first and only then moves the offset
(docs/architecture.md rule 1). Updates are handled from here, oldest first and
one at a time per chat, and deleted once handled (what they say is special-category
data: it stays no longer than it must). A crash at any point loses nothing: an
update not yet kept is still at Telegram, and one kept but not handled is here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, is_sqlite, locks_rows, utcnow
from bot.store.sealing import SealedJSON
from bot.store.staff import LinkWorker


class InboxUpdate(Base):
    """One update as Telegram sent it, until it has been handled."""

    __tablename__ = "inbox_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: The chat it came from (in a group, the person who sent it): a chat's updates
    #: are handled in order, one at a time.
    chat_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    #: Sealed at rest (bot/store/sealing.py): what they typed, and their name.
    payload: Mapped[dict[str, Any]] = mapped_column(SealedJSON())
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    #: The bot instance handling it now (its lease ends with the instance).
    leased_by: Mapped[str | None] = mapped_column(String(32), default=None)
    #: What went wrong last (an exception's type, never its text).
    last_error: Mapped[str | None] = mapped_column(String(100), default=None)
    #: Given up on after repeated failures (the patient and the team were told).
    failed_at: Mapped[datetime | None] = mapped_column(default=None)


@dataclass(frozen=True)
class Received:
    update_id: int
    chat_id: int | None
    payload: dict[str, Any]


async def keep(session: AsyncSession, updates: Sequence[Received], now: datetime) -> None:
    """Keep a batch of updates (one already kept is left as it is)."""
    if not updates:
        return
    rows = [
        {
            "update_id": u.update_id,
            "chat_id": u.chat_id,
            "payload": u.payload,
            "received_at": now,
            "next_attempt_at": now,
        }
        for u in updates
    ]
    await session.execute(_KEEP_SQLITE if is_sqlite(session) else _KEEP_POSTGRESQL, rows)


# `keep`'s statement, built once and run for each row of a batch (a multi-row VALUES
# would be a new statement, built and compiled, for each size of batch).
_KEEP_SQLITE = sqlite_insert(cast(Table, InboxUpdate.__table__)).on_conflict_do_nothing()
_KEEP_POSTGRESQL = postgresql_insert(cast(Table, InboxUpdate.__table__)).on_conflict_do_nothing()


class Due(NamedTuple):
    """An update ready to handle: the oldest of its chat's not yet handled."""

    update_id: int
    chat_id: int | None
    #: How many of its chat's updates are waiting, this one included (a chat sending
    #: faster than it is answered has more than one).
    waiting: int
    #: Whether its chat (in a group, its sender) was an active link worker's when
    #: this was read: False spares the adapter asking before it is handled as a
    #: patient's (True is asked again, in the staff side's own transaction).
    from_worker: bool = False
    #: What it says, when read with the look (`due(..., with_payloads=True)`).
    payload: dict[str, Any] | None = None


async def due(
    session: AsyncSession, now: datetime, limit: int, *, with_payloads: bool = False
) -> list[Due]:
    """Updates ready to handle, oldest first: in each chat only the oldest one not yet
    handled, so a chat's messages are handled in the order sent. (One window over the
    kept updates, not a look per row: a burst is read in one sorted pass whatever the
    planner's statistics; see bot.store.outbox._in_line.) Each says too whether it
    came from an active link worker, read in the same statement; `with_payloads`,
    and what each says (for one process alone, which takes no lease: not a
    statement of its own to read them)."""
    query = _DUE_WITH_PAYLOADS if with_payloads else _DUE
    rows = await session.execute(query, {"now": now, "limit": limit})
    return [
        Due(int(r[0]), r[1], int(r[2]), bool(r[3]), dict(r[4]) if with_payloads else None)
        for r in rows.all()
    ]


def _due(*, payloads: bool = False) -> Any:
    """`due`'s statement, built once (building it is most of what a look costs)."""
    me = InboxUpdate
    first = func.row_number().over(partition_by=me.chat_id, order_by=me.update_id) == 1
    kept = (
        select(
            me.update_id,
            me.chat_id,
            me.next_attempt_at,
            or_(me.chat_id.is_(None), first).label("first"),
            func.count().over(partition_by=me.chat_id).label("waiting"),
        )
        .where(me.failed_at.is_(None))
        .subquery()
    )
    waiting = case((kept.c.chat_id.is_(None), 1), else_=kept.c.waiting)
    worker = exists().where(LinkWorker.telegram_id == kept.c.chat_id, LinkWorker.active.is_(True))
    query = select(kept.c.update_id, kept.c.chat_id, waiting, worker)
    if payloads:  # (joined to the few rows found, not carried through the window)
        query = query.add_columns(me.payload).join(me, me.update_id == kept.c.update_id)
    return (
        query.where(kept.c.first, kept.c.next_attempt_at <= bindparam("now"))
        .order_by(kept.c.update_id)
        .limit(bindparam("limit"))
    )


_DUE = _due()
_DUE_WITH_PAYLOADS = _due(payloads=True)


class Waiting(NamedTuple):
    """What is known of a private chat before an update of its is handled as it
    arrives, not kept first (bot/inbox.py `InboxDrain.at_once`)."""

    #: Updates of its are kept and not yet handled (or given up on): a new one goes
    #: behind them, in the inbox.
    kept: bool
    #: It is an active link worker's: the staff side handles it, the usual way.
    from_worker: bool


async def waiting(session: AsyncSession, chat_id: int) -> Waiting:
    """Whether a private chat has updates kept and not yet handled, and whether it is
    an active link worker's: one statement, that takes no lock."""
    row = (await session.execute(_WAITING, {"chat_id": chat_id})).one()
    return Waiting(bool(row[0]), bool(row[1]))


_WAITING = select(
    exists().where(InboxUpdate.chat_id == bindparam("chat_id"), InboxUpdate.failed_at.is_(None)),
    exists().where(LinkWorker.telegram_id == bindparam("chat_id"), LinkWorker.active.is_(True)),
)


async def lease(
    session: AsyncSession, update_id: int, instance: str, now: datetime, lease_for: timedelta
) -> dict[str, Any] | None:
    """Take an update to handle, so no other instance handles it meanwhile: what it
    says, or None if it is not due or another instance has it. One statement: the
    row is locked (SKIP LOCKED: one being taken elsewhere is passed over, not
    waited for), leased and read at once."""
    lease = _LEASE_LOCKING if locks_rows(session) else _LEASE
    taken = await session.execute(
        lease,
        {"b_update_id": update_id, "now": now, "instance": instance, "until": now + lease_for},
    )
    payload = taken.scalar_one_or_none()
    return dict(payload) if payload is not None else None


def _lease(*, locking: bool) -> Any:
    """`lease`'s statement, built once."""
    me = cast(Table, InboxUpdate.__table__)
    due = select(me.c.update_id).where(
        me.c.update_id == bindparam("b_update_id"),
        me.c.failed_at.is_(None),
        me.c.next_attempt_at <= bindparam("now", type_=me.c.next_attempt_at.type),
    )
    if locking:
        due = due.with_for_update(skip_locked=True)
    return (
        update(me)
        .where(me.c.update_id.in_(due.scalar_subquery()))
        .values(
            leased_by=bindparam("instance", type_=me.c.leased_by.type),
            next_attempt_at=bindparam("until", type_=me.c.next_attempt_at.type),
        )
        .returning(me.c.payload)
    )


_LEASE = _lease(locking=False)
_LEASE_LOCKING = _lease(locking=True)


async def handled(session: AsyncSession, update_id: int) -> None:
    """Handled: what it said now lives where it belongs (or was forgotten). Usually
    done already by `bot.store.updates.first_delivery`, in the handling transaction."""
    await session.execute(delete(InboxUpdate).where(InboxUpdate.update_id == update_id))


async def still_kept(session: AsyncSession, update_id: int) -> bool:
    return await session.get(InboxUpdate, update_id) is not None


async def failed(
    session: AsyncSession,
    update_id: int,
    error: str,
    now: datetime,
    pause: Callable[[int], timedelta],
) -> int:
    """Handling failed: try again after `pause(attempts)`. Returns how many
    attempts have failed."""
    row = await session.get(InboxUpdate, update_id)
    if row is None:
        return 0
    row.attempts += 1
    row.last_error, row.next_attempt_at, row.leased_by = (
        error[:100],
        now + pause(row.attempts),
        None,
    )
    return row.attempts


async def give_up(session: AsyncSession, update_id: int, now: datetime) -> None:
    """Stop trying (it keeps failing): the chat's later messages are handled."""
    await session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.update_id == update_id)
        .values(failed_at=now, leased_by=None)
    )


async def forget_failed_before(session: AsyncSession, before: datetime) -> int:
    """Updates given up on long ago: nobody will look at them now."""
    result = await session.execute(
        delete(InboxUpdate).where(
            InboxUpdate.failed_at.is_not(None), InboxUpdate.failed_at < before
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
