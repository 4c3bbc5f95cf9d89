"""Faults from Telegram's side (issue 16): a tenth of the bot's sends and edits are
answered 429 (with retry_after), 502, or have their connection reset before the
request is processed or after it. Patients still complete whole referrals, every
message arrives, and a message arrives twice only where no bot can tell (Telegram
did it, but the answer never came back): those repeats are counted, and there are
never more of them than such resets."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import text

from tests.e2e.conftest import Running
from tests.e2e.test_crash import Watch
from tests.e2e.test_referral_e2e import REFERRAL, handoff_message
from tests.standin.server import NOT_MODIFIED, BotApiStandIn

pytestmark = pytest.mark.e2e

PATIENTS = 6
RATE = 0.10
#: Backoff after network errors is 2, 4, 8... seconds: a few in a row take a while.
PATIENCE = 60.0


async def refer(api: BotApiStandIn, watch: Watch, chat: int, rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(0, 0.5))
    for how, what in REFERRAL:
        update_id = (
            api.send_text(chat, what, first_name="Alex")
            if how == "type"
            else api.press(chat, what, first_name="Alex")
        )
        await watch.until_answered(api, chat, update_id, within=PATIENCE, what=f"{how} {what!r}")


async def test_every_message_arrives_through_429s_502s_and_resets(
    running: Running, api: BotApiStandIn
) -> None:
    watch = Watch(running.settings.database_url)
    watch.start()
    api.chaos(RATE)
    try:
        rng = random.Random(1616)
        chats = [9101 + n for n in range(PATIENTS)]
        await asyncio.gather(*(refer(api, watch, c, random.Random(rng.random())) for c in chats))
        async with watch.engine.connect() as conn:
            sent = text(
                # Messages, by their ids: a question asked in the place of the one
                # just answered is a row of its own but the same Telegram message.
                "SELECT chat_id, count(DISTINCT message_id) FROM outbox WHERE action = 'send' "
                "AND sent_at IS NOT NULL GROUP BY chat_id"
            )
            rows = {int(chat): int(count) for chat, count in (await conn.execute(sent)).all()}
            unsent = await conn.scalar(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
    finally:
        await watch.close()
    arrived: dict[int, int] = {}
    for call in api.calls_to("sendMessage"):
        if call.ok:
            arrived[int(call.params["chat_id"])] = arrived.get(int(call.params["chat_id"]), 0) + 1
    repeats = sum(arrived.get(chat, 0) - rows.get(chat, 0) for chat in chats)
    sends_reset_after = sum(1 for method, _ in api.reset_after_processing
                            if method == "sendMessage")  # fmt: skip
    print(f"\nfaults: {api.chaos_counts}; messages: {sum(rows.values())}; repeats: {repeats} "
          f"(sends reset after Telegram did them: {sends_reset_after})")  # fmt: skip

    assert sum(api.chaos_counts.values()) >= 10, "too few faults for the test to mean much"
    assert unsent == 0
    for chat in chats:
        assert "Your reference is SP-" in handoff_message(api, chat)
        assert arrived.get(chat, 0) >= rows.get(chat, 0), f"chat {chat}: a message lost"
    assert 0 <= repeats <= sends_reset_after
    assert [c for c in api.rejected if c.description != NOT_MODIFIED] == []
