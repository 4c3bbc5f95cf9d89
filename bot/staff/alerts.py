"""Safety alerts as the team handles them: "Seen – I'm on it" (shown on the card,
so nobody else wonders), then, privately, what was done about it."""

from __future__ import annotations

from bot.staff.act import Act
from bot.staff.casework import ask_for
from bot.store.audit import audit
from bot.store.cases import (
    Case,
    SafetyAlert,
    add_entry,
    alert_awaiting_action,
    alert_to_see,
)


async def seen(act: Act, case: Case, arg: str = "") -> None:
    """'Seen – I'm on it': who took the alert, shown on its card; then, privately,
    what did you do?"""
    alert = await alert_to_see(act.session, case.id)
    if alert is None:
        act.say("staff/no_alert", reference=case.reference)
        return
    if alert.seen_at is not None:
        act.notice = act.toast("already_seen", reference=case.reference, by=alert.seen_by)
        if act.private:
            act.say("staff/toast", what="already_seen", reference=case.reference, by=alert.seen_by)
        return
    _mark_seen(act, case, alert)
    await act.team.cards.refresh_alert(act.session, case, alert, act.now)
    await ask_for(act, case, "done")
    act.notice = act.toast("seen", reference=case.reference, private=act.private)


async def done(act: Act, case: Case, text: str = "") -> None:
    """`/done REF what I did` keeps it on the alert and the case; with no words,
    asks for them."""
    if not text:
        await ask_for(act, case, "done")
        return
    alert = await alert_awaiting_action(act.session, case.id)
    if alert is None:
        act.say("staff/no_alert", reference=case.reference)
        return
    if alert.seen_at is None:
        _mark_seen(act, case, alert)
    alert.action_taken = text
    await act.team.cards.refresh_alert(act.session, case, alert, act.now)
    add_entry(act.session, case.id, "alert_action", text, act.now, act.worker.id)
    audit(act.session, act.worker, "alert_action", case, act.now, f"alert {alert.id}")
    act.say("staff/done", what="alert_action", reference=case.reference,
            buttons=act.case_buttons(case))  # fmt: skip


def _mark_seen(act: Act, case: Case, alert: SafetyAlert) -> None:
    alert.seen_by, alert.seen_at = act.worker.name, act.now
    audit(act.session, act.worker, "alert_seen", case, act.now, f"alert {alert.id}")
