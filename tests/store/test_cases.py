"""Cases in the store: references people can read aloud, the queue's order, and
the compare-and-set that makes one of two workers win."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store import Database
from bot.store.cases import (
    REFERENCE_ALPHABET,
    Case,
    move_case,
    normalise_reference,
    open_case,
    waiting_counts,
    waiting_page,
)
from bot.store.patients import Patient
from flows.summary import CaseSummary

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def cases(db: Database, n: int) -> list[Case]:
    async with db.transaction() as s:
        opened = []
        for i in range(n):
            patient = Patient(channel="telegram", chat_id=500 + i, created_at=NOW)
            s.add(patient)
            await s.flush()
            opened.append(await open_case(s, patient.id, CaseSummary(), NOW + timedelta(minutes=i)))
        return opened


def test_references_are_read_aloud_safely_and_typed_loosely() -> None:
    assert not set("01IO") & set(REFERENCE_ALPHABET)
    for typed in ("sp-7k3q", "7K3Q", " SP-7K3Q ", "SP7K3Q", "sp 7k3q"):
        assert normalise_reference(typed) == "SP-7K3Q"


async def test_opened_cases_get_different_references(database: Database) -> None:
    opened = await cases(database, 40)
    assert len({c.reference for c in opened}) == 40
    assert all(c.reference.startswith("SP-") and len(c.reference) == 7 for c in opened)


async def test_the_queue_is_urgent_first_then_longest_waiting(database: Database) -> None:
    first, second, third = await cases(database, 3)
    async with database.transaction() as s:
        urgent = await s.get(Case, third.id)
        assert urgent is not None
        urgent.urgent = True
    async with database.reading() as s:
        assert await waiting_counts(s) == (3, 1)
        page = await waiting_page(s, 0, 2)
        rest = await waiting_page(s, 2, 2)
    assert [c.id for c in page + rest] == [third.id, first.id, second.id]


async def test_a_case_moves_only_from_what_it_was_read_as(database: Database) -> None:
    [case] = await cases(database, 1)
    async with database.reading() as s:
        stale = await s.get(Case, case.id)  # read as waiting...
    assert stale is not None and stale.status == "waiting"
    async with database.transaction() as s:  # ...then someone else claims it
        theirs = await s.get(Case, case.id)
        assert theirs is not None
        theirs.status = "claimed"
    async with database.transaction() as s:
        mine = await s.merge(stale, load=False)
        assert await move_case(s, mine, "claimed", None) is False
        assert mine.status == "claimed"  # read again, to say who has it
    async with database.transaction() as s:
        current = await s.get(Case, case.id)
        assert current is not None
        assert await move_case(s, current, "waiting", None) is True
        assert current.status == "waiting"
