"""The hand-written dataset (tests/report/hand.py), worked out and published once."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.report.figures import Figures, cohort, compute
from bot.report.periods import Period, choose_period
from bot.report.published import Report, publish
from bot.store.milestones import Milestone
from tests.report import hand

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="session")
def marks() -> list[Milestone]:
    return hand.milestones()


@pytest.fixture(scope="session")
def period() -> Period:
    return choose_period(*hand.PERIOD, today=hand.AS_OF.date())


@pytest.fixture(scope="session")
def july(marks: list[Milestone], period: Period) -> Figures:
    return compute(marks, cohort(marks, *period.bounds(LONDON)), hand.AS_OF)


@pytest.fixture(scope="session")
def june(marks: list[Milestone], period: Period) -> Figures:
    return compute(marks, cohort(marks, *period.previous().bounds(LONDON)), hand.AS_OF)


@pytest.fixture(scope="session")
def report(july: Figures, june: Figures, period: Period) -> Report:
    return publish(
        july,
        june,
        period=period,
        previous_period=period.previous(),
        as_of=hand.AS_OF,
        organisation="Sefton Social Prescribing",
    )


@pytest.fixture(scope="session")
def demo_report() -> Report:
    """The made-up demo (`make report-demo`): July to September 2026."""
    from bot.report.demo import DEMO_FROM, DEMO_TO, demo_milestones

    demo = demo_milestones()
    quarter = choose_period(DEMO_FROM, DEMO_TO, today=hand.AS_OF.date())
    now = compute(demo, cohort(demo, *quarter.bounds(LONDON)), hand.AS_OF)
    before = compute(demo, cohort(demo, *quarter.previous().bounds(LONDON)), hand.AS_OF)
    return publish(
        now,
        before,
        period=quarter,
        previous_period=quarter.previous(),
        as_of=hand.AS_OF,
        organisation="Sefton Social Prescribing",
    )
