"""Due dates and overdue (issue 14), with a clock the test moves: a claimed case
carries the day the patient was promised; /mine and /queue show it; a case with no
contact by then, or a patient's message unanswered for a working day, is flagged
to its holder each morning and, a day later, to the team."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.store import Database
from tests.staff.helpers import SAM_ID, TEAM, Team, team

#: Thursday 26 November 2026, 09:05 in London: the first morning after Wednesday's promise.
THURSDAY_MORNING = datetime(2026, 11, 26, 9, 5, tzinfo=UTC)


async def flag(t: Team, when: datetime) -> tuple[list[str], list[str]]:
    """The morning check at `when`: what Sam and the team chat were sent."""
    t.clock.now = when
    sam, team_chat = await t.last_id(), await t.last_id()
    await t.staff.flag_overdue()
    return await t.said(SAM_ID, sam), await t.said(TEAM, team_chat)


async def test_a_claimed_case_carries_its_promised_day_and_the_lists_show_it(
    database: Database,
) -> None:
    t = await team(database)
    _, waiting = await t.referred_patient(41)
    _, mine = await t.referred_patient(42)
    await t.act(SAM_ID, "/queue")
    assert "reply by Wed 25 Nov" in (await t.said(SAM_ID))[-1]
    await t.act(SAM_ID, f"/claim {mine.reference}")
    assert (await t.case(mine.reference)).promised_by == date(2026, 11, 25)
    await t.act(SAM_ID, "/mine")
    assert "Due Wed 25 Nov" in (await t.said(SAM_ID))[-1]
    assert waiting.reference != mine.reference


async def test_no_contact_by_the_promised_day_is_flagged_to_the_holder_then_the_team(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")

    # Wednesday, the promised day itself: not overdue yet.
    to_sam, to_team = await flag(t, datetime(2026, 11, 25, 9, 5, tzinfo=UTC))
    assert to_sam == [] and to_team == []

    to_sam, to_team = await flag(t, THURSDAY_MORNING)
    [told] = to_sam
    assert case.reference in told and "no contact yet" in told and "Alex" in told
    assert to_team == []
    # Once a morning.
    assert await flag(t, THURSDAY_MORNING.replace(hour=11)) == ([], [])

    # A day later, still nothing: Sam again, and the team (no name, no words).
    to_sam, to_team = await flag(t, datetime(2026, 11, 27, 9, 5, tzinfo=UTC))
    assert len(to_sam) == 1
    [team_told] = to_team
    assert case.reference in team_told and "Sam" in team_told and "Alex" not in team_told

    # Contact made: no more flags.
    await t.act(SAM_ID, f"/reply {case.reference} Hello Alex, sorry for the wait")
    assert await flag(t, datetime(2026, 11, 30, 9, 5, tzinfo=UTC)) == ([], [])


async def test_a_message_unanswered_for_a_working_day_is_flagged(database: Database) -> None:
    t = await team(database)
    chat, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, f"/reply {case.reference} Hello Alex")
    t.clock.now = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # Tuesday, late
    await chat.send("Can you call me on Thursday?")

    # Wednesday morning: only half an hour of working time has passed.
    assert await flag(t, datetime(2026, 11, 25, 9, 5, tzinfo=UTC)) == ([], [])
    to_sam, _ = await flag(t, THURSDAY_MORNING)
    [told] = to_sam
    assert case.reference in told and "no answer yet" in told

    await t.act(SAM_ID, f"/reply {case.reference} Yes, at 10")
    assert await flag(t, datetime(2026, 11, 27, 9, 5, tzinfo=UTC)) == ([], [])


async def test_nothing_is_flagged_outside_working_hours(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    assert await flag(t, datetime(2026, 11, 26, 7, 0, tzinfo=UTC)) == ([], [])
    to_sam, _ = await flag(t, THURSDAY_MORNING)
    assert len(to_sam) == 1
