"""The inbox: updates are kept before they are confirmed, handled in order per chat,
retried when handling fails, and a message that keeps failing is given up on with
the person and the team told, so the chat's later messages still get through."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.inbox import GIVE_UP_AFTER, FloodLimit, InboxDrain, MayGo, pause
from bot.staff.admin import add_worker
from bot.store import Database
from bot.store import inbox as kept

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def keep(db: Database, *updates: tuple[int, int]) -> None:
    async with db.transaction() as s:
        await kept.keep(
            s, [kept.Received(u, c, {"update_id": u, "chat": c}) for u, c in updates], NOW
        )


async def left(db: Database) -> int:
    async with db.reading() as s:
        return int(await s.scalar(select(func.count()).select_from(kept.InboxUpdate)) or 0)


async def test_a_chats_updates_are_handled_in_order_and_chats_side_by_side(
    database: Database,
) -> None:
    order: list[int] = []
    slow_chat_started = asyncio.Event()

    async def handle(update: dict[str, Any], from_worker: bool) -> None:
        if update["chat"] == 1 and update["update_id"] == 1:
            slow_chat_started.set()
            await asyncio.sleep(0.3)  # chat 1 is slow: chat 2 must not wait for it
        order.append(update["update_id"])

    await keep(database, (1, 1), (2, 1), (3, 2), (4, 2), (5, 1))
    drain = InboxDrain(database, handle, instance="test")
    while await drain.drain():
        pass
    assert order.index(3) < order.index(1)  # chat 2 went on while chat 1 was slow
    assert [u for u in order if u in (1, 2, 5)] == [1, 2, 5]
    assert [u for u in order if u in (3, 4)] == [3, 4]
    assert await left(database) == 0  # handled updates leave the inbox


async def test_a_failure_is_tried_again_later_and_nothing_is_lost(database: Database) -> None:
    clock = Clock()
    failures = [RuntimeError("database went away")] * 2
    handled: list[int] = []

    async def handle(update: dict[str, Any], from_worker: bool) -> None:
        if failures:
            raise failures.pop()
        handled.append(update["update_id"])

    await keep(database, (7, 1))
    drain = InboxDrain(database, handle, instance="test", clock=clock)
    assert await drain.drain() == 1 and handled == []
    assert await drain.drain() == 0  # not due again yet
    clock.now += pause(1)
    await drain.drain()
    clock.now += pause(2)
    await drain.drain()
    assert handled == [7] and await left(database) == 0


async def test_a_message_that_keeps_failing_is_given_up_on_once_and_the_chat_goes_on(
    database: Database,
) -> None:
    clock = Clock()
    told: list[int] = []
    handled: list[int] = []

    async def handle(update: dict[str, Any], from_worker: bool) -> None:
        if update["update_id"] == 1:
            raise ValueError("a bug")
        handled.append(update["update_id"])

    async def given_up(update: dict[str, Any]) -> None:
        told.append(update["update_id"])

    await keep(database, (1, 9), (2, 9))
    drain = InboxDrain(database, handle, instance="test", clock=clock, given_up=given_up)
    for _ in range(GIVE_UP_AFTER + 2):
        await drain.drain()
        clock.now += timedelta(minutes=10)
    assert told == [1] and handled == [2]
    async with database.reading() as s:
        failed = await s.get(kept.InboxUpdate, 1)
    assert failed is not None and failed.failed_at is not None and failed.last_error == "ValueError"


class AtOnce:
    """What the adapter hands `InboxDrain.at_once`: handling that asks `may_go`
    first in its transaction, as the patient side does, counts what it handled,
    and can be made to fail."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.calls = 0
        self.fail = False

    async def __call__(self, may_go: MayGo) -> bool:
        async with self.database.transaction() as session:
            if not await may_go(session):
                return False
            self.calls += 1
            if self.fail:
                raise RuntimeError("database went away")
        return True


async def nothing(update: dict[str, Any], from_worker: bool) -> None:
    raise AssertionError("nothing here is handled from the inbox")


async def test_a_lone_update_goes_at_once_only_when_nothing_of_its_chat_waits(
    database: Database,
) -> None:
    times: list[float] = []
    drain = InboxDrain(database, nothing, instance="test", on_handled=times.append)
    handle = AtOnce(database)
    assert await drain.at_once(1, 5, handle) and handle.calls == 1
    assert len(times) == 1  # counted as handled, as one from the inbox is
    # An update of the chat's is kept (waiting to be tried again, say): the next
    # goes behind it, in the inbox, not ahead of it.
    await keep(database, (2, 5))
    assert not await drain.at_once(3, 5, handle) and handle.calls == 1
    assert await drain.at_once(4, 6, handle)  # another chat's is not held up
    # An update being handled from the inbox: its chat's next waits for it.
    started, finish = asyncio.Event(), asyncio.Event()

    async def busy() -> None:
        started.set()
        await finish.wait()

    drain.lanes.start(7, busy())
    await started.wait()
    assert not await drain.at_once(8, 7, handle) and handle.calls == 2
    finish.set()


async def test_a_link_workers_update_is_not_handled_at_once(database: Database) -> None:
    await add_worker(database, 4000, "Sam", "link_worker", NOW)
    drain, handle = InboxDrain(database, nothing, instance="test"), AtOnce(database)
    assert not await drain.at_once(1, 4000, handle) and handle.calls == 0


async def test_a_lone_update_whose_handling_fails_is_left_to_keep(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    drain, handle = InboxDrain(database, nothing, instance="test"), AtOnce(database)
    handle.fail = True
    assert not await drain.at_once(1, 5, handle)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "kept and tried again" in warning.getMessage()
    assert "went away" not in warning.getMessage()  # never an exception's own words
    handle.fail = False
    assert await drain.at_once(2, 5, handle)  # nothing is held against the chat


async def test_a_chat_past_its_burst_waits_its_turn_in_the_inbox(database: Database) -> None:
    limit = FloodLimit(burst=3, per_second=0.001)
    drain = InboxDrain(database, nothing, instance="test", flood_limit=limit)
    handle = AtOnce(database)
    went = [await drain.at_once(n, 5, handle) for n in range(1, 6)]
    assert went == [True, True, True, False, False] and handle.calls == 3
    assert await drain.at_once(6, 9, handle)  # someone else's goes at once


async def test_a_failed_update_is_tried_again_when_due_not_at_an_idle_pass(
    database: Database,
) -> None:
    """One process alone looks for work nobody told it of only every few seconds
    (bot.lanes.IDLE_ALONE): an update whose handling failed wakes the inbox itself
    when its pause is over."""
    handled: list[float] = []
    done = asyncio.Event()
    failures = [RuntimeError("database went away")]

    async def handle(update: dict[str, Any], from_worker: bool) -> None:
        if failures:
            raise failures.pop()
        handled.append(asyncio.get_running_loop().time())
        done.set()

    await keep(database, (1, 5))
    drain = InboxDrain(database, handle, instance="test")  # (the real clock)
    began = asyncio.get_running_loop().time()
    running = asyncio.create_task(drain.run(idle_seconds=30))
    try:
        async with asyncio.timeout(10):
            await done.wait()
    finally:
        drain.stopping = True
        drain.wake.set()
        await running
        await drain.finish(5)  # its lane writes down what was handled: not left mid-write
    assert handled[0] - began < pause(1).total_seconds() + 2  # not 30 s later
