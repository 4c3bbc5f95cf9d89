"""Closing a case with an outcome; the patient is told, the card shows it."""

from __future__ import annotations

from bot.staff.act import Act
from bot.staff.casework import ask_for, outcome_name
from bot.store.audit import audit
from bot.store.cases import Case, add_entry
from bot.store.outbox import Keyboard
from flows import case as case_life


async def close(act: Act, case: Case, arg: str = "") -> None:
    """`/close REF outcome [note]` closes it ("other" needs a note saying what
    happened); anything less (or the button) offers the outcomes."""
    outcome, _, note = arg.partition(" ")
    outcome = outcome.lower().replace("-", "_")
    if outcome in case_life.OUTCOMES and (outcome != "other" or note.strip()):
        await _close(act, case, outcome, note.strip())
        return
    if not await act.allowed(case, "close"):
        return
    ref = case.reference
    buttons: Keyboard = [
        [act.button(f"outcome_{o}", "outcome", ref, o)] for o in case_life.OUTCOMES
    ]
    buttons.append([act.button("staff_cancel", "cancel")])
    act.say("staff/close_options", reference=ref, buttons=buttons)


async def outcome(act: Act, case: Case, arg: str = "") -> None:
    """A tap on one of the outcomes."""
    await _close(act, case, arg, "")


async def _close(act: Act, case: Case, outcome: str, note: str) -> None:
    if outcome not in case_life.OUTCOMES:
        act.say("staff/unknown_command", command="close")
        return
    if outcome == "other" and not note:
        await ask_for(act, case, "close_other")
        return
    if not (await act.move(case, "close")).allowed:
        return
    case.closed_at, case.outcome = act.now, outcome
    case.asked_for_contact_at = None
    await act.milestone(case, "closed", outcome=outcome)
    if note:
        add_entry(act.session, case.id, "note", note, act.now, act.worker.id)
    audit(act.session, act.worker, "close", case, act.now, f"outcome {outcome}")
    await act.team.cards.refresh(act.session, case, act.now)
    await act.tell_patient(case, "referral/case_closed")
    act.say("staff/done", what="closed", reference=case.reference,
            outcome_label=outcome_name(act, outcome), note=note,
            buttons=act.case_buttons(case))  # fmt: skip
