"""A million patients on PostgreSQL (issue 16): what a link worker's `/queue` and
`/case`, the outcomes report and the check-in dispatcher ask of the database, each
timed and EXPLAINed. Target: under 50 ms each, with no sequential scan of a big
table.

The database is a copy of a migrated one (tests/postgres.py), made for the run and
dropped after. One real referral is made through the patient side's own code
(tests/factories.py); the million are generated from it in SQL (`INSERT ...
SELECT generate_series`), shaped as a busy service two years in would be:

- 1,000,000 patients, each with a conversation (a fifth handed off, the rest
  finished, mid-referral or never past consent);
- 200,000 cases (one in five patients): 2,000 waiting in the queue (40 urgent),
  8,000 claimed, the rest closed; five case entries each;
- a referral on every case not waiting, and three check-ins each (600,000): most
  long sent or answered, 2,000 due now;
- 1,800,000 milestones over two years (what the outcomes report counts: the
  report is timed as `spbot report --now` makes it, for a week and for a quarter,
  each with the period before; then the night's keeping of the last full
  quarter's figures, once, and `spbot report` made from them).

Then ANALYZE, as autovacuum would have. Each question is asked through the store
function the bot uses, five times (the median is reported), and its SQL is
EXPLAIN ANALYZEd; a "Seq Scan" on one of the big tables is reported.

Speed is reported, never asserted. Run with `make bench`, or alone:
`SPBOT_TEST_POSTGRES_URL=... .venv/bin/pytest -q -s tests/benchmarks/test_scale_bench.py -p no:randomly`
(SPBOT_BENCH_PATIENTS=100000 for a quick look). Skipped without PostgreSQL.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text

from bot.config import Settings
from bot.patients.checkins import BATCH
from bot.patients.listener import NobodyListening
from bot.report.command import make_report, published
from bot.report.periods import Period
from bot.report.published import Report
from bot.report.reading import Kept, default_period, keep, kept
from bot.staff.lists import PAGE_SIZE
from bot.store import Database
from bot.store.case_file import load_case_file
from bot.store.cases import case_by_reference, waiting_counts, waiting_page
from bot.store.checkins import due_to_send
from tests import factories
from tests.postgres import POSTGRES_URL, SKIP_REASON, template

PATIENTS = int(os.environ.get("SPBOT_BENCH_PATIENTS", "1000000"))
TARGET_MS = 50.0
NOW = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
BIG_TABLES = ("patient", "conversation", "case", "case_entry", "referral", "check_in",
              "milestone")  # fmt: skip
SETTINGS = Settings(organisation_name="Sefton Social Prescribing",
                    response_time_text="within 2 working days")  # fmt: skip

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not POSTGRES_URL, reason=SKIP_REASON)]


def generate(n: int) -> list[str]:
    """SQL making `n` patients and what they left, from the one real referral (case 1)."""
    cases = n // 5
    return [
        f"""INSERT INTO patient (channel, chat_id, created_at, journey)
            SELECT 'telegram', 100000000 + g,
                   '{NOW.isoformat()}'::timestamptz - (g % 730) * interval '1 day',
                   left(md5(g::text), 16)
            FROM generate_series(1, {n}) AS g""",
        """INSERT INTO conversation (patient_id, flow, state, step, answers, control, updated_at)
            SELECT p.id, 'referral',
                   CASE WHEN p.id % 5 = 0 THEN 'handed_off' WHEN p.id % 7 = 0 THEN 'what_matters'
                        WHEN p.id % 11 = 0 THEN 'consent' ELSE 'finished' END,
                   12, '{}', c.control, p.created_at + interval '20 minutes'
            FROM patient p, (SELECT control FROM conversation LIMIT 1) c
            WHERE p.chat_id >= 100000000""",
        f"""INSERT INTO "case" (reference, patient_id, status, urgent, opened_at, summary,
                                link_worker_id, claimed_at, closed_at, outcome)
            SELECT 'SP-' || upper(to_hex(p.id + 1048576)), p.id,
                   CASE WHEN p.id % 500 = 0 THEN 'waiting' WHEN p.id % 125 = 0 THEN 'claimed'
                        ELSE 'closed' END,
                   p.id % 25000 = 0,
                   p.created_at + interval '20 minutes', s.summary,
                   NULL, p.created_at + interval '1 day',
                   CASE WHEN p.id % 500 = 0 OR p.id % 125 = 0 THEN NULL
                        ELSE p.created_at + interval '30 days' END,
                   CASE WHEN p.id % 500 = 0 OR p.id % 125 = 0 THEN NULL
                        ELSE 'referred_to_activity' END
            FROM patient p, (SELECT summary FROM "case" ORDER BY id LIMIT 1) s
            WHERE p.chat_id >= 100000000 AND p.id % 5 = 0
            LIMIT {cases}""",
        """UPDATE "case" SET claimed_at = NULL WHERE status = 'waiting'""",
        """INSERT INTO case_entry (case_id, at, kind, text)
            SELECT c.id, c.opened_at + k * interval '1 hour',
                   (ARRAY['event', 'reply', 'patient_message', 'note', 'check_in'])[k + 1],
                   'entry ' || k
            FROM "case" c, generate_series(0, 4) AS k
            WHERE c.id > 1""",
        """INSERT INTO referral (case_id, activity_id, activity_name, organisation, found_by,
                                 made_at, attendance)
            SELECT c.id, 'walking-football', 'Bootle Walking Football', 'Bootle FC',
                   'suggested', c.opened_at + interval '2 days', 'unknown'
            FROM "case" c WHERE c.id > 1 AND c.status <> 'waiting'""",
        f"""INSERT INTO check_in (case_id, patient_id, referral_id, kind, due_at, status,
                                  sent_at, answers, control)
            SELECT c.id, c.patient_id, r.id, 'scheduled',
                   CASE WHEN r.id % 200 = 0 AND k = 0
                        THEN '{NOW.isoformat()}'::timestamptz - interval '1 hour'
                        ELSE r.made_at + (ARRAY[7, 28, 84])[k + 1] * interval '1 day' END,
                   CASE WHEN r.id % 200 = 0 AND k = 0 THEN 'due'
                        WHEN r.made_at + (ARRAY[7, 28, 84])[k + 1] * interval '1 day'
                             > '{NOW.isoformat()}'::timestamptz THEN 'due'
                        ELSE (ARRAY['sent', 'answered', 'cancelled'])[(r.id % 3) + 1] END,
                   NULL, '{{}}', '{{}}'
            FROM referral r JOIN "case" c ON c.id = r.case_id, generate_series(0, 2) AS k""",
        """UPDATE check_in SET sent_at = due_at WHERE status IN ('sent', 'answered')""",
        """INSERT INTO milestone (at, journey, step, reference, detail)
            SELECT p.created_at + k * interval '1 day', p.journey,
                   (ARRAY['started', 'handed_off', 'claimed', 'referred', 'checkin_sent'])[k + 1],
                   NULL, '{}'
            FROM patient p, generate_series(0, 4) AS k
            WHERE p.chat_id >= 100000000 AND (k = 0 OR p.id % 5 = 0)""",
        "ANALYZE",
    ]


async def timed(ask: Callable[[], Awaitable[Any]], runs: int = 5) -> tuple[float, Any]:
    """The median time of `runs` asks (after one to warm the caches), in ms; one
    more only, when the first took over a second."""
    began = time.perf_counter()
    result = await ask()
    if time.perf_counter() - began > 1.0:
        runs = 1
    took = []
    for _ in range(runs):
        began = time.perf_counter()
        result = await ask()
        took.append((time.perf_counter() - began) * 1000)
    return statistics.median(took), result


async def explained(db: Database, ask: Callable[[], Awaitable[Any]]) -> list[str]:
    """EXPLAIN ANALYZE of each statement `ask` runs, in order: one summary line each."""
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    try:
        await ask()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", keep)
    lines = []
    async with db.engine.connect() as conn:
        for statement, parameters in statements:
            plan = (await conn.exec_driver_sql("EXPLAIN ANALYZE " + statement, parameters)).all()
            plan_text = "\n".join(row[0] for row in plan)
            scans = sorted({t for t in re.findall(r"Seq Scan on \"?(\w+)\"?", plan_text)
                            if t in BIG_TABLES})  # fmt: skip
            ran = re.search(r"Execution Time: ([\d.]+) ms", plan_text)
            first = " ".join(statement.split())[:70]
            lines.append(f"      {first}... executes in {ran[1] if ran else '?'} ms"
                         + (f"; SEQ SCAN on {', '.join(scans)}" if scans else ""))  # fmt: skip
    return lines


async def _report(db: Database, period: Period) -> Report:
    """The outcomes report as `spbot report` makes it (bot/report/command.py)."""
    return await make_report(db, period, zone=LONDON, organisation="Sefton", as_of=NOW)


async def test_a_million_patients_answer_within_fifty_ms() -> None:
    async with (await template()).copy("spbot_scale") as url:
        db = Database(url, timeout=600)
        try:
            began = time.monotonic()
            await factories.referred_patient(db, SETTINGS, NobodyListening(),
                                             NOW - timedelta(days=800), chat_id=1)  # fmt: skip
            async with db.engine.begin() as conn:
                for statement in generate(PATIENTS):
                    await conn.execute(text(statement))
            async with db.engine.connect() as conn:
                counts = {t: await conn.scalar(text(f'SELECT count(*) FROM "{t}"'))
                          for t in BIG_TABLES}  # fmt: skip
            seeded = time.monotonic() - began
            report = [f"\n{PATIENTS:,} patients on PostgreSQL (made in {seeded:.0f}s): "
                      + ", ".join(f"{t} {n:,}" for t, n in counts.items())]  # fmt: skip

            async def queue() -> Any:
                async with db.reading() as s:
                    return await waiting_counts(s), await waiting_page(s, 0, PAGE_SIZE)

            async with db.reading() as s:
                waiting = await waiting_page(s, 10, 1)
            reference = waiting[0].reference

            async def case_view() -> Any:
                async with db.reading() as s:
                    case = await case_by_reference(s, reference)
                    assert case is not None
                    return await load_case_file(s, case)

            async def report_week() -> Any:
                return await _report(db, Period(date(2026, 11, 16), date(2026, 11, 23)))

            async def report_quarter() -> Any:
                return await _report(db, Period(date(2026, 8, 1), date(2026, 11, 1)))

            last_quarter = default_period(NOW, LONDON)

            async def kept_figures() -> Any:
                found = await kept(db, last_quarter, LONDON, NOW)
                assert found is not None
                return found

            async def report_kept() -> Any:
                return published(await kept_figures(), last_quarter, "Sefton")

            async def due_check_ins() -> Any:
                async with db.transaction() as s:
                    return len(await due_to_send(s, NOW, busy_since=NOW - timedelta(hours=2),
                                                 day_ago=NOW - timedelta(days=1), limit=BATCH))  # fmt: skip

            asks = [("/queue (counts and the first page)", queue),
                    ("/case (the case file)", case_view),
                    ("outcomes report: a week, and the week before", report_week),
                    ("outcomes report: a quarter, and the quarter before", report_quarter),
                    (f"due check-ins (a batch of {BATCH})", due_check_ins),
                    ("the night's figures for the last full quarter, read", kept_figures),
                    ("outcomes report from them, as `spbot report` makes it", report_kept)]  # fmt: skip
            for name, ask in asks:
                if ask is kept_figures:
                    began = time.perf_counter()
                    await keep(db, LONDON, NOW)
                    report.append(f"  the night's keeping ({last_quarter.start} to "
                                  f"{last_quarter.last_day}, and the quarter before): "
                                  f"{time.perf_counter() - began:.1f} s, once")  # fmt: skip
                ms, result = await timed(ask)
                size = f" ({result:,} rows)" if isinstance(result, int) else ""
                if isinstance(result, Report):
                    size = f" ({result.headline['started'].text} journeys started)"
                if isinstance(result, Kept):
                    size = f" ({result.current.started:,} journeys started)"
                verdict = "within" if ms < TARGET_MS else "OVER"
                report.append(f"  {name}{size}: median {ms:.1f} ms ({verdict} {TARGET_MS:.0f} ms)")
                report += await explained(db, ask)
            print("\n".join(report))
        finally:
            await db.close()
