"""Nothing is kept in memory for good per chat (issue 16): a bot that has talked with
a million people remembers, in memory, only the few it is busy with now. Ten
thousand chats each handled and answered once leave nothing behind once their
pace has recovered: no rate-limit bucket, no lane, no attempt waiting to be
written down."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from sqlalchemy import func, select

from bot.delivery import DEFAULT_LIMITS, Delivery
from bot.inbox import Budgets, FloodLimit, InboxDrain
from bot.store import Database
from bot.store.base import utcnow
from bot.store.outbox import Outbox, OutboxMessage
from tests.fakes import RecordingSender

CHATS = 10_000


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ten_thousand_chats_handled_once_leave_no_pace_behind() -> None:
    clock = Ticking()
    budgets = Budgets(FloodLimit(), clock)
    for chat in range(1, CHATS + 1):
        budgets.spend(chat)  # each chat's update, handled
        budgets.told[chat] = clock.now  # (as if each had been told it is flooding)
    assert len(budgets.used) == CHATS
    clock.now += 0.1
    budgets.forget_idle()
    assert len(budgets.used) == CHATS  # their burst is not back yet
    clock.now += FloodLimit().tell_again_after + 1
    budgets.forget_idle()
    assert budgets.used == {} and budgets.told == {}


async def test_an_inbox_pass_forgets_chats_whose_pace_has_recovered(database: Database) -> None:
    async def handle(payload: dict[str, object], from_worker: bool) -> bool:
        return False

    drain = InboxDrain(database, handle, instance="test")
    clock = Ticking()
    drain.budgets.clock = clock
    for chat in range(1, CHATS + 1):
        drain.budgets.spend(chat)
    clock.now += 60
    running = asyncio.create_task(drain.run(idle_seconds=0.01))
    await asyncio.sleep(0.1)  # a pass or two
    drain.stopping = True
    drain.wake.set()
    await running
    assert drain.budgets.used == {}
    assert drain.lanes.busy == {}


async def test_ten_thousand_chats_answered_once_leave_nothing_in_delivery(
    database: Database,
) -> None:
    async with database.transaction() as session:
        for chat in range(1, CHATS + 1):
            Outbox(session, "telegram", chat, utcnow()).send("Hello")
    sender = RecordingSender()
    # Each chat's own pace as in production; the overall 30 a second lifted (the
    # test is about what is remembered, not about waiting for it).
    limits = replace(DEFAULT_LIMITS, overall_per_second=1_000_000)
    delivery = Delivery(database, sender, "telegram", limits=limits)
    clock = Ticking()
    delivery.per_chat.clock = clock
    while await delivery.deliver_due(batch=500):
        pass
    assert len(sender.sent) == CHATS
    async with database.reading() as session:
        unsent = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
    assert unsent == 0
    clock.now += DEFAULT_LIMITS.per_chat_seconds + 1  # every bucket full again
    delivery.per_chat.forget_idle()
    assert delivery.per_chat.used == {}
    assert delivery.lanes.busy == {}
    assert not delivery.marks.attempts and not delivery.marks.waiting
