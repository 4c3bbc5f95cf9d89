"""`spbot run --webhook` (issue 16): Telegram posts each update; the bot keeps it in
the inbox before answering 200, refuses a post without the right secret, and says
how it is on /healthz and /metrics. In-process here, against the stand-in's
webhook; two instances as real processes are in test_two_instances.py."""

from __future__ import annotations

import asyncio
import logging
import socket
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.store.inbox import InboxUpdate
from bot.store.updates import ProcessedUpdate
from bot.telegram import TelegramBot
from bot.webhook import SECRET_HEADER, WebhookConfig
from tests.e2e.conftest import FAST, Running
from tests.fakes import FakeDirectory
from tests.standin.server import BotApiStandIn

pytestmark = pytest.mark.e2e

CHAT = 5401
SECRET = "s3cret-token_for-the-webhook-0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebhookBot(Running):
    """A running bot that takes updates posted to it (`spbot run --webhook`)."""

    def __init__(self, api: BotApiStandIn, db_url: str) -> None:
        super().__init__(api, db_url)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.webhook = WebhookConfig("127.0.0.1", port, f"{self.base}/telegram", SECRET)

    async def start(self) -> None:
        from bot.app import build_app

        self.app = await build_app(self.settings, directory=FakeDirectory(), clock=self.clock)
        self.bot = TelegramBot(self.app, limits=FAST, webhook=self.webhook)
        await self.bot.start()


@pytest.fixture
async def hooked(api: BotApiStandIn, e2e_database_url: str) -> AsyncIterator[WebhookBot]:
    bot = WebhookBot(api, e2e_database_url)
    await bot.start()
    yield bot
    if bot.bot is not None:
        await bot.stop()


async def kept_or_handled(bot: Running, update_id: int) -> bool:
    assert bot.app is not None
    async with bot.app.db.sessions() as s:
        return (
            await s.get(InboxUpdate, update_id) is not None
            or await s.get(ProcessedUpdate, update_id) is not None
        )


async def test_updates_posted_by_telegram_are_answered_and_nothing_is_polled(
    hooked: WebhookBot, api: BotApiStandIn
) -> None:
    [hook] = api.calls_to("setWebhook")
    assert hook.params["url"] == hooked.webhook.url and hook.params["secret_token"] == SECRET
    await hooked.handled(api.send_text(CHAT, "/start", first_name="Alex"))
    await hooked.handled(api.press(CHAT, "I agree, and I'm 18 or over", first_name="Alex"))
    assert api.messages_to(CHAT)[0].plain_text.startswith("Hello. I can put you in touch")
    assert [status for _, _, status in api.webhook_posts] == [200, 200]
    assert not api.calls_to("getUpdates")
    api.assert_clean()


async def test_a_post_without_the_right_secret_is_refused_and_nothing_kept(
    hooked: WebhookBot, api: BotApiStandIn
) -> None:
    update = {"update_id": 99_001, "message": {
        "message_id": 1, "date": 1_700_000_000, "text": "/start",
        "chat": {"id": CHAT, "type": "private", "first_name": "Mallory"},
        "from": {"id": CHAT, "is_bot": False, "first_name": "Mallory"}}}  # fmt: skip
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_HEADER: "guessed-wrong-secret-0000000000"}):
            async with http.post(hooked.webhook.url, json=update, headers=headers) as response:
                assert response.status == 403
        assert not await kept_or_handled(hooked, 99_001)
        async with http.post(hooked.webhook.url, json=update,
                             headers={SECRET_HEADER: SECRET}) as response:  # fmt: skip
            assert response.status == 200
            # Answered 200 only once kept: it is there the moment Telegram hears so.
            assert await kept_or_handled(hooked, 99_001)
    await hooked.handled(99_001)


async def test_health_and_metrics_say_how_the_bot_is(
    hooked: WebhookBot, api: BotApiStandIn
) -> None:
    await hooked.handled(api.send_text(CHAT, "/start", first_name="Alex"))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{hooked.base}/healthz") as response:
            assert response.status == 200
            health = await response.json()
        async with http.get(f"{hooked.base}/metrics") as response:
            assert response.status == 200
            metrics = await response.text()
    assert health["database"] == "ok"
    assert health["outbox_backlog"] == 0 and health["oldest_unsent_seconds"] == 0
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line and not line.startswith("#")
    }
    assert values["spbot_updates_handled_total"] >= 1
    assert values["spbot_update_handling_seconds_count"] >= 1
    assert values["spbot_database_up"] == 1
    for gauge in ("spbot_outbox_backlog", "spbot_inbox_waiting", "spbot_check_ins_due",
                  "spbot_alerts_unseen", "spbot_outbox_oldest_unsent_seconds"):  # fmt: skip
        assert gauge in values
    assert values["spbot_other_instances_running"] == 0  # one instance, alone
    assert "Alex" not in metrics


async def test_a_failed_send_is_counted_by_its_kind(hooked: WebhookBot, api: BotApiStandIn) -> None:
    api.fail_next("sendMessage", error_code=429, retry_after=1)
    await hooked.handled(api.send_text(CHAT, "/start", first_name="Alex"), timeout=15)
    async with aiohttp.ClientSession() as http, http.get(f"{hooked.base}/metrics") as response:
        metrics = await response.text()
    assert 'spbot_delivery_errors_total{kind="retry_after"} 1.0' in metrics
    assert hooked.app is not None
    async with hooked.app.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(InboxUpdate)) == 0


async def test_a_webhook_url_telegram_refuses_stops_start_up_with_one_sentence(
    api: BotApiStandIn, tmp_path: Path
) -> None:
    from bot.config import SettingsError

    bot = WebhookBot(api, f"sqlite+aiosqlite:///{tmp_path / 'refused.sqlite3'}")
    bot.webhook = WebhookConfig("127.0.0.1", free_port(), "ftp://bot.example.org/telegram", SECRET)
    with pytest.raises(SettingsError, match=r"WEBHOOK_URL=ftp://bot\.example\.org/telegram"):
        await bot.start()
    assert bot.app is not None
    await bot.app.close()


async def test_a_post_cut_off_midway_is_no_error_and_the_next_is_kept(
    hooked: WebhookBot, api: BotApiStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram (or a proxy in front) hanging up halfway through a post is not a
    fault of the bot's: nothing is kept, no error is logged (Telegram posts the
    update again), and the next post is kept as ever."""
    body = b'{"update_id": 99002, "message": {"message_id": 1, "date": 1700000000, "text": "'
    url = urllib.parse.urlsplit(hooked.webhook.url)
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        f"POST {url.path} HTTP/1.1\r\nHost: {url.hostname}\r\n{SECRET_HEADER}: {SECRET}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body) * 3}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the bot is waiting for the rest
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    assert not await kept_or_handled(hooked, 99_002)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    await hooked.handled(api.send_text(CHAT, "/start", first_name="Alex"))
    assert api.messages_to(CHAT)[0].plain_text.startswith("Hello. I can put you in touch")
    api.assert_clean()
