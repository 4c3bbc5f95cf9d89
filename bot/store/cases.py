"""Cases in the link worker queue: the case and its summary, what happened on it,
its safety alerts, and the referrals a link worker made.

Both front doors stand on these functions: the patient side opens cases and adds
what patients write; the staff side claims, replies, refers and closes. A case
moves by compare-and-set (`move_case`), so when two workers act at once exactly
one wins, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from bot.store.base import Base, locks_rows, utcnow
from bot.store.sealing import SealedModel, SealedText
from flows.case import OPEN
from flows.summary import CaseSummary

#: No 0/O or 1/I: references and codes are read aloud and typed from paper.
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
REFERENCE_PREFIX = "SP-"


class Case(Base):
    """A referral in the link worker queue. `summary` follows the PRSB headings."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)  # "SP-7K3Q"
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    urgent: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: Sealed at rest (bot/store/sealing.py), as is every word anyone wrote about them.
    summary: Mapped[CaseSummary] = mapped_column(SealedModel(CaseSummary), default=CaseSummary)
    # The link worker side: who holds it, how it ended, its team card.
    link_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL"), index=True, default=None
    )
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    #: The card in the team chat (an outbox row), edited as the case moves.
    team_card_id: Mapped[int | None] = mapped_column(default=None)
    #: When the team chat was last told it is waiting (claim reminders count from it).
    announced_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The patient asked, at a check-in, to talk to someone (cleared when a link
    #: worker replies): the card and the case say so.
    asked_for_contact_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The day the patient was promised contact by, when it was claimed.
    promised_by: Mapped[date | None] = mapped_column(default=None)
    #: When its holder, and then the team, were last told it is overdue.
    overdue_told_at: Mapped[datetime | None] = mapped_column(default=None)
    overdue_team_told_at: Mapped[datetime | None] = mapped_column(default=None)

    entries: Mapped[list[CaseEntry]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEntry.id"
    )


class CaseEntry(Base):
    """Something that happened on a case: a patient's message, a note, an event."""

    __tablename__ = "case_entry"
    #: "Did anyone write lately?" (the check-in dispatcher) reads only recent entries.
    __table_args__ = (Index("ix_case_entry_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: patient_message | patient_message_edited | crisis_message | safety_screening |
    #: reply | note | alert_action | event
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(SealedText(), default="")
    #: The link worker who wrote it (a reply or a note), if one did.
    link_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL"), default=None
    )

    case: Mapped[Case] = relationship(back_populates="entries")


class SafetyAlert(Base):
    """Crisis language on a case, as the team sees it. Repeated messages add to the
    same open alert (count, last_at) instead of flooding the team chat."""

    __tablename__ = "safety_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    count: Mapped[int] = mapped_column(default=1)
    out_of_hours: Mapped[bool] = mapped_column(default=False)
    #: Its newest card in the team chat, and when it went out (a card nobody takes
    #: is posted again, after ALERT_RESEND_MINUTES in working hours).
    outbox_id: Mapped[int | None] = mapped_column(default=None)
    announced_at: Mapped[datetime | None] = mapped_column(default=None)
    seen_by: Mapped[str | None] = mapped_column(String(100), default=None)
    seen_at: Mapped[datetime | None] = mapped_column(default=None)
    action_taken: Mapped[str | None] = mapped_column(SealedText(), default=None)


_HELD = text("checkins_stopped_at IS NOT NULL OR checkins_paused_until IS NOT NULL")


class Referral(Base):
    """A link worker referred the patient to an activity. Follow-up check-ins
    ("did you go? how was it?") hang off this record."""

    __tablename__ = "referral"
    #: The few referrals whose check-ins are paused or stopped (the dispatcher skips them).
    __table_args__ = (
        Index("ix_referral_checkins_held", "id", postgresql_where=_HELD, sqlite_where=_HELD),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    link_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL")
    )
    #: The directory's id for the activity, and its name and organisation as they
    #: were when referred (the directory may change or drop it later).
    activity_id: Mapped[str] = mapped_column(String(200))
    activity_name: Mapped[str] = mapped_column(Text)
    organisation: Mapped[str] = mapped_column(Text, default="")
    #: "suggested" (one the patient was shown) or "search" (found by the worker).
    found_by: Mapped[str] = mapped_column(String(16))
    made_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: What the check-ins found: unknown | attended | not_yet | not_for_them.
    attendance: Mapped[str] = mapped_column(String(16), default="unknown")
    #: The patient paused check-ins (until then) or stopped them (for good), and why.
    checkins_paused_until: Mapped[datetime | None] = mapped_column(default=None)
    checkins_stopped_at: Mapped[datetime | None] = mapped_column(default=None)
    checkins_stop_reason: Mapped[str | None] = mapped_column(SealedText(), default=None)


# --- References ------------------------------------------------------------------------


def readable_code(length: int) -> str:
    """Random characters from REFERENCE_ALPHABET."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(length))


def normalise_reference(text: str) -> str:
    """'sp-7k3q', '7K3Q' and 'SP-7K3Q' are the same case."""
    ref = text.strip().upper().replace(" ", "")
    if ref and not ref.startswith(REFERENCE_PREFIX):
        ref = REFERENCE_PREFIX + ref.removeprefix("SP").lstrip("-")
    return ref


# --- Opening and finding ---------------------------------------------------------------


async def open_case(
    session: AsyncSession, patient_id: int, summary: CaseSummary, now: datetime
) -> Case:
    """A new case in the queue, with a reference nobody else has. (The baseline
    measured just before the handoff is filed on it by the patient side:
    `bot.store.patients.attach_unfiled_scores`.)"""
    while True:
        reference = REFERENCE_PREFIX + readable_code(4)
        if await session.scalar(select(Case.id).where(Case.reference == reference)) is None:
            break
    case = Case(reference=reference, patient_id=patient_id, status="waiting", opened_at=now,
                summary=summary)  # fmt: skip
    session.add(case)
    await session.flush()
    add_entry(session, case.id, "event", "opened", now)
    return case


async def latest_case(session: AsyncSession, patient_id: int) -> Case | None:
    """The patient's newest case (open or closed)."""
    query = select(Case).where(Case.patient_id == patient_id).order_by(Case.id.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def case_by_reference(
    session: AsyncSession, reference: str, *, lock: bool = False
) -> Case | None:
    query = select(Case).where(Case.reference == normalise_reference(reference))
    if lock and locks_rows(session):
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def has_urgent_case(session: AsyncSession, patient_id: int) -> bool:
    """An urgent case is kept even when the patient asks to be forgotten: vital
    interests come before consent."""
    query = select(Case.id).where(Case.patient_id == patient_id, Case.urgent.is_(True))
    return (await session.execute(query)).first() is not None


def add_entry(
    session: AsyncSession,
    case_id: int,
    kind: str,
    text: str,
    now: datetime,
    worker_id: int | None = None,
) -> None:
    """Something that happened on a case, in the order it happened."""
    session.add(CaseEntry(case_id=case_id, kind=kind, text=text, at=now, link_worker_id=worker_id))


# --- Moving ----------------------------------------------------------------------------


async def move_case(session: AsyncSession, case: Case, status: str, holder_id: int | None) -> bool:
    """Apply a decision of `flows.case` only if nobody moved the case since it was
    read: UPDATE ... WHERE status and holder are still what we decided from. False
    (and `case` re-read) when someone else got there first."""
    held_by = (
        Case.link_worker_id.is_(None)
        if case.link_worker_id is None
        else Case.link_worker_id == case.link_worker_id
    )
    result = await session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == case.status, held_by)
        .values(status=status, link_worker_id=holder_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(case)
        return False
    set_committed_value(case, "status", status)
    set_committed_value(case, "link_worker_id", holder_id)
    return True


async def record_referral(
    session: AsyncSession,
    case: Case,
    worker_id: int,
    activity_id: str,
    activity_name: str,
    organisation: str,
    found_by: str,
    now: datetime,
) -> Referral:
    referral = Referral(case_id=case.id, link_worker_id=worker_id, activity_id=activity_id,
                        activity_name=activity_name, organisation=organisation,
                        found_by=found_by, made_at=now)  # fmt: skip
    session.add(referral)
    await session.flush()
    return referral


# --- Lists -----------------------------------------------------------------------------


async def waiting_counts(session: AsyncSession) -> tuple[int, int]:
    """How many cases wait in the queue, and how many of those are urgent."""
    row = (
        await session.execute(
            select(func.count(), func.count().filter(Case.urgent.is_(True))).where(
                Case.status == "waiting"
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def waiting_page(session: AsyncSession, offset: int, limit: int) -> list[Case]:
    """The queue: urgent first, then whoever has waited longest."""
    query = (
        select(Case)
        .where(Case.status == "waiting")
        .order_by(Case.urgent.desc(), Case.opened_at, Case.id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def held_count(session: AsyncSession, worker_id: int) -> int:
    """How many open cases a worker holds."""
    query = select(func.count()).where(Case.link_worker_id == worker_id, Case.status.in_(OPEN))
    return (await session.scalar(query)) or 0


async def held_page(session: AsyncSession, worker_id: int, offset: int, limit: int) -> list[Case]:
    """A worker's open cases: urgent first, then the longest held."""
    query = (
        select(Case)
        .where(Case.link_worker_id == worker_id, Case.status.in_(OPEN))
        .order_by(Case.urgent.desc(), Case.claimed_at, Case.id)
        .offset(offset)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def last_entry(session: AsyncSession, case_id: int) -> CaseEntry | None:
    query = select(CaseEntry).where(CaseEntry.case_id == case_id).order_by(CaseEntry.id.desc())
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def open_cases_held_by(session: AsyncSession, worker_id: int) -> list[Case]:
    """A worker's open cases, locked on PostgreSQL (to hand them back)."""
    query = select(Case).where(Case.link_worker_id == worker_id, Case.status.in_(OPEN))
    if locks_rows(session):
        query = query.with_for_update()
    return list((await session.execute(query)).scalars())


async def open_cases_by_worker(session: AsyncSession) -> dict[int, int]:
    """How many open cases each worker holds."""
    query = (
        select(Case.link_worker_id, func.count())
        .where(Case.status.in_(OPEN), Case.link_worker_id.is_not(None))
        .group_by(Case.link_worker_id)
    )
    rows = await session.execute(query)
    return {worker: count for worker, count in rows.all() if worker is not None}


async def overdue_by_worker(session: AsyncSession) -> dict[int, list[str]]:
    """The references of the open cases each worker holds that were flagged
    overdue, in order."""
    query = (
        select(Case.link_worker_id, Case.reference)
        .where(
            Case.status.in_(OPEN),
            Case.link_worker_id.is_not(None),
            Case.overdue_told_at.is_not(None),
        )
        .order_by(Case.reference)
    )
    found: dict[int, list[str]] = {}
    for worker, reference in (await session.execute(query)).all():
        if worker is not None:
            found.setdefault(worker, []).append(reference)
    return found


async def earlier_cases(session: AsyncSession, case: Case) -> list[Case]:
    """The same person's other cases before this one, newest first (their history)."""
    query = (
        select(Case)
        .where(Case.patient_id == case.patient_id, Case.id < case.id)
        .order_by(Case.id.desc())
    )
    return list((await session.execute(query)).scalars())


async def worker_notes(session: AsyncSession, case_id: int, limit: int) -> list[CaseEntry]:
    """A case's newest notes by link workers, oldest of them first."""
    query = (
        select(CaseEntry)
        .where(
            CaseEntry.case_id == case_id,
            CaseEntry.kind == "note",
            CaseEntry.link_worker_id.is_not(None),
        )
        .order_by(CaseEntry.id.desc())
        .limit(limit)
    )
    return list(reversed((await session.execute(query)).scalars().all()))


async def newest_cases(session: AsyncSession, limit: int) -> list[Case]:
    """The newest cases, open or closed (to search what is sealed, in Python)."""
    query = select(Case).order_by(Case.id.desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def held_open_cases(session: AsyncSession, limit: int = 5000) -> list[Case]:
    """Open cases someone holds, to check for overdue ones. Several bot instances
    may ask at once: each case is taken by one (SKIP LOCKED)."""
    query = (
        select(Case)
        .where(Case.status.in_(OPEN), Case.link_worker_id.is_not(None))
        .order_by(Case.id)
        .limit(limit)
    )
    if locks_rows(session):
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).scalars())


@dataclass(frozen=True)
class LastTimes:
    """When things last happened on a case."""

    #: A link worker replied, or recorded a note or what they did.
    worker: datetime | None
    reply: datetime | None
    #: The patient wrote.
    patient: datetime | None


async def last_times(session: AsyncSession, case_id: int) -> LastTimes:
    by_kind = dict(
        (
            await session.execute(
                select(CaseEntry.kind, func.max(CaseEntry.at))
                .where(
                    CaseEntry.case_id == case_id,
                    (CaseEntry.link_worker_id.is_not(None)) | CaseEntry.kind.in_(PATIENT_KINDS),
                )
                .group_by(CaseEntry.kind)
            )
        ).all()
    )

    def latest(*kinds: str) -> datetime | None:
        return max((by_kind[k] for k in kinds if by_kind.get(k) is not None), default=None)

    return LastTimes(
        worker=latest("reply", "note", "alert_action"),
        reply=latest("reply"),
        patient=latest(*PATIENT_KINDS),
    )


PATIENT_KINDS = ("patient_message", "patient_message_edited", "crisis_message")


async def unclaimed_since(session: AsyncSession, before: datetime, limit: int) -> list[Case]:
    """Waiting cases last announced before `before`, urgent first. Several bot
    instances may ask at once: each case is taken by one (SKIP LOCKED)."""
    announced = func.coalesce(Case.announced_at, Case.opened_at)
    query = (
        select(Case)
        .where(Case.status == "waiting", announced <= before)
        .order_by(Case.urgent.desc(), Case.opened_at)
        .limit(limit)
    )
    if locks_rows(session):
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).scalars())


# --- Safety alerts ---------------------------------------------------------------------


async def unseen_alert(session: AsyncSession, case_id: int) -> SafetyAlert | None:
    """The case's alert nobody has said they are on yet (repeats add to it)."""
    query = (
        select(SafetyAlert)
        .where(SafetyAlert.case_id == case_id, SafetyAlert.seen_at.is_(None))
        .order_by(SafetyAlert.id.desc())
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def unseen_alerts_announced_before(
    session: AsyncSession, before: datetime
) -> list[tuple[SafetyAlert, Case]]:
    """Alerts nobody has taken whose card went out before `before`, oldest first.
    Several instances may ask at once: each alert is taken by one (SKIP LOCKED)."""
    query = (
        select(SafetyAlert, Case)
        .join(Case, Case.id == SafetyAlert.case_id)
        .where(SafetyAlert.seen_at.is_(None), SafetyAlert.announced_at < before)
        .order_by(SafetyAlert.first_at)
    )
    if locks_rows(session):
        query = query.with_for_update(of=SafetyAlert, skip_locked=True)
    return [(alert, case) for alert, case in (await session.execute(query)).all()]


async def latest_alert(session: AsyncSession, case_id: int) -> SafetyAlert | None:
    """The case's newest safety alert, seen or not."""
    query = (
        select(SafetyAlert).where(SafetyAlert.case_id == case_id).order_by(SafetyAlert.id.desc())
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def alert_to_see(session: AsyncSession, case_id: int) -> SafetyAlert | None:
    """For "Seen – I'm on it": the unseen alert if there is one, else the newest."""
    query = (
        select(SafetyAlert)
        .where(SafetyAlert.case_id == case_id)
        .order_by(SafetyAlert.seen_at.is_(None).desc(), SafetyAlert.id.desc())
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def alert_cards_of(session: AsyncSession, case_id: int) -> list[int]:
    """The outbox rows of the case's alert cards in the team chat."""
    query = select(SafetyAlert.outbox_id).where(
        SafetyAlert.case_id == case_id, SafetyAlert.outbox_id.is_not(None)
    )
    return [row_id for row_id in (await session.execute(query)).scalars() if row_id is not None]


async def alert_awaiting_action(session: AsyncSession, case_id: int) -> SafetyAlert | None:
    """The newest alert nobody has yet said what was done about."""
    query = (
        select(SafetyAlert)
        .where(SafetyAlert.case_id == case_id, SafetyAlert.action_taken.is_(None))
        .order_by(SafetyAlert.id.desc())
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()
