"""Away: `/away until 14 Dec covered by @priya`, `/away off` or `/back`.

While a worker is away (to the end of the day they named; it ends by itself)
they are offered no new cases and may claim none, and get no overdue reminders;
the colleague covering for them gets their patients' messages and may reply and
refer on their cases (`Actor.covers`, flows/case.py); with nobody covering, the
team chat hears of those messages as of a case nobody holds. Their patients are
told honestly when they are back. The team chat is told who covers, and /team
shows who is away until when.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.hours import back_on
from bot.staff.act import Act
from bot.staff.casework import colleague
from bot.store.audit import audit
from bot.store.cases import held_count
from bot.store.outbox import NOTICE, Keyboard, Outbox
from bot.store.staff import LinkWorker, active_workers

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: How far ahead an away may be set.
LONGEST = timedelta(days=366)
_AWAY = re.compile(r"(?:until\s+|till\s+|to\s+)?(?P<day>.+?)"
                   r"(?:\s*,?\s+(?:covered\s+by|cover(?:ed)?|with)\s+(?P<who>\S+))?")  # fmt: skip


def parse_day(words: str, today: date) -> date | None:
    """A day a person writes ("14 Dec", "14 December 2026", "Dec 14", "14/12",
    "2026-12-14", "Friday", "tomorrow"), from `today` on and within a year; None
    if it names no such day."""
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", words.strip().lower().rstrip("."))
    text = text.replace(",", " ")
    text = " ".join(text.split())
    found: date | None = None
    try:
        if text == "today":
            found = today
        elif text == "tomorrow":
            found = today + timedelta(days=1)
        elif weekday := next((i for i, d in enumerate(WEEKDAYS, start=1)
                              if len(text) >= 3 and d.startswith(text)), 0):  # fmt: skip
            weekday -= 1
            found = today + timedelta(days=(weekday - today.weekday()) % 7)
        elif m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text):
            found = date(int(m[1]), int(m[2]), int(m[3]))
        elif m := re.fullmatch(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?", text):
            found = _in_year(today, int(m[1]), int(m[2]), m[3])
        elif m := re.fullmatch(r"(\d{1,2}) ([a-z]{3,9})(?: (\d{4}))?", text):
            found = _in_year(today, int(m[1]), _month(m[2]), m[3])
        elif m := re.fullmatch(r"([a-z]{3,9}) (\d{1,2})(?: (\d{4}))?", text):
            found = _in_year(today, int(m[2]), _month(m[1]), m[3])
    except ValueError:  # 31 February, a month that is none
        return None
    if found is None or found < today or found > today + LONGEST:
        return None
    return found


def _month(word: str) -> int:
    """ "dec", "december", "sept" -> 12, 12, 9."""
    for number, name in enumerate(MONTHS, start=1):
        if (len(word) >= 3 and name.startswith(word)) or (word == "sept" and number == 9):
            return number
    raise ValueError(word)


def _in_year(today: date, day: int, month: int, year: str | None) -> date:
    if year is not None:
        return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
    found = date(today.year, month, day)
    return found if found >= today else date(today.year + 1, month, day)


async def away(act: Act, words: str = "") -> None:
    """`/away until DATE [covered by @name]`; `/away off` is `/back`."""
    words = words.strip()
    if words.lower() in ("off", "back", "end", "over", "stop"):
        await back(act)
        return
    match = _AWAY.fullmatch(words)
    until = parse_day(match["day"], act.today) if match and words else None
    if until is None or match is None:
        act.say("staff/away", what="usage", words=words)
        return
    colleagues = await _colleagues(act)
    cover = colleague(match["who"] or "", colleagues) if match["who"] else None
    act.worker.away_until = until
    act.worker.cover_id = cover.id if cover is not None else None
    audit(act.session, act.worker, "away", None, act.now, f"until {until.isoformat()}")
    _tell_team(act, "away", cover)
    if cover is not None:
        await _tell_cover(act, cover)
    act.say("staff/away", what="away", until=until, back=back_on(until, act.team.settings), cover=cover,
            unknown=(match["who"] or "").lstrip("@") if match["who"] and cover is None else None,
            buttons=[] if cover is not None else _cover_buttons(act, colleagues))  # fmt: skip


async def cover(act: Act, arg: str = "") -> None:
    """A tap on who covers (`w12`), or nobody (`team`)."""
    until = act.worker.away_until
    if until is None or not act.worker.away_on(act.today):
        act.say("staff/away", what="not_away")
        return
    chosen = colleague(arg, await _colleagues(act)) if arg != "team" else None
    act.worker.cover_id = chosen.id if chosen is not None else None
    audit(act.session, act.worker, "away_cover", None, act.now,
          f"worker {chosen.id}" if chosen else "nobody")  # fmt: skip
    _tell_team(act, "cover", chosen)
    if chosen is not None:
        await _tell_cover(act, chosen)
    act.say(
        "staff/away",
        what="covered",
        until=until,
        back=back_on(until, act.team.settings),
        cover=chosen,
    )


async def back(act: Act, arg: str = "") -> None:
    """`/back` (or `/away off`): new cases and reminders again; the team is told."""
    was_away = act.worker.away_on(act.today)
    cover_id = act.worker.cover_id
    act.worker.away_until = None
    act.worker.cover_id = None
    if not was_away:
        act.say("staff/away", what="not_away")
        return
    audit(act.session, act.worker, "back", None, act.now)
    _tell_team(act, "back", None)
    cover_worker = await act.session.get(LinkWorker, cover_id) if cover_id else None
    if cover_worker is not None and cover_worker.active:
        text = act.team.messages.render("staff/away", what="cover_ends", worker=act.worker.name)
        Outbox(act.session, "telegram", cover_worker.telegram_id, act.now).send(text)
    held = await held_count(act.session, act.worker.id)
    act.say("staff/away", what="back", held=held, buttons=act.nav())


async def _colleagues(act: Act) -> list[LinkWorker]:
    """Who may cover: on the team, not this worker, not away today."""
    return sorted((w for w in await active_workers(act.session)
                   if w.id != act.worker.id and not w.away_on(act.today)),
                  key=lambda w: w.name.lower())  # fmt: skip


def _cover_buttons(act: Act, colleagues: list[LinkWorker]) -> Keyboard:
    buttons: Keyboard = [[act.button("staff_assign_to", "cover", "", f"w{w.id}", name=w.name)]
                         for w in colleagues]  # fmt: skip
    buttons.append([act.button("staff_cover_nobody", "cover", "", "team")])
    return buttons


def _tell_team(act: Act, what: str, cover: LinkWorker | None) -> None:
    team = act.team.settings.staff_chat_id
    if team is None:
        return
    until = act.worker.away_until
    text = act.team.messages.render(
        "staff/away_team", what=what, worker=act.worker.name, until=until,
        back=back_on(until, act.team.settings) if until else None, cover=cover.name if cover else None,
    )  # fmt: skip
    Outbox(act.session, "telegram", team, act.now).send(text, priority=NOTICE)


async def _tell_cover(act: Act, cover: LinkWorker) -> None:
    until = act.worker.away_until
    assert until is not None
    held = await held_count(act.session, act.worker.id)
    text = act.team.messages.render("staff/away", what="covering", worker=act.worker.name,
                                    until=until, back=back_on(until, act.team.settings), held=held)  # fmt: skip
    Outbox(act.session, "telegram", cover.telegram_id, act.now).send(text)
