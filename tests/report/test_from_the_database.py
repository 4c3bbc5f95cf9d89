"""The report read from the database (SQLite, and PostgreSQL when
SPBOT_TEST_POSTGRES_URL is set) is the report worked out from the milestones."""

from __future__ import annotations

from bot.report.command import make_report
from bot.report.periods import Period
from bot.report.published import Report
from bot.store import Database
from bot.store.milestones import record
from tests.report import hand
from tests.report.conftest import LONDON


async def test_the_stored_milestones_give_the_same_report(
    database: Database, period: Period, report: Report
) -> None:
    async with database.transaction() as session:
        for m in hand.milestones():
            record(session, m.journey, m.step, m.at, reference=m.reference, **m.detail)
    stored = await make_report(
        database, period, zone=LONDON, as_of=hand.AS_OF, organisation="Sefton Social Prescribing"
    )
    assert [(f.key, f.text, f.n) for f in stored.figures] == [
        (f.key, f.text, f.n) for f in report.figures
    ]
    assert stored.headline["started"].text == "12"
