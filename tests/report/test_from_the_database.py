"""The report read from the database (SQLite, and PostgreSQL when
SPBOT_TEST_POSTGRES_URL is set) is the report worked out from the milestones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.report.command import make_report, read_figures
from bot.report.demo import DEMO_FROM, DEMO_TO, demo_milestones
from bot.report.figures import CHAIN, DETAIL_STEPS, cohort, compute
from bot.report.periods import Period, choose_period
from bot.report.published import Report
from bot.store import Database
from bot.store.milestones import Milestone, funnel, of_cohort, record
from tests.report import hand
from tests.report.conftest import LONDON


async def test_the_stored_milestones_give_the_same_report(
    database: Database, period: Period, report: Report
) -> None:
    async with database.transaction() as session:
        for m in hand.milestones():
            await record(session, m.journey, m.step, m.at, reference=m.reference, **m.detail)
    stored = await make_report(
        database, period, zone=LONDON, as_of=hand.AS_OF, organisation="Sefton Social Prescribing"
    )
    assert [(f.key, f.text, f.n) for f in stored.figures] == [
        (f.key, f.text, f.n) for f in report.figures
    ]
    assert stored.headline["started"].text == "12"


async def test_the_database_finds_each_cohort_as_the_figures_do(database: Database) -> None:
    """A made-up service (the demo: hundreds of journeys drawn at random), with a
    few awkward journeys added, stored and read back: each period's figures are
    exactly those worked out from every milestone in memory (`cohort`, `compute`)."""
    marks = demo_milestones(seed=11)
    july = datetime(2026, 7, 20, 9, 0, tzinfo=UTC)
    for journey, step, at, detail in [
        # Started in March, and again in July (as after a restart): March's cohort.
        ("again", "started", datetime(2026, 3, 3, tzinfo=UTC), {}),
        ("again", "started", july, {}),
        ("again", "consented", july, {}),
        # Started in July; what came after the report was made is not counted.
        ("late", "started", july, {}),
        ("late", "consented", july, {}),
        ("late", "declined", hand.AS_OF + timedelta(hours=1), {}),
        # A milestone with no start at all counts nowhere.
        ("nostart", "handed_off", july, {"need_areas": ["mood"], "mode": "phone"}),
    ]:
        marks.append(Milestone(at=at, journey=journey, step=step, reference=None, detail=detail))
    marks.sort(key=lambda m: m.at)
    async with database.transaction() as session:
        for m in marks:
            await record(session, m.journey, m.step, m.at, reference=m.reference, **m.detail)
    quarter = choose_period(DEMO_FROM, DEMO_TO, today=hand.AS_OF.date())

    stored = await read_figures(database, quarter, zone=LONDON, as_of=hand.AS_OF)

    worked_out = tuple(
        compute(marks, cohort(marks, *p.bounds(LONDON)), hand.AS_OF)
        for p in (quarter, quarter.previous())
    )
    assert stored == worked_out
    assert stored[0].started > 100 and stored[1].started > 100


async def test_the_report_reads_one_snapshot_while_the_bot_writes(database: Database) -> None:
    """The funnel is counted in one statement and the other figures read in the
    next; a milestone written in between must be in neither, or the figures would
    not add up (and the protection of small numbers relies on their sums)."""
    july = datetime(2026, 7, 20, 9, 0, tzinfo=UTC)
    async with database.transaction() as session:
        await record(session, "first", "started", july)
        await record(session, "first", "consented", july)
    bounds = (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC))
    async with database.reading(one_snapshot=True) as reading:
        counted = await funnel(reading, *bounds, hand.AS_OF, CHAIN)
        async with database.transaction() as session:  # the bot, meanwhile
            await record(session, "second", "started", july)
            await record(session, "second", "consented", july)
        marks = await of_cohort(reading, *bounds, hand.AS_OF, DETAIL_STEPS)
    assert counted == [(CHAIN.index("consented"), 0, 0, 1)]
    assert [m.journey for m in marks] == ["first"]
