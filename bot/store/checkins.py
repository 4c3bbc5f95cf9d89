"""Check-ins after a referral: when each is due, how it went, and the queries the
dispatcher takes them with.

A check-in is written when a link worker refers someone (at the offsets in
CHECKIN_SCHEDULE) or adds one by hand, and is sent by whichever bot instance takes
it first: the dispatcher locks due rows with FOR UPDATE SKIP LOCKED on PostgreSQL,
so two instances never send the same one; on SQLite one process writes at a time.
While the patient answers it, the check-in conversation's state and answers live
on the row (`save_check_in` is the only place that state changes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column

from bot.store.base import Base, locks_rows
from bot.store.cases import Case, CaseEntry, Referral
from bot.store.patients import Conversation, Patient
from bot.store.sealing import SealedJSON, SealedModel, SealedText
from flows.checkin import CheckInControl
from flows.core import FlowResult

#: Where a patient's conversation rests between messages: a check-in may start.
SETTLED_STATES = ("handed_off", "finished")
#: A check-in still to happen; one sent and not answered; one being answered.
PENDING = ("due",)
LIVE = ("sent", "reminded", "answered")


#: What the dispatcher's query asks of a million patients' check-ins without reading
#: them all (tests/benchmarks/test_scale_bench.py): the few still due, by when; the
#: few being answered now; the few sent in the last day.
_DUE = text("status = 'due'")
_UNDER_WAY = text("state IS NOT NULL AND state <> 'done'")


class CheckIn(Base):
    __tablename__ = "check_in"
    __table_args__ = (
        Index("ix_check_in_due", "due_at", postgresql_where=_DUE, sqlite_where=_DUE),
        Index("ix_check_in_under_way", "patient_id", postgresql_where=_UNDER_WAY,
              sqlite_where=_UNDER_WAY),
        Index("ix_check_in_sent_at", "sent_at"),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    #: The referral it asks about (None: a link worker's one-off on a case with none).
    referral_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral.id", ondelete="CASCADE"), index=True, default=None
    )
    #: "scheduled" (CHECKIN_SCHEDULE), "one_off" (a link worker's), "sooner" ("I'll try again").
    kind: Mapped[str] = mapped_column(String(16), default="scheduled")
    #: When it may go: the offset from the referral, at the time of day that suits them.
    due_at: Mapped[datetime] = mapped_column(index=True)
    #: A link worker's own line for a one-off ("How did the first session go?").
    note: Mapped[str | None] = mapped_column(SealedText(), default=None)
    asked_by: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL"), default=None
    )
    #: due | sent | reminded | answered | unanswered | cancelled | superseded
    status: Mapped[str] = mapped_column(String(16), default="due", index=True)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The check-in conversation while it runs (flows/checkin.py), and what it found.
    state: Mapped[str | None] = mapped_column(String(32), default=None)
    #: Sealed at rest (bot/store/sealing.py), like the note: what they said, and
    #: the activities put to them.
    answers: Mapped[dict[str, Any]] = mapped_column(SealedJSON(), default=dict)
    control: Mapped[CheckInControl] = mapped_column(
        SealedModel(CheckInControl), default=CheckInControl
    )
    #: attended | not_yet | not_for_them | talk | paused | stopped (None: no answer)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)


# --- Writing ---------------------------------------------------------------------------


def add_check_in(
    session: AsyncSession,
    case: Case,
    due_at: datetime,
    *,
    referral_id: int | None,
    kind: str = "scheduled",
    note: str | None = None,
    asked_by: int | None = None,
) -> CheckIn:
    row = CheckIn(case_id=case.id, patient_id=case.patient_id, referral_id=referral_id, kind=kind,
                  due_at=due_at, note=note, asked_by=asked_by, status="due")  # fmt: skip
    session.add(row)
    return row


def save_check_in(
    check_in: CheckIn, conversation: Conversation | None, result: FlowResult[CheckInControl]
) -> None:
    """Keep what the check-in flow returned. The only place a check-in's state
    changes. Its questions count on the patient's conversation's step, so a tap on
    any older button in their chat is known for what it is."""
    check_in.state = result.state
    check_in.answers = result.answers
    check_in.control = result.control
    if conversation is not None:
        conversation.step = result.step


async def schedule_for_referral(
    session: AsyncSession, case: Case, referral: Referral, times: list[datetime]
) -> list[CheckIn]:
    """The check-ins a referral brings. Those still to come about an earlier referral
    on the same case are superseded: they would ask about what is no longer the plan."""
    earlier = select(Referral.id).where(Referral.case_id == case.id, Referral.id != referral.id)
    await session.execute(
        update(CheckIn)
        .where(CheckIn.referral_id.in_(earlier), CheckIn.status.in_(PENDING))
        .values(status="superseded")
        .execution_options(synchronize_session=False)
    )
    return [add_check_in(session, case, t, referral_id=referral.id) for t in times]


async def cancel_pending(session: AsyncSession, referral_id: int, status: str = "cancelled") -> int:
    """No more check-ins for this referral (stopped), or none of the ones due (paused)."""
    result = await session.execute(
        update(CheckIn)
        .where(CheckIn.referral_id == referral_id, CheckIn.status.in_(PENDING))
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def stop_check_ins_of_patient(session: AsyncSession, patient_id: int, now: datetime) -> int:
    """No more check-ins about any of this patient's referrals (/stop)."""
    referrals = (
        select(Referral.id)
        .join(Case, Case.id == Referral.case_id)
        .where(Case.patient_id == patient_id)
    )
    await session.execute(
        update(Referral)
        .where(Referral.id.in_(referrals), Referral.checkins_stopped_at.is_(None))
        .values(checkins_stopped_at=now, checkins_stop_reason="/stop")
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        update(CheckIn)
        .where(CheckIn.patient_id == patient_id, CheckIn.status.in_(PENDING))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def postpone_pending(session: AsyncSession, referral_id: int, until: datetime) -> None:
    """A pause: what falls due before `until` waits until then."""
    await session.execute(
        update(CheckIn)
        .where(CheckIn.referral_id == referral_id, CheckIn.status.in_(PENDING),
               CheckIn.due_at < until)
        .values(due_at=until)
        .execution_options(synchronize_session=False)
    )  # fmt: skip


# --- Reading ---------------------------------------------------------------------------


async def live_check_in(session: AsyncSession, patient_id: int) -> CheckIn | None:
    """The check-in this patient is answering now, if any."""
    query = (
        select(CheckIn)
        .where(CheckIn.patient_id == patient_id, CheckIn.status.in_(LIVE),
               CheckIn.state.is_not(None), CheckIn.state != "done")
        .order_by(CheckIn.id.desc())
    )  # fmt: skip
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def check_ins_of_case(session: AsyncSession, case_id: int) -> list[CheckIn]:
    query = select(CheckIn).where(CheckIn.case_id == case_id).order_by(CheckIn.due_at, CheckIn.id)
    return list((await session.execute(query)).scalars())


async def pending_of_referral(session: AsyncSession, referral_id: int) -> list[CheckIn]:
    query = (
        select(CheckIn)
        .where(CheckIn.referral_id == referral_id, CheckIn.status.in_(PENDING))
        .order_by(CheckIn.due_at)
    )
    return list((await session.execute(query)).scalars())


async def referral_by_id(session: AsyncSession, referral_id: int | None) -> Referral | None:
    return None if referral_id is None else await session.get(Referral, referral_id)


async def stale_answers(session: AsyncSession, before: datetime, limit: int) -> list[CheckIn]:
    """Check-ins answered in part, with nothing since `before` (left halfway), locked."""
    query = (
        select(CheckIn)
        .where(CheckIn.status == "answered", CheckIn.state.is_not(None), CheckIn.state != "done",
               CheckIn.answered_at < before)
        .order_by(CheckIn.answered_at)
        .limit(limit)
    )  # fmt: skip
    if locks_rows(session):
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).scalars())


