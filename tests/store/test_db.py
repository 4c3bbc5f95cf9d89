"""Transactions as the store relies on them, through the driver it uses: work that
reads and then writes is never interleaved with another's, and a transaction that
fails leaves nothing behind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.store import Database
from bot.store.patients import Conversation, Patient

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def test_read_then_write_transactions_at_once_lose_nothing(database: Database) -> None:
    """Twenty messages handled at once, each moving one conversation on a step (as
    handling does: read it, locked on PostgreSQL, then write it): all twenty count."""
    async with database.transaction() as s:
        patient = Patient(channel="telegram", chat_id=7, created_at=NOW)
        patient.conversation = Conversation(state="new", step=0, updated_at=NOW)
        s.add(patient)
        await s.flush()
        patient_id = patient.id

    async def one_step() -> None:
        async with database.transaction() as s:
            query = select(Conversation).where(Conversation.patient_id == patient_id)
            if database.locks_rows:
                query = query.with_for_update()
            conversation = (await s.execute(query)).scalar_one()
            await asyncio.sleep(0)  # another task's transaction may try to begin now
            conversation.step += 1

    await asyncio.gather(*(one_step() for _ in range(20)))
    async with database.reading() as s:
        assert await s.scalar(select(Conversation.step)) == 20


async def test_a_transaction_that_fails_leaves_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as s:
            s.add(Patient(channel="telegram", chat_id=8, created_at=NOW))
            await s.flush()  # written, inside the transaction
            raise RuntimeError("a fault halfway through handling")
    async with database.transaction() as s:
        pass  # a transaction with nothing in it begins and ends
    async with database.reading() as s:
        assert await s.scalar(select(func.count()).select_from(Patient)) == 0
