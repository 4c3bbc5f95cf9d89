"""End-to-end: the real python-telegram-bot Application, long polling a local Bot
API stand-in on 127.0.0.1, with a real database. Nothing here mocks our code.

A test that uses `running` (or `e2e_database_url`) runs on SQLite and, when
SPBOT_TEST_POSTGRES_URL is set, again on PostgreSQL (a database of its own, see
tests/postgres.py), unless it is marked `sqlite_only` (what it shows does not
depend on the database, and running it twice would cost more than it says)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.config import Settings
from bot.delivery import Limits
from bot.store.base import utcnow
from bot.store.cases import Case, CaseEntry
from bot.store.outbox import OutboxMessage
from bot.store.updates import ProcessedUpdate
from bot.telegram import TelegramBot
from tests.fakes import FakeDirectory
from tests.postgres import POSTGRES_URL, SKIP_REASON, template
from tests.standin.server import BotApiStandIn

FAST = Limits(
    overall_per_second=1000,
    per_chat_burst=1000,
    per_chat_seconds=1,
    group_burst=1000,
    group_per_minute=60_000,
)


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        yield stand_in


class MovableClock:
    """The bot's clock: real time passing, from `start` (default: now), plus however
    far a test has moved it on. Everything in the app reads it (delivery too)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.origin = start or utcnow()
        self.began = time.monotonic()
        self.moved = timedelta()

    def __call__(self) -> datetime:
        return self.origin + timedelta(seconds=time.monotonic() - self.began) + self.moved

    def move_on(self, **delta: float) -> None:
        self.moved += timedelta(**delta)


class Running:
    """A running bot, and ways to wait until it has dealt with what a person did."""

    def __init__(self, api: BotApiStandIn, db_url: str) -> None:
        self.api = api
        self.clock = MovableClock()
        self.settings = Settings(
            telegram_bot_token=api.token, telegram_api_url=api.base_url, database_url=db_url,
            organisation_name="Sefton Social Prescribing", response_time_text="within 2 working days",
        )  # fmt: skip
        self.app: App | None = None
        self.bot: TelegramBot | None = None

    async def start(self) -> None:
        self.app = await build_app(self.settings, directory=FakeDirectory(), clock=self.clock)
        self.bot = TelegramBot(self.app, limits=FAST)
        await self.bot.start()

    async def stop(self) -> None:
        assert self.bot is not None and self.app is not None
        await self.bot.stop()
        await self.app.close()
        self.bot = self.app = None

    async def handled(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until the update is recorded as handled and the outbox is empty."""
        assert self.app is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            async with self.app.db.sessions() as s:
                done = await s.get(ProcessedUpdate, update_id)
                pending = await s.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_reason.is_(None))
                )
            if done is not None and not pending:
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"update {update_id} not handled and delivered within {timeout}s")

    async def entries_on(self, reference: str, kind: str) -> int:
        """How many entries of one kind the case has: counted, not read (reading and
        unsealing hundreds, on a busy machine, took long enough for dozens more to be
        handled between a count and what it is compared with)."""
        assert self.app is not None
        async with self.app.db.sessions() as s:
            counted = await s.scalar(
                select(func.count())
                .select_from(CaseEntry)
                .join(Case, Case.id == CaseEntry.case_id)
                .where(Case.reference == reference, CaseEntry.kind == kind)
            )
        return int(counted or 0)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "e2e_database_url" in metafunc.fixturenames:
        one = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize(
            "e2e_database_url", ["sqlite"] if one else ["sqlite", "postgresql"], indirect=True
        )


@pytest.fixture
async def e2e_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The running bot's database: a SQLite file (which the bot migrates as it
    starts), or a migrated PostgreSQL database of this test's own."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'e2e.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    async with (await template()).copy("spbot_e2e") as url:
        yield url


@pytest.fixture
async def running(api: BotApiStandIn, e2e_database_url: str) -> AsyncIterator[Running]:
    bot = Running(api, e2e_database_url)
    await bot.start()
    yield bot
    if bot.bot is not None:
        await bot.stop()
