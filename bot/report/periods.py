"""The period a report covers, and the one it is compared with.

A period runs from the start of its first day up to, not including, its end day,
in the team's time zone: `--from 2026-07-01 --to 2026-10-01` is July to
September. Without dates it is the last full calendar quarter (commissioners
count in quarters). The previous period is the same number of calendar months
before it when the period is whole months, else the same number of days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class ReportError(Exception):
    """A mistake in the command line, said kindly in one sentence."""


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # the day after the last day

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The period's start and end as UTC instants (midnight where the team is)."""
        return _midnight(self.start, zone), _midnight(self.end, zone)

    def previous(self) -> Period:
        if self.start.day == 1 and self.end.day == 1:
            months = _months(self.start, self.end)
            return Period(_add_months(self.start, -months), self.start)
        return Period(self.start - (self.end - self.start), self.start)


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(f"{option} {text} is not a date: use YYYY-MM-DD") from None


def choose_period(start: str | None, end: str | None, today: date) -> Period:
    """The period the options ask for: both days, one of them, or neither (the
    last full calendar quarter)."""
    first = parse_day(start, "--from") if start else None
    last = parse_day(end, "--to") if end else None
    if first and last:
        pass
    elif first:
        last = today + timedelta(days=1)  # up to now
    elif last:
        first = _add_months(last, -3)
    else:
        quarter = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        first, last = _add_months(quarter, -3), quarter
    assert first and last
    if first >= last:
        same = "the same day as" if first == last else "after"
        raise ReportError(
            f"--from {first.isoformat()} is {same} --to {last.isoformat()}: "
            "the period starts on --from and ends the day before --to"
        )
    return Period(first, last)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    # Months differ in length: a day after the 28th becomes the 28th.
    return date(year, month + 1, min(day.day, 28))
