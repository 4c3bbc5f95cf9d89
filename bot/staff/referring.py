"""Referring a patient to an activity: the ones they were shown (the one they
liked first), or a search of the directory; the worker picks one, and the
referral is recorded on the case."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from bot.staff.act import Act
from bot.staff.casework import ask_for
from bot.store.audit import audit
from bot.store.cases import Case, Referral, record_referral
from bot.store.checkins import add_check_in, latest_referral, schedule_for_referral
from bot.store.outbox import Keyboard
from bot.store.staff import Offer, OfferedActivity, Pending
from bot.taps import whole_number
from flows.directory import Profile
from flows.schedule import at_their_time, check_in_times, preferred_time

#: How many activities a search offers, and a list shows at most.
SEARCH_RESULTS = 5
SHOWN = 8


async def refer(act: Act, case: Case, words: str = "") -> None:
    """`/refer REF words` searches the directory; with no words (or the button),
    offers the activities the patient was shown."""
    decision = act.may(case, "refer")
    if not decision.allowed:
        await act.refuse(case, decision)
        return
    if words:
        await _search(act, case, words)
        return
    offered = case.summary.support_offered
    interested = offered.interested_in.id if offered.interested_in else None
    shown = sorted(offered.suggested, key=lambda s: s.id != interested)
    choices = [OfferedActivity(id=s.id, name=s.name, organisation=s.organisation) for s in shown]
    _offer(act, case, choices, "suggested", interested=interested)


async def search(act: Act, case: Case, arg: str = "") -> None:
    """The Search button: ask for the words."""
    await ask_for(act, case, "search")


async def _search(act: Act, case: Case, words: str) -> None:
    profile = Profile(what_matters=words, postcode=case.summary.about_the_person.postcode)
    found = [
        OfferedActivity(id=s.activity_id, name=s.name, organisation=s.organisation,
                        distance_miles=s.distance_miles)
        for s in act.team.directory().suggest(profile, SEARCH_RESULTS, 0)
    ]  # fmt: skip
    _offer(act, case, found, "search", words=words)


def _offer(
    act: Act, case: Case, choices: list[OfferedActivity], found_by: str, **context: object
) -> None:
    choices = choices[:SHOWN]
    offer = Offer(case=case.reference, found_by=found_by, items=tuple(choices))
    act.worker.pending = Pending(choices=offer)
    ref = case.reference
    buttons: Keyboard = [
        [act.button("staff_pick", "pick", ref, str(i), n=i + 1, name=c.name)]
        for i, c in enumerate(choices)
    ]
    buttons.append(
        [act.button("staff_search", "search", ref), act.button("staff_cancel", "cancel")]
    )
    act.say("staff/refer_options", reference=ref, choices=choices, found_by=found_by,
            buttons=buttons, **context)  # fmt: skip


async def pick(act: Act, case: Case, arg: str = "") -> None:
    """A tap on one of the offered activities: the referral is made."""
    offer, index = act.worker.pending.choices, whole_number(arg)
    if offer is None or offer.case != case.reference or index is None or index >= len(offer.items):
        act.say("staff/pending_expired", kind="refer", reference=case.reference)
        return
    chosen = offer.items[index]
    if not (await act.move(case, "refer")).allowed:
        return
    referral = await record_referral(act.session, case, act.worker.id, chosen.id, chosen.name,
                                     chosen.organisation, offer.found_by, act.now)  # fmt: skip
    act.worker.pending = Pending()
    audit(act.session, act.worker, "refer", case, act.now, f"activity {chosen.id}")
    await act.milestone(case, "referred", activity_id=chosen.id, activity=chosen.name,
                        organisation=chosen.organisation)  # fmt: skip
    check_ins = await schedule_for_referral(act.session, case, referral,
                                            _check_in_times(act, case, referral))  # fmt: skip
    await act.team.cards.refresh(act.session, case, act.now)
    act.say("staff/done", what="referred", reference=case.reference, activity=chosen,
            check_ins=[c.due_at for c in check_ins], zone=act.team.settings.zone,
            buttons=act.case_buttons(case))  # fmt: skip


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
    decision = act.may(case, "note")
    if not decision.allowed:
        await act.refuse(case, decision)
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