async def latest_referral(session: AsyncSession, case_id: int) -> Referral | None:
    query = select(Referral).where(Referral.case_id == case_id).order_by(Referral.id.desc())
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def due_to_send(
    session: AsyncSession,
    now: datetime,
    *,
    busy_since: datetime,
    day_ago: datetime,
    limit: int,
) -> list[tuple[CheckIn, Patient, Conversation]]:
    """Check-ins that may go now, oldest first, each locked for this instance
    (SKIP LOCKED: another instance takes the others). Left out, to wait:
    - the patient's conversation is live: mid-referral (not handed off, finished or
      paused), in another check-in, or they or a link worker wrote since `busy_since`;
    - they had a check-in since `day_ago` (one a day at most);
    - they blocked the bot, or the referral's check-ins are paused or stopped.
    Quiet hours are the caller's: it does not ask during them."""
    other = aliased(CheckIn)
    live_elsewhere = exists().where(
        other.patient_id == CheckIn.patient_id, other.id != CheckIn.id,
        or_(other.status.in_(LIVE) & other.state.is_not(None) & (other.state != "done"),
            other.sent_at >= day_ago),
    )  # fmt: skip
    worker_wrote = exists().where(
        CaseEntry.case_id == Case.id, Case.patient_id == CheckIn.patient_id,
        CaseEntry.kind.in_(("reply", "patient_message", "patient_message_edited",
                            "crisis_message")),
        CaseEntry.at >= busy_since,
    )  # fmt: skip
    paused_or_stopped = exists().where(
        Referral.id == CheckIn.referral_id,
        or_(Referral.checkins_stopped_at.is_not(None), Referral.checkins_paused_until > now),
    )
    query = (
        select(CheckIn, Patient, Conversation)
        .join(Patient, Patient.id == CheckIn.patient_id)
        .join(Conversation, Conversation.patient_id == Patient.id)
        .where(
            CheckIn.status == "due",
            CheckIn.due_at <= now,
            Patient.blocked_at.is_(None),
            Conversation.state.in_(SETTLED_STATES),
            Conversation.updated_at < busy_since,
            ~live_elsewhere,
            ~worker_wrote,
            ~paused_or_stopped,
        )
        .order_by(CheckIn.due_at, CheckIn.id)
        .limit(limit)
    )
    if locks_rows(session):
        # The patient is locked too: one instance takes all of a patient's check-ins
        # (and waits while their own message is being handled).
        query = query.with_for_update(of=(CheckIn, Patient), skip_locked=True)
    return [(c, p, conv) for c, p, conv in (await session.execute(query)).all()]


