"""The report's figures from the database: worked out now (`read_figures`), or
worked out ahead each night and kept (`keep`, `kept`).

Working out a quarter at a million patients takes the database seconds and
Python a few more, over hundreds of thousands of rows (README, "At scale"). So
each night, in the first housekeeping pass in QUIET_HOURS, one running instance
(`Database.exclusively`) starts `spbot report --keep` as a process of its own,
so that the bot's replies never wait behind the counting and its memory stays as
it was. That works out the default report's figures (the last full quarter, and
the quarter before) and keeps them (`bot.store.milestones.KeptFigures`).
`spbot report` for that period then reads one row, says when the figures are
from, and `--now` works them out afresh.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from tqdm import tqdm

from bot.report.figures import CHAIN, DETAIL_STEPS, Figures, from_counts
from bot.report.periods import Period, choose_period
from bot.store import Database
from bot.store.milestones import funnel, keep_figures, kept_as_of, kept_figures, of_cohort
from flows.schedule import is_quiet

#: Kept figures older than this are not used: the night's keeping did not run.
KEPT_FOR = timedelta(hours=36)
#: Kept once a night: not again within this, however long the quiet hours are.
KEEP_AGAIN_AFTER = timedelta(hours=12)
#: A keeping that takes longer than this has gone wrong: it is stopped.
KEEPING_TAKES_AT_MOST = timedelta(minutes=30)


async def read_figures(
    db: Database,
    period: Period,
    *,
    zone: ZoneInfo,
    as_of: datetime,
    progress: tqdm | None = None,
) -> tuple[Figures, Figures]:
    """The figures of `period`'s cohort and of the period before's, as of `as_of`:
    each cohort found in the database, how far its journeys got counted there,
    and only the milestones the other figures read brought back."""
    figures = []
    # One snapshot: a milestone written between the counting and the reading would
    # make figures that do not add up (and small-number protection relies on sums).
    async with db.reading(one_snapshot=True) as session, _no_cycle_collection():
        for bounds, next_step in (
            (period.bounds(zone), "Counting the period before"),
            (period.previous().bounds(zone), "Protecting small numbers"),
        ):
            counted = await funnel(session, *bounds, as_of, CHAIN)
            marks = await of_cohort(session, *bounds, as_of, DETAIL_STEPS)
            figures.append(from_counts(counted, marks))
            if progress is not None:
                progress.update(1)
                progress.set_description(next_step)
    return figures[0], figures[1]


@asynccontextmanager
async def _no_cycle_collection() -> AsyncIterator[None]:
    """Python's cycle collector paused while a quarter's rows are read and counted:
    hundreds of thousands of small objects, none in a cycle, which it would walk
    again and again as they are made (a third of the time at a million patients).
    Freed as usual by reference counting; the collector runs again after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class Kept:
    """Figures worked out ahead: the period's, the period before's, and when."""

    as_of: datetime
    current: Figures
    earlier: Figures


def default_period(now: datetime, zone: ZoneInfo) -> Period:
    """The period `spbot report` covers without dates: the last full quarter."""
    return choose_period(None, None, today=now.astimezone(zone).date())


async def keep(
    db: Database, zone: ZoneInfo, now: datetime, *, progress: tqdm | None = None
) -> Period:
    """Work out the default report's figures as of `now` and keep them."""
    period = default_period(now, zone)
    current, earlier = await read_figures(db, period, zone=zone, as_of=now, progress=progress)
    figures = {"current": current.to_json(), "earlier": earlier.to_json()}
    async with db.transaction() as session:
        await keep_figures(session, *period.bounds(zone), now, figures)
    return period


async def kept(db: Database, period: Period, zone: ZoneInfo, now: datetime) -> Kept | None:
    """The figures kept for `period`, if they were made in the last KEPT_FOR."""
    async with db.reading() as session:
        row = await kept_figures(session, *period.bounds(zone))
        if row is None or row.as_of < now - KEPT_FOR:
            return None
        figures: Mapping[str, Mapping] = row.figures
        return Kept(
            row.as_of, Figures.from_json(figures["current"]), Figures.from_json(figures["earlier"])
        )


async def due(db: Database, zone: ZoneInfo, quiet: tuple[time, time], now: datetime) -> bool:
    """Whether to keep the figures now: in quiet hours, when none are kept for the
    default period or those kept are from before tonight. A service with no quiet
    hours ("00:00-00:00") has them kept twice a day, whenever."""
    if quiet[0] != quiet[1] and not is_quiet(now, quiet, zone):
        return False
    async with db.reading() as session:
        made = await kept_as_of(session, *default_period(now, zone).bounds(zone))
    return made is None or made < now - KEEP_AGAIN_AFTER


async def keep_in_a_process(env: Mapping[str, str]) -> int:
    """`spbot report --keep` in a process of its own, with these settings added to
    this one's environment: its exit code. Stopped if it takes too long, or if
    the bot stops meanwhile."""
    # Its stderr is the bot's, so a mistake is said where the bot logs; its stdout
    # is only the line saying what it kept.
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "report", "--keep",
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(KEEPING_TAKES_AT_MOST.total_seconds()):
            return await child.wait()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
