"""Delivery drains the outbox: in order per chat, edits to the right message,
waiting when Telegram says so, never giving up on a crisis reply."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.delivery import MAX_ATTEMPTS, Blocked, Delivery, RetryLater, Undeliverable
from bot.store import Database
from bot.store.base import utcnow
from bot.store.outbox import Outbox, OutboxMessage
from bot.store.patients import Patient
from tests.fakes import FAST, RecordingSender
from tests.patients.helpers import Chat


async def test_delivery_sends_in_order_and_edits_the_right_message(database: Database) -> None:
    chat = Chat(database, reads=False)
    await chat.walk_to("age")
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    while await delivery.deliver_due():
        pass
    assert sender.sent[0][1].startswith("Hello Alex")
    assert len(sender.edits) == 1 and sender.edits[0][1] == 2  # the consent question, closed
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
