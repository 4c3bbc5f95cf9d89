"""The lists a link worker pages through: home, the queue, and their own cases.

A list page opened by a button is edited in place when its Previous/Next buttons
are tapped, so paging does not fill the chat.
"""

from __future__ import annotations

from typing import Any

from bot.hours import working_days_after
from bot.staff.act import Act
from bot.store.cases import (
    Case,
    case_by_reference,
    held_count,
    held_page,
    last_entry,
    newest_cases,
    open_cases_by_worker,
    overdue_by_worker,
    waiting_counts,
    waiting_page,
)
from bot.store.outbox import Keyboard, list_page_shown
from bot.store.staff import Pending, active_workers, worker_name
from bot.taps import whole_number

PAGE_SIZE = 5
#: /find looks through this many of the newest cases, and shows at most FOUND.
SEARCHED = 2000
FOUND = 8
#: /team offers at most this many overdue cases to open.
OVERDUE_BUTTONS = 10


async def home(act: Act, arg: str = "") -> None:
    waiting, urgent = await waiting_counts(act.session)
    mine = await held_count(act.session, act.worker.id)
    act.say("staff/home", worker=act.worker, waiting=waiting, urgent=urgent, mine=mine,
            buttons=act.nav())  # fmt: skip


async def cancel(act: Act, arg: str = "") -> None:
    act.worker.pending = Pending()
    act.say("staff/done", what="cancelled")


async def queue(act: Act, arg: str = "") -> None:
    """Waiting cases: urgent first, then whoever has waited longest."""
    total, urgent = await waiting_counts(act.session)
    page, pages = _page(arg, total)
    cases = await waiting_page(act.session, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    items = [_line(act, c) for c in cases]
    buttons: Keyboard = [
        [act.button("staff_open", "open", i["reference"], reference=i["reference"]),
         act.button("staff_claim", "claim", i["reference"], reference=i["reference"])]
        for i in items
    ]  # fmt: skip
    buttons += _pager(act, "queue", page, pages)
    text = act.team.messages.render("staff/queue", items=items, page=page, pages=pages,
                                    total=total, urgent=urgent, first=(page - 1) * PAGE_SIZE)  # fmt: skip
    await _show(act, text, buttons)


async def mine(act: Act, arg: str = "") -> None:
    """My open cases, with the last thing that happened on each."""
    total = await held_count(act.session, act.worker.id)
    page, pages = _page(arg, total)
    items = []
    for case in await held_page(act.session, act.worker.id, (page - 1) * PAGE_SIZE, PAGE_SIZE):
        last = await last_entry(act.session, case.id)
        if last is not None and (last.kind, last.text) == ("event", "opened"):
            last = None  # their referral itself: "Referred 3 h ago" says it
        by = await worker_name(act.session, last.link_worker_id) if last else None
        items.append({**_line(act, case), "status": case.status, "last": last, "last_by": by,
                      "opened_at": case.opened_at, "claimed_at": case.claimed_at})  # fmt: skip
    buttons: Keyboard = [
        [act.button("staff_open", "open", i["reference"], reference=i["reference"])] for i in items
    ]
    buttons += _pager(act, "mine", page, pages)
    text = act.team.messages.render("staff/mine", items=items, page=page, pages=pages,
                                    total=total, zone=act.team.settings.zone, now=act.now)  # fmt: skip
    await _show(act, text, buttons)


def _page(arg: str, total: int) -> tuple[int, int]:
    pages = max(1, -(-total // PAGE_SIZE))
    page = whole_number(arg) or 1
    return min(max(page, 1), pages), pages


def _line(act: Act, case: Case) -> dict[str, Any]:
    """One case as a list shows it: nothing a group or a glance should not see."""
    about, needs = case.summary.about_the_person, case.summary.needs
    return {
        "reference": case.reference,
        "urgent": case.urgent,
        "waited_seconds": (act.now - case.opened_at).total_seconds(),
        "need_areas": [act.team.messages.label(f"need_{a}") for a in needs.need_areas],
        "district": about.district,
        "contact_method": about.contact_method,
        "contact_wanted": about.contact_wanted,
        "opened_because": case.summary.opened_because,
        # When the patient is (or will be, once claimed) promised contact by.
        "due": case.promised_by
        or working_days_after(
            case.opened_at, act.team.settings.response_working_days, act.team.settings
        ),
        "overdue": case.overdue_told_at is not None,
    }


def _pager(act: Act, verb: str, page: int, pages: int) -> Keyboard:
    row = []
    if page > 1:
        row.append(act.button("staff_previous", verb, "", str(page - 1)))
    if page < pages:
        row.append(act.button("staff_next", verb, "", str(page + 1)))
    return [row, act.nav()[0]] if row else act.nav()


async def _show(act: Act, text: str, buttons: Keyboard) -> None:
    """A list page: edit the message whose button was tapped, else send a new one."""
    if act.tapped and act.inbound.message_id is not None:
        shown = await list_page_shown(
            act.session, act.me.channel, act.worker.telegram_id, act.inbound.message_id
        )
        if shown is not None:
            act.me.edit(shown, text, buttons)
            return
    act.me.send(text, buttons, as_list=True)


async def team(act: Act, arg: str = "") -> None:
    """An admin's view of the team: each worker's open and overdue cases."""
    if act.worker.role != "admin":
        act.say("staff/team", admin=False)
        return
    held = await open_cases_by_worker(act.session)
    overdue = await overdue_by_worker(act.session)
    waiting, urgent = await waiting_counts(act.session)
    workers = sorted(await active_workers(act.session), key=lambda w: w.name.lower())
    names = {w.id: w.name for w in workers}
    rows = [{"name": w.name, "open": held.get(w.id, 0), "overdue": overdue.get(w.id, []),
             "admin": w.role == "admin",
             "away_until": w.away_until if w.away_on(act.today) else None,
             "cover": names.get(w.cover_id) if w.cover_id else None} for w in workers]  # fmt: skip
    late = [ref for w in workers for ref in overdue.get(w.id, [])][:OVERDUE_BUTTONS]
    buttons: Keyboard = [[act.button("staff_open", "open", ref, reference=ref)] for ref in late]
    act.say("staff/team", admin=True, rows=rows, waiting=waiting, urgent=urgent,
            buttons=buttons + act.nav())  # fmt: skip


async def find(act: Act, words: str = "") -> None:
    """`/find words`: cases (open or closed) by reference, name, need or area."""
    words = words.strip()
    if not words:
        act.say("staff/found", words="", items=[])
        return
    exact = await case_by_reference(act.session, words)
    cases = [exact] if exact is not None else []
    if not cases:
        wanted = words.lower()
        for case in await newest_cases(act.session, SEARCHED):
            if _matches(act, case, wanted):
                cases.append(case)
                if len(cases) >= FOUND:
                    break
    items = [{**_line(act, c), "status": c.status, "name": c.summary.about_the_person.name,
              "holder": await worker_name(act.session, c.link_worker_id)} for c in cases]  # fmt: skip
    buttons: Keyboard = [
        [act.button("staff_open", "open", i["reference"], reference=i["reference"])] for i in items
    ]
    act.say("staff/found", words=words, items=items, buttons=buttons + act.nav())


def _matches(act: Act, case: Case, wanted: str) -> bool:
    about, needs = case.summary.about_the_person, case.summary.needs
    labels = [act.team.messages.label(f"need_{a}") for a in needs.need_areas]
    haystack = [about.name or "", about.district or "", *labels, needs.what_matters or ""]
    return any(wanted in text.lower() for text in haystack)
