"""A person's rights over their data, on the patient's side: a copy of everything
(/mydata, `spbot subject-access`), erasure (/delete, `spbot erase`, retention),
and stopping contact (/stop).

Erasing tells the link worker holding the case and edits the team chat's cards
first (in the same transaction), records in the audit that it happened (no
content), then deletes (bot/store/subject.py). The milestones stay: they count
the journey and cannot find the person.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import Messages
from bot.patients.listener import CaseListener
from bot.store import Database
from bot.store.audit import audit
from bot.store.cases import Case, add_entry, latest_case
from bot.store.checkins import stop_check_ins_of_patient
from bot.store.outbox import Outbox
from bot.store.patients import Patient
from bot.store.subject import Erased, cases_of, due_for_erasure, erase, everything_about
from flows import referral

log = logging.getLogger(__name__)


def data_file(everything: dict[str, Any]) -> str:
    """Everything, as a JSON file a person (or their advocate) can open."""
    return json.dumps(everything, ensure_ascii=False, indent=2, sort_keys=False)


def file_name(patient: Patient, reference: str | None, now: datetime) -> str:
    return f"my-data-{reference or 'spbot'}-{now:%Y-%m-%d}.json"


async def send_their_data(
    session: AsyncSession, patient: Patient, messages: Messages, now: datetime
) -> None:
    """/mydata: a short, readable summary in the chat, then the whole file."""
    everything = await everything_about(session, patient)
    latest = await latest_case(session, patient.id)
    outbox = Outbox(session, patient.channel, patient.chat_id, now)
    outbox.send(messages.render("referral/your_data", **summary(everything)))
    reference = latest.reference if latest is not None else None
    caption = messages.render("referral/your_data_file")
    outbox.send_document(file_name(patient, reference, now), data_file(everything), caption)
    log.info("their data sent to them", extra={"patient_id": patient.id})


def summary(everything: dict[str, Any]) -> dict[str, Any]:
    """What the chat summary counts."""
    consents = everything["consent"]
    given = consents[-1]["given_at"] if consents else None
    return {
        "answers": _count(len(everything["conversation"]["answers"]), "answer"),
        "consented": datetime.fromisoformat(given) if given else None,
        "scores": _count(len(everything["wellbeing"]), "set") if everything["wellbeing"] else "none",
        "cases": [{"reference": c["reference"], "status": c["status"].replace("_", " "),
                   "messages": len(c["entries"]), "check_ins": len(c["check_ins"]),
                   "alerts": len(c["safety_alerts"])} for c in everything["cases"]],
        "sent": len(everything["messages_we_sent_you"]),
    }  # fmt: skip


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


async def erase_patient(
    session: AsyncSession,
    patient: Patient,
    listener: CaseListener,
    now: datetime,
    *,
    actor: str,
    why: str,
) -> Erased:
    """Erase everything about them. The worker holding an open case is told it was
    withdrawn and the team's cards say so; the audit records that it happened, by
    whom and why, with no content (its case reference outlives the case)."""
    cases = await cases_of(session, patient.id)
    for case in cases:
        if case.status != "closed":
            await listener.case_withdrawn(session, case, now)
    audited: list[Case | None] = [*cases] or [None]  # an erasure with no case is recorded too
    for each in audited:
        audit(session, None, "erase", each, now, why, actor=actor)
    erased = await erase(session, patient)
    log.info("patient erased", extra={"cases": erased.cases, "why": why})
    return erased


async def stop_contact(session: AsyncSession, patient: Patient, now: datetime) -> int:
    """/stop: no more check-ins about any of their referrals (their link worker can
    start them again), and no nudge. Returns how many check-ins were cancelled."""
    stopped = await stop_check_ins_of_patient(session, patient.id, now)
    for case in await cases_of(session, patient.id):
        add_entry(session, case.id, "check_in", "They sent /stop: no more check-ins.", now)
    log.info("contact stopped", extra={"patient_id": patient.id, "check_ins": stopped})
    return stopped


@dataclass(frozen=True)
class DueForErasure:
    """Someone whose data is due to go, and why ("retention", "abandoned", "asked")."""

    reason: str
    references: tuple[str, ...]


#: Where a conversation can be left before the handoff (erased after
#: ABANDONED_RETENTION_DAYS): every question, and the pauses between them.
ABANDONED_STATES = [s for s in referral.BEFORE_HANDOFF if s != "new"]


async def sweep(
    db: Database,
    settings: Settings,
    listener: CaseListener,
    now: datetime,
    *,
    dry_run: bool = False,
    limit: int = 200,
) -> list[DueForErasure]:
    """Erase (or, `dry_run`, only list) everyone whose data is due to go. Runs from
    the bot's housekeeping and from `spbot purge`; safe on several instances."""
    done: list[DueForErasure] = []
    while True:
        async with db.transaction() as session:
            due = await due_for_erasure(
                session,
                closed_before=now - timedelta(days=settings.retention_days),
                abandoned_before=now - timedelta(days=settings.abandoned_retention_days),
                abandoned_states=ABANDONED_STATES,
                limit=limit,
            )
            batch = []
            for patient, reason in due:
                references = tuple(c.reference for c in await cases_of(session, patient.id))
                batch.append(DueForErasure(reason, references))
                if not dry_run:
                    await erase_patient(session, patient, listener, now, actor="retention"
                                        if reason != "asked" else "the person", why=WHY[reason])  # fmt: skip
        done += batch
        if dry_run or len(due) < limit:
            break
    if done and not dry_run:
        await db.checkpoint()
    return done


WHY = {
    "asked": "they asked (/delete), once their safety alert was seen",
    "retention": "retention: RETENTION_DAYS after their last case closed",
    "abandoned": "retention: ABANDONED_RETENTION_DAYS after they left the referral",
}
