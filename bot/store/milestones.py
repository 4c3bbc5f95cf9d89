"""Milestones: the anonymous record of how far each journey went, for the outcomes
report and the events a GP practice codes (`spbot report`, `spbot export-events`).

A row says that one journey reached one step, when, and a few facts that identify
nobody (need areas ticked, the postcode district, the activity, a coded reason,
wellbeing scores). It holds no name, no chat, no words anyone wrote, and no link to
the patient's row: a journey is a random token kept on the patient, so once their
data is erased what remains here counts them and cannot find them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Row, Select, String, Table, case, delete, exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from bot.store.base import Base

#: The steps a journey can reach, in the order of the funnel, then the others.
FUNNEL = (
    "started",  # wrote to the bot for the first time
    "consented",  # agreed to the consent notice
    "finished",  # answered every question of the referral conversation
    "handed_off",  # a case reached the link worker queue
    "claimed",  # a link worker claimed the case (first time only)
    "referred",  # a link worker referred them to an activity
    "attended",  # said at a check-in that they went (liked it or not: detail "liked")
    "closed",  # the case was closed, with an outcome
)
STEPS = (
    *FUNNEL,
    "declined",  # said no at consent
    "under_18",  # under 18: nothing kept
    "first_contact",  # the first reply a link worker sent them
    "wellbeing",  # ONS4 answers: detail {"context": "baseline"|"check_in", "scores": {...}}
    "checkin_sent",  # a check-in went out: detail {"activity_id", "weeks"}
    "checkin_answered",  # detail {"went", "activity_id", "activity", "organisation", "barrier"?}
    "checkin_unanswered",
    "checkins_paused",
    "checkins_stopped",
    "nudged",  # a stalled referral conversation was nudged once
)


class Milestone(Base):
    __tablename__ = "milestone"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    #: A random token per patient (Patient.journey), never anything that names them.
    journey: Mapped[str] = mapped_column(String(24), index=True)
    step: Mapped[str] = mapped_column(String(32), index=True)
    #: The case's reference, for the practice's own record (export-events).
    reference: Mapped[str | None] = mapped_column(String(16), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class KeptFigures(Base):
    """The outcomes report's figures for one period, worked out ahead so that the
    report is ready at once (bot/report/reading.py): counts and anonymous values, as
    the milestones they come from. One row, replaced each time."""

    __tablename__ = "kept_figures"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The period's bounds (its first midnight and the one after its last day).
    starts: Mapped[datetime]
    ends: Mapped[datetime]
    #: The moment the figures follow the journeys to.
    as_of: Mapped[datetime]
    #: {"current": ..., "earlier": ...}: the period's and the period before's
    #: (Figures.to_json).
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)


def new_journey() -> str:
    return secrets.token_hex(8)


async def record(
    session: AsyncSession,
    journey: str,
    step: str,
    now: datetime,
    *,
    reference: str | None = None,
    **detail: Any,
) -> None:
    """One journey reached one step. `detail` must identify nobody (see the module).
    Written as it is recorded, by a plain INSERT: nothing reads the row back, and
    the ORM's unit of work cost twice as much for it, on every patient's first
    message and most of their answers."""
    assert step in STEPS, step
    values = {"at": now, "journey": journey, "step": step, "reference": reference,
              "detail": detail}  # fmt: skip
    await session.execute(_RECORD, values)


_RECORD = insert(cast(Table, Milestone.__table__))  # (built once)


async def reached(
    session: AsyncSession, journey: str, step: str, reference: str | None = None
) -> bool:
    """Whether this journey (on this case, if given) already reached `step`: a case
    claimed twice is one claim."""
    query = select(Milestone.id).where(Milestone.journey == journey, Milestone.step == step)
    if reference is not None:
        query = query.where(Milestone.reference == reference)
    return (await session.execute(query.limit(1))).first() is not None


async def between(session: AsyncSession, start: datetime, end: datetime) -> list[Milestone]:
    """Every milestone with start <= at < end, oldest first."""
    query = (
        select(Milestone)
        .where(Milestone.at >= start, Milestone.at < end)
        .order_by(Milestone.at, Milestone.id)
    )
    return list((await session.execute(query)).scalars())


def first_started(start: datetime, end: datetime) -> Select[str]:
    """The journeys whose first `started` is in [start, end): a period's cohort
    (bot/report/figures.py `cohort`, the same rule over milestones in memory)."""
    started, earlier = aliased(Milestone, name="started"), aliased(Milestone, name="earlier")
    return select(started.journey).where(
        started.step == "started",
        started.at >= start,
        started.at < end,
        ~exists().where(
            earlier.journey == started.journey, earlier.step == "started", earlier.at < start
        ),
    )


async def funnel(
    session: AsyncSession, start: datetime, end: datetime, as_of: datetime, chain: Sequence[str]
) -> list[tuple[int, int, int, int]]:
    """How far the journeys that first started in [start, end) got before `as_of`,
    counted here rather than read: (the index in `chain` of the furthest step each
    reached, or -1; whether it declined, 0 or 1; whether under 18; how many
    journeys), one row for each such kind."""
    step_at = case({step: i for i, step in enumerate(chain)}, value=Milestone.step, else_=-1)
    each = (
        select(
            func.max(step_at).label("furthest"),
            func.max(case((Milestone.step == "declined", 1), else_=0)).label("declined"),
            func.max(case((Milestone.step == "under_18", 1), else_=0)).label("under_18"),
        )
        .where(Milestone.journey.in_(first_started(start, end)), Milestone.at < as_of)
        .group_by(Milestone.journey)
        .subquery()
    )
    kinds = (each.c.furthest, each.c.declined, each.c.under_18)
    query = select(*kinds, func.count()).group_by(*kinds)
    return [(int(a), int(b), int(c), int(n)) for a, b, c, n in await session.execute(query)]


async def of_cohort(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    as_of: datetime,
    steps: Sequence[str] | None = None,
) -> Sequence[Row[tuple[datetime, str, str, str | None, dict[str, Any]]]]:
    """Every milestone before `as_of` (of these `steps`, if given) of the journeys
    that first started in [start, end), oldest first. One statement, read as plain
    rows: a row has the fields the figures read of a milestone, and building a
    model object for each of hundreds of thousands of rows cost more than the
    database did."""
    query = (
        select(
            Milestone.at, Milestone.journey, Milestone.step, Milestone.reference, Milestone.detail
        )
        .where(Milestone.journey.in_(first_started(start, end)), Milestone.at < as_of)
        .order_by(Milestone.at, Milestone.id)
    )
    if steps is not None:
        query = query.where(Milestone.step.in_(steps))
    # On the session's connection: a statement of columns read through the session
    # is still handed to the ORM's loading, row by row.
    return (await (await session.connection()).execute(query)).all()


async def keep_figures(
    session: AsyncSession,
    starts: datetime,
    ends: datetime,
    as_of: datetime,
    figures: dict[str, Any],
) -> None:
    """Keep a report's figures in place of those kept before."""
    await session.execute(delete(KeptFigures))
    session.add(KeptFigures(starts=starts, ends=ends, as_of=as_of, figures=figures))


async def kept_figures(
    session: AsyncSession, starts: datetime, ends: datetime
) -> KeptFigures | None:
    """The newest figures kept for the period [starts, ends), if any."""
    query = (
        select(KeptFigures)
        .where(KeptFigures.starts == starts, KeptFigures.ends == ends)
        .order_by(KeptFigures.as_of.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def kept_as_of(session: AsyncSession, starts: datetime, ends: datetime) -> datetime | None:
    """When the newest figures kept for the period [starts, ends) were made, if any
    are (without reading them)."""
    query = select(func.max(KeptFigures.as_of)).where(
        KeptFigures.starts == starts, KeptFigures.ends == ends
    )
    return await session.scalar(query)
