"""Two instances behind one load balancer on one PostgreSQL (issue 16).

Two `spbot run --webhook` processes share one database; the stand-in posts each
patient's updates to them in turn (alternately, as a load balancer might), one at a
time per chat as Telegram does. Every patient completes a whole referral, as a
person would: acting once the bot has answered. Afterwards: every update handled
once and in the order sent, every message sent once (none lost, none doubled).
Then a week on (made so in the database) each has a check-in due, and both
instances' housekeeping looks for due check-ins: each is sent exactly once.

SPBOT_TWO_INSTANCE_REFERRALS sets how many patients (default 8; the issue's 200
took 17 minutes on two shared cores, most of it the team chat's 200 cards going at
Telegram's 20 a minute)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.store.cases import Case, Referral
from bot.store.checkins import add_check_in
from bot.store.patients import Conversation
from tests.e2e.process import STAFF_CHAT, PollWatchingStandIn, webhook_instances
from tests.e2e.test_crash import Watch, until
from tests.e2e.test_referral_e2e import REFERRAL
from tests.e2e.test_webhook import SECRET, free_port
from tests.postgres import POSTGRES_URL, template

REFERRALS = int(os.environ.get("SPBOT_TWO_INSTANCE_REFERRALS", "8"))
#: A person waits this long for an answer before the test calls the bot stuck: 30 s,
#: and a quarter of a second more for each person talking at once. Everyone acts
#: as soon as they are answered, so the others are all in the queue ahead: two busy
#: cores answer about ten updates a second, and 200 people waited up to 35 s.
PATIENCE = 30.0 + REFERRALS / 4
#: The team chat takes at most 20 messages a minute (bot/delivery.py `Limits`): a
#: card for each referral. Waiting for it to drain ends only when nothing has been
#: sent for this long.
STALLED = 60.0

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="two instances need SPBOT_TEST_POSTGRES_URL"),
]


@pytest.fixture
async def shared_database() -> AsyncIterator[str]:
    """A migrated PostgreSQL database of its own (`spbot run` cannot choose a schema)."""
    async with (await template()).copy("spbot_two") as url:
        yield url


#: Words of the first check-in ("Hi Alex, it's a week since you were put in touch with ...").
CHECK_IN = "since you were put in touch with"


def quiet_hours_far_from_now() -> str:
    """QUIET_HOURS of one minute, twelve hours from now: check-ins may go whenever the
    test runs."""
    at = datetime.now(ZoneInfo("Europe/London")) + timedelta(hours=12)
    return f"{at:%H:%M}-{at + timedelta(minutes=1):%H:%M}"


async def check_ins_fall_due(engine: AsyncEngine) -> int:
    """Each case is referred to an activity a week ago, its first check-in due now,
    and its patient quiet for three hours (past CHECKIN_HOLD_OFF): as a link
    worker's /refer and a week would leave it. How many fell due."""
    now = datetime.now(UTC)
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        cases = list((await session.execute(select(Case))).scalars())
        for case in cases:
            referral = Referral(case_id=case.id, activity_id="walking-football",
                                activity_name="Bootle Walking Football", organisation="Bootle FC",
                                found_by="suggested", made_at=now - timedelta(days=7))  # fmt: skip
            session.add(referral)
            await session.flush()
            add_check_in(session, case, now - timedelta(minutes=1), referral_id=referral.id)
        await session.execute(update(Conversation).values(updated_at=now - timedelta(hours=3)))
    return len(cases)


async def drained(api: PollWatchingStandIn, watch: Watch) -> None:
    """Wait until no chat is owed a message, for as long as messages keep going
    (the team chat's cards go at 20 a minute: 200 referrals' take ten minutes)."""
    progress, last = time.monotonic(), -1
    while watch.owed and time.monotonic() - progress < STALLED:
        if (count := len(api.calls_to("sendMessage"))) != last:
            progress, last = time.monotonic(), count
        await asyncio.sleep(0.2)


def busiest_minute(api: PollWatchingStandIn, chat_id: int) -> int:
    """The most messages sent to a chat in any sixty seconds."""
    times = [api.answered_at[n] for n, call in enumerate(api.calls)
             if call.method == "sendMessage" and call.ok
             and int(call.params["chat_id"]) == chat_id]  # fmt: skip
    return max((sum(t <= u < t + 60 for u in times) for t in times), default=0)


async def all_see_each_other(ports: list[int]) -> bool:
    """Whether every instance's /metrics says others are running beside it."""
    async with aiohttp.ClientSession() as http:
        for port in ports:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                if "spbot_other_instances_running 1.0" not in await response.text():
                    return False
    return True


async def refer(
    api: PollWatchingStandIn, watch: Watch, chat: int, rng: random.Random, waits: list[float]
) -> list[int]:
    """One whole referral, each step once the bot has answered the last (how long
    each answer took goes in `waits`)."""
    sent: list[int] = []
    await asyncio.sleep(rng.uniform(0, 1.0))
    for how, what in REFERRAL:
        if how == "type":
            update_id = api.send_text(chat, what, first_name="Alex")
        else:
            update_id = api.press(chat, what, first_name="Alex")
        sent.append(update_id)
        asked = time.monotonic()
        await watch.until_answered(api, chat, update_id, within=PATIENCE, what=f"{how} {what!r}")
        waits.append(time.monotonic() - asked)
        await asyncio.sleep(rng.uniform(0.05, 0.2))  # reading it
    return sent


