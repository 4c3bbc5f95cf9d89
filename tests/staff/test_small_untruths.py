"""The small untruths (issue 14): what the bot says about a case is true."""

from __future__ import annotations

from bot.store import Database
from tests.staff.helpers import SAM_ID, TEAM, team


async def test_mine_right_after_a_claim_says_claimed_and_no_contact_yet(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    t.clock.advance(hours=3)
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, "/mine")
    listing = (await t.said(SAM_ID))[-1]
    assert "Last: referred" not in listing
    assert "Referred 3 h ago" in listing and "no contact yet" in listing
    await t.act(SAM_ID, f"/note {case.reference} Left a voicemail")
    await t.act(SAM_ID, "/mine")
    assert "Last: note" in (await t.said(SAM_ID))[-1]


async def test_closing_with_other_confirms_other_and_the_note(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, f"/close {case.reference} other Moved out of the area")
    done = (await t.said(SAM_ID))[-1]
    assert "(add a note)" not in done and "closed: Other (Moved out of the area)" in done
    await t.act(SAM_ID, f"/case {case.reference}")
    view = "\n".join(await t.said(SAM_ID))
    assert "Outcome: Other." in view and "(add a note)" not in view


async def test_phone_numbers_are_shown_as_people_write_them(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/case {case.reference}")
    view = "\n".join(await t.said(SAM_ID))
    assert "07911 123456" in view and "+447911123456" not in view


async def test_status_tells_someone_who_asked_for_a_call_that_they_will_be_phoned(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await t.referred_patient()  # they asked for a phone call
    await t.act(SAM_ID, f"/claim {case.reference}")
    await chat.send("/status")
    status = (await t.said(chat.chat_id))[-1]
    assert "will be in touch here" not in status and "Sam is looking after it" in status
    assert "will phone you" in status


async def test_an_unclaimed_crisis_message_posts_only_the_alert_card(database: Database) -> None:
    t = await team(database)
    chat, _ = await t.referred_patient()
    mark = await t.last_id()
    await chat.send("i cant do this anymore, i want to end my life")
    team_said = [r.payload["text"] for r in await t.rows(TEAM, mark) if r.action == "send"]
    assert len(team_said) == 1 and "New message" not in team_said[0]
    assert "🚨" in team_said[0] or "alert" in team_said[0].lower()
