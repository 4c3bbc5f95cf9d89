"""Working one case: read it, claim it, talk to the patient, note, release, reopen.

Every change tells whoever needs to know in the same transaction: the patient
(through the outbox), the team chat's card (edited in place), and the audit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.hours import working_days_after
from bot.messages import html_to_text
from bot.staff.act import Act
from bot.store.audit import audit
from bot.store.case_file import load_case_file
from bot.store.cases import (
    Case,
    add_entry,
    earlier_cases,
    held_count,
    move_case,
    worker_notes,
)
from bot.store.outbox import Keyboard
from bot.store.patients import patient_by_id
from bot.store.staff import LinkWorker, Pending, active_holder, active_workers, worker_name
from flows import case as case_life
from flows.questions import telegram_length
from flows.wellbeing import MEASURES, band

#: A worker's text goes to the patient in one message, with room for "Sam, your link
#: worker:" (UTF-16 code units, as Telegram counts).
REPLY_LIMIT = 3500
#: "What did you do?" after a safety alert is forgotten after this long (a prompt
#: for a reply or a note after PROMPT_EXPIRES_MINUTES).
PENDING_FOR = timedelta(hours=1)
#: How many notes of each earlier case /case shows.
NOTES_SHOWN = 3
#: What each kind of typed text a button asked for needs the worker to be allowed.
ASKED_FOR: dict[str, case_life.Action] = {
    "reply": "reply", "note": "note", "search": "refer", "close_other": "close", "done": "note",
    "assign": "assign", "refer_line": "refer",
}  # fmt: skip


async def view(act: Act, case: Case, arg: str = "") -> None:
    """The whole case on one screen (in several messages if it is long)."""
    file = await load_case_file(act.session, case)
    audit(act.session, act.worker, "open", case, act.now)
    act.worker.pending = act.worker.pending.model_copy(update={"opened": case.reference})
    messages = act.team.messages
    text = messages.render(
        "staff/case", file=file, case=case, summary=file.summary, zone=act.team.settings.zone,
        now=act.now, label=messages.label, band=band, measures=MEASURES,
        outcome=outcome_name(act, case.outcome) if case.outcome else None,
        district=file.summary.about_the_person.district,
    )  # fmt: skip
    act.send(text + await history(act, case), act.case_buttons(case, file.alerts))


async def history(act: Act, case: Case) -> str:
    """The same person's earlier cases (closed ones too), with notes and outcomes."""
    earlier = []
    for old in await earlier_cases(act.session, case):
        notes = await worker_notes(act.session, old.id, NOTES_SHOWN)
        earlier.append({
            "case": old, "holder": await worker_name(act.session, old.link_worker_id),
            "outcome": outcome_name(act, old.outcome) if old.outcome else None,
            "notes": [(n, await worker_name(act.session, n.link_worker_id)) for n in notes],
        })  # fmt: skip
    if not earlier:
        return ""
    return "\n\n" + act.team.messages.render(
        "staff/earlier_cases", earlier=earlier, zone=act.team.settings.zone
    )


def outcome_name(act: Act, outcome: str) -> str:
    """How an outcome reads once chosen ("Other", where its button says "Other (add a
    note)")."""
    messages = act.team.messages
    chosen = f"outcome_{outcome}_chosen"
    return messages.label(chosen if messages.has_label(chosen) else f"outcome_{outcome}")


async def claim(act: Act, case: Case, arg: str = "") -> None:
    away = act.worker.away_until
    if away is not None and act.worker.away_on(act.today) and act.may(case, "claim").allowed:
        # Away: no new cases (bot/staff/away.py).
        act.say("staff/away_no_claims", reference=case.reference, until=away,
                buttons=act.nav())  # fmt: skip
        if act.tapped:
            act.notice = act.toast("away", until=away)
        return
    limit = act.team.settings.caseload_limit
    if limit is not None and arg != "anyway" and act.may(case, "claim").allowed:
        held = await held_count(act.session, act.worker.id)
        if held >= limit:  # warned first, privately; "Claim anyway" goes on
            again = act.button("staff_claim_anyway", "claim", case.reference, "anyway")
            act.say("staff/over_caseload", reference=case.reference, held=held, limit=limit,
                    buttons=[[again], [act.button("staff_cancel", "cancel")]])  # fmt: skip
            if act.tapped:
                act.notice = act.toast("over_caseload", held=held, limit=limit)
            return
    if not (await act.move(case, "claim")).allowed:
        return
    case.claimed_at = act.now
    case.promised_by = promise(act, case)["by"]
    case.overdue_told_at = case.overdue_team_told_at = None
    audit(act.session, act.worker, "claim", case, act.now)
    await act.milestone(case, "claimed", once=True)
    await act.team.cards.refresh(act.session, case, act.now)
    told = await act.tell_patient(case, "referral/picked_up", **promise(act, case))
    if told:
        # They have just been told that what they write goes to the worker: make it so.
        await act.team.conversations.talking_with_worker(act.session, case.patient_id, act.now)
    if act.private:
        act.say("staff/done", what="claimed", reference=case.reference, told=told,
                buttons=act.case_buttons(case))  # fmt: skip
    else:  # from the team chat: the case itself, privately
        await view(act, case)
    if act.tapped:
        act.notice = act.toast("claimed", reference=case.reference, private=act.private)