# The 200 take about 17 minutes: past the suite's 10-minute hang limit.
@pytest.mark.timeout(600 + 10 * REFERRALS)
async def test_two_instances_share_the_work_and_lose_or_double_nothing(
    shared_database: str, tmp_path: Path
) -> None:
    ports = [free_port(), free_port()]
    async with PollWatchingStandIn() as api:
        api.webhook_targets = [f"http://127.0.0.1:{port}/telegram" for port in ports]
        settings = {"WEBHOOK_URL": api.webhook_targets[0], "WEBHOOK_SECRET": SECRET,
                    "LOG_LEVEL": "WARNING", "QUIET_HOURS": quiet_hours_far_from_now(),
                    "MEANING_SCREEN": "false"}  # fmt: skip
        bots = webhook_instances(
            api, tmp_path, database_url=shared_database, ports=ports, settings=settings
        )
        watch = Watch(shared_database)
        try:
            await bots[0].cli("directory", "import", "--sample")
            for bot in bots:
                await bot.start()
            # Each knows from its heartbeat that the other is running (the first within
            # a few heartbeats), and so looks for the other's work every second.
            seeing_by = time.monotonic() + 30
            while not await all_see_each_other(ports):
                assert time.monotonic() < seeing_by, "the instances never saw each other"
                await asyncio.sleep(0.5)
            watch.start()
            rng = random.Random(16)
            chats = [8001 + n for n in range(REFERRALS)]
            began = time.monotonic()
            waits: list[float] = []
            sent = await asyncio.gather(
                *(refer(api, watch, chat, random.Random(rng.random()), waits) for chat in chats)
            )
            took = time.monotonic() - began
            # The team chat's cards go at most 20 a minute: let them all go.
            await drained(api, watch)

            # A week on, each has a check-in due: both instances' housekeeping looks.
            due = await check_ins_fall_due(watch.engine)
            assert due == REFERRALS

            def checked_in() -> int:
                return sum(any(CHECK_IN in m.plain_text for m in api.messages_to(chat))
                           for chat in chats)  # fmt: skip

            await until(lambda: checked_in() == REFERRALS, timeout=120)
            await drained(api, watch)
            for bot in bots:
                assert await bot.terminate(timeout=15) == 0, bot.log_tail()
            await watch.stop()

            handled = await watch.handled_in_order()
            async with watch.engine.connect() as conn:
                sends = (await conn.execute(text(
                    "SELECT chat_id, count(*), count(sent_at), count(DISTINCT message_id) "
                    "FROM outbox WHERE action = 'send' GROUP BY chat_id"
                ))).all()  # fmt: skip
            posted_to = {url for _, url, status in api.webhook_posts if status == 200}
            waits.sort()
            print(f"\n{REFERRALS} referrals through two instances in {took:.1f}s; "
                  f"{len(handled)} updates handled; each answered in (p50 / p99 / max) "
                  f"{waits[len(waits) // 2]:.1f} / {waits[len(waits) * 99 // 100]:.1f} / "
                  f"{waits[-1]:.1f} s")  # fmt: skip

            assert posted_to == set(api.webhook_targets), "one instance took every update"
            everything = [u for chat_sent in sent for u in chat_sent]
            assert sorted(handled) == sorted(everything), "an update lost or handled twice"
            for chat, chat_sent in zip(chats, sent, strict=True):
                assert [u for u in handled if u in set(chat_sent)] == chat_sent, (
                    f"chat {chat}'s updates were handled out of order"
                )
                assert any("Your reference is SP-" in m.plain_text for m in api.messages_to(chat))
            delivered: dict[int, int] = {}
            for call in api.calls_to("sendMessage"):
                if call.ok:
                    chat_id = int(call.params["chat_id"])
                    delivered[chat_id] = delivered.get(chat_id, 0) + 1
            for chat_id, rows, sent_rows, message_ids in sends:
                assert rows == sent_rows, f"chat {chat_id}: a message not sent"
                # (A question asked in the place of the one just answered is the
                # same Telegram message: messages are counted by their ids.)
                assert delivered.get(chat_id, 0) == message_ids, (
                    f"chat {chat_id}: {delivered.get(chat_id, 0)} messages arrived for "
                    f"{message_ids} written (doubled or lost)"
                )
            async with watch.engine.connect() as conn:
                statuses = (await conn.execute(text("SELECT status FROM check_in"))).scalars()
            assert sorted(statuses) == ["sent"] * REFERRALS
            for chat in chats:
                arrived = [m for m in api.messages_to(chat) if CHECK_IN in m.plain_text]
                assert len(arrived) == 1, f"chat {chat}: {len(arrived)} check-ins arrived"
            print(f"check-ins: {due} due, {checked_in()} chats got theirs once; the team "
                  f"chat's busiest minute: {busiest_minute(api, STAFF_CHAT)} messages")  # fmt: skip
            api.assert_clean()
        finally:
            for bot in bots:
                await bot.close()
            await watch.close()
