"""When a check-in may reach someone: at the offsets after their referral, at the
time of day they said suits them, and never in quiet hours. Pure: the times come
in, the times go out (the dispatcher checks again as it sends, since time passes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: The time of day a check-in aims for, by what they said suits them ("best time
#: to contact you", or failing that the times they are free).
AIM_FOR = {
    "mornings": time(10, 0),
    "afternoons": time(14, 0),
    "evenings": time(18, 30),
    "weekday_morning": time(10, 0),
    "weekday_afternoon": time(14, 0),
    "weekday_evening": time(18, 30),
}
#: With no preference: late morning, when most people are up and not yet busy.
DEFAULT_AIM = time(11, 0)


def preferred_time(best_time: str | None, free_times: Sequence[str] = ()) -> time:
    """The time of day to aim for: their best time to be contacted, else the first
    of the times they said they are free, else late morning."""
    if best_time in AIM_FOR:
        return AIM_FOR[best_time]
    for free in free_times:
        if free in AIM_FOR:
            return AIM_FOR[free]
    return DEFAULT_AIM


def is_quiet(when: datetime, quiet: tuple[time, time], zone: ZoneInfo) -> bool:
    start, end = quiet
    local = when.astimezone(zone).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def out_of_quiet_hours(when: datetime, quiet: tuple[time, time], zone: ZoneInfo) -> datetime:
    """`when`, or the end of the quiet hours it falls in."""
    if not is_quiet(when, quiet, zone):
        return when
    local = when.astimezone(zone)
    end = datetime.combine(local.date(), quiet[1], tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet[1], tzinfo=zone)
    return end.astimezone(UTC)


def at_their_time(
    day_of: datetime, aim: time, quiet: tuple[time, time], zone: ZoneInfo
) -> datetime:
    """The day of `day_of` (in their zone) at the time they prefer, out of quiet hours."""
    local_day = day_of.astimezone(zone).date()
    return out_of_quiet_hours(datetime.combine(local_day, aim, tzinfo=zone).astimezone(UTC),
                              quiet, zone)  # fmt: skip


def check_in_times(
    referred_at: datetime,
    offsets: Sequence[timedelta],
    aim: time,
    quiet: tuple[time, time],
    zone: ZoneInfo,
) -> list[datetime]:
    """When each scheduled check-in is due: the offset's day, at their time."""
    return [at_their_time(referred_at + offset, aim, quiet, zone) for offset in offsets]
