"""A bot process that dies lets go of what it held within seconds: the messages it
was sending and the updates it was handling are taken up by whoever is alive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import Database
from bot.store import inbox as kept
from bot.store.instances import beat, others_running, register, release_the_dead
from bot.store.outbox import Outbox, claim, due

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
MINUTE = timedelta(seconds=60)


async def test_what_a_silent_instance_held_is_let_go(database: Database) -> None:
    async with database.transaction() as s:
        await register(s, "dead", "host-a", 1, NOW)
        await register(s, "alive", "host-b", 2, NOW)
        message = Outbox(s, "telegram", 5, NOW).send("Are you 18 or over?")
        await kept.keep(s, [kept.Received(77, 5, {"update_id": 77})], NOW)
    async with database.transaction() as s:
        claimed = await claim(s, "telegram", "dead", NOW, MINUTE, chats=1, per_chat=1)
        assert [c.row.id for c in claimed] == [message.id]
        assert await kept.lease(s, 77, "dead", NOW, MINUTE) is not None
    later = NOW + timedelta(seconds=12)
    async with database.transaction() as s:
        await beat(s, "alive", later)
        released = await release_the_dead(s, "alive", later, timedelta(seconds=10))
    assert released == 2
    async with database.reading() as s:
        assert await due(s, "telegram", later, 10) == [(message.id, 5)]  # not a minute later
        assert [(d.update_id, d.chat_id) for d in await kept.due(s, later, 10)] == [(77, 5)]


async def test_an_instance_still_beating_keeps_what_it_holds(database: Database) -> None:
    async with database.transaction() as s:
        await register(s, "busy", "host-a", 1, NOW)
        message = Outbox(s, "telegram", 5, NOW).send("hello")
    async with database.transaction() as s:
        claimed = await claim(s, "telegram", "busy", NOW, MINUTE, chats=1, per_chat=1)
        assert [c.row.id for c in claimed] == [message.id]
    later = NOW + timedelta(seconds=12)
    async with database.transaction() as s:
        await beat(s, "busy", later)
        assert await release_the_dead(s, "me", later, timedelta(seconds=10)) == 0
    async with database.reading() as s:
        assert await due(s, "telegram", later, 10) == []


async def test_on_sqlite_a_new_start_lets_go_of_everything_else(database: Database) -> None:
    """One process runs the bot on SQLite: whatever another instance holds, it held
    before this process started, so it is dead."""
    async with database.transaction() as s:
        await register(s, "before", "host", 1, NOW)
        message = Outbox(s, "telegram", 5, NOW).send("hello")
    async with database.transaction() as s:
        claimed = await claim(s, "telegram", "before", NOW, MINUTE, chats=1, per_chat=1)
        assert [c.row.id for c in claimed] == [message.id]
    async with database.transaction() as s:
        assert await release_the_dead(s, "now", NOW, None) == 1


async def test_an_instance_knows_whether_others_are_running(database: Database) -> None:
    """Alone, an instance is told of nearly all the work as it happens; while others
    run beside it, it looks for theirs more often (bot.lanes.idle_seconds)."""
    async with database.transaction() as s:
        await register(s, "me", "host-a", 1, NOW)
        assert not await others_running(s, "me", NOW, timedelta(seconds=10))
        await register(s, "other", "host-b", 2, NOW)
        assert await others_running(s, "me", NOW, timedelta(seconds=10))
    later = NOW + timedelta(seconds=12)
    async with database.transaction() as s:
        await beat(s, "me", later)  # the other has stopped beating: it is gone
        assert not await others_running(s, "me", later, timedelta(seconds=10))
        assert await others_running(s, "other", later, timedelta(seconds=10))
