"""A tap is answered beside the reply (issue 16): answering Telegram's callback query
(which stops the button spinning) never holds up the reply or the chat's next
message, however slowly Telegram answers it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import Running
from tests.standin.server import BotApiStandIn, Params

pytestmark = pytest.mark.e2e

CHAT = 5301


async def test_a_slow_answer_to_a_tap_holds_up_neither_the_reply_nor_the_next_message(
    running: Running, api: BotApiStandIn
) -> None:
    original = api._handlers["answercallbackquery"][1]
    release = asyncio.Event()
    held: list[str] = []

    async def slow_answer(params: Params) -> Any:
        held.append(str(params["callback_query_id"]))
        await release.wait()  # Telegram takes its time (seconds, on a bad day)
        return original(params)

    api.handle("answerCallbackQuery", slow_answer)
    await running.handled(api.send_text(CHAT, "/start", first_name="Alex"))
    try:
        await running.handled(api.press(CHAT, "I agree, and I'm 18 or over", first_name="Alex"),
                              timeout=5)  # fmt: skip
        await running.handled(api.press(CHAT, "Call me Alex", first_name="Alex"), timeout=5)
        assert held, "the stand-in was never asked to answer a tap: the test did not work"
        assert api.unanswered_callback_queries(), "taps answered before they were released?"
    finally:
        release.set()
    await api.wait_for(lambda: not api.unanswered_callback_queries(), timeout=5)
    api.assert_clean()
