"""Rows made directly, for tests that are not about the conversation.

`referred_patient` fast-forwards a whole referral: the real referral flow walks
the happy path in memory (pure, no database), and what it decided is recorded by
the patient side's own `record_effects` and `save_conversation` in one
transaction. So the patient, conversation, consent, baseline, case and the team
chat's card are exactly what a real referral leaves, at a fraction of the cost of
thirty updates.
"""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.patients import CaseListener
from bot.patients.effects import record_effects
from bot.store import Database
from bot.store.cases import Case, latest_case
from bot.store.patients import patient_for_update, save_conversation
from flows.core import FlowResult
from tests.flows.harness import Patient, walk_to


async def referred_patient(
    db: Database,
    settings: Settings,
    listener: CaseListener,
    now: datetime,
    chat_id: int = 42,
    channel: str = "telegram",
) -> Case:
    """A patient who went straight through the referral (tests/flows/harness.py's
    HAPPY_PATH) and whose case waits in the queue."""
    flow = Patient()
    walk_to(flow, "handed_off")
    result = FlowResult(flow.state, flow.conversation.step, flow.answers, flow.control,
                        effects=flow.effects)  # fmt: skip
    async with db.transaction() as session:
        patient = (await patient_for_update(session, channel, chat_id, now)).patient
        await record_effects(session, patient, result, settings, listener, now)
        await save_conversation(session, patient.conversation, result, now)
        case = await latest_case(session, patient.id)
        assert case is not None
        return case
