"""The inbox: updates are kept before they are confirmed, handled in order per chat,
retried when handling fails, and a message that keeps failing is given up on with
the person and the team told, so the chat's later messages still get through."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.inbox import GIVE_UP_AFTER, InboxDrain, pause
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
