"""Receiving from Telegram: a 5xx from the Bot API is one WARNING line and a retry,
never a traceback, and nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

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


class Watching(BotApiStandIn):
    """The stand-in, noting for each update watched whether it was recorded as
    handled (in the SQLite file, committed) at the moment the bot confirmed it."""

    def __init__(self, database: Path) -> None:
        super().__init__()
        self.database = database
        self.watched: set[int] = set()
        self.handled_when_confirmed: dict[int, bool] = {}

    def _confirm(self, offset: int) -> None:
        for update_id in sorted(self.watched - set(self.handled_when_confirmed)):
            if update_id < offset:
                with contextlib.closing(sqlite3.connect(self.database)) as db:
                    found = db.execute(
                        "SELECT 1 FROM processed_update WHERE update_id = ?", (update_id,)
                    ).fetchone()
                self.handled_when_confirmed[update_id] = found is not None
        super()._confirm(offset)


@pytest.mark.e2e
async def test_a_message_handled_as_it_arrives_is_confirmed_only_once_its_handling_is_kept(
    tmp_path: Path,
) -> None:
    """A lone message is handled at once, not kept in the inbox first: Telegram is
    told it may forget it only after the transaction that handled it is committed,
    and if Telegram gives it again (the bot stopped before confirming) it has no
    second effect."""
    database = tmp_path / "e2e.sqlite3"
    async with Watching(database) as api:
        running = Running(api, f"sqlite+aiosqlite:///{database}")
        await running.start()
        try:
            for text in ("hello", "I agree"):
                update = api.send_text(CHAT, text, first_name="Alex")
                api.watched.add(update)
                await running.handled(update)
                await api.wait_confirmed(update)
            assert api.handled_when_confirmed == dict.fromkeys(api.watched, True)
            shown = len(api.messages_to(CHAT))
            api.redeliver(update)
            await api.wait_confirmed(update)
            await asyncio.sleep(0.3)  # (a second reply would be on its way by now)
            assert len(api.messages_to(CHAT)) == shown
        finally:
            await running.stop()
