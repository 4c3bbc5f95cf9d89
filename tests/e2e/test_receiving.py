"""Receiving from Telegram: a 5xx from the Bot API is one WARNING line and a retry,
never a traceback, and nothing is lost."""

from __future__ import annotations

import logging

import pytest

from tests.e2e.conftest import Running
from tests.standin.server import BotApiStandIn

CHAT = 4242


@pytest.mark.e2e
async def test_a_bad_gateway_is_one_warning_and_nothing_is_lost(
    running: Running, api: BotApiStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api.fail_next("getUpdates", error_code=502, times=2)
    update = api.send_text(CHAT, "hello", first_name="Alex")
    await running.handled(update, timeout=20)
    assert api.messages_to(CHAT)[0].plain_text.startswith("Hello. I can put you in touch")
    bad_gateway = [r for r in caplog.records if "getUpdates failed" in r.getMessage()]
    assert len(bad_gateway) == 2 and all(r.levelno == logging.WARNING for r in bad_gateway)
    assert not any(r.exc_info or r.exc_text for r in caplog.records if r.levelno >= logging.WARNING)
