"""Handled updates: each is recorded once, in the transaction that handles it (which
also takes it out of the inbox), and the record is kept a week, not for ever."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bot.store import Database
from bot.store import inbox as kept
from bot.store.patients import Patient
from bot.store.updates import ProcessedUpdate, first_delivery, forget_before

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def test_an_update_is_handled_once_and_leaves_the_inbox(database: Database) -> None:
    async with database.transaction() as s:
        await kept.keep(s, [kept.Received(5, 1, {"update_id": 5})], NOW)
    async with database.transaction() as s:
        assert await first_delivery(s, 5, NOW) is True
    async with database.transaction() as s:
        assert await first_delivery(s, 5, NOW) is False  # a redelivery
    async with database.reading() as s:
        assert await kept.still_kept(s, 5) is False


async def test_records_of_handled_updates_are_kept_a_week(database: Database) -> None:
    async with database.transaction() as s:
        await first_delivery(s, 1, NOW - timedelta(days=8))
        await first_delivery(s, 2, NOW - timedelta(days=1))
    async with database.transaction() as s:
        assert await forget_before(s, NOW - timedelta(days=7)) == 1
    async with database.reading() as s:
        assert await s.get(ProcessedUpdate, 1) is None and await s.get(ProcessedUpdate, 2)


async def test_a_database_error_never_quotes_what_was_written(database: Database) -> None:
    """An error's text goes to logs: it must not carry the values of the statement,
    which are what patients wrote."""
    async with database.transaction() as s:
        s.add(Patient(channel="Marmaduke", chat_id=7, created_at=NOW))
    with pytest.raises(IntegrityError) as raised:
        async with database.transaction() as s:
            s.add(Patient(channel="Marmaduke", chat_id=7, created_at=NOW))
    assert "Marmaduke" not in str(raised.value)
