"""Recording what the referral flow decided: consent, wellbeing scores, the case,
what the patient wrote after the handoff, safety alerts, and forgetting.

Runs inside the patient's transaction; the staff side hears of cases and alerts
through the `CaseListener` in that same transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from bot import safety
from bot.config import Settings
from bot.messages import Messages
from bot.patients.listener import CaseListener
from bot.patients.privacy import erase_patient, send_their_data, stop_contact
from bot.store import milestones
from bot.store.audit import audit
from bot.store.cases import (
    Case,
    SafetyAlert,
    add_entry,
    latest_case,
    move_case,
    open_case,
    unseen_alert,
)
from bot.store.outbox import forget_sent
from bot.store.patients import (
    Patient,
    attach_unfiled_scores,
    forget_consent_and_scores,
    record_consent,
    record_wellbeing,
)
from bot.store.staff import active_holder
from flows import case as case_life
from flows import referral
from flows.core import (
    AddToCase,
    ErasePatient,
    FlowResult,
    ForgetPatient,
    OpenCase,
    RaiseSafetyAlert,
    RecordBeforeYouPhone,
    RecordConsent,
    RecordWellbeing,
    SendTheirData,
    StopContact,
)
from flows.summary import BeforeYouPhone, CaseSummary

log = logging.getLogger(__name__)

#: What becomes of a patient's data after an event (see `record_effects`).
Forgetting = Literal["kept", "forget", "erased"]


async def record_effects(
    session: AsyncSession,
    patient: Patient,
    result: FlowResult[referral.ReferralControl],
    settings: Settings,
    listener: CaseListener,
    now: datetime,
    messages: Messages | None = None,
) -> Forgetting:
    """Record each effect. A case opened here is remembered on `result.control`.
    Returns what becomes of the patient's data: "kept", "forget" (declined or under
    18: the caller deletes them), or "erased" (they asked: gone already)."""
    forgotten: Forgetting = "kept"
    for effect in result.effects:
        match effect:
            case SendTheirData():
                assert messages is not None
                await send_their_data(session, patient, messages, now)
            case ErasePatient(later=False):
                await erase_patient(session, patient, listener, now, actor="the person",
                                    why="they asked (/delete)")  # fmt: skip
                return "erased"
            case ErasePatient(later=True):
                patient.erase_requested_at = now
                current = await latest_case(session, patient.id)
                if current is not None:
                    add_entry(session, current.id, "event", "They asked us to delete their "
                              "data: it goes once the safety alert has been seen.", now)  # fmt: skip
                    audit(session, None, "erase_requested", current, now, actor="the person")
            case StopContact():
                await stop_contact(session, patient, now)
                patient.conversation.nudged_at = now
            case RecordConsent(notice_version=version):
                await record_consent(session, patient.id, version, now)
                await milestones.record(session, patient.journey, "consented", now)
            case RecordWellbeing(context=context, scores=scores):
                await _file_baseline(session, patient, context, scores, result, now)
                await milestones.record(session, patient.journey, "wellbeing", now,
                                        context=context, scores=scores)  # fmt: skip
            case RecordBeforeYouPhone(details=details):
                await _file_before_you_phone(session, patient, details, result)
            case OpenCase(summary=summary):
                opened = await _hand_off(session, patient, summary, listener, now)
                _remember_case(result, opened)
                about = summary.about_the_person
                if not await milestones.reached(session, patient.journey, "finished"):
                    await milestones.record(session, patient.journey, "finished", now)
                await milestones.record(session, patient.journey, "handed_off", now,
                                        reference=opened.reference,
                                        need_areas=list(summary.needs.need_areas),
                                        district=about.district, mode=about.takes_part.mode)  # fmt: skip
            case AddToCase(text=text, edited=edited, kept_already=kept_already):
                current = await latest_case(session, patient.id)
                if current is not None:
                    if not kept_already:  # crisis words are on the case already, once
                        kind = "patient_message_edited" if edited else "patient_message"
                        add_entry(session, current.id, kind, text, now)
                        log.info("patient message kept on case", extra={"case_id": current.id})
                    await listener.patient_wrote(session, current, text, edited, now,
                                                 crisis=kept_already)  # fmt: skip
            case RaiseSafetyAlert(category=category, text=text, reasons=reasons):
                case = await raise_alert(
                    session,
                    patient,
                    result.answers,
                    category,
                    text,
                    reasons,
                    settings,
                    listener,
                    now,
                )
                if result.control.case_reference is None:
                    _remember_case(result, case)
            case ForgetPatient(reason=reason):
                # What we already sent them quotes their name and words: forget it too.
                await forget_sent(session, patient.channel, patient.chat_id)
                if reason == "restart":
                    await forget_consent_and_scores(session, patient.id)
                    log.info("answers forgotten on restart", extra={"patient_id": patient.id})
                else:
                    forgotten = "forget"
                    await milestones.record(session, patient.journey, reason, now)
                    log.info(
                        "patient forgotten", extra={"patient_id": patient.id, "reason": reason}
                    )
    return forgotten


async def _file_baseline(
    session: AsyncSession,
    patient: Patient,
    context: Literal["baseline", "check_in"],
    scores: dict[str, int | None],
    result: FlowResult[referral.ReferralControl],
    now: datetime,
) -> None:
    """Wellbeing answers. The baseline is answered while they wait, after the
    handoff: it is filed on their case, and the case summary shows it."""
    current = await latest_case(session, patient.id) if result.control.case_reference else None
    if current is None or current.reference != result.control.case_reference:
        await record_wellbeing(session, patient.id, context, scores, now)
        return
    await record_wellbeing(session, patient.id, context, scores, now, case_id=current.id)
    outcomes = current.summary.outcomes.model_copy(update={"wellbeing_baseline": dict(scores)})
    current.summary = current.summary.model_copy(update={"outcomes": outcomes})


async def _file_before_you_phone(
    session: AsyncSession,
    patient: Patient,
    details: BeforeYouPhone,
    result: FlowResult[referral.ReferralControl],
) -> None:
    """What helps a link worker get in touch (asked while they wait, after the
    handoff): filed on their case's summary, under about the person, as each answer
    comes, so what was given is kept if they stop there."""
    current = await latest_case(session, patient.id) if result.control.case_reference else None
    if current is None or current.reference != result.control.case_reference:
        return
    about = current.summary.about_the_person.model_copy(update={"before_you_phone": details})
    current.summary = current.summary.model_copy(update={"about_the_person": about})


async def _reopen_for_safety(session: AsyncSession, case: Case, now: datetime) -> None:
    holder = await active_holder(session, case.link_worker_id)
    decision = case_life.decide(case.status, case.link_worker_id, case_life.SYSTEM,
                                "reopen_for_safety", holder_active=holder is not None)  # fmt: skip
    if not decision.allowed or not await move_case(
        session, case, decision.status, decision.holder_id
    ):
        return
    case.closed_at, case.outcome = None, None
    case.claimed_at = now if decision.holder_id is not None else None
    add_entry(session, case.id, "event", "reopened: crisis language after it was closed", now)
    audit(session, None, "reopen", case, now, "crisis language", actor="safety screen")
    log.info("case reopened for safety", extra={"case_id": case.id})


def _remember_case(result: FlowResult[referral.ReferralControl], case: Case) -> None:
    result.control = result.control.model_copy(update={"case_reference": case.reference})


async def _hand_off(
    session: AsyncSession,
    patient: Patient,
    summary: CaseSummary,
    listener: CaseListener,
    now: datetime,
) -> Case:
    """The referral reaches the queue: a new case, or the one a crisis opened
    earlier (still open), now with the whole summary."""
    current = await latest_case(session, patient.id)
    if current is not None and current.status != "closed":
        current.summary = summary.model_copy(
            update={"opened_because": current.summary.opened_because}
        )
        add_entry(session, current.id, "event", "referral completed", now)
        await attach_unfiled_scores(session, patient.id, current.id)  # the baseline too
        await listener.case_updated(session, current, now)  # its card has more to show
        return current
    case = await open_case(session, patient.id, summary, now)
    await attach_unfiled_scores(session, patient.id, case.id)  # the baseline, if any
    log.info("case opened", extra={"case_id": case.id, "patient_id": patient.id})
    await listener.case_opened(session, case, now)
    return case


async def raise_alert(
    session: AsyncSession,
    patient: Patient,
    answers: dict[str, Any],
    category: str,
    text: str,
    reasons: tuple[str, ...],
    settings: Settings,
    listener: CaseListener,
    now: datetime,
) -> Case:
    """Flag the case urgent, first in the queue (opening one if needed: vital
    interests), and tell the team once per open alert."""
    case = await latest_case(session, patient.id)
    if case is not None and case.status == "closed":
        # Someone the team knows: their case opens again, with its notes and the
        # worker who knows them (if still on the team), who is told.
        await _reopen_for_safety(session, case, now)
    if case is None:
        # Only what is needed: who (the chat, to reach them) and why.
        summary = referral.case_summary(answers).model_copy(
            update={"opened_because": "crisis language"}
        )
        case = await open_case(session, patient.id, summary, now)
        await attach_unfiled_scores(session, patient.id, case.id)  # the baseline, if any
        log.info("case opened", extra={"case_id": case.id, "patient_id": patient.id})
        await listener.case_opened(session, case, now)
    case.urgent = True
    add_entry(session, case.id, "crisis_message", text, now)
    add_entry(session, case.id, "safety_screening", f"{category}: " + "; ".join(reasons), now)
    alert = await unseen_alert(session, case.id)
    out_of_hours = not settings.is_working_time(now)
    escalated = False
    if alert is None:
        alert = SafetyAlert(case_id=case.id, category=category, first_at=now, last_at=now,
                            count=1, out_of_hours=out_of_hours, announced_at=now)  # fmt: skip
        session.add(alert)
        await session.flush()
    else:
        alert.count += 1
        alert.last_at = now
        alert.out_of_hours = alert.out_of_hours or out_of_hours
        if safety.more_serious(category, than=alert.category):
            alert.category = category
            escalated = True
    log.warning(
        "safety alert", extra={"case_id": case.id, "category": category, "count": alert.count}
    )
    await listener.alert_raised(session, case, alert, escalated, now)
    return case
