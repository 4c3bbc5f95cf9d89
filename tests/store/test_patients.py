"""Finding the patient who writes: someone new is created in their first message's
transaction, and what handling sees of them is what is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from bot.store import Database
from bot.store.patients import Patient, find_patient, patient_for_update

NOW = datetime(2026, 12, 4, 21, 0, tzinfo=UTC)


async def test_someone_new_is_held_as_stored_and_changes_to_them_are_kept(
    database: Database,
) -> None:
    async with database.transaction() as session:
        writing = await patient_for_update(session, "telegram", 501, NOW)
        assert writing.first_message
        new = writing.patient
        # Every column is there to read: nothing is left for a lazy load, which
        # an async session cannot do.
        assert not inspect(new).unloaded - {"conversation"}
        seen = {c: getattr(new, c) for c in ("id", "channel", "chat_id", "created_at",
                                             "blocked_at", "erase_requested_at", "journey")}  # fmt: skip
        # A change in the same transaction is written (they blocked the bot, say).
        new.blocked_at = NOW + timedelta(seconds=1)
    async with database.reading() as session:
        stored = await find_patient(session, "telegram", 501)
        assert stored is not None
        assert {c: getattr(stored, c) for c in seen} == {
            **seen,
            "blocked_at": NOW + timedelta(seconds=1),
        }
    async with database.transaction() as session:
        again = await patient_for_update(session, "telegram", 501, NOW + timedelta(minutes=1))
        assert not again.first_message
        assert again.patient.id == seen["id"]
        assert isinstance(again.patient, Patient)
