"""Link workers through python-telegram-bot and the Bot API stand-in (issue 14): a
reply always reaches the right person, and nobody is dropped when a case changes
hands."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.staff.admin import add_worker
from bot.store.base import utcnow
from tests.e2e.conftest import Running
from tests.e2e.test_referral_e2e import REFERRAL
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
    text = api.messages_to(chat)[-1].plain_text
    return text[text.index("SP-") :][:7]


async def types(bot: Running, api: BotApiStandIn, worker: int, text: str,
                reply_to: int | None = None) -> list[str]:  # fmt: skip
    """A worker types in their private chat; what the bot said back to them."""
    before = len(api.messages_to(worker))
    await bot.handled(api.send_text(worker, text, first_name="W", reply_to=reply_to))
    return [m.plain_text for m in api.messages_to(worker)[before:]]


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
