"""Working days and working hours, as WORKING_HOURS says (e.g. Mon-Fri 09:00-17:00).

Link workers are not a 24/7 service: a promise "by Thursday" counts working days,
and a claim reminder counts only the hours somebody was there to claim it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bot.config import Settings, parse_working_hours


def working_days_after(start: datetime, days: int, settings: Settings) -> date:
    """The date `days` working days after `start` (in the settings' time zone)."""
    return _working_days_on(start.astimezone(settings.zone).date(), days, settings)


def back_on(away_until: date, settings: Settings) -> date:
    """The first working day after someone's last day away."""
    return _working_days_on(away_until, 1, settings)


def _working_days_on(day: date, days: int, settings: Settings) -> date:
    working, _, _ = parse_working_hours(settings.working_hours)
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if day.weekday() in working:
            counted += 1
    return day


def working_seconds_between(start: datetime, end: datetime, settings: Settings) -> float:
    """How many seconds of working hours lie between `start` and `end`."""
    if end <= start:
        return 0.0
    working, opens, closes = parse_working_hours(settings.working_hours)
    zone = settings.zone
    day = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    total = 0.0
    while day <= last:
        if day.weekday() in working:
            day_start = datetime.combine(day, opens, zone)
            day_end = datetime.combine(day, closes, zone)
            overlap = min(end, day_end) - max(start, day_start)
            total += max(overlap.total_seconds(), 0.0)
        day += timedelta(days=1)
    return total
