"""A person's data as a whole: everything held about them (their right of access),
erasing it (their right to erasure, and retention), and finding whose is due.

Everything about a patient hangs off their `patient` row, so erasing is deleting
that row (the rest cascades), what was sent to their chat (the outbox) and what
they sent (the inbox), and any link worker's half-typed reply to them. What stays
is anonymous by design: the milestones (their journey token was on the deleted
row) and the audit's record that an erasure happened, with no content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.base import locks_rows
from bot.store.cases import Case, CaseEntry, Referral, SafetyAlert
from bot.store.checkins import CheckIn
from bot.store.inbox import InboxUpdate
from bot.store.outbox import OutboxMessage, forget_about_cases
from bot.store.patients import Consent, Conversation, Patient, WellbeingScore
from bot.store.staff import LinkWorker, Pending, worker_names


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def everything_about(session: AsyncSession, patient: Patient) -> dict[str, Any]:
    """All we hold about this person, as plain data (JSON-ready): their answers,
    consent, wellbeing scores, cases with every message both ways, notes written
    about them, safety alerts, referrals, check-ins, and what we sent them."""
    names = await worker_names(session)

    def by(worker_id: int | None) -> str | None:
        return names.get(worker_id) if worker_id is not None else None

    conversation = await session.get(Conversation, patient.id)
    consents = (await session.execute(
        select(Consent).where(Consent.patient_id == patient.id).order_by(Consent.id)
    )).scalars()  # fmt: skip
    scores = (await session.execute(
        select(WellbeingScore).where(WellbeingScore.patient_id == patient.id)
        .order_by(WellbeingScore.id)
    )).scalars()  # fmt: skip
    cases = (await session.execute(
        select(Case).where(Case.patient_id == patient.id).order_by(Case.id)
    )).scalars().all()  # fmt: skip
    case_data = []
    for case in cases:
        entries = (await session.execute(
            select(CaseEntry).where(CaseEntry.case_id == case.id).order_by(CaseEntry.id)
        )).scalars()  # fmt: skip
        alerts = (await session.execute(
            select(SafetyAlert).where(SafetyAlert.case_id == case.id).order_by(SafetyAlert.id)
        )).scalars()  # fmt: skip
        referrals = (await session.execute(
            select(Referral).where(Referral.case_id == case.id).order_by(Referral.id)
        )).scalars()  # fmt: skip
        check_ins = (await session.execute(
            select(CheckIn).where(CheckIn.case_id == case.id).order_by(CheckIn.due_at)
        )).scalars()  # fmt: skip
        case_data.append({
            "reference": case.reference, "status": case.status, "urgent": case.urgent,
            "opened_at": _when(case.opened_at), "closed_at": _when(case.closed_at),
            "outcome": case.outcome, "link_worker": by(case.link_worker_id),
            "summary": case.summary.model_dump(mode="json"),
            "entries": [{"at": _when(e.at), "kind": e.kind, "text": e.text,
                         "by": by(e.link_worker_id)} for e in entries],
            "safety_alerts": [{"category": a.category, "first_at": _when(a.first_at),
                               "last_at": _when(a.last_at), "messages": a.count,
                               "seen_by": a.seen_by, "seen_at": _when(a.seen_at),
                               "action_taken": a.action_taken} for a in alerts],
            "referrals": [{"activity": r.activity_name, "organisation": r.organisation,
                           "made_at": _when(r.made_at), "by": by(r.link_worker_id),
                           "did_they_go": r.attendance,
                           "check_ins_paused_until": _when(r.checkins_paused_until),
                           "check_ins_stopped_at": _when(r.checkins_stopped_at),
                           "check_ins_stop_reason": r.checkins_stop_reason} for r in referrals],
            "check_ins": [{"due_at": _when(c.due_at), "kind": c.kind, "status": c.status,
                           "note_from_link_worker": c.note, "sent_at": _when(c.sent_at),
                           "answered_at": _when(c.answered_at), "answers": c.answers,
                           "outcome": c.outcome} for c in check_ins],
        })  # fmt: skip
    sent = (await session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.channel == patient.channel, OutboxMessage.chat_id == patient.chat_id,
               OutboxMessage.action == "send")
        .order_by(OutboxMessage.id)
    )).scalars()  # fmt: skip
    return {
        "about_you": {"channel": patient.channel, "chat_id": patient.chat_id,
                      "first_message_at": _when(patient.created_at),
                      "blocked_the_bot_at": _when(patient.blocked_at)},
        "conversation": {
            "where_you_are": conversation.state if conversation else None,
            "answers": dict(conversation.answers) if conversation else {},
        },
        "consent": [{"notice_version": c.notice_version, "given_at": _when(c.given_at),
                     "withdrawn_at": _when(c.withdrawn_at)} for c in consents],
        "wellbeing": [{"measured_at": _when(w.measured_at), "when": w.context,
                       "life_satisfaction": w.life_satisfaction, "worthwhile": w.worthwhile,
                       "happiness": w.happiness, "anxiety": w.anxiety} for w in scores],
        "cases": case_data,
        "messages_we_sent_you": [{"at": _when(m.sent_at or m.created_at),
                                  "text": m.payload.get("text", "")} for m in sent
                                 if not m.payload.get("document")],
    }  # fmt: skip


async def case_references(session: AsyncSession, patient_id: int) -> list[str]:
    query = select(Case.reference).where(Case.patient_id == patient_id).order_by(Case.id)
    return list((await session.execute(query)).scalars())


async def cases_of(session: AsyncSession, patient_id: int) -> list[Case]:
    query = select(Case).where(Case.patient_id == patient_id).order_by(Case.id)
    return list((await session.execute(query)).scalars())


async def has_unseen_alert(session: AsyncSession, patient_id: int) -> bool:
    """A safety alert of theirs nobody has seen yet (their data waits for it)."""
    query = (
        select(SafetyAlert.id)
        .join(Case, Case.id == SafetyAlert.case_id)
        .where(Case.patient_id == patient_id, SafetyAlert.seen_at.is_(None))
    )
    return (await session.execute(query.limit(1))).first() is not None


@dataclass(frozen=True)
class Erased:
    """What an erasure removed (counts only: the audit keeps no content)."""

    cases: int
    messages: int


async def erase(session: AsyncSession, patient: Patient) -> Erased:
    """Delete everything about this person: their row (conversation, consent,
    scores, cases, messages, notes, alerts, referrals and check-ins cascade), what
    we sent them and what they sent us, and any half-typed reply to them."""
    references = await case_references(session, patient.id)
    messages = await session.scalar(
        select(func.count()).select_from(CaseEntry).join(Case, Case.id == CaseEntry.case_id)
        .where(Case.patient_id == patient.id)
    )  # fmt: skip
    for worker in (await session.execute(select(LinkWorker))).scalars():
        pending = worker.pending
        about_them = {pending.case, pending.choices.case if pending.choices else None}
        if about_them & set(references):
            worker.pending = Pending()
    await session.execute(
        delete(OutboxMessage).where(OutboxMessage.channel == patient.channel,
                                    OutboxMessage.chat_id == patient.chat_id)
    )  # fmt: skip
    await forget_about_cases(session, references)
    if patient.channel == "telegram":
        await session.execute(delete(InboxUpdate).where(InboxUpdate.chat_id == patient.chat_id))
    await session.delete(patient)
    await session.flush()
    return Erased(cases=len(references), messages=int(messages or 0))


async def patient_by_reference(session: AsyncSession, reference: str) -> Patient | None:
    query = (
        select(Patient).join(Case, Case.patient_id == Patient.id).where(Case.reference == reference)
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def due_for_erasure(
    session: AsyncSession,
    *,
    closed_before: datetime,
    abandoned_before: datetime,
    abandoned_states: list[str],
    limit: int,
) -> list[tuple[Patient, str]]:
    """Whose data is due to go, and why, locked (SKIP LOCKED: one instance erases
    each): "retention", every case closed before `closed_before` and none open, or a
    referral finished without a case that long ago; "abandoned", a conversation left
    before any case, last moved before `abandoned_before`; "asked", a deletion they
    asked for, now that their safety alert has been seen."""
    any_case = exists().where(Case.patient_id == Patient.id)
    recent_case = exists().where(
        Case.patient_id == Patient.id,
        or_(Case.closed_at.is_(None), Case.closed_at >= closed_before),
    )
    unseen = exists().where(
        SafetyAlert.case_id == Case.id, Case.patient_id == Patient.id,
        SafetyAlert.seen_at.is_(None),
    )  # fmt: skip
    finished_long_ago = (Conversation.state == "finished") & (
        Conversation.updated_at < closed_before
    )
    reasons = {
        "asked": Patient.erase_requested_at.is_not(None) & ~unseen,
        "retention": (any_case & ~recent_case) | (~any_case & finished_long_ago),
        "abandoned": ~any_case & Conversation.state.in_(abandoned_states)
        & (Conversation.updated_at < abandoned_before),
    }  # fmt: skip
    found: list[tuple[Patient, str]] = []
    for reason, condition in reasons.items():
        query = (
            select(Patient)
            .join(Conversation, Conversation.patient_id == Patient.id, isouter=True)
            .where(condition)
            .order_by(Patient.id)
            .limit(limit)
        )
        if locks_rows(session):
            query = query.with_for_update(of=Patient, skip_locked=True)
        seen = {p.id for p, _ in found}
        found += [(p, reason) for p in (await session.execute(query)).scalars() if p.id not in seen]
    return found
