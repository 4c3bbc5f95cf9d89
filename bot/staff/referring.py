"""Referring a patient to an activity: the ones they were shown (the one they
liked first), or a search of the directory; the worker picks one, and the
referral is recorded on the case."""

from __future__ import annotations

from bot.staff.act import Act
from bot.staff.casework import ask_for
from bot.store.audit import audit
from bot.store.cases import Case, record_referral
from bot.store.outbox import Keyboard
from bot.store.staff import Offer, OfferedActivity, Pending
from bot.taps import whole_number
from flows.directory import Profile

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
    record_referral(act.session, case, act.worker.id, chosen.id, chosen.name, chosen.organisation,
                    offer.found_by, act.now)  # fmt: skip
    act.worker.pending = Pending()
    audit(act.session, act.worker, "refer", case, act.now, f"activity {chosen.id}")
    await act.team.cards.refresh(act.session, case, act.now)
    act.say("staff/done", what="referred", reference=case.reference, activity=chosen,
            buttons=act.case_buttons(case))  # fmt: skip
