"""Link workers through python-telegram-bot and the Bot API stand-in (issue 14): a
reply always reaches the right person, and nobody is dropped when a case changes
hands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import func, select

from bot.staff.admin import add_worker, remove_worker
from bot.store.base import utcnow
from bot.store.checkins import CheckIn
from bot.store.outbox import OutboxMessage
from tests.e2e.conftest import Running
from tests.e2e.test_referral_e2e import REFERRAL, handoff_message
from tests.standin.server import BotApiStandIn

TEAM = -1009876
SAM, PRIYA, ASH = 7001, 7002, 7009
KOFI, JOAN = 5101, 5102


@pytest.fixture
async def team(running: Running) -> AsyncIterator[Running]:
    await running.stop()
    running.settings = running.settings.model_copy(update={"staff_chat_id": TEAM})
    await running.start()
    assert running.app is not None
    await add_worker(running.app.db, SAM, "Sam", "link_worker", utcnow())
    await add_worker(running.app.db, PRIYA, "Priya", "link_worker", utcnow())
    await add_worker(running.app.db, ASH, "Ash", "admin", utcnow())
    yield running


async def refer(bot: Running, api: BotApiStandIn, chat: int, name: str) -> str:
    """`name` goes through the whole referral in their chat; their case reference."""
    for how, what in REFERRAL:
        what = what.replace("Alex", name)
        update = (
            api.send_text(chat, what, first_name=name)
            if how == "type"
            else api.press(chat, what, first_name=name)
        )
        await bot.handled(update)
    text = handoff_message(api, chat)  # (the while-you-wait questions follow it)
    return text[text.index("SP-") :][:7]


async def types(bot: Running, api: BotApiStandIn, worker: int, text: str,
                reply_to: int | None = None) -> list[str]:  # fmt: skip
    """A worker types in their private chat; what the bot said back to them."""
    before = len(api.messages_to(worker))
    await bot.handled(api.send_text(worker, text, first_name="W", reply_to=reply_to))
    return [m.plain_text for m in api.messages_to(worker)[before:]]


# Which chat a worker's words go to is decided by the staff side alone; its storage is
# what every other link worker test runs on both databases.
@pytest.mark.sqlite_only
async def test_the_wrong_patient_sequence_sends_nothing_to_the_wrong_person(
    team: Running, api: BotApiStandIn
) -> None:
    kofi = await refer(team, api, KOFI, "Kofi")
    joan = await refer(team, api, JOAN, "Joan")
    await types(team, api, SAM, f"/claim {kofi}")
    await types(team, api, SAM, f"/claim {joan}")
    to_kofi, to_joan = len(api.messages_to(KOFI)), len(api.messages_to(JOAN))

    prompt = await types(team, api, SAM, f"/reply {kofi}")
    assert "Kofi" in prompt[-1] and kofi in prompt[-1]
    opened = await types(team, api, SAM, f"/case {joan}")
    assert any("not sent" in s and "Kofi" in s for s in opened)
    answer = await types(team, api, SAM, "Hi Joan, it's Sam from the team")
    assert len(api.messages_to(KOFI)) == to_kofi and len(api.messages_to(JOAN)) == to_joan
    assert "not sent" in answer[-1].lower() and joan in answer[-1]

    # The natural way: reply (Telegram's reply-to) to Joan's relayed message.
    await team.handled(api.send_text(JOAN, "Is the group on Friday?", first_name="Joan"))
    relayed = api.messages_to(SAM)[-1]
    assert "Is the group on Friday?" in relayed.plain_text
    done = await types(team, api, SAM, "Yes, Friday at 10", reply_to=relayed.message_id)
    assert api.messages_to(JOAN)[-1].plain_text.endswith("Yes, Friday at 10")
    assert len(api.messages_to(KOFI)) == to_kofi
    assert "Sent to Joan" in done[-1]
    # And in one line.
    await types(team, api, SAM, f"/reply {kofi} Hello Kofi")
    assert api.messages_to(KOFI)[-1].plain_text.endswith("Hello Kofi")
    api.assert_clean()


async def settled(bot: Running, timeout: float = 10.0) -> None:
    """Wait until every message owed (sends, edits, deletions) has gone."""
    assert bot.app is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with bot.app.db.sessions() as s:
            pending = await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_reason.is_(None))
            )
        if not pending:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("the outbox did not empty")


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise TimeoutError("not within the time")
        await asyncio.sleep(0.02)


def new_messages(api: BotApiStandIn, chat: int, before: int) -> list[str]:
    return [m.plain_text for m in api.messages_to(chat)[before:]]


async def test_assign_from_sam_to_priya_tells_all_three_once(
    team: Running, api: BotApiStandIn
) -> None:
    kofi = await refer(team, api, KOFI, "Kofi")
    await types(team, api, SAM, f"/claim {kofi}")
    counts = {chat: len(api.messages_to(chat)) for chat in (SAM, PRIYA, KOFI, TEAM, ASH)}

    await types(team, api, SAM, f"/assign {kofi} @Priya Prefers a call after 3pm.")

    [to_priya] = new_messages(api, PRIYA, counts[PRIYA])
    assert "Sam handed" in to_priya and kofi in to_priya and "Prefers a call after 3pm" in to_priya
    [to_sam] = new_messages(api, SAM, counts[SAM])
    assert "Priya" in to_sam and kofi in to_sam
    [to_kofi] = new_messages(api, KOFI, counts[KOFI])
    assert "Sam has handed your referral" in to_kofi and "Priya" in to_kofi
    assert new_messages(api, ASH, counts[ASH]) == []
    assert "Priya has it" in api.messages_to(TEAM)[0].plain_text
    # What Kofi writes now goes to Priya, not Sam.
    await team.handled(api.send_text(KOFI, "Thanks, after 3 is good", first_name="Kofi"))
    assert api.messages_to(PRIYA)[-1].plain_text.endswith("Thanks, after 3 is good")
    assert not api.messages_to(SAM)[-1].plain_text.endswith("Thanks, after 3 is good")
    api.assert_clean()


async def test_releasing_an_urgent_case_posts_a_new_team_message(
    team: Running, api: BotApiStandIn
) -> None:
    kofi = await refer(team, api, KOFI, "Kofi")
    await types(team, api, SAM, f"/claim {kofi}")
    await team.handled(
        api.send_text(KOFI, "i cant do this anymore, i want to end my life", first_name="Kofi")
    )
    in_team = len(api.messages_to(TEAM))
    to_sam = len(api.messages_to(SAM))

    await types(team, api, ASH, f"/release {kofi}")

    [new_card] = new_messages(api, TEAM, in_team)  # a new message: Telegram notifies it
    assert kofi in new_card and "Waiting" in new_card
    assert api.messages_to(TEAM)[-1].button_labels == [f"✋ Claim {kofi}"]
    assert any("Ash released" in m and kofi in m for m in new_messages(api, SAM, to_sam))
    assert "A new link worker will pick it up" in api.messages_to(KOFI)[-1].plain_text
    api.assert_clean()


async def test_a_removed_workers_old_buttons_do_nothing_harmful(
    team: Running, api: BotApiStandIn
) -> None:
    assert team.app is not None
    kofi = await refer(team, api, KOFI, "Kofi")
    await types(team, api, SAM, f"/claim {kofi}")
    await team.handled(api.send_text(KOFI, "Can you call me?", first_name="Kofi"))
    relayed = api.messages_to(SAM)[-1]
    assert "Can you call me?" in relayed.plain_text and "💬 Reply" in relayed.button_labels
    about_kofi = [m.message_id for m in api.messages_to(SAM) if kofi in m.plain_text]
    reply_data = relayed.callback_data("💬 Reply")
    await types(team, api, SAM, "/queue")
    listing = api.messages_to(SAM)[-1]  # about no case, so it stays

    await remove_worker(team.app.db, team.app.messages, team.settings, SAM, team.clock())
    await settled(team)

    left = api.messages_to(SAM)
    assert not any(kofi in m.plain_text for m in left)  # the case left Sam's chat
    assert not any(m.message_id in about_kofi for m in left)
    assert "taken off the link worker team" in left[-1].plain_text
    assert "A new link worker will pick it up" in api.messages_to(KOFI)[-1].plain_text
    to_kofi = len(api.messages_to(KOFI))

    # His old buttons (a list still in his chat; an old Reply his phone still had):
    # only a short answer, never the patient consent flow.
    left = api.messages_to(SAM)
    for data in (listing.callback_data("🗂 My cases"), reply_data):
        tap = api.tap(SAM, listing.message_id, data, user_id=SAM, first_name="Sam",
                      require_button=False)  # fmt: skip
        query = api.update(tap)["callback_query"]["id"]
        await until(lambda: api.callback_answer(query) is not None)  # noqa: B023
        await settled(team)
        answer = api.callback_answer(query)
        assert answer is not None and "no longer on the link worker team" in answer.get("text", "")
    assert [m.plain_text for m in api.messages_to(SAM)] == [m.plain_text for m in left]
    assert len(api.messages_to(KOFI)) == to_kofi
    api.assert_clean()


async def test_each_worker_has_the_staff_command_menu_and_nobody_else_does(
    team: Running, api: BotApiStandIn
) -> None:
    assert team.app is not None
    await team.stop()
    await team.start()  # the menus are set as the bot starts (and as the team changes)
    sam_menu = [c["command"] for c in api.commands(scope={"type": "chat", "chat_id": SAM})]
    assert {"queue", "mine", "case", "reply", "assign", "away", "back", "cancel"} <= set(sam_menu)
    patients_menu = [c["command"] for c in api.commands()]
    assert "queue" not in patients_menu and "start" in patients_menu
    assert api.commands(scope={"type": "chat", "chat_id": KOFI}) == []

    assert team.app is not None
    await remove_worker(team.app.db, team.app.messages, team.settings, SAM, team.clock())
    await team.stop()
    await team.start()
    assert api.commands(scope={"type": "chat", "chat_id": SAM}) == []
    assert [c["command"] for c in api.commands(scope={"type": "chat", "chat_id": PRIYA})]
    api.assert_clean()


async def test_refer_sends_the_patient_the_activity_card_with_the_workers_line(
    team: Running, api: BotApiStandIn
) -> None:
    assert team.app is not None
    kofi = await refer(team, api, KOFI, "Kofi")
    await types(team, api, SAM, f"/claim {kofi}")
    preview = await types(team, api, SAM, f"/refer {kofi}")  # the one Kofi chose
    assert "Bootle Walking Football" in preview[-1] and "Phone: 0151 496 0001" in preview[-1]
    to_kofi = len(api.messages_to(KOFI))

    done = await types(team, api, SAM, "Jo runs it and knows you're coming on Tuesday.")
    [card] = new_messages(api, KOFI, to_kofi)
    assert card.startswith("Sam, your link worker:\nJo runs it and knows you're coming on Tuesday.")
    assert "Bootle Walking Football" in card and "When: Tuesday 10:00" in card
    assert "Where: Bootle Leisure Centre" in card and "Phone: 0151 496 0001" in card
    assert "I'll check in with them on" in done[-1]
    async with team.app.db.sessions() as s:
        due = (await s.execute(select(CheckIn.due_at))).scalars().all()
    assert due and min(due) > team.clock()  # a check-in is scheduled
    api.assert_clean()


async def test_a_removed_workers_case_messages_past_48_hours_become_a_stub(
    team: Running, api: BotApiStandIn
) -> None:
    """Telegram lets a bot delete its messages for 48 hours: older ones about a
    case are edited to say they were taken back, newer ones deleted; the stand-in
    refuses a deletion past 48 hours, as Telegram does."""
    assert team.app is not None
    kofi = await refer(team, api, KOFI, "Kofi")
    await types(team, api, SAM, f"/claim {kofi}")
    about_kofi = [m.message_id for m in api.messages_to(SAM) if kofi in m.plain_text]
    assert about_kofi

    team.clock.move_on(hours=49)
    api.move_clock(49 * 3600)
    joan = await refer(team, api, JOAN, "Joan")
    await types(team, api, SAM, f"/claim {joan}")
    about_joan = [m.message_id for m in api.messages_to(SAM) if joan in m.plain_text]
    assert about_joan

    await remove_worker(team.app.db, team.app.messages, team.settings, SAM, team.clock())
    await settled(team)

    left = {m.message_id: m.plain_text for m in api.messages_to(SAM)}
    stub = "(Removed: you are no longer on the link worker team.)"
    assert [left.get(i) for i in about_kofi] == [stub] * len(about_kofi)  # edited, kept
    assert not any(i in left for i in about_joan)  # deleted
    assert not any(kofi in text or joan in text for text in left.values())
    api.assert_clean()  # no deletion Telegram would refuse was tried


async def test_away_tells_the_team_and_the_patient_hears_when_they_are_back(
    team: Running, api: BotApiStandIn
) -> None:
    kofi = await refer(team, api, KOFI, "Kofi")
    await types(team, api, SAM, f"/claim {kofi}")
    await types(team, api, SAM, "/away until tomorrow covered by @Priya")
    assert "Priya covers Sam's cases" in api.messages_to(TEAM)[-1].plain_text
    await team.handled(api.send_text(KOFI, "Is it still on?", first_name="Kofi"))
    told = api.messages_to(KOFI)[-1].plain_text
    assert "Sam is away just now, and back on" in told and "Priya, a colleague" in told
    assert "Is it still on?" in api.messages_to(PRIYA)[-1].plain_text
    done = await types(team, api, PRIYA, f"/reply {kofi} Yes, it is.")
    assert "Sent to Kofi" in done[-1]
    assert api.messages_to(KOFI)[-1].plain_text.endswith("Yes, it is.")
    api.assert_clean()
