"""Delivery drains the outbox: in order per chat, edits to the right message,
waiting when Telegram says so, never giving up on a crisis reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery import (
    DEFAULT_LIMITS,
    GROUP_KEPT_FOR_URGENT,
    MAX_ATTEMPTS,
    Blocked,
    ChatBuckets,
    Claim,
    Delivery,
    RetryLater,
    Undeliverable,
)
from bot.store import Database
from bot.store.base import utcnow
from bot.store.outbox import Outbox, OutboxMessage, claim
from bot.store.patients import Patient
from tests.fakes import FAST, RecordingSender
from tests.patients.helpers import Chat
from tests.staff.helpers import SAM_ID, TEAM, team

TEAM_CHAT = -100200300


async def test_delivery_sends_in_order_and_edits_the_right_message(database: Database) -> None:
    chat = Chat(database, reads=False)
    await chat.send("/start")
    await chat.tap("agree_adult")  # the consent question is long: it is closed, not replaced
    assert await chat.state() == "name"
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    while await delivery.deliver_due():
        pass
    assert sender.sent[0][1].startswith("Hello.")  # the welcome, above the consent question
    assert len(sender.edits) == 1 and sender.edits[0][1] == 1  # the consent question, closed
    assert "call you" in sender.sent[1][1]  # then the name question, after it
    assert await delivery.deliver_due() == 0  # nothing is sent twice


async def test_delivery_waits_when_telegram_says_slow_down(database: Database) -> None:
    chat = Chat(database, reads=False)
    await chat.send("/help")
    sender = RecordingSender([RetryLater(30, "429")])
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    assert await delivery.deliver_due() == 1
    assert await delivery.deliver_due() == 0  # not due again for 30 seconds
    async with database.sessions() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
    assert row.sent_at is None and row.attempts == 1 and row.failed_reason is None


async def test_a_patient_who_blocked_the_bot_is_marked_not_retried(database: Database) -> None:
    chat = Chat(database, reads=False)
    await chat.walk_to("age")
    sender = RecordingSender([Blocked()])
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    await delivery.deliver_due()
    async with database.sessions() as s:
        patient = (await s.execute(select(Patient))).scalar_one()
        failed = (
            (await s.execute(select(OutboxMessage).where(OutboxMessage.failed_reason.is_not(None))))
            .scalars()
            .all()
        )
    assert patient.blocked_at is not None and len(failed) == 1


async def test_a_refused_message_does_not_hold_up_the_next(database: Database) -> None:
    chat = Chat(database, reads=False)
    await chat.walk_to("age")
    sender = RecordingSender([Undeliverable("Bad Request: can't parse entities")])
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    while await delivery.deliver_due():
        pass
    assert len(sender.sent) >= 1  # the consent question still went


async def test_a_team_chat_the_bot_was_removed_from_keeps_being_retried(database: Database) -> None:
    async with database.transaction() as session:
        Outbox(session, "telegram", -100555, utcnow()).send("alert")
    delivery = Delivery(database, RecordingSender([Blocked()]), "telegram", limits=FAST)
    await delivery.deliver_due()
    async with database.sessions() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
    assert row.failed_reason is None and row.sent_at is None  # not dropped as "blocked"


async def test_an_edit_that_changes_nothing_is_not_sent(database: Database) -> None:
    async with database.transaction() as session:
        outbox = Outbox(session, "telegram", 77, utcnow())
        card = outbox.send("card v1")
        await session.flush()
        outbox.edit(card, "card v2", [])  # changed again before it was ever sent
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    while await delivery.deliver_due():
        pass
    assert [t for _, t, _ in sender.sent] == ["card v2"]
    assert sender.edits == []  # Telegram would refuse it: "message is not modified"
    async with database.transaction() as session:
        row = await session.get(OutboxMessage, card.id)
        assert row is not None
        Outbox(session, "telegram", 77, utcnow()).edit(row, "card v3", [])
    while await delivery.deliver_due():
        pass
    assert [t for _, _, t in sender.edits] == ["card v3"]


async def test_a_crisis_reply_is_never_given_up_on(database: Database) -> None:
    async with database.transaction() as session:
        Outbox(session, "telegram", 88, utcnow()).send("call 999", urgent=True)
        Outbox(session, "telegram", 89, utcnow()).send("ordinary")
    clock = [utcnow()]
    failures = [RetryLater(1, "network") for _ in range(2 * MAX_ATTEMPTS + 2)]
    delivery = Delivery(
        database, RecordingSender(failures), "telegram", limits=FAST, clock=lambda: clock[0]
    )
    for _ in range(MAX_ATTEMPTS + 2):
        await delivery.deliver_due()
        clock[0] += timedelta(minutes=10)
    async with database.sessions() as s:
        rows = {r.chat_id: r for r in (await s.execute(select(OutboxMessage))).scalars()}
    assert rows[89].failed_reason is not None  # an ordinary message is given up on
    assert (
        rows[88].failed_reason is None and rows[88].attempts > MAX_ATTEMPTS
    )  # a crisis reply is not


# --- Within Telegram's limits, and nothing waiting for no reason (issue 16) -------------


class LooksThenCommits(Database):
    """A database on which, once armed, a row is written to the outbox (and delivery
    woken, as the adapter does after each update) just after delivery has looked for
    due rows and before its pass ends: the moment a wake-up can be lost."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.armed: Delivery | None = None

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with super().reading() as session:
            yield session
        await self._after_a_look()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """(Delivery claims due rows in a transaction: that is its look.)"""
        async with super().transaction() as session:
            yield session
        await self._after_a_look()

    async def _after_a_look(self) -> None:
        if (delivery := self.armed) is not None:
            self.armed = None
            async with super().transaction() as session:
                Outbox(session, "telegram", 31, utcnow()).send("a reply")
            delivery.wake.set()