def promise(act: Act, case: Case) -> dict[str, Any]:
    """When the patient will hear: RESPONSE_WORKING_DAYS after they referred, and
    never a day already past."""
    settings = act.team.settings
    by = working_days_after(case.opened_at, settings.response_working_days, settings)
    today = act.now.astimezone(settings.zone).date()
    by = max(by, today)
    return {"by": by, "today": today, "days_away": (by - today).days,
            "contact_method": case.summary.about_the_person.contact_method}  # fmt: skip


async def release(act: Act, case: Case, arg: str = "") -> None:
    """Back to the queue. Whoever held it (if someone else released it) and the
    patient are told; an urgent case is posted anew in the team chat."""
    held_by = case.link_worker_id
    if not (await act.move(case, "release")).allowed:
        return
    case.claimed_at = case.promised_by = None
    case.overdue_told_at = case.overdue_team_told_at = None
    await back_in_queue(act, case, act.now)
    previous = await worker_name(act.session, held_by)
    holder = await active_holder(act.session, held_by)
    name = case.summary.about_the_person.name
    told_holder = None
    if holder is not None and holder.id != act.worker.id:
        act.tell_worker(holder, "staff/handed_back", case, by=act.worker.name, name=name)
        told_holder = holder.name
    told = await act.tell_patient(case, "referral/released", previous=previous)
    detail = "" if held_by == act.worker.id else f"held by {previous}"
    audit(act.session, act.worker, "release", case, act.now, detail)
    act.say("staff/done", what="released", reference=case.reference, told=told, name=name,
            holder=told_holder, buttons=act.nav())  # fmt: skip


async def back_in_queue(act: Act, case: Case, now: datetime) -> None:
    """A released case is new to the queue again: its card gets its Claim button
    back, and claim reminders count from now. An urgent one is posted as a new card
    (Telegram notifies nobody of an edit; the old card points to the new)."""
    if case.urgent:
        await act.team.cards.post(act.session, case, now)
        return
    case.announced_at = now
    await act.team.cards.refresh(act.session, case, now)


async def assign(act: Act, case: Case, arg: str = "") -> None:
    """`/assign REF @name handover note` hands the case to a named colleague (the
    holder or an admin may). Without a name: the colleagues, as buttons; without a
    note: asks for one. The new holder, the old and the patient are each told once."""
    if not await act.allowed(case, "assign"):
        return
    who, _, note = arg.strip().partition(" ")
    everyone_else = [w for w in await active_workers(act.session) if w.id != case.link_worker_id]
    colleagues = [w for w in everyone_else if not w.away_on(act.today)]  # not to someone away
    target = colleague(who, colleagues)
    away = colleague(who, everyone_else) if target is None else None
    name = case.summary.about_the_person.name
    if target is None:
        buttons: Keyboard = [
            [act.button("staff_assign_to", "assign", case.reference, f"w{w.id}", name=w.name)]
            for w in sorted(colleagues, key=lambda w: w.name.lower())
        ]
        buttons.append([act.button("staff_cancel", "cancel")])
        act.say("staff/assign_to", reference=case.reference, name=name,
                unknown=who.lstrip("@") if who and away is None else None, away=away,
                colleagues=colleagues, buttons=buttons)  # fmt: skip
        return
    if not note.strip():
        await ask_for(act, case, "assign", arg=f"w{target.id}", to=target.name)
        return
    await hand_over(act, case, target, note.strip())


def colleague(who: str, colleagues: list[LinkWorker]) -> LinkWorker | None:
    """The one colleague `who` names: "w12" (a button), "@Priya", "priya", or a
    first name when only one person has it."""
    who = who.strip().lstrip("@").lower()
    if not who:
        return None
    if who.startswith("w") and who[1:].isdigit():
        return next((w for w in colleagues if w.id == int(who[1:])), None)
    exact = [w for w in colleagues if w.name.lower().replace(" ", "") == who]
    first = [w for w in colleagues if w.name.lower().split()[0] == who] if not exact else []
    found = exact or first
    return found[0] if len(found) == 1 else None


