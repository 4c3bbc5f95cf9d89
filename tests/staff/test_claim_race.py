"""Two link workers claim the same case at the same moment: exactly one wins, every
time, and the other is told who has it. On SQLite and PostgreSQL, and on
PostgreSQL also with the row lock taken away, so that the conditional UPDATE alone
is shown to decide."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from sqlalchemy import func, select

from bot.store import Database
from bot.store.cases import Case
from bot.store.outbox import OutboxMessage
from bot.store.patients import Patient
from tests.staff.helpers import JO_ID, SAM_ID, Team, team

ROUNDS = 100


async def waiting_cases(t: Team, n: int) -> list[str]:
    """n waiting cases, made directly (a whole referral each would be slow)."""
    references = []
    async with t.db.transaction() as s:
        for i in range(n):
            patient = Patient(channel="telegram", chat_id=70_000 + i, created_at=t.clock())
            s.add(patient)
            await s.flush()
            case = Case(reference=f"SP-R{i:03d}", patient_id=patient.id, status="waiting",
                        opened_at=t.clock(), summary={})  # fmt: skip
            s.add(case)
            references.append(case.reference)
    return references


@pytest.mark.parametrize("row_locks", [True, False], ids=["row_locks", "conditional_update_only"])
async def test_two_workers_claiming_at_once_exactly_one_wins(
    database: Database,
    row_locks: bool,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if not row_locks:
        if database.is_sqlite:
            pytest.skip("SQLite takes no row locks anyway")
        monkeypatch.setattr(Database, "locks_rows", property(lambda self: False))
    caplog.set_level(logging.INFO, logger="bot.staff")
    t = await team(database, staff_chat=None)
    references = await waiting_cases(t, ROUNDS)
    sam, jo = (await t.worker(SAM_ID)).id, (await t.worker(JO_ID)).id
    started = time.perf_counter()
    for reference in references:
        await asyncio.gather(
            t.act(SAM_ID, f"/claim {reference}"), t.act(JO_ID, f"/claim {reference}")
        )
    elapsed = time.perf_counter() - started
    print(f"{ROUNDS} races on {database.engine.dialect.name}: {elapsed:.2f}s")
    async with database.sessions() as s:
        holders = (await s.execute(select(Case.link_worker_id, Case.status))).all()
        told = await s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.chat_id >= 70_000)
        )
    assert all(status == "claimed" and holder in (sam, jo) for holder, status in holders)
    assert told == ROUNDS  # each patient told once, by the winner
    wins = [m for m in await t.said(SAM_ID) + await t.said(JO_ID) if "is yours" in m]
    losses = [m for m in await t.said(SAM_ID) + await t.said(JO_ID) if "already been claimed" in m]
    assert len(wins) == ROUNDS and len(losses) == ROUNDS
    for message in losses:  # the loser is told who has it
        assert "claimed by Sam" in message or "claimed by Jo" in message
    if not row_locks:  # both read "waiting"; the UPDATE's WHERE decided
        lost = [r for r in caplog.records if r.getMessage() == "case moved by someone else first"]
        print(f"decided by the conditional UPDATE: {len(lost)} of {ROUNDS}")
        assert lost
