"""python-telegram-bot over aiohttp (bot/aiohttp_request.py): what the bot sends
arrives as the Bot API reads it, and what goes wrong on the way is what
python-telegram-bot's own request says (delivery and the receiver retry on it)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.aiohttp_request import AiohttpRequest
from tests.standin.server import BotApiStandIn


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        yield stand_in


def document_sent(params: dict[str, Any]) -> dict[str, Any]:
    """What Telegram answers a sendDocument with (the stand-in serves none itself)."""
    return {"message_id": 9, "date": int(time.time()), "caption": params["caption"],
            "chat": {"id": params["chat_id"], "type": "private", "first_name": "Alex"},
            "document": {"file_id": "F1", "file_unique_id": "U1"}}  # fmt: skip


async def test_a_message_with_buttons_and_a_file_arrive_as_sent(api: BotApiStandIn) -> None:
    api.handle("sendDocument", document_sent)
    bot = Bot(api.token, base_url=api.base_url, request=AiohttpRequest(connection_pool_size=4))
    async with bot:
        buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Yes please", callback_data="1:y")]])
        sent = await bot.send_message(77, "<b>Hello</b> Alex", parse_mode="HTML",
                                      reply_markup=buttons)  # fmt: skip
        data = json.dumps({"answers": {"name": "Zoë"}}).encode()
        document = await bot.send_document(77, InputFile(data, filename="your-data.json"),
                                           caption="All we hold about you")  # fmt: skip
    assert sent.text == "Hello Alex" and sent.message_id > 0
    call = api.calls[-2]
    assert call.method == "sendMessage" and call.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Yes please", "callback_data": "1:y"}]]
    }
    upload = api.calls[-1]
    assert upload.method == "sendDocument" and document.caption == "All we hold about you"
    (part,) = upload.files.values()
    assert part.filename == "your-data.json" and part.data == data


async def test_telegram_refusing_a_request_is_the_error_it_says(api: BotApiStandIn) -> None:
    async with Bot(api.token, base_url=api.base_url, request=AiohttpRequest()) as bot:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(77, "<b>unclosed", parse_mode="HTML")


async def test_nobody_answering_in_time_is_a_timeout() -> None:
    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(never_answers, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    request = AiohttpRequest(read_timeout=0.2)
    try:
        async with Bot("1:A", base_url=f"http://127.0.0.1:{port}/bot", request=request):
            pass
    except TimedOut:
        pass  # getMe, at initialize: as expected
    else:  # pragma: no cover
        pytest.fail("a request nobody answered did not time out")
    finally:
        server.close()
    await request.shutdown()


async def test_nothing_listening_is_a_network_error() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as failed:
            await request.post(f"http://127.0.0.1:{port}/bot1:A/getMe")
        assert not isinstance(failed.value, TimedOut)
        assert "aiohttp.ClientConnectorError" in str(failed.value)
    finally:
        await request.shutdown()
