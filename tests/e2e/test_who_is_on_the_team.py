"""Telling a link worker from a patient without a read of its own: the inbox's look
for updates says whether each came from an active link worker
(`bot.store.inbox.Due.from_worker`), and the staff side asks again only when it
did. What the look said may be a moment old: a worker removed since (on another
instance) must lose staff access at once, and someone who joined is a link worker
from their next message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from telegram import Update

from bot.staff.admin import add_worker, remove_worker
from bot.store import inbox as kept
from bot.store.base import utcnow
from bot.telegram import _received
from tests.e2e.driven import driven
from tests.standin.server import BotApiStandIn

pytestmark = pytest.mark.e2e

SAM, KOFI = 7101, 5201


async def test_a_worker_removed_after_the_inbox_looked_is_answered_as_anyone(
    api: BotApiStandIn, e2e_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with driven(api, e2e_database_url) as bot:
        await add_worker(bot.app.db, SAM, "Sam", "link_worker", utcnow())
        await bot.step(SAM, "type", "/queue")
        assert "Waiting for a link worker" in api.messages_to(SAM)[-1].plain_text  # the queue

        looked: list[kept.Due] = []
        look: Callable[..., Awaitable[list[kept.Due]]] = kept.due

        async def removed_meanwhile(*args: Any, **kwargs: Any) -> list[kept.Due]:
            due = await look(*args, **kwargs)
            if due and not looked:  # another instance takes Sam off the team now
                looked.extend(due)
                await remove_worker(bot.app.db, bot.app.messages, bot.app.settings, SAM,
                                    utcnow())  # fmt: skip
            return due

        monkeypatch.setattr(kept, "due", removed_meanwhile)
        await bot.step(SAM, "type", "/mine")
        assert [d.from_worker for d in looked] == [True]  # the look still saw him on it
        # Handled as anyone's: the patients' answer to a command they don't have.
        assert "I don't know /mine" in api.messages_to(SAM)[-1].plain_text


async def test_the_look_tells_a_worker_from_a_patient(
    api: BotApiStandIn, e2e_database_url: str
) -> None:
    async with driven(api, e2e_database_url) as bot:
        await add_worker(bot.app.db, SAM, "Sam", "link_worker", utcnow())
        ids = [api.send_text(SAM, "/queue", first_name="Sam"),
               api.send_text(KOFI, "/start", first_name="Kofi")]  # fmt: skip
        async with bot.app.db.durable_transaction() as session:
            await kept.keep(session, [_received(Update.de_json(api.update(u), bot.bot.api))
                                      for u in ids], utcnow())  # fmt: skip
        async with bot.app.db.reading() as session:
            due = await kept.due(session, utcnow(), 10)
        assert {d.chat_id: d.from_worker for d in due} == {SAM: True, KOFI: False}
        while await bot.bot.inbox.drain():
            pass
        await bot.deliver()
        assert "Waiting for a link worker" in api.messages_to(SAM)[-1].plain_text
        assert "I don't know" not in api.messages_to(SAM)[-1].plain_text
        assert api.messages_to(KOFI)  # Kofi's welcome
