"""The link worker queue through python-telegram-bot and the Bot API stand-in: a
patient refers, the team chat gets a card, a worker claims it, the patient is told,
they talk through the bot, and the worker refers and closes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from bot.staff.admin import add_worker, audit_trail, create_invite
from bot.store.base import utcnow
from bot.store.cases import SafetyAlert
from tests.e2e.conftest import MovableClock, Running
from tests.e2e.test_referral_e2e import CHAT, REFERRAL, act, handoff_message
from tests.standin.server import BotApiStandIn

TEAM = -1009876
SAM = 7001


@pytest.fixture
async def team(running: Running) -> AsyncIterator[Running]:
    await running.stop()
    running.settings = running.settings.model_copy(update={"staff_chat_id": TEAM})
    await running.start()
    assert running.app is not None
    await add_worker(running.app.db, SAM, "Sam", "link_worker", utcnow())
    yield running


async def sam(bot: Running, api: BotApiStandIn, text: str) -> list[str]:
    """Sam types in his private chat with the bot; what the bot said back."""
    before = len(api.messages_to(SAM))
    await bot.handled(api.send_text(SAM, text, first_name="Sam"))
    return [m.plain_text for m in api.messages_to(SAM)[before:]]


async def sam_presses(bot: Running, api: BotApiStandIn, label: str) -> list[str]:
    before = len(api.messages_to(SAM))
    await bot.handled(api.press(SAM, label, first_name="Sam"))
    return [m.plain_text for m in api.messages_to(SAM)[before:]]


async def refer(bot: Running, api: BotApiStandIn) -> str:
    for how, what in REFERRAL:
        await act(bot, api, how, what)
    text = handoff_message(api)  # (the while-you-wait questions follow it)
    return text[text.index("SP-") :][:7]


async def test_from_referral_to_closed_through_telegram(team: Running, api: BotApiStandIn) -> None:
    reference = await refer(team, api)
    [card] = api.messages_to(TEAM)
    assert reference in card.plain_text and "Alex" not in card.plain_text
    assert card.button_labels == [f"✋ Claim {reference}"]

    # Sam claims it from the team chat.
    tap = api.tap(TEAM, card.message_id, card.callback_data(f"✋ Claim {reference}"),
                  user_id=SAM, first_name="Sam")  # fmt: skip
    await team.handled(tap)
    told = api.messages_to(CHAT)[-1].plain_text
    assert told.startswith("Good news: Sam from Sefton Social Prescribing has your referral")
    card = api.message(TEAM, card.message_id)
    assert "Sam has it" in card.plain_text and card.buttons == []
    view = "\n".join(m.plain_text for m in api.messages_to(SAM))
    assert "I'd like to meet people. I've been lonely since my wife died." in view
    assert "Satisfied with life: 4 (low)" in view

    # They talk through the bot.
    await sam(team, api, f"/reply {reference} Hello Alex, it's Sam. Can I call you tomorrow?")
    assert api.messages_to(CHAT)[-1].plain_text == (
        "Sam, your link worker:\nHello Alex, it's Sam. Can I call you tomorrow?"
    )
    answer = 'Yes! Ask for <b>Alex</b> & call <a href="tel:1">after 10</a>'
    await act(team, api, "type", answer)
    forwarded = api.messages_to(SAM)[-1].plain_text
    assert forwarded.endswith(answer)  # exactly as written, tags and all
    await act(team, api, "type", "/status")
    assert "Sam is looking after it" in api.messages_to(CHAT)[-1].plain_text
    view = "\n".join(await sam(team, api, f"/case {reference}"))
    assert answer in view

    # Sam records the referral and closes the case.
    offered = await sam(team, api, f"/refer {reference}")
    assert "Bootle Walking Football" in offered[-1]
    assert "The referral is recorded" in (await sam_presses(team, api, "📨 Send to Alex"))[-1]
    assert "Bootle Walking Football" in api.messages_to(CHAT)[-1].plain_text
    await sam(team, api, f"/close {reference}")
    closed = await sam_presses(team, api, "Referred to an activity")
    assert "closed: Referred to an activity" in closed[-1]
    assert "has closed your referral" in api.messages_to(CHAT)[-1].plain_text
    assert "Closed by Sam" in api.message(TEAM, card.message_id).plain_text
    assert len(api.messages_to(TEAM)) == 1  # one card, edited in place
    api.assert_clean()

    assert team.app is not None
    actions = [e.action for e in await audit_trail(team.app.db, reference)]
    assert actions == ["claim", "open", "reply", "open", "refer", "close"]


async def test_staff_commands_from_anyone_else_get_the_ordinary_reply(
    team: Running, api: BotApiStandIn
) -> None:
    replies = []
    for command in ("/frobnicate", "/queue", "/claim SP-AAAA", "/join WRONG-CODE"):
        await act(team, api, "type", command)
        name = command[1:].split()[0]
        replies.append(api.messages_to(CHAT)[-1].plain_text.replace(name, "X"))
    assert len(set(replies)) == 1 and "don't know /X" in replies[0]

    # A real invitation works once, from a private chat.
    assert team.app is not None
    invite = await create_invite(team.app.db, "Robin", "link_worker", 48, utcnow())
    robin = 7002
    await team.handled(api.send_text(robin, f"/join {invite.code}", first_name="Robin"))
    assert "Welcome to the team, Robin" in api.messages_to(robin)[-1].plain_text
    await team.handled(api.send_text(robin, "/queue", first_name="Robin"))
    assert api.messages_to(robin)[-1].plain_text.startswith("Waiting for a link worker: 0")
    api.assert_clean()


async def test_a_long_case_arrives_in_parts_within_telegrams_limit(
    team: Running, api: BotApiStandIn
) -> None:
    reference = await refer(team, api)
    await sam(team, api, f"/claim {reference}")
    long_messages = [f"Part {n}: " + " ".join(f"word{n}x{i}" for i in range(330)) for n in range(5)]
    for text in long_messages:
        await act(team, api, "type", text)
    parts = await sam(team, api, f"/case {reference}")
    assert len(parts) >= 3 and all(len(p) <= 4096 for p in parts)
    joined = "\n".join(parts)
    assert all(text in joined for text in long_messages)
    api.assert_clean()  # the stand-in refused nothing: no part too long, none badly formed


async def test_an_alert_nobody_takes_is_posted_again_after_the_wait(
    team: Running, api: BotApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot's own housekeeping (ticking fast), after the wait: an alert nobody marked Seen is
    posted again as a new message (Telegram notifies no edits) and sent to the
    worker holding the case; once taken, never again."""
    await team.stop()
    monkeypatch.setattr("bot.telegram.HEARTBEAT", timedelta(milliseconds=20))
    team.settings = team.settings.model_copy(update={"working_hours": "Mon-Sun 00:00-23:59"})
    # The bot's day starts at noon, whenever the test runs: run at 23:59 by the real
    # clock, it would be outside those hours, and rightly post nothing again.
    team.clock = MovableClock(start=noon_today(team.settings.zone))
    await team.start()
    assert team.app is not None
    reference = await refer(team, api)
    [card] = api.messages_to(TEAM)
    await team.handled(api.tap(TEAM, card.message_id, card.callback_data(f"✋ Claim {reference}"),
                               user_id=SAM, first_name="Sam"))  # fmt: skip
    await act(team, api, "type", "i cant do this anymore, i want to end my life")
    [first] = alert_cards(api)
    to_sam = len(api.messages_to(SAM))

    await announced_ago(team, minutes=16)  # the wait has passed, in working hours
    await until(lambda: alert_cards(api) and alert_cards(api)[-1].message_id != first.message_id)
    [again] = alert_cards(api)
    assert reference in again.plain_text and again.message_id > first.message_id  # a new message
    old = api.message(TEAM, first.message_id).plain_text
    assert "still not seen. See the newer alert below" in old  # the old one points on
    await until(
        lambda: any("Still not seen" in m.plain_text for m in api.messages_to(SAM)[to_sam:])
    )

    await team.handled(api.tap(TEAM, again.message_id, again.callback_data(again.button_labels[0]),
                               user_id=SAM, first_name="Sam"))  # fmt: skip
    count = len(api.messages_to(TEAM))
    await announced_ago(team, minutes=120)
    await asyncio.sleep(0.7)  # housekeeping has looked twice
    assert len(api.messages_to(TEAM)) == count  # taken: no more reminders
    api.assert_clean()


