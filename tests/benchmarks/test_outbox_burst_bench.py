"""A burst in the outbox: thousands of messages written at once (a morning's
check-ins, a campaign), claimed by delivery before the database's planner
statistics have caught up with them (issue 16).

Which message is next in each chat used to be a correlated look per row; on
PostgreSQL, with statistics that still described a nearly empty table, it was
planned as nested loops and each claim grew with the square of the backlog (3 s
at 10,000 rows). It is now worked out with windows over the waiting rows
(bot/store/outbox.py `_in_line`, `claim`). This reports, per backlog size, the
median time of a claim of 500 chats, on a database whose statistics were never
gathered after the burst: a claim time that grows about as the backlog does is
what it should show. Reported, never asserted; every claim must take 500 chats.

On PostgreSQL when SPBOT_TEST_POSTGRES_URL is set, else SQLite. Part of
`make bench` (under a minute), or:
`.venv/bin/pytest -q -s tests/benchmarks/test_outbox_burst_bench.py -p no:randomly`.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from pathlib import Path

from bot.store import Database
from bot.store.base import utcnow
from bot.store.outbox import Outbox, claim
from tests.postgres import POSTGRES_URL, template

BACKLOGS = (2_000, 10_000)
LEASE = timedelta(seconds=60)


async def _claim_times(url: str, backlog: int) -> list[float]:
    db = Database(url)
    try:
        async with db.transaction() as s:
            for chat in range(1, backlog + 1):
                Outbox(s, "telegram", chat, utcnow()).send("How's it going?")
        times = []
        for n in range(3):
            began = time.perf_counter()
            async with db.transaction() as s:
                claimed = await claim(s, "telegram", f"bench-{n}", utcnow(), LEASE,
                                      chats=500, per_chat=3)  # fmt: skip
            times.append(time.perf_counter() - began)
            assert len(claimed) == 500
        return times
    finally:
        await db.close()


async def test_a_claim_grows_with_the_backlog_not_its_square(tmp_path: Path) -> None:
    lines = [
        f"\nclaiming 500 chats from a fresh burst ({'PostgreSQL' if POSTGRES_URL else 'SQLite'}):"
    ]
    for backlog in BACKLOGS:
        if POSTGRES_URL:
            async with (await template()).copy("spbot_burst") as url:
                times = await _claim_times(url, backlog)
        else:
            path = tmp_path / f"burst-{backlog}.sqlite3"
            setup = Database(f"sqlite+aiosqlite:///{path}")
            await setup.upgrade()
            await setup.close()
            times = await _claim_times(f"sqlite+aiosqlite:///{path}", backlog)
        lines.append(
            f"  {backlog:>6,} waiting: median claim {statistics.median(times) * 1000:.0f} ms"
        )
    print("\n".join(lines))
