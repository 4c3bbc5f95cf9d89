from datetime import date

import pytest

from bot.directory.values import (
    BadValue,
    parse_byday,
    parse_date,
    parse_day,
    parse_number,
    parse_time,
    plain_text,
)


@pytest.mark.parametrize(
    ("published", "time"),
    [("10:00", "10:00"), ("10:00:00", "10:00"), ("18:30Z", "18:30"), ("09:00:00+01:00", "09:00"),
     ("10am", "10:00"), ("2.30pm", "14:30"), ("12pm", "12:00"), ("12am", "00:00"), ("", None)],
)  # fmt: skip
def test_times_as_feeds_write_them(published: str, time: str | None) -> None:
    assert parse_time(published) == time


@pytest.mark.parametrize("bad", ["teatime", "25:00", "10:75"])
def test_times_that_are_not_times(bad: str) -> None:
    with pytest.raises(BadValue, match="not a time"):
        parse_time(bad)


@pytest.mark.parametrize(
    ("published", "day"),
    [("MO", 0), ("tu", 1), ("Wednesday", 2), ("thurs", 3), (5, 4), ("6", 5), (7, 6)],
)
def test_days_as_feeds_write_them(published: object, day: int) -> None:
    assert parse_day(published) == day


@pytest.mark.parametrize("bad", ["XX", "Funday", 0, 8])
def test_days_that_are_not_days(bad: object) -> None:
    with pytest.raises(BadValue):
        parse_day(bad)


def test_byday_with_ordinals() -> None:
    assert parse_byday("TU,TH") == [(1, None), (3, None)]
    assert parse_byday("1MO,-1FR") == [(0, 1), (4, -1)]


def test_amounts_dates_and_markup() -> None:
    assert parse_number("£2.50") == 2.5
    assert parse_number(" 3 ") == 3.0
    assert parse_number("") is None
    with pytest.raises(BadValue, match="not a number"):
        parse_number("two pounds")
    assert parse_date("2026-03-01T10:00:00Z") == date(2026, 3, 1)
    assert parse_date("01/03/2026") == date(2026, 3, 1)
    assert plain_text("<p>Tea &amp; <b>cake</b></p>") == "Tea & cake"
