"""The link worker team: who is on it, invitations to join, and what each worker's
next typed message is for.

Who may do what is read from `LinkWorker` on every action (never cached), so
removing a worker takes effect on their very next tap.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, JSONModel, locks_rows, utcnow
from flows.summary import Record

ROLES = ("link_worker", "admin")


class OfferedActivity(Record):
    """An activity offered to a worker's /refer, as the list showed it."""

    id: str
    name: str
    organisation: str = ""
    distance_miles: float | None = None


class Offer(Record):
    """The last list of activities offered to /refer, so a tap on one picks it."""

    case: str
    found_by: str  # "suggested" (the patient saw it) | "search" (the worker looked)
    items: tuple[OfferedActivity, ...] = ()


class Pending(Record):
    """What a worker's next typed message is for, after a button asked for text."""

    #: "reply" | "note" | "search" | "close_other" | "assign" | "done"; None: nothing asked.
    kind: str | None = None
    case: str | None = None
    at: datetime | None = None
    choices: Offer | None = None
    #: What the prompt is for beyond the case (whom a handover goes to: "w12").
    arg: str | None = None
    #: The case they last opened: text typed with nowhere to go offers it (by name).
    opened: str | None = None


class LinkWorker(Base):
    """Someone on the team, known by their Telegram account."""

    __tablename__ = "link_worker"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    #: As patients read it: "Sam, your link worker: ...".
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="link_worker")
    active: Mapped[bool] = mapped_column(default=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    pending: Mapped[Pending] = mapped_column(JSONModel(Pending), default=Pending)
    #: Away (`/away until 14 Dec`) to the end of this day: no new cases offered or
    #: claimed, no overdue reminders; their patients are told. None: not away.
    away_until: Mapped[date | None] = mapped_column(default=None)
    #: Who covers their cases while they are away (None: the team chat hears).
    cover_id: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", name="fk_link_worker_cover_id_link_worker"), default=None
    )

    def away_on(self, day: date) -> bool:
        """Away on this day (away ends by itself after `away_until`)."""
        return self.away_until is not None and day <= self.away_until


class StaffInvite(Base):
    """A one-time code that registers whoever sends `/join CODE` as a worker. Only
    a hash is kept: the code itself is shown once, to the admin who made it."""

    __tablename__ = "staff_invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    role: Mapped[str] = mapped_column(String(16), default="link_worker")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    used_by: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL"), default=None
    )


def invite_hash(code: str) -> str:
    """Invite codes are kept hashed. They are random (60 bits), one-time and
    short-lived, so a fast hash is enough; spaces, dashes and case don't matter."""
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()


async def active_worker(
    session: AsyncSession, telegram_id: int, *, lock: bool = False
) -> LinkWorker | None:
    """The worker with this Telegram account, if they are on the team now."""
    query = select(LinkWorker).where(
        LinkWorker.telegram_id == telegram_id, LinkWorker.active.is_(True)
    )
    if lock and locks_rows(session):
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def worker_by_telegram_id(
    session: AsyncSession, telegram_id: int, *, lock: bool = False
) -> LinkWorker | None:
    """Whoever has this Telegram account, on the team now or removed."""
    query = select(LinkWorker).where(LinkWorker.telegram_id == telegram_id)
    if lock and locks_rows(session):
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def worker_name(session: AsyncSession, worker_id: int | None) -> str | None:
    if worker_id is None:
        return None
    worker = await session.get(LinkWorker, worker_id)
    return worker.name if worker else None


async def active_holder(session: AsyncSession, worker_id: int | None) -> LinkWorker | None:
    """The worker holding a case, if they are still on the team."""
    if worker_id is None:
        return None
    worker = await session.get(LinkWorker, worker_id)
    return worker if worker is not None and worker.active else None


async def worker_names(session: AsyncSession) -> dict[int, str]:
    """Everyone who ever was on the team, by id: history names them as they were."""
    return {w.id: w.name for w in (await session.execute(select(LinkWorker))).scalars()}


async def active_workers(session: AsyncSession) -> list[LinkWorker]:
    return list(
        (await session.execute(select(LinkWorker).where(LinkWorker.active.is_(True)))).scalars()
    )


async def covering_for(session: AsyncSession, worker_id: int, day: date) -> list[LinkWorker]:
    """The colleagues away on `day` whose cases this worker covers."""
    query = select(LinkWorker).where(
        LinkWorker.cover_id == worker_id,
        LinkWorker.active.is_(True),
        LinkWorker.away_until >= day,
    )
    return list((await session.execute(query)).scalars())


async def cover_for(session: AsyncSession, worker: LinkWorker, day: date) -> LinkWorker | None:
    """Who looks after an away worker's cases on `day`: their cover, if on the team
    and not away too; None if nobody (or they are not away)."""
    if not worker.away_on(day) or worker.cover_id is None:
        return None
    cover = await session.get(LinkWorker, worker.cover_id)
    if cover is None or not cover.active or cover.away_on(day):
        return None
    return cover


async def everyone(session: AsyncSession) -> list[LinkWorker]:
    """The whole team, active first, then by name."""
    query = select(LinkWorker).order_by(LinkWorker.active.desc(), LinkWorker.name)
    return list((await session.execute(query)).scalars())


async def usable_invite(session: AsyncSession, code: str, now: datetime) -> StaffInvite | None:
    """The unused, unexpired invitation with this code (skipped if another instance
    is using it right now, so a code works once)."""
    query = select(StaffInvite).where(
        StaffInvite.code_hash == invite_hash(code),
        StaffInvite.used_at.is_(None),
        StaffInvite.expires_at > now,
    )
    if locks_rows(session):
        query = query.with_for_update(skip_locked=True)
    return (await session.execute(query)).scalar_one_or_none()
