"""A whole referral through the real Telegram adapter, one step at a time, with
nothing running in the background (issue 16): each update is kept in the inbox as
the receiver keeps it, handled by the inbox's own pass, and its replies delivered
by delivery's own pass to the Bot API stand-in. No loop ticks and no timer fires,
so what one update costs (SQL statements, transactions, Bot API calls) is the
same on every run: tests hold it to a ceiling, and the benchmark reports it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from telegram import Update

from bot.app import App, build_app
from bot.config import Settings
from bot.delivery import Claim, Delivery
from bot.telegram import TelegramBot
from tests.e2e.conftest import FAST
from tests.fakes import FakeDirectory
from tests.standin.server import BotApiStandIn
from tests.statements import StatementCounter

#: Methods that put words in front of the person (or change them).
MESSAGE_CALLS = ("sendMessage", "editMessageText", "editMessageReplyMarkup", "deleteMessage")


@dataclass
class Step:
    """What one update cost: statements and transactions to keep, handle and deliver
    it, and the Bot API calls that showed the reply."""

    what: str
    statements: dict[str, int] = field(default_factory=dict)
    transactions: dict[str, int] = field(default_factory=dict)
    #: Of those, the ones that wrote (on SQLite: took the write lock).
    writes: dict[str, int] = field(default_factory=dict)
    #: Of those, the ones whose commit survives a power cut (kept an update).
    durable: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    #: The SQL of each statement, by phase (what a count is made of).
    seen: dict[str, list[str]] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return sum(self.calls.get(m, 0) for m in MESSAGE_CALLS)


class Driven:
    def __init__(self, api: BotApiStandIn, app: App, bot: TelegramBot) -> None:
        self.api, self.app, self.bot = api, app, bot
        self.counter = StatementCounter(app.db)
        # What handling claimed for delivery in its own transaction is sent in the
        # deliver phase, not in the background while handling is still counted.
        self.claims: list[Claim] = []
        bot.delivery.send_claimed = self.claims.append  # type: ignore[method-assign]

    async def deliver(self) -> None:
        """Send what handling claimed, then whatever else is due, and wait for it."""
        for claim in self.claims:
            Delivery.send_claimed(self.bot.delivery, claim)
        self.claims.clear()
        await asyncio.gather(*self.bot.delivery.lanes.busy.values())
        while await self.bot.delivery.deliver_due():
            pass

    async def step(self, chat: int, how: str, what: str, *, lone: bool = False) -> Step:
        """The person types or taps `what`; the bot keeps, handles and answers it.
        `lone`: it is all a getUpdates brought, and goes as the receiver takes such
        an update (handled at once if it may be: `TelegramBot.received`); otherwise
        it is kept as part of a batch is, and handled from the inbox."""
        api, bot = self.api, self.bot
        if how == "type":
            update_id = api.send_text(chat, what, first_name="Alex")
        else:
            update_id = api.press(chat, what, first_name="Alex")
        update = Update.de_json(api.update(update_id), bot.api)
        calls_before = len(api.calls)
        with self.counter.counting("keep"):  # what the receiver does with what it fetched
            await (bot.received([update]) if lone else bot.keep([update]))
        with self.counter.counting("handle"):
            while await bot.inbox.drain():
                pass
        with self.counter.counting("deliver"):
            await self.deliver()
        if bot._answering:  # the tap is answered beside the reply
            await asyncio.gather(*bot._answering)
        step = Step(f"{how} {what}"[:40])
        for phase in ("keep", "handle", "deliver"):
            step.statements[phase] = self.counter.statements.pop(phase, 0)
            step.transactions[phase] = self.counter.transactions.pop(phase, 0)
            step.writes[phase] = self.counter.writes.pop(phase, 0)
            step.durable[phase] = self.counter.durable.pop(phase, 0)
        step.seen, self.counter.seen = self.counter.seen, {}
        for call in api.calls[calls_before:]:
            step.calls[call.method] = step.calls.get(call.method, 0) + 1
        return step


@asynccontextmanager
async def driven(api: BotApiStandIn, db_url: str) -> AsyncIterator[Driven]:
    settings = Settings(
        telegram_bot_token=api.token, telegram_api_url=api.base_url, database_url=db_url,
        organisation_name="Sefton Social Prescribing", response_time_text="within 2 working days",
        meaning_screen=False,
    )  # fmt: skip
    app = await build_app(settings, directory=FakeDirectory())
    bot = TelegramBot(app, limits=FAST)
    await bot.api.initialize()
    d = Driven(api, app, bot)
    try:
        with d.counter:
            yield d
    finally:
        await bot.api.shutdown()
        await app.close()
