"""Referring a patient to an activity: the worker names it (the one the patient
chose, by default; a number from the suggestions they were shown; a directory id;
or its name), sees what the patient will get, and adds a line of their own. The
patient gets the activity's details from the directory (when, where, how to join,
who to contact), the referral is recorded on the case, and check-ins are set.

    /refer SP-7K3Q                      the one they chose (or the list they saw)
    /refer SP-7K3Q 2 Jo expects you     the second suggestion, with a line
    /refer SP-7K3Q #41                  a directory id
    /refer SP-7K3Q knit and natter: See you there    by name, then a line
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.staff.act import Act
from bot.staff.casework import REPLY_LIMIT, ask_for, expired
from bot.store.audit import audit
from bot.store.cases import Case, Referral, add_entry, record_referral
from bot.store.checkins import add_check_in, latest_referral, schedule_for_referral
from bot.store.outbox import Keyboard
from bot.store.patients import patient_by_id
from bot.store.staff import Offer, OfferedActivity, Pending
from bot.taps import whole_number
from flows.directory import Profile, Suggestion
from flows.questions import telegram_length
from flows.schedule import at_their_time, check_in_times, preferred_time

#: How many activities a search offers, and a list shows at most.
SEARCH_RESULTS = 5
SHOWN = 8


async def refer(act: Act, case: Case, words: str = "") -> None:
    """`/refer REF [which] [line]` (see the module's docstring); the Refer button
    is `/refer REF`."""
    if not await act.allowed(case, "refer"):
        return
    words = words.strip()
    offered = case.summary.support_offered
    suggested = _shown(case)
    first, _, rest = words.partition(" ")
    if not words:
        if offered.interested_in is None:
            await choices(act, case)
            return
        chosen = act.team.directory().activity(offered.interested_in.id)
        if chosen is None:
            _which(act, case, "gone", offered.interested_in.name, suggested, "suggested")
            return
        await _activity_named(act, case, chosen, "", "suggested")
    elif re.fullmatch(r"\d{1,3}", first):
        number = int(first)
        if not 1 <= number <= len(suggested):
            _which(act, case, "number", first, suggested, "suggested")
            return
        found = act.team.directory().activity(suggested[number - 1].id)
        if found is None:
            _which(act, case, "gone", suggested[number - 1].name, suggested, "suggested")
            return
        await _activity_named(act, case, found, rest, "suggested")
    elif by_id := re.fullmatch(r"([cs]?)#(\S+)", first):  # c#: from their suggestions
        found = act.team.directory().activity(by_id[2])
        if found is None:
            _which(act, case, "id", by_id[2], [], "search")
            return
        await _activity_named(act, case, found, rest, "suggested" if by_id[1] == "c" else "search")
    else:
        await _by_name(act, case, words)


async def _by_name(act: Act, case: Case, words: str) -> None:
    """A name, then (after a colon or a new line) the worker's line. One activity
    of that name: it; several: which?; none: say so, and what a search finds."""
    name, line = _split_line(words)
    named = act.team.directory().named(name, SHOWN)
    if len(named) == 1:
        await _activity_named(act, case, named[0], line, "search")
        return
    if named:
        _which(act, case, "several", name, _listed(named), "search")
        return
    profile = Profile(what_matters=name, postcode=case.summary.about_the_person.postcode)
    found = act.team.directory().suggest(profile, SEARCH_RESULTS, 0)
    _offer(act, case, _listed(found), "search", words=name, not_named=True)


def _shown(case: Case) -> list[OfferedActivity]:
    """The activities the patient was shown, in the order they saw them."""
    return [OfferedActivity(id=s.id, name=s.name, organisation=s.organisation)
            for s in case.summary.support_offered.suggested]  # fmt: skip


def _listed(found: list[Suggestion]) -> list[OfferedActivity]:
    """Activities from the directory (with how far, where known), to pick from."""
    return [OfferedActivity(id=s.activity_id, name=s.name, organisation=s.organisation,
                            distance_miles=s.distance_miles)
            for s in found]  # fmt: skip


def _split_line(words: str) -> tuple[str, str]:
    for mark in ("\n", ":"):
        if mark in words:
            name, _, line = words.partition(mark)
            return name.strip(), line.strip()
    return words.strip(), ""


def _which(act: Act, case: Case, why: str, words: str, listed: list[OfferedActivity],
           found_by: str) -> None:  # fmt: skip
    """Which activity was meant is not clear: say why, and offer buttons to pick."""
    act.worker.pending = Pending(choices=_remember(case, listed, found_by),
                                 opened=act.worker.pending.opened)  # fmt: skip
    act.say("staff/refer_which", why=why, words=words, reference=case.reference,
            count=len(case.summary.support_offered.suggested), choices=listed[:SHOWN],
            buttons=_pick_buttons(act, case, listed))  # fmt: skip


async def _activity_named(act: Act, case: Case, activity: Suggestion, line: str,
                          found_by: str) -> None:  # fmt: skip
    """With a line, sent; without, the worker sees what the patient will get and is
    asked for a line (or taps Send)."""
    line = line.lstrip(":").strip()
    if line:
        await _send(act, case, activity, line, found_by)
        return
    ref, name = case.reference, case.summary.about_the_person.name
    arg = f"{'s' if found_by == 'search' else 'c'}#{activity.activity_id}"
    act.worker.pending = act.worker.pending.model_copy(
        update={"kind": "refer_line", "case": ref, "at": act.now, "arg": arg}
    )
    buttons: Keyboard = [
        [act.button("staff_send_card", "send", ref, arg, name=name or ref)],
        [act.button("staff_other_activity", "choices", ref), act.button("staff_cancel", "cancel")],
    ]
    act.say("staff/refer_preview", reference=ref, name=name, activity=activity, buttons=buttons,
            minutes=f"{act.team.settings.prompt_expires_minutes:g}")  # fmt: skip


async def send(act: Act, case: Case, arg: str = "") -> None:
    """The Send button under what the patient will get (`c#ID`: from their
    suggestions; `s#ID`: found in the directory), or the line typed for it."""
    how, _, rest = arg.partition("#")
    activity_id, _, line = rest.partition(" ")
    if not await act.allowed(case, "refer"):
        return
    pending = act.worker.pending
    if act.tapped and (
        (pending.kind, pending.case, pending.arg) != ("refer_line", case.reference, arg)
        or expired(pending, act.now, act.team.settings)
    ):  # sent already, cancelled or lapsed: a second tap sends nothing
        act.worker.pending = Pending(choices=pending.choices, opened=pending.opened)
        act.say("staff/pending_expired", kind="refer", reference=case.reference)
        return
    found = act.team.directory().activity(activity_id)
    if found is None:
        _which(act, case, "id", activity_id, [], "search")
        return
    await _send(act, case, found, line.strip(), "search" if how == "s" else "suggested")


async def _send(act: Act, case: Case, activity: Suggestion, line: str, found_by: str) -> None:
    """The referral: recorded, check-ins set, and the patient sent the details."""
    act.worker.pending = Pending(opened=act.worker.pending.opened)
    if telegram_length(line) > REPLY_LIMIT:
        act.say("staff/too_long", limit=REPLY_LIMIT, length=telegram_length(line))
        return
    patient = await patient_by_id(act.session, case.patient_id)
    if patient is None or patient.blocked_at is not None:
        act.say("staff/not_delivered", reference=case.reference)
        return
    if not (await act.move(case, "refer")).allowed:
        return
    referral = await record_referral(act.session, case, act.worker.id, activity.activity_id,
                                     activity.name, activity.organisation, found_by, act.now)  # fmt: skip
    check_ins = await schedule_for_referral(act.session, case, referral,
                                            _check_in_times(act, case, referral))  # fmt: skip
    zone = act.team.settings.zone
    first = min((c.due_at for c in check_ins), default=None)
    await act.tell_patient(case, "referral/referred", activity=activity, line=line,
                           check_in=first.astimezone(zone) if first else None)  # fmt: skip
    await act.team.conversations.talking_with_worker(act.session, case.patient_id, act.now)
    entry = act.team.messages.render("staff/notes/referred", activity=activity.name, line=line)
    add_entry(act.session, case.id, "reply", entry.strip(), act.now, act.worker.id)
    audit(act.session, act.worker, "refer", case, act.now, f"activity {activity.activity_id}")
    await act.milestone(case, "referred", activity_id=activity.activity_id, activity=activity.name,
                        organisation=activity.organisation)  # fmt: skip
    await act.milestone(case, "first_contact", once=True)
    case.asked_for_contact_at = None
    await act.team.cards.refresh(act.session, case, act.now)
    act.say("staff/done", what="referred", reference=case.reference, activity=activity,
            name=case.summary.about_the_person.name, line=line,
            check_ins=[c.due_at for c in check_ins], zone=zone,
            buttons=act.case_buttons(case))  # fmt: skip


async def choices(act: Act, case: Case, arg: str = "") -> None:
    """The activities they were shown (the ones they chose marked), and a search."""
    if not await act.allowed(case, "refer"):
        return
    offered = case.summary.support_offered
    interested = offered.interested_in.id if offered.interested_in else None
    _offer(act, case, _shown(case), "suggested", interested=interested)


async def search(act: Act, case: Case, arg: str = "") -> None:
    """The Search button: ask for the words."""
    await ask_for(act, case, "search")


def _remember(case: Case, listed: list[OfferedActivity], found_by: str) -> Offer:
    return Offer(case=case.reference, found_by=found_by, items=tuple(listed[:SHOWN]))


def _pick_buttons(act: Act, case: Case, listed: list[OfferedActivity]) -> Keyboard:
    ref = case.reference
    buttons: Keyboard = [
        [act.button("staff_pick", "pick", ref, str(i), n=i + 1, name=c.name)]
        for i, c in enumerate(listed[:SHOWN])
    ]
    buttons.append(
        [act.button("staff_search", "search", ref), act.button("staff_cancel", "cancel")]
    )
    return buttons


def _offer(
    act: Act, case: Case, choices: list[OfferedActivity], found_by: str, **context: object
) -> None:
    choices = choices[:SHOWN]
    act.worker.pending = Pending(choices=_remember(case, choices, found_by),
                                 opened=act.worker.pending.opened)  # fmt: skip
    act.say("staff/refer_options", reference=case.reference, choices=choices, found_by=found_by,
            buttons=_pick_buttons(act, case, choices), **context)  # fmt: skip


async def pick(act: Act, case: Case, arg: str = "") -> None:
    """A tap on one of the offered activities: what the patient will get, and a line."""
    offer, index = act.worker.pending.choices, whole_number(arg)
    if offer is None or offer.case != case.reference or index is None or index >= len(offer.items):
        act.say("staff/pending_expired", kind="refer", reference=case.reference)
        return
    if not await act.allowed(case, "refer"):
        return
    chosen = offer.items[index]
    found = act.team.directory().activity(chosen.id)
    if found is None:
        _which(act, case, "gone", chosen.name, list(offer.items), offer.found_by)
        return
    await _activity_named(act, case, found, "", offer.found_by)


def _check_in_times(act: Act, case: Case, referral: Referral) -> list[datetime]:
    """CHECKIN_SCHEDULE after the referral, at the time of day that suits them."""
    settings = act.team.settings
    about = case.summary.about_the_person
    aim = preferred_time(about.best_time, about.takes_part.free_times)
    return check_in_times(referral.made_at, settings.checkin_offsets, aim, settings.quiet,
                          settings.zone)  # fmt: skip


async def check_in_later(act: Act, case: Case, arg: str = "") -> None:
    """`/checkin REF 2w [their own line]`: a one-off check-in about the case's latest
    referral, at the time of day that suits them."""
    if not await act.allowed(case, "note"):
        return
    when_words, _, line = arg.strip().partition(" ")
    wait = _wait(when_words)
    if wait is None:
        act.say("staff/check_in_usage", reference=case.reference)
        return
    referral = await latest_referral(act.session, case.id)
    if referral is None:
        act.say("staff/check_in_needs_referral", reference=case.reference)
        return
    about = case.summary.about_the_person
    settings = act.team.settings
    due = at_their_time(act.now + wait, preferred_time(about.best_time, about.takes_part.free_times),
                        settings.quiet, settings.zone)  # fmt: skip
    add_check_in(act.session, case, due, referral_id=referral.id, kind="one_off",
                 note=line.strip() or None, asked_by=act.worker.id)  # fmt: skip
    audit(act.session, act.worker, "check_in", case, act.now, f"one-off, due {due.isoformat()}")
    act.say("staff/done", what="check_in_added", reference=case.reference, due=due,
            activity=referral.activity_name, zone=settings.zone, line=line.strip(),
            buttons=act.case_buttons(case))  # fmt: skip


def _wait(words: str) -> timedelta | None:
    """'2w', '14d', '3days', '1week' -> how long to wait (1 day to a year)."""
    match = re.fullmatch(r"(\d{1,3})\s*(d|days?|w|wks?|weeks?)", words.strip().lower())
    if not match:
        return None
    days = int(match[1]) * (7 if match[2].startswith("w") else 1)
    return timedelta(days=days) if 1 <= days <= 366 else None
