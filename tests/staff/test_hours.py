from datetime import UTC, date, datetime

from bot.config import Settings
from bot.hours import working_days_after, working_seconds_between

SETTINGS = Settings(working_hours="Mon-Fri 09:00-17:00", timezone="Europe/London")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # London is on UTC in November
FRIDAY_16 = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)


def test_working_days_skip_the_weekend() -> None:
    assert working_days_after(MONDAY_10, 2, SETTINGS) == date(2026, 11, 25)
    assert working_days_after(FRIDAY_16, 2, SETTINGS) == date(2026, 12, 1)
    assert working_days_after(FRIDAY_16, 0, SETTINGS) == date(2026, 11, 27)


def test_working_hours_between_count_only_when_someone_is_there() -> None:
    assert working_seconds_between(MONDAY_10, MONDAY_10.replace(hour=14), SETTINGS) == 4 * 3600
    # Friday 16:00 to Monday 12:00: one hour on Friday, three on Monday.
    monday_noon = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert working_seconds_between(FRIDAY_16, monday_noon, SETTINGS) == 4 * 3600
    assert working_seconds_between(monday_noon, FRIDAY_16, SETTINGS) == 0
