"""Resident memory of a running bot (issue 16): empty, against one with 100,000
patients stored and 10,000 of them part-way through the referral, after those
10,000 have each sent it a message. Target: growth under 50 MB (state lives in the
database; nothing is kept in memory per chat for good).

`spbot run` is its own process (tests/e2e/process.py), long polling the Bot API
stand-in; its resident memory is read from /proc (VmRSS) once it has started and
settled (each after answering a few first messages, so that the code every message
runs is loaded), and again once each half of the active chats has been answered:
memory kept per chat would grow again with the second half, where the high-water
mark of a burst (which CPython's allocator keeps) does not. The patients are made
directly in the database (core INSERTs); the conversations part-way through are
at "What matters to you right now?".

Reported, never asserted. Run with `make bench`, or alone:
`.venv/bin/pytest -q -s tests/benchmarks/test_memory_bench.py -p no:randomly`
(SQLite; PostgreSQL when SPBOT_TEST_POSTGRES_URL is set). SPBOT_BENCH_STORED and
SPBOT_BENCH_ACTIVE change the 100,000 and 10,000 (each active chat's message goes
through the whole bot: about a minute per thousand on two shared cores).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.store import Database
from bot.store.base import utcnow
from bot.store.milestones import new_journey
from bot.store.patients import Conversation, Patient
from flows.referral import ReferralControl
from tests.e2e.process import BotProcess, PollWatchingStandIn
from tests.postgres import POSTGRES_URL, template

STORED = int(os.environ.get("SPBOT_BENCH_STORED", "100000"))
ACTIVE = int(os.environ.get("SPBOT_BENCH_ACTIVE", "10000"))
FIRST_CHAT = 500_000_000
CHUNK = 5_000
WARM_UP = 20
TARGET_MB = 50.0

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    if not POSTGRES_URL:
        url = f"sqlite+aiosqlite:///{tmp_path / 'memory.sqlite3'}"
        db = Database(url)
        await db.upgrade()
        await db.close()
        yield url
        return
    async with (await template()).copy("spbot_memory") as url:
        yield url


def resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def store_patients(url: str, stored: int, active: int) -> None:
    """`stored` patients; the first `active` part-way through (at what_matters), the
    rest finished long ago."""
    db = Database(url, timeout=300)
    now = utcnow()
    try:
        for start in range(0, stored, CHUNK):
            chats = range(FIRST_CHAT + start, FIRST_CHAT + min(start + CHUNK, stored))
            async with db.transaction() as s:
                await s.execute(insert(Patient), [
                    {"channel": "telegram", "chat_id": chat, "created_at": now,
                     "journey": new_journey()} for chat in chats])  # fmt: skip
                ids = (await s.execute(select(Patient.id, Patient.chat_id)
                                       .where(Patient.chat_id.in_(list(chats))))).all()  # fmt: skip
                await s.execute(insert(Conversation), [
                    {"patient_id": pid, "flow": "referral", "step": 4, "updated_at": now,
                     "state": "what_matters" if chat < FIRST_CHAT + active else "finished",
                     "answers": {"consent": "agree", "age": "yes", "name": "Alex"},
                     "control": ReferralControl()} for pid, chat in ids])  # fmt: skip
    finally:
        await db.close()


async def settled_mb(bot: BotProcess) -> float:
    """Resident memory once it has stopped moving much (a few seconds idle)."""
    assert bot.pid is not None
    readings = []
    for _ in range(10):
        await asyncio.sleep(1.0)
        readings.append(resident_mb(bot.pid))
        if len(readings) >= 3 and max(readings[-3:]) - min(readings[-3:]) < 0.5:
            break
    return readings[-1]


async def test_memory_does_not_grow_with_patients_or_conversations(
    database_url: str, tmp_path: Path
) -> None:
    env = {"LOG_LEVEL": "WARNING", "MEANING_SCREEN": "false"}
    lines = [f"\nresident memory of `spbot run` ({database_url.split(':')[0]}):"]
    # One stand-in throughout: its update ids go on from the first bot's (a second
    # stand-in would start them again, and the bot would take them for repeats).
    async with PollWatchingStandIn() as api:
        empty = BotProcess(
            api, tmp_path / "empty", database_url=database_url, env=env, startup_timeout=180
        )
        try:
            await empty.start()
            # Warmed up as the full one will be: every code path a message takes loaded.
            warm = range(FIRST_CHAT - WARM_UP, FIRST_CHAT)
            for chat in warm:
                api.send_text(chat, "/start", first_name="Alex")
            await api.wait_for(lambda: all(api.messages_to(c) for c in warm), timeout=120)
            empty_mb = await settled_mb(empty)
            await empty.terminate(timeout=60)
        finally:
            await empty.close()
        lines.append(f"  empty (after {WARM_UP} people's first message), idle: {empty_mb:.1f} MB")

        await store_patients(database_url, STORED, ACTIVE)
        bot = BotProcess(
            api, tmp_path / "full", database_url=database_url, env=env, startup_timeout=180
        )
        try:
            await bot.start()
            stored_mb = await settled_mb(bot)
            lines.append(f"  {STORED:,} patients stored ({ACTIVE:,} part-way), idle: "
                         f"{stored_mb:.1f} MB ({stored_mb - empty_mb:+.1f})")  # fmt: skip
            # In two halves: memory kept per chat grows again with the second; the
            # high-water mark of a burst (which CPython keeps) does not.
            half = ACTIVE // 2
            for n, first in enumerate((FIRST_CHAT, FIRST_CHAT + half)):
                chats = range(first, first + half)
                for chat in chats:
                    api.send_text(chat, "I'd like to get out more", first_name="Alex")
                await api.wait_for(lambda chats=chats: all(api.messages_to(c) for c in chats),
                                   timeout=max(120.0, half))  # fmt: skip
                after_mb = await settled_mb(bot)
                lines.append(f"  after answering {(n + 1) * half:,} of them, settled: "
                             f"{after_mb:.1f} MB")  # fmt: skip
            await bot.terminate(timeout=60)
        finally:
            await bot.close()
    growth = after_mb - empty_mb
    lines.append(f"  growth {growth:+.1f} MB over the empty bot "
                 f"({'within' if growth < TARGET_MB else 'OVER'} {TARGET_MB:.0f} MB)")  # fmt: skip
    print("\n".join(lines))
