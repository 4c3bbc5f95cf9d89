"""The outbox in the store: a chat's messages go in the order they were written,
one chat never waits for another, and an edit with nothing to change is dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.delivery import Delivery
from bot.store import Database
from bot.store.outbox import (
    CONVERSATION,
    NOTICE,
    Attempt,
    Outbox,
    OutboxMessage,
    claim,
    digest,
    due,
    record_attempts,
)
from tests.fakes import RecordingSender

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def test_each_chat_offers_only_its_oldest_unsent_message(database: Database) -> None:
    async with database.transaction() as s:
        a, b = Outbox(s, "telegram", 1, NOW), Outbox(s, "telegram", 2, NOW)
        first, second, other = a.send("a1"), a.send("a2"), b.send("b1")
        Outbox(s, "console", 1, NOW).send("elsewhere")
    async with database.reading() as s:
        assert await due(s, "telegram", NOW, 10) == [(first.id, 1), (other.id, 2)]
    async with database.transaction() as s:
        row = await s.get(OutboxMessage, first.id)
        assert row is not None
        await record_attempts(s, [(row, Attempt(sent_at=NOW, message_id=7))])
    async with database.reading() as s:
        assert await due(s, "telegram", NOW, 10) == [(second.id, 1), (other.id, 2)]


async def test_a_leased_row_is_not_offered_again_until_the_lease_ends(database: Database) -> None:
    async with database.transaction() as s:
        row = Outbox(s, "telegram", 1, NOW).send("hello")
    async with database.transaction() as s:
        assert await claim(s, "telegram", "one", NOW, LEASE, chats=10, per_chat=5) != []
    async with database.transaction() as s:  # someone has it
        assert await claim(s, "telegram", "two", NOW, LEASE, chats=10, per_chat=5) == []
    async with database.reading() as s:
        assert await due(s, "telegram", NOW + LEASE, 10) == [(row.id, 1)]  # they died


async def test_an_edit_with_nothing_to_do_is_settled_without_sending(database: Database) -> None:
    async with database.transaction() as s:
        out = Outbox(s, "telegram", 1, NOW)
        never_sent = out.send("v1")
        shown = out.send("v1")
        await s.flush()
        out.edit(never_sent, "v2", [])
        out.edit(shown, "v1", [])  # shows this already
        await s.flush()
        edits = [r.id for r in out.rows if r.action == "edit"]
    async with database.transaction() as s:
        target = await s.get(OutboxMessage, shown.id)
        lost = await s.get(OutboxMessage, never_sent.id)
        assert target is not None and lost is not None
        target.sent_at, target.message_id, target.delivered_digest = NOW, 8, digest("v1", [])
        lost.failed_reason = "never arrived"
    sender = RecordingSender()
    assert await Delivery(database, sender, "telegram").deliver_due() == len(edits)
    assert sender.edits == [] and sender.sent == []  # neither was sent for
    async with database.reading() as s:
        settled = [await s.get(OutboxMessage, e) for e in edits]
    assert all(r is not None and r.sent_at is not None for r in settled)


async def test_an_urgent_message_overtakes_notices_but_not_other_urgent_ones(
    database: Database,
) -> None:
    async with database.transaction() as s:
        team = Outbox(s, "telegram", -100, NOW)
        notices = [team.send(f"notice {n}", priority=NOTICE) for n in range(3)]
        alert = team.send("alert", urgent=True)
        second_alert = team.send("second alert", urgent=True)
        reply = Outbox(s, "telegram", 5, NOW).send("reply", priority=CONVERSATION)
    async with database.reading() as s:
        assert await due(s, "telegram", NOW, 10) == [
            (alert.id, -100), (reply.id, 5), (notices[0].id, -100)
        ]  # fmt: skip
    assert second_alert.id > alert.id  # it waits for the first alert, in order


async def test_a_long_message_becomes_parts_and_a_long_edit_is_cut_short(
    database: Database,
) -> None:
    long = "\n\n".join(f"Paragraph {n}: " + "🙂" * 900 for n in range(4))  # ~7,300 UTF-16 units
    async with database.transaction() as s:
        out = Outbox(s, "telegram", 1, NOW)
        last = out.send(long, [[{"text": "OK", "data": "1:ok"}]])
        buttons = [bool(r.payload["buttons"]) for r in out.rows]
        out.edit(last, long, [])
        rows = list(out.rows)
    sends = [r for r in rows if r.action == "send"]
    assert len(sends) >= 2 and sends[-1] is last
    assert buttons == [False] * (len(sends) - 1) + [True]  # the buttons on the last part
    assert all(len(r.payload["text"].encode("utf-16-le")) // 2 <= 4096 for r in rows)
    assert rows[-1].payload["text"].endswith("…")
