"""Refer with the details (issue 14): /refer sends the patient the activity's card
from the directory (when, where, how to join, who to contact) with the worker's
own line, instead of the worker retyping it; the referral is recorded and
check-ins are set. The worker names the activity: the one the patient chose (by
default), a number from their suggestions, a directory id, or its name."""

from __future__ import annotations

from sqlalchemy import select

from bot.store import Database
from bot.store.cases import Case, Referral
from bot.store.checkins import CheckIn
from tests.patients.helpers import Chat
from tests.staff.helpers import SAM_ID, Team, team


async def claimed(t: Team) -> tuple[Chat, Case]:
    chat, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    return chat, case


async def referrals(t: Team) -> list[tuple[str, str]]:
    async with t.db.sessions() as s:
        rows = (await s.execute(select(Referral).order_by(Referral.id))).scalars()
        return [(r.activity_id, r.found_by) for r in rows]


async def check_ins(t: Team) -> int:
    async with t.db.sessions() as s:
        return len((await s.execute(select(CheckIn))).scalars().all())


async def test_refer_alone_shows_the_card_of_the_one_they_chose_and_sends_it_with_a_line(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    to_patient = len(await t.said(chat.chat_id))
    await t.act(SAM_ID, f"/refer {case.reference}")
    preview = (await t.said(SAM_ID))[-1]
    # The card they chose (Bootle Walking Football), with everything the patient will get.
    assert "Bootle Walking Football" in preview and "Phone: 0151 496 0001" in preview
    assert "When:" in preview and "Type a line" in preview
    assert len(await t.said(chat.chat_id)) == to_patient  # nothing sent yet
    assert await referrals(t) == []

    await t.act(SAM_ID, "Jo runs it and knows you're coming on Tuesday.")
    got = (await t.said(chat.chat_id))[-1]
    assert got.startswith("Sam, your link worker:")
    assert "Jo runs it and knows you're coming on Tuesday." in got
    assert "Bootle Walking Football" in got and "Phone: 0151 496 0001" in got
    assert "Where: Bootle Leisure Centre" in got and "to ask how it's going" in got
    assert await referrals(t) == [("walk-1", "suggested")]
    assert await check_ins(t) > 0
    assert (await t.case()).status == "referred"
    done = (await t.said(SAM_ID))[-1]
    assert "Sent" in done and "Bootle Walking Football" in done and "with your line" in done


async def test_a_number_from_their_suggestions_and_a_line_in_one_go(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.act(SAM_ID, f"/refer {case.reference} 3 Ring them and say I sent you")
    got = (await t.said(chat.chat_id))[-1]
    assert "Ring them and say I sent you" in got and "Befriending Calls" in got
    assert await referrals(t) == [("call-1", "suggested")]


async def test_a_directory_id_then_send_as_it_is(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.act(SAM_ID, f"/refer {case.reference} #debt-1")
    send = (await t.rows(SAM_ID))[-1].payload["buttons"][0][0]
    assert send["text"].startswith("📨 Send to")
    await t.tap(SAM_ID, "send", case.reference, send["data"].split(":", 3)[3])
    got = (await t.said(chat.chat_id))[-1]
    assert "has sent you the details" in got and "Debt Advice" in got
    assert "Where: Bootle Town Hall" in got
    assert await referrals(t) == [("debt-1", "search")]


async def test_by_name_with_a_line_after_a_colon(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.act(SAM_ID, f"/refer {case.reference} knit and natter: Bring your own needles!")
    got = (await t.said(chat.chat_id))[-1]
    assert "Bring your own needles!" in got and "Knit and Natter" in got
    # The directory's words are escaped like anyone's: "<b>knitting</b>" stays text.
    assert "&lt;b&gt;knitting&lt;/b&gt;" in (await t.rows(chat.chat_id))[-1].payload["text"]
    assert await referrals(t) == [("knit-1", "search")]


async def test_not_found_or_ambiguous_is_said_clearly_with_buttons_to_pick(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    ref = case.reference
    to_patient = len(await t.said(chat.chat_id))

    await t.act(SAM_ID, f"/refer {ref} 9")
    assert "They were shown 3 activities, numbered 1 to 3" in (await t.said(SAM_ID))[-1]
    await t.act(SAM_ID, f"/refer {ref} #zumba-9")
    assert "Nothing in the directory has the id #zumba-9" in (await t.said(SAM_ID))[-1]
    await t.act(SAM_ID, f"/refer {ref} underwater basket weaving")
    assert (
        "No activity in the directory is called “underwater basket weaving”"
        in (await t.said(SAM_ID))[-1]
    )

    await t.act(SAM_ID, f"/refer {ref} sample")  # every organisation's name says "(sample)"
    which = (await t.rows(SAM_ID))[-1].payload
    assert "More than one activity is called “sample”" in which["text"]
    labels = [row[0]["text"] for row in which["buttons"][:-1]]
    assert labels[1] == "2. Knit and Natter"
    await t.tap(SAM_ID, "pick", ref, "1")
    assert "Knit and Natter" in (await t.said(SAM_ID))[-1]
    assert len(await t.said(chat.chat_id)) == to_patient and await referrals(t) == []
    await t.act(SAM_ID, "See you there")
    assert "Knit and Natter" in (await t.said(chat.chat_id))[-1]


async def test_the_line_prompt_belongs_to_the_case_and_moving_on_cancels_it(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    to_patient = len(await t.said(chat.chat_id))
    await t.act(SAM_ID, f"/refer {case.reference}")
    await t.act(SAM_ID, "/queue")
    assert any("The details were not sent" in s for s in await t.said(SAM_ID))
    await t.act(SAM_ID, "Jo runs it")
    assert len(await t.said(chat.chat_id)) == to_patient and await referrals(t) == []


async def test_send_tapped_twice_or_after_moving_on_sends_once(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.act(SAM_ID, f"/refer {case.reference}")
    arg = (await t.rows(SAM_ID))[-1].payload["buttons"][0][0]["data"].split(":", 3)[3]
    before = len(await t.said(chat.chat_id))
    await t.tap(SAM_ID, "send", case.reference, arg)
    await t.tap(SAM_ID, "send", case.reference, arg)  # a second tap, or a slow phone's repeat
    assert len(await t.said(chat.chat_id)) == before + 1
    assert "out of date" in (await t.said(SAM_ID))[-1]
    assert await referrals(t) == [("walk-1", "suggested")]

    await t.act(SAM_ID, f"/refer {case.reference}")
    arg = (await t.rows(SAM_ID))[-1].payload["buttons"][0][0]["data"].split(":", 3)[3]
    await t.act(SAM_ID, "/mine")  # moved on: the old Send button sends nothing
    await t.tap(SAM_ID, "send", case.reference, arg)
    assert len(await t.said(chat.chat_id)) == before + 1