async def hand_over(act: Act, case: Case, target: LinkWorker, note: str) -> None:
    held_by = case.link_worker_id
    if not await move_case(act.session, case, case.status, target.id):
        await act.refuse(case, case_life.Decision(False, case.status, case.link_worker_id, "taken"))
        return
    previous = await active_holder(act.session, held_by)
    previous_name = await worker_name(act.session, held_by)
    name = case.summary.about_the_person.name
    by = act.worker.name
    entry = act.team.messages.render("staff/notes/handover", by=by, previous=previous_name,
                                     to=target.name, note=note)  # fmt: skip
    add_entry(act.session, case.id, "note", html_to_text(entry), act.now, act.worker.id)
    audit(act.session, act.worker, "assign", case, act.now,
          f"from worker {held_by} to worker {target.id}")  # fmt: skip
    await act.team.cards.refresh(act.session, case, act.now)
    told = await act.tell_patient(case, "referral/handed_over", previous=previous_name,
                                  worker=target.name)  # fmt: skip
    if told:
        await act.team.conversations.talking_with_worker(act.session, case.patient_id, act.now)
    common: dict[str, Any] = {"by": by, "name": name, "previous": previous_name,
                              "holder": target.name, "told": told, "note": note}  # fmt: skip
    act.tell_worker(target, "staff/handed_over", case, to="to_you", **common,
                    buttons=[[act.button("staff_open", "open", case.reference,
                                         reference=case.reference)]])  # fmt: skip
    if previous is not None and previous.id not in (act.worker.id, target.id):
        act.tell_worker(previous, "staff/handed_over", case, to="from_you", **common)
    if act.worker.id != target.id:
        act.say("staff/handed_over", to="done", reference=case.reference, **common,
                buttons=act.nav())  # fmt: skip


async def reopen(act: Act, case: Case, arg: str = "") -> None:
    if not (await act.move(case, "reopen")).allowed:
        return
    case.closed_at, case.outcome, case.claimed_at = None, None, act.now
    audit(act.session, act.worker, "reopen", case, act.now)
    await act.team.cards.refresh(act.session, case, act.now)
    act.say("staff/done", what="reopened", reference=case.reference,
            buttons=act.case_buttons(case))  # fmt: skip


async def ask_for(act: Act, case: Case, kind: str, *, arg: str | None = None,
                  **context: Any) -> None:  # fmt: skip
    """Ask for the text of a reply, note, search or action; the next message is it
    (after `arg`, when the prompt is for something more, like whom to hand it to)."""
    if kind != "done" and not await act.allowed(case, ASKED_FOR[kind]):
        return
    act.worker.pending = act.worker.pending.model_copy(
        update={"kind": kind, "case": case.reference, "at": act.now, "arg": arg}
    )
    cancel = [[act.button("staff_cancel", "cancel")]]
    act.say("staff/prompt", kind=kind, reference=case.reference,
            name=case.summary.about_the_person.name, buttons=cancel,
            minutes=f"{act.team.settings.prompt_expires_minutes:g}", **context)  # fmt: skip


async def reply(act: Act, case: Case, text: str = "") -> None:
    """`/reply REF words` sends them; with no words, asks for them."""
    if not text:
        await ask_for(act, case, "reply")
        return
    if telegram_length(text) > REPLY_LIMIT:
        act.say("staff/too_long", limit=REPLY_LIMIT, length=telegram_length(text))
        return
    patient = await patient_by_id(act.session, case.patient_id)
    if patient is None or patient.blocked_at is not None:
        decision = act.may(case, "reply")
        if decision.allowed:
            act.say("staff/not_delivered", reference=case.reference)
        else:
            await act.refuse(case, decision)
        return
    if not (await act.move(case, "reply")).allowed:
        return
    await act.tell_patient(case, "referral/from_link_worker", text=text)
    await act.team.conversations.talking_with_worker(act.session, case.patient_id, act.now)
    add_entry(act.session, case.id, "reply", text, act.now, act.worker.id)
    audit(act.session, act.worker, "reply", case, act.now)
    await act.milestone(case, "first_contact", once=True)
    case.asked_for_contact_at = None  # they asked for someone: here they are
    act.say("staff/done", what="replied", reference=case.reference,
            name=case.summary.about_the_person.name, buttons=act.case_buttons(case))  # fmt: skip


async def note(act: Act, case: Case, text: str = "") -> None:
    """`/note REF words` keeps them on the case; with no words, asks for them."""
    if not text:
        await ask_for(act, case, "note")
        return
    if not (await act.move(case, "note")).allowed:
        return
    add_entry(act.session, case.id, "note", text, act.now, act.worker.id)
    audit(act.session, act.worker, "note", case, act.now)
    act.say("staff/done", what="noted", reference=case.reference,
            name=case.summary.about_the_person.name, buttons=act.case_buttons(case))  # fmt: skip


def expired(pending: Pending, now: datetime, settings: Settings) -> bool:
    """A prompt for a reply or a note lasts PROMPT_EXPIRES_MINUTES; the question
    after a safety alert ("what did you do?") lasts longer (acting takes time)."""
    lasts = PENDING_FOR if pending.kind == "done" else settings.prompt_expires
    return pending.at is not None and now - pending.at > lasts