async def due_of_referral(session: AsyncSession, referral_id: int, now: datetime) -> list[CheckIn]:
    """Every check-in of this referral that is due now, oldest first: after downtime
    or a pause, one message asks about the referral (the latest), not one per date."""
    query = (
        select(CheckIn)
        .where(CheckIn.referral_id == referral_id, CheckIn.status.in_(PENDING),
               CheckIn.due_at <= now)
        .order_by(CheckIn.due_at, CheckIn.id)
    )  # fmt: skip
    return list((await session.execute(query)).scalars())


async def awaiting_reply(
    session: AsyncSession, sent_before: datetime, limit: int
) -> list[tuple[CheckIn, Patient, Conversation]]:
    """Check-ins sent before `sent_before` and not answered, not yet reminded, locked
    with their patient (SKIP LOCKED: one answering now is passed over, not reminded
    on top of their answer)."""
    query = (
        select(CheckIn, Patient, Conversation)
        .join(Patient, Patient.id == CheckIn.patient_id)
        .join(Conversation, Conversation.patient_id == Patient.id)
        .where(CheckIn.status == "sent", CheckIn.sent_at < sent_before,
               Patient.blocked_at.is_(None))
        .order_by(CheckIn.sent_at)
        .limit(limit)
    )  # fmt: skip
    if locks_rows(session):
        query = query.with_for_update(of=(CheckIn, Patient), skip_locked=True)
    return [(c, p, conv) for c, p, conv in (await session.execute(query)).all()]


async def reminded_before(session: AsyncSession, before: datetime, limit: int) -> list[CheckIn]:
    """Check-ins reminded before `before` and still not answered, locked."""
    query = (
        select(CheckIn)
        .where(CheckIn.status == "reminded", CheckIn.reminded_at < before)
        .order_by(CheckIn.reminded_at)
        .limit(limit)
    )
    if locks_rows(session):
        query = query.with_for_update(skip_locked=True)
    return list((await session.execute(query)).scalars())


async def count_due(session: AsyncSession, now: datetime) -> int:
    query = select(func.count()).where(CheckIn.status == "due", CheckIn.due_at <= now)
    return int(await session.scalar(query) or 0)
