"""The heartbeat (issue 16): every two seconds an instance on PostgreSQL says it is
alive, so that others know it runs and, when it dies, let go of what it held within
seconds. On SQLite one process runs the bot and nobody reads a heartbeat: there it
writes nothing (it took SQLite's write lock every two seconds, which a patient's
answer then waited behind)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.store import instances
from bot.store.instances import BotInstance
from bot.store.outbox import Outbox, claim
from tests.e2e.driven import driven
from tests.standin.server import BotApiStandIn

NOW = datetime.now(UTC)


async def test_a_heartbeat_says_the_instance_is_alive_in_one_statement(
    api: BotApiStandIn, e2e_database_url: str
) -> None:
    async with driven(api, e2e_database_url) as d:
        me = d.bot.instance
        async with d.app.db.transaction() as s:
            await instances.register(s, me, "host-a", 1, NOW)
        later = NOW + timedelta(seconds=2)
        with d.counter.counting("beat"):
            await d.bot._beat(1, later)
        async with d.app.db.reading() as s:
            seen_at = await s.scalar(select(BotInstance.seen_at).where(BotInstance.id == me))
        if d.app.db.is_sqlite:
            assert d.counter.statements["beat"] == 0
            assert seen_at == NOW
        else:
            assert seen_at == later
            # No BEGIN or COMMIT around it: two trips to the database fewer.
            assert (d.counter.statements["beat"], d.counter.transactions["beat"]) == (1, 0)


async def test_every_fifth_heartbeat_lets_go_of_what_a_dead_instance_held(
    api: BotApiStandIn, e2e_database_url: str
) -> None:
    if e2e_database_url.startswith("sqlite"):
        pytest.skip(
            "on SQLite start-up lets go of what any other held (tests/store/test_instances.py)"
        )
    async with driven(api, e2e_database_url) as d:
        me = d.bot.instance
        async with d.app.db.transaction() as s:
            await instances.register(s, "dead", "host-b", 2, NOW)
            await instances.register(s, me, "host-a", 1, NOW)
            message = Outbox(s, "telegram", 5, NOW).send("Are you 18 or over?")
        async with d.app.db.transaction() as s:
            claimed = await claim(s, "telegram", "dead", NOW, timedelta(minutes=1), chats=1,
                                  per_chat=1)  # fmt: skip
            assert [c.row.id for c in claimed] == [message.id]
        d.bot.delivery.wake.clear()
        later = NOW + timedelta(seconds=12)
        for tick in range(1, 6):
            await d.bot._beat(tick, later)
            if tick == 4:
                assert not d.bot.delivery.wake.is_set()  # only at the fifth
        assert d.bot.delivery.wake.is_set()  # what it held is this one's to send now
        async with d.app.db.reading() as s:
            assert await s.scalar(select(BotInstance.id).where(BotInstance.id == "dead")) is None
