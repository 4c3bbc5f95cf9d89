"""The period a report covers, and the statistics behind its figures."""

from __future__ import annotations

import math
import random
import statistics
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.report.periods import Period, ReportError, choose_period
from bot.report.render import period_span
from bot.report.stats import T_975, mean_with_interval, median, percentile_90, t_975


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 12, 3), Period(date(2026, 7, 1), date(2026, 10, 1))),  # July to September
        (date(2026, 10, 1), Period(date(2026, 7, 1), date(2026, 10, 1))),
        (date(2026, 9, 30), Period(date(2026, 4, 1), date(2026, 7, 1))),
        (date(2027, 2, 14), Period(date(2026, 10, 1), date(2027, 1, 1))),
    ],
)
def test_the_default_is_the_last_full_calendar_quarter(today: date, expected: Period) -> None:
    assert choose_period(None, None, today) == expected


def test_the_previous_period() -> None:
    # Whole months: the same months before (April to June for July to September).
    quarter = Period(date(2026, 7, 1), date(2026, 10, 1))
    assert quarter.previous() == Period(date(2026, 4, 1), date(2026, 7, 1))
    assert Period(date(2026, 1, 1), date(2027, 1, 1)).previous() == Period(
        date(2025, 1, 1), date(2026, 1, 1)
    )
    # Otherwise the same number of days before.
    weeks = Period(date(2026, 7, 6), date(2026, 7, 20))
    assert weeks.previous() == Period(date(2026, 6, 22), date(2026, 7, 6))


def test_one_date_given() -> None:
    today = date(2026, 12, 3)
    assert choose_period("2026-11-01", None, today) == Period(date(2026, 11, 1), date(2026, 12, 4))
    assert choose_period(None, "2026-10-01", today) == Period(date(2026, 7, 1), date(2026, 10, 1))


def test_a_period_runs_from_midnight_where_the_team_is() -> None:
    july = Period(date(2026, 7, 1), date(2026, 8, 1))
    start, end = july.bounds(ZoneInfo("Europe/London"))  # British Summer Time: UTC+1
    assert (start, end) == (
        datetime(2026, 6, 30, 23, tzinfo=UTC),
        datetime(2026, 7, 31, 23, tzinfo=UTC),
    )
    assert period_span(july) == "1 to 31 July 2026"
    assert period_span(Period(date(2026, 7, 1), date(2026, 10, 1))) == "1 July to 30 September 2026"
    assert period_span(Period(date(2026, 12, 1), date(2027, 2, 1))) == (
        "1 December 2026 to 31 January 2027"
    )


def test_bad_dates_are_named() -> None:
    with pytest.raises(ReportError, match=r"^--from 2026-02-30 is not a date: use YYYY-MM-DD$"):
        choose_period("2026-02-30", None, date(2026, 12, 3))


def test_the_t_table_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats", reason="scipy checks the t-table")
    for df in [*range(1, 61), 75, 90, 110, 150, 250, 750, 5000, 100_000]:
        assert t_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-4), df
    assert set(T_975) >= set(range(1, 31))


def test_medians_percentiles_and_intervals_by_hand() -> None:
    assert median([5, 1, 3]) == 3
    assert median([4, 1, 3, 2]) == 2.5
    # Nearest rank: ceil(0.9 x 10) = 9th of 1..10; ceil(0.9 x 11) = 10th of 1..11.
    assert percentile_90(list(range(1, 11))) == 9
    assert percentile_90(list(range(1, 12))) == 10
    assert percentile_90([7]) == 7
    # 2, 4, 6: mean 4, sd 2, se 2/sqrt(3) = 1.1547, t(2) = 4.3027: 4 -/+ 4.9683.
    interval = mean_with_interval([2, 4, 6])
    assert (interval.n, interval.mean) == (3, 4)
    assert interval.low == pytest.approx(-0.9683, abs=1e-4)
    assert interval.high == pytest.approx(8.9683, abs=1e-4)


def test_an_interval_over_many_people_agrees_with_exact_arithmetic() -> None:
    """At scale the interval is worked out in floating point: it must agree with
    the exact sums of the statistics module to far below what is printed."""
    rng = random.Random(2026)
    changes = [rng.choice((-3, -1, 0, 0, 1, 2, 2, 4, 10)) for _ in range(20_000)]
    interval = mean_with_interval(changes)
    exact_mean = statistics.mean(changes)
    half = t_975(len(changes) - 1) * statistics.stdev(changes) / math.sqrt(len(changes))
    assert interval.mean == pytest.approx(float(exact_mean), abs=1e-12)
    assert interval.low == pytest.approx(float(exact_mean) - half, abs=1e-12)
    assert interval.high == pytest.approx(float(exact_mean) + half, abs=1e-12)