async def test_crisis_words_after_the_case_was_closed_reach_the_worker_who_closed_it(
    team: Running, api: BotApiStandIn
) -> None:
    reference = await refer(team, api)
    [card] = api.messages_to(TEAM)
    await team.handled(api.tap(TEAM, card.message_id, card.callback_data(f"✋ Claim {reference}"),
                               user_id=SAM, first_name="Sam"))  # fmt: skip
    await sam(team, api, f"/close {reference}")
    await sam_presses(team, api, "Referred to an activity")
    before = len(api.messages_to(SAM))

    await act(team, api, "type", "everything's gone wrong again. i want to end it all")
    reply = api.messages_to(CHAT)[-1].plain_text
    assert "116 123" in reply and "carry on with your referral" not in reply
    told = [m.plain_text for m in api.messages_to(SAM)[before:]]
    assert any(reference in m and "your case" in m for m in told), told
    assert team.app is not None
    actions = [e.action for e in await audit_trail(team.app.db, reference)]
    assert actions[-1] == "reopen"
    api.assert_clean()


def alert_cards(api: BotApiStandIn) -> list:  # type: ignore[type-arg]
    return [m for m in api.messages_to(TEAM) if "wrote words about" in m.plain_text]


async def announced_ago(bot: Running, minutes: int) -> None:
    """Move the alerts' announcement back in time, as if the wait had passed (by the
    bot's clock: a message dated ahead of it would wait to be sent)."""
    assert bot.app is not None
    async with bot.app.db.transaction() as session:
        await session.execute(
            update(SafetyAlert).values(announced_at=bot.clock() - timedelta(minutes=minutes))
        )


def noon_today(zone: ZoneInfo) -> datetime:
    return datetime.combine(datetime.now(zone).date(), time(12), zone).astimezone(UTC)


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)