async def test_a_message_written_while_delivery_looks_is_sent_at_once(tmp_path: Path) -> None:
    db = LooksThenCommits(f"sqlite+aiosqlite:///{tmp_path / 'wake.sqlite3'}")
    await db.upgrade()
    sender = RecordingSender()
    delivery = Delivery(db, sender, "telegram", limits=FAST)
    running = asyncio.create_task(delivery.run(idle_seconds=30))
    try:
        await asyncio.sleep(0.2)  # an empty pass, then waiting for a wake-up
        db.armed = delivery
        delivery.wake.set()  # something else wakes it; while it looks, the reply is written
        for _ in range(100):
            if sender.sent:
                break
            await asyncio.sleep(0.05)
        assert [text for _, text, _ in sender.sent] == ["a reply"], (
            "a message written while delivery was looking waited for the next tick"
        )
    finally:
        delivery.stopping = True
        delivery.wake.set()
        await running
        await db.close()


class HeldSender(RecordingSender):
    """Sends that wait until let go (a slow round trip to Telegram)."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()
        self.go = asyncio.Event()

    async def send(self, chat_id: int, text: str, buttons: Any) -> Any:
        self.sending.set()
        await self.go.wait()
        return await super().send(chat_id, text, buttons)


async def test_what_another_instance_wrote_for_a_chat_being_sent_to_goes_after_it(
    database: Database,
) -> None:
    """While other instances share the database, one of them may write a message for
    a chat this one is sending to: it waits for this one's send (a chat's messages
    go in order) and goes the moment that send ends, not at the next idle pass."""
    async with database.transaction() as session:
        Outbox(session, "telegram", 61, utcnow()).send("first")
    sender = HeldSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    delivery.sharing = True  # (the heartbeat saw another instance)
    running = asyncio.create_task(delivery.run(idle_seconds=30))
    try:
        async with asyncio.timeout(5):
            await sender.sending.wait()
        async with database.transaction() as session:  # the other instance's, unannounced
            Outbox(session, "telegram", 61, utcnow()).send("second")
        sender.go.set()
        for _ in range(100):
            if len(sender.sent) == 2:
                break
            await asyncio.sleep(0.05)
        assert [text for _, text, _ in sender.sent] == ["first", "second"]
    finally:
        delivery.stopping = True
        delivery.wake.set()
        await running
        await delivery.finish(5)


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_chat_gets_a_short_burst_at_once_then_one_a_second() -> None:
    clock = Ticking()
    buckets = ChatBuckets(DEFAULT_LIMITS, clock)
    for _ in range(3):  # a three-message reply: no waiting
        assert buckets.wait(42) == 0
        buckets.spend(42)
    assert buckets.wait(42) == pytest.approx(1.0)  # the fourth: a second later
    assert buckets.wait(43) == 0  # nobody else waits for chat 42
    clock.now += 1.0
    assert buckets.wait(42) == 0


def test_the_last_of_a_groups_burst_is_kept_for_a_safety_alert() -> None:
    """Notices in the team chat leave one message of its burst unspent: a safety
    alert that follows them goes at once, not when the minute earns one back."""
    clock = Ticking()
    buckets = ChatBuckets(DEFAULT_LIMITS, clock)
    keep = GROUP_KEPT_FOR_URGENT
    while buckets.wait(TEAM_CHAT, keep=keep) == 0:  # a run of ordinary notices
        buckets.spend(TEAM_CHAT)
    assert buckets.wait(TEAM_CHAT, keep=keep) > 2  # the next notice waits
    assert buckets.wait(TEAM_CHAT) == 0  # an alert does not


def test_a_group_never_gets_more_than_twenty_in_a_minute() -> None:
    clock = Ticking()
    buckets = ChatBuckets(DEFAULT_LIMITS, clock)
    sent: list[float] = []
    while clock.now < 1000.0 + 300:
        if (seconds := buckets.wait(TEAM_CHAT)) > 0:
            clock.now += seconds
            continue
        buckets.spend(TEAM_CHAT)
        sent.append(clock.now)
    assert sent[:3] == [1000.0] * 3  # an alert and its cards: at once
    most = max(sum(1 for t in sent if start <= t < start + 60) for start in sent)
    assert most <= 20


def test_a_quiet_chat_is_forgotten() -> None:
    clock = Ticking()
    buckets = ChatBuckets(DEFAULT_LIMITS, clock)
    for chat in range(1, 10_001):
        buckets.spend(chat)
    assert len(buckets.used) == 10_000
    clock.now += 0.5  # not yet full again
    buckets.forget_idle()
    assert len(buckets.used) == 10_000
    clock.now += 0.5  # a second: every bucket is full again
    buckets.forget_idle()
    assert buckets.used == {}


async def test_a_postponed_message_goes_when_telegram_said_not_a_tick_later(
    database: Database,
) -> None:
    async with database.transaction() as session:
        Outbox(session, "telegram", 51, utcnow()).send("hello")
    sender = RecordingSender([RetryLater(0.3, "429")])
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    running = asyncio.create_task(delivery.run(idle_seconds=30))
    try:
        for _ in range(100):
            if sender.sent:
                break
            await asyncio.sleep(0.05)
        assert [text for _, text, _ in sender.sent] == ["hello"]
    finally:
        delivery.stopping = True
        delivery.wake.set()
        await running


async def test_a_patient_who_blocks_the_bot_their_link_worker_is_told_once(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await t.referred_patient(42)
    await t.tap(SAM_ID, "claim", case.reference)
    before = await t.last_id()
    sender = RecordingSender([Blocked(), Blocked()])
    delivery = Delivery(database, sender, "telegram", limits=FAST, clock=t.clock,
                        on_blocked=t.patients.listener.patient_blocked)  # fmt: skip
    async with database.transaction() as session:
        Outbox(session, "telegram", 42, t.clock()).send("one")
        Outbox(session, "telegram", 42, t.clock()).send("two")
    for _ in range(4):
        await delivery.deliver_due()
    told = [text for text in await t.said(SAM_ID, before) if "blocked the bot" in text]
    assert len(told) == 1 and case.reference in told[0]
    assert not [text for text in await t.said(TEAM, before) if "blocked the bot" in text]


async def test_bringing_a_team_card_up_to_date_does_not_use_up_the_groups_allowance(
    database: Database,
) -> None:
    async with database.transaction() as session:
        card = Outbox(session, "telegram", TEAM_CHAT, utcnow()).send("card v1")
    delivery = Delivery(database, RecordingSender(), "telegram")  # Telegram's own limits
    await delivery.deliver_due()
    for version in range(2, 7):
        async with database.transaction() as session:
            row = await session.get(OutboxMessage, card.id)
            assert row is not None
            Outbox(session, "telegram", TEAM_CHAT, utcnow()).edit(row, f"card v{version}", [])
        await delivery.deliver_due()
    assert delivery.per_chat.left(TEAM_CHAT) >= 1.9  # one message's worth spent, not six


async def lanes_done(delivery: Delivery) -> None:
    await asyncio.gather(*delivery.lanes.busy.values())


async def written_and_claimed(
    database: Database, delivery: Delivery, *messages: tuple[int, str]
) -> Claim | None:
    """Messages written in one transaction, and claimed in it (as a patient's reply is)."""
    async with database.transaction() as session:
        for chat, text in messages:
            Outbox(session, "telegram", chat, utcnow()).send(text)
        await session.flush()
        return await delivery.claim_in(session)


async def test_a_reply_claimed_in_the_transaction_that_wrote_it_goes_once(
    database: Database,
) -> None:
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    claim = await written_and_claimed(
        database, delivery, (77, "the reply"), (TEAM_CHAT, "what it told the team")
    )
    assert claim is not None and set(claim.by_chat) == {77, TEAM_CHAT}
    assert await delivery.deliver_due() == 0  # leased: a pass takes none of it
    delivery.send_claimed(claim)
    await lanes_done(delivery)
    assert sorted(t for _, t, _ in sender.sent) == ["the reply", "what it told the team"]
    assert await delivery.deliver_due() == 0  # sent, and written down: never twice
    async with database.reading() as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
    assert all(r.sent_at is not None and r.leased_by is None for r in rows)


async def test_a_claim_in_a_transaction_rolled_back_holds_nothing(database: Database) -> None:
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    async with database.transaction() as session:
        Outbox(session, "telegram", 77, utcnow()).send("the welcome")
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            Outbox(session, "telegram", 77, utcnow()).send("never written")
            await session.flush()
            await delivery.claim_in(session)
            raise RuntimeError("the handling failed after all")
    # The claim went with its transaction: the row written before is not held by it.
    assert await delivery.deliver_due() == 1 and [t for _, t, _ in sender.sent] == ["the welcome"]


async def test_a_chat_being_sent_to_is_not_claimed_from_under_its_lane(database: Database) -> None:
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    finish = asyncio.Event()

    async def sending() -> None:
        await finish.wait()

    delivery.lanes.start(77, sending())
    claim = await written_and_claimed(database, delivery, (77, "behind what is being sent"))
    assert claim is not None and claim.by_chat == {}
    assert 77 in delivery.behind  # its lane's end looks again
    finish.set()
    await lanes_done(delivery)
    assert await delivery.deliver_due() == 1 and len(sender.sent) == 1


async def test_a_claim_under_way_elsewhere_is_not_waited_for(database: Database) -> None:
    """On PostgreSQL claims are taken one at a time. A patient's transaction that
    finds another under way (another instance's pass) does not wait for it, holding
    the patient's locks: it leaves its reply to delivery's own pass, which sends it."""
    if not database.locks_rows:
        pytest.skip("SQLite has one writer at a time: no claim is ever under way beside it")
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    async with database.transaction() as elsewhere:
        await claim(elsewhere, "telegram", "other", utcnow(), timedelta(seconds=60),
                    chats=10, per_chat=3)  # fmt: skip
        async with asyncio.timeout(5):
            claim_here = await written_and_claimed(database, delivery, (77, "the reply"))
        assert claim_here is None
    assert await delivery.deliver_due() == 1 and [t for _, t, _ in sender.sent] == ["the reply"]


async def test_a_claim_whose_chat_began_sending_meanwhile_goes_after_it(
    database: Database,
) -> None:
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    claim = await written_and_claimed(database, delivery, (77, "the reply"))
    assert claim is not None and list(claim.by_chat) == [77]
    # Before it is sent, delivery's pass starts the chat's lane (an alert written
    # since, which overtakes the reply).
    finish = asyncio.Event()

    async def the_alert() -> None:
        await finish.wait()

    delivery.lanes.start(77, the_alert())
    delivery.send_claimed(claim)
    assert 77 in delivery.behind  # its lane's end looks again
    finish.set()
    await lanes_done(delivery)
    await delivery.marks.writer  # the claim let go, written down
    assert await delivery.deliver_due() == 1 and [t for _, t, _ in sender.sent] == ["the reply"]
