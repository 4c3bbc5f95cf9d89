"""A patient refers themselves through python-telegram-bot and the Bot API stand-in."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.messages import html_to_text
from bot.store.cases import Case, CaseEntry
from bot.store.patients import Conversation
from tests.e2e.conftest import Running
from tests.standin.server import BotApiStandIn

CHAT = 5001

# What a patient does at each question: ("tap", label) or ("type", text).
REFERRAL = [
    ("type", "/start"),
    ("tap", "I agree, and I'm 18 or over"),
    ("tap", "Call me Alex"),
    ("type", "I'd like to meet people. I've been lonely since my wife died."),
    # ("lonely" ticked Feeling lonely for them: they add one and tap Done.)
    ("tap", "Getting active"),
    ("tap", "Done ✔"),
    ("type", "l20 3ab"),
    ("tap", "In person, near home"),
    ("tap", "Weekday mornings"),
    ("tap", "Done ✔"),
    ("tap", "I'm interested in 1"),
    ("tap", "Phone me in the morning"),
    ("type", "07911 123456"),
    # Handed off. While they wait, the wellbeing questions (issue 13):
    ("tap", "4"),
    ("tap", "6"),
    ("tap", "3"),
    ("tap", "Skip"),
    ("tap", "No"),  # low scores: asked once, directly, about thoughts of harm
    # Before you phone (issue 14): nothing to tick; their GP surgery, typed.
    ("tap", "Skip"),
    ("type", "Crosby Village Surgery"),
]
#: Up to and including the answer that hands the referral off.
TO_HANDOFF = REFERRAL[: REFERRAL.index(("tap", "4"))]


def handoff_message(api: BotApiStandIn, chat: int = CHAT) -> str:
    """The message that gave them their reference (the while-you-wait questions follow it)."""
    return next(m.plain_text for m in reversed(api.messages_to(chat))
                if "Your reference is SP-" in m.plain_text)  # fmt: skip


#: Button questions where typed words are a fine answer too (a name; "after 3pm").
TYPING_WELCOME = {"Call me Alex", "Phone me in the morning"}


async def act(bot: Running, api: BotApiStandIn, how: str, what: str) -> int:
    update_id = (
        api.send_text(CHAT, what, first_name="Alex")
        if how == "type"
        else api.press(CHAT, what, first_name="Alex")
    )
    await bot.handled(update_id)
    return update_id


def live_keyboards(api: BotApiStandIn) -> list[int]:
    return [m.message_id for m in api.messages_to(CHAT) if m.buttons]


async def test_a_complete_referral_through_telegram(running: Running, api: BotApiStandIn) -> None:
    for how, what in REFERRAL:
        await act(running, api, how, what)
        assert len(live_keyboards(api)) <= 1, "an answered question still shows its buttons"
    texts = [m.plain_text for m in api.messages_to(CHAT)]
    assert (
        texts[0].startswith("Hello. I can put you in touch")
        and "not an emergency service" in texts[0]
    )
    assert any("Bootle Walking Football" in t and "0.8 miles from you" in t for t in texts)
    handed_off = handoff_message(api)
    assert "phone you on 07911 123456 in the morning, within 2 working days" in handed_off
    assert any("Your link worker will see your answers" in t for t in texts)  # while they wait
    # Answered questions are marked with what was chosen (above the next question,
    # where it took the place of the one answered).
    assert any("✓ Call me Alex" in t for t in texts)
    assert api.unanswered_callback_queries() == []
    assert api.rejected == []
    assert [c["command"] for c in api.commands()] == [
        "start",
        "status",
        "help",
        "restart",
        "mydata",
        "delete",
        "stop",
    ]
    async with running.app.db.sessions() as s:  # type: ignore[union-attr]
        case = (await s.execute(select(Case))).scalar_one()
    assert case.status == "waiting" and case.reference in handed_off

    # After the handoff, what they write is kept on the case and /status answers.
    await act(running, api, "type", "I use a <b>wheelchair</b> & a stick")
    await act(running, api, "type", "/status")
    assert "waiting for a link worker" in api.messages_to(CHAT)[-1].plain_text
    async with running.app.db.sessions() as s:  # type: ignore[union-attr]
        kept = await s.scalar(select(CaseEntry.text).where(CaseEntry.kind == "patient_message"))
    assert kept == "I use a <b>wheelchair</b> & a stick"


async def test_restarting_the_bot_mid_conversation_resumes_at_the_same_question(
    running: Running, api: BotApiStandIn
) -> None:
    for how, what in REFERRAL[:7]:  # up to the postcode
        await act(running, api, how, what)
    await running.stop()
    await running.start()  # a new process: nothing in memory
    await act(running, api, "type", "/start")
    reminder, question = (m.plain_text for m in api.messages_to(CHAT)[-2:])
    assert "We were talking about how you'd like to take part" in reminder
    assert question.startswith("How would you like to take part?")
    for how, what in REFERRAL[7:]:
        await act(running, api, how, what)
    assert "Your reference is SP-" in handoff_message(api)


# Every step of the flow: the same storage as the complete referral, which runs on both.
@pytest.mark.sqlite_only
async def test_bad_input_at_every_step_gets_a_kind_reply_and_loses_nothing(
    running: Running, api: BotApiStandIn
) -> None:
    await act(running, api, *REFERRAL[0])
    for how, what in REFERRAL[1:]:
        before = len(api.messages_to(CHAT))
        old = api.messages_to(CHAT)[-1]
        await running.handled(api.send_sticker(CHAT, first_name="Alex"))
        assert "only read typed messages" in api.messages_to(CHAT)[before].plain_text
        await running.handled(api.send_photo(CHAT, first_name="Alex"))
        if how == "tap" and what not in TYPING_WELCOME:  # typed nonsense where only buttons fit
            await running.handled(
                api.send_text(CHAT, "purple monkey dishwasher", first_name="Alex")
            )
        if old.buttons:  # a tap on a keyboard that has since been replaced
            stale = api.tap(
                CHAT,
                old.message_id,
                old.buttons[0][0]["callback_data"],
                require_button=False,
                first_name="Alex",
            )
            await running.handled(stale)
        await act(running, api, how, what)
    assert "Your reference is SP-" in handoff_message(api)
    assert api.unanswered_callback_queries() == []
    assert api.rejected == []
    async with running.app.db.sessions() as s:  # type: ignore[union-attr]
        case = (await s.execute(select(Case))).scalar_one()
    summary = case.summary
    assert summary.about_the_person.name == "Alex"
    assert summary.needs.need_areas == ["loneliness", "activity"]
    assert summary.about_the_person.phone == "+447911123456"
    assert summary.outcomes.wellbeing_baseline == {
        "life_satisfaction": 4,
        "worthwhile": 6,
        "happiness": 3,
        "anxiety": None,
    }
    assert summary.about_the_person.before_you_phone.gp_practice == "Crosby Village Surgery"


async def test_a_double_tap_and_a_redelivered_update_have_one_effect(
    running: Running, api: BotApiStandIn
) -> None:
    for how, what in REFERRAL[:2]:
        await act(running, api, how, what)
    question = api.messages_to(CHAT)[-1]
    data = question.callback_data("Call me Alex")
    first = api.tap(CHAT, question.message_id, data, first_name="Alex")
    second = api.tap(CHAT, question.message_id, data, first_name="Alex", require_button=False)
    await running.handled(first)
    await running.handled(second)
    api.redeliver(first)
    count_before = len(api.messages_to(CHAT))
    await running.handled(api.send_text(CHAT, "/status", first_name="Alex"))
    assert (
        len(api.messages_to(CHAT)) == count_before + 2
    )  # status + the question again, nothing else
    async with running.app.db.sessions() as s:  # type: ignore[union-attr]
        conv = (await s.execute(select(Conversation))).scalar_one()
    assert conv.state == "what_matters" and conv.answers["name"] == "Alex"
    assert api.unanswered_callback_queries() == []


async def test_an_edited_message_and_a_location_are_answered_kindly(
    running: Running, api: BotApiStandIn
) -> None:
    for how, what in REFERRAL[:3]:
        await act(running, api, how, what)
    said = api.send_text(CHAT, "I like gardening", first_name="Alex")
    await running.handled(said)
    mine = api._all_updates[said]["message"]["message_id"]
    await running.handled(api.edit_text(CHAT, mine, "I like gardening and walking"))
    assert "can't see changes" in api.messages_to(CHAT)[-2].plain_text
    await running.handled(api.send_location(CHAT, 53.45, -2.99, first_name="Alex"))
    assert "can't read locations" in api.messages_to(CHAT)[-2].plain_text


async def test_in_a_group_the_bot_asks_people_to_message_privately(
    running: Running, api: BotApiStandIn
) -> None:
    api.send_text(-100123, "/start", chat_type="group")
    await api.wait_for(lambda: bool(api.messages_to(-100123)))
    assert "message me directly" in api.messages_to(-100123)[0].plain_text
    async with running.app.db.sessions() as s:  # type: ignore[union-attr]
        assert await s.scalar(select(func.count()).select_from(Conversation)) == 0


async def test_mydata_through_telegram_gives_them_the_file(
    running: Running, api: BotApiStandIn
) -> None:
    """/mydata: a summary in the chat, then all we hold as a file they can keep,
    through python-telegram-bot's sendDocument (a multipart upload)."""
    for how, what in TO_HANDOFF:
        await act(running, api, how, what)
    await act(running, api, "type", "/mydata")
    await api.wait_for(lambda: any(c.method == "sendDocument" and c.ok for c in api.calls),
                       what="their data sent as a file")  # fmt: skip
    upload = next(c for c in api.calls if c.method == "sendDocument")
    assert upload.params["chat_id"] == CHAT
    summary = [m.plain_text for m in api.messages_to(CHAT)
               if m.plain_text.startswith("Here's what we hold about you")]  # fmt: skip
    assert len(summary) == 1 and "SP-" in summary[0]
    # One line for each thing held.
    bullets = [line for line in summary[0].splitlines() if line.startswith("•")]
    assert len(bullets) == 4 and all(line.count("•") == 1 for line in bullets), summary[0]
    (sent,) = upload.files.values()
    assert sent.filename.startswith("my-data-SP-") and sent.filename.endswith(".json")
    held = json.loads(sent.data)
    answers = json.dumps(held["conversation"]["answers"], ensure_ascii=False)
    assert "+447911123456" in answers and "lonely since my wife died" in answers
    assert held["consent"] and held["cases"][0]["reference"] in handoff_message(api)
    caption = upload.response["result"]["caption"]
    assert caption == html_to_text(running.app.messages.render("referral/your_data_file"))
