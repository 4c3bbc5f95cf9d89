"""A case a check-in reopens ("Talk to a link worker") carries the promise the
patient was just given, not the one from its first claim weeks ago: else the next
morning's overdue check flags it to its holder at once, as long overdue."""

from __future__ import annotations

from datetime import date

from bot.store import Database
from tests.patients.test_checkins import at_first_check_in
from tests.staff.helpers import SAM_ID, team


async def test_a_case_a_check_in_reopens_is_due_by_the_day_the_patient_was_told(
    database: Database,
) -> None:
    t = await team(database)
    chat, case, _since = await at_first_check_in(t)  # Monday 30 November, 10:00
    await t.act(SAM_ID, f"/close {case.reference} referred_to_activity")
    await chat.tap("not_yet")
    await chat.tap("getting_there")
    await chat.tap("talk")  # "... by Wednesday"
    reopened = await t.case(case.reference)
    assert reopened.status == "claimed"
    assert reopened.promised_by == date(2026, 12, 2)

    before = await t.last_id()
    await t.staff.flag_overdue()  # the morning check, run as the case reopens
    assert not [s for s in await t.said(SAM_ID, before) if "Overdue" in s]
