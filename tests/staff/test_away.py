"""Away (issue 14): `/away until DATE [covered by @name]`, `/away off`, `/back`.
While away a worker is offered and may claim no new cases and gets no overdue
reminders; the team chat is told who covers; their patients are told honestly
when they are back and who replies meanwhile; /team shows it; and it ends by
itself after the day named (the test moves the clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.staff.away import parse_day
from bot.store import Database
from tests import factories
from tests.staff.helpers import ADMIN_ID, JO_ID, MONDAY, SAM_ID, TEAM, team

TODAY = MONDAY.date()  # Monday 23 November 2026


@pytest.mark.parametrize(("words", "day"), [
    ("14 Dec", date(2026, 12, 14)), ("14th December", date(2026, 12, 14)),
    ("Dec 14", date(2026, 12, 14)), ("14/12", date(2026, 12, 14)),
    ("2026-12-14", date(2026, 12, 14)), ("friday", date(2026, 11, 27)),
    ("Fri", date(2026, 11, 27)), ("tomorrow", date(2026, 11, 24)), ("today", TODAY),
    ("3 Jan", date(2027, 1, 3)), ("3 January 2027", date(2027, 1, 3)),
    ("31 Feb", None), ("2026-11-20", None), ("14 Decembr", None), ("soon", None),
    ("2028-01-01", None), ("", None),
])  # fmt: skip
def test_the_days_people_write(words: str, day: date | None) -> None:
    assert parse_day(words, TODAY) == day


async def test_away_with_cover_tells_the_team_the_cover_and_stops_new_claims(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, "/away until Friday covered by @Jo")
    told = (await t.said(SAM_ID))[-1]
    assert "away until the end of Friday 27 November, and back on Monday 30 November" in told
    assert "Jo covers for you" in told
    assert (
        "Sam is away until the end of Fri 27 Nov (back Mon 30 Nov). Jo covers Sam's cases."
        in (await t.said(TEAM))[-1]
    )
    assert "Sam is away until the end of Friday 27 November" in (await t.said(JO_ID))[-1]

    await t.act(SAM_ID, f"/claim {case.reference}")
    assert "you can't take new cases" in (await t.said(SAM_ID))[-1]
    assert (await t.case()).status == "waiting"

    await t.act(ADMIN_ID, "/team")
    assert "Sam: 0 open · 🏖 away until Fri 27 Nov, Jo covers" in (await t.said(ADMIN_ID))[-1]

    await t.act(SAM_ID, "/back")
    assert "Sam is back" in (await t.said(TEAM))[-1]
    assert "Sam is back" in (await t.said(JO_ID))[-1]
    await t.act(SAM_ID, f"/claim {case.reference}")
    assert (await t.case()).status == "claimed"


async def test_their_patients_hear_when_they_are_back_and_the_cover_replies(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, "/away until 27/11 covered by jo")
    to_sam = await t.last_id()

    await chat.send("Is the walking group still on?")
    told = (await t.said(chat.chat_id))[-1]
    assert "Sam is away just now, and back on Monday 30 November" in told
    assert "Jo, a colleague, is looking after their messages and will reply" in told
    relayed = (await t.said(JO_ID))[-1]
    assert "Is the walking group still on?" in relayed and "covering for Sam" in relayed
    assert await t.said(SAM_ID, to_sam) == []  # nothing to Sam while away

    await t.act(JO_ID, f"/reply {case.reference} Yes, Tuesdays at 10.")
    assert (await t.said(chat.chat_id))[-1].endswith("Yes, Tuesdays at 10.")
    assert (await t.case()).link_worker_id == (await t.worker(SAM_ID)).id  # still Sam's
    await chat.send("/status")
    assert "back on Monday 30 November" in (await t.said(chat.chat_id))[-1]


async def test_with_nobody_covering_the_team_chat_hears_without_the_words(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, "/away until Friday")
    asked = (await t.rows(SAM_ID))[-1].payload
    assert "Who covers for you" in asked["text"]
    assert [b[0]["text"] for b in asked["buttons"]] == ["🤝 Ash", "🤝 Jo", "Nobody: the team chat"]
    await t.tap(SAM_ID, "cover", "", "team")
    assert "Nobody is named to cover" in (await t.said(TEAM))[-1]

    await chat.send("My number is 07700 900123")
    told = (await t.said(chat.chat_id))[-1]
    assert "back on Monday 30 November" in told and "I've told the team" in told
    notice = (await t.said(TEAM))[-1]
    assert case.reference in notice and "Sam is away and nobody covers" in notice
    assert "0770" not in notice


async def test_away_ends_by_itself_after_the_day(database: Database) -> None:
    t = await team(database)
    chat, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, "/away until Friday covered by @Jo")
    t.clock.now = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # Monday: back
    await chat.send("Hello?")
    assert "Hello?" in (await t.said(SAM_ID))[-1]
    assert "away" not in (await t.said(chat.chat_id))[-1]
    await t.act(ADMIN_ID, "/team")
    assert "away" not in (await t.said(ADMIN_ID))[-1]
    _, another = await t.referred_patient(43)
    await t.act(SAM_ID, f"/claim {another.reference}")
    assert (await t.case(another.reference)).status == "claimed"


async def test_overdue_reminders_go_to_the_cover_not_the_one_away(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")  # promised by Wednesday
    await t.act(SAM_ID, "/away until Friday covered by @Jo")
    t.clock.now = datetime(2026, 11, 26, 9, 5, tzinfo=UTC)  # Thursday morning: overdue
    to_sam, to_jo = await t.last_id(), await t.last_id()
    await t.staff.flag_overdue()
    assert await t.said(SAM_ID, to_sam) == []
    [told] = await t.said(JO_ID, to_jo)
    assert case.reference in told and "Sam's cases: you are covering" in told


async def test_assigning_to_someone_away_is_refused_with_when_they_are_back(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(JO_ID, "/away until Friday")
    await t.act(SAM_ID, f"/assign {case.reference} @Jo She knows the group")
    assert "Jo is away until Fri 27 Nov" in (await t.said(SAM_ID))[-1]
    assert (await t.case()).link_worker_id == (await t.worker(SAM_ID)).id


async def test_a_safety_alert_on_their_case_goes_to_the_cover(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, "/away until Friday covered by @Jo")
    to_sam, to_jo = await t.last_id(), await t.last_id()
    await t.crisis(await t.case())
    assert any(case.reference in s for s in await t.said(JO_ID, to_jo))
    assert await t.said(SAM_ID, to_sam) == []


async def test_a_returning_person_is_not_offered_to_their_worker_while_away(
    database: Database,
) -> None:
    t = await team(database)
    _, first = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {first.reference}")
    await t.act(SAM_ID, f"/close {first.reference} referred_to_activity")
    await t.act(SAM_ID, "/away until Friday covered by @Jo")
    mark = await t.last_id()
    await factories.referred_patient(database, t.settings, t.patients.listener, t.clock(), 42)
    assert await t.said(SAM_ID, mark) == []
    assert len(await t.said(TEAM, mark)) == 1  # its card, for anyone to claim
