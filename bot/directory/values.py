"""Reading single values the way real directories write them.

Feeds say the same thing many ways: an amount is 2.5, "2.50" or "£2.50"; a time
is "10:00:00", "10:00Z" or "10am"; a day is "TU", "Tuesday" or 2. These functions
accept every spelling that has one clear meaning, and raise `BadValue` (with a
message that finishes the sentence "<field> ...") for anything else, so the
import report can say exactly what to fix.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "weds": 2, "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4,
    "saturday": 5, "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}


class BadValue(ValueError):
    """A value that cannot be read; str(exc) completes "<field> ..."."""


def clean_text(value: Any) -> str | None:
    """Text with Windows line endings and stray spaces tidied; None if empty."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    return text or None


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "p", "li", "div"):
            self.parts.append("\n")


def plain_text(value: Any) -> str | None:
    """Descriptions "can contain markup such as HTML" (ORUK 1.0): keep the words."""
    text = clean_text(value)
    if text is None or "<" not in text:
        return unescape(text) if text else None
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    joined = re.sub(r"[ \t]+", " ", "".join(parser.parts))
    return re.sub(r"\n\s*\n+", "\n\n", joined).strip() or None


def parse_number(value: Any) -> float | None:
    """2.5, "2.50", "£2.50", "2,000" -> a number; "" -> None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(",", "").removeprefix("£").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise BadValue(f"is {str(value)!r}, which is not a number") from None


def parse_age(value: Any) -> int | None:
    number = parse_number(value)
    if number is None:
        return None
    if not 0 <= number <= 130:
        raise BadValue(f"is {value!r}, which is not an age")
    return int(number)


def parse_date(value: Any) -> date | None:
    """ISO dates (with or without a time), or the UK's 31/12/2024."""
    text = clean_text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        raise BadValue(f"is {text!r}, which is not a date (write it as 2024-12-31)") from None


_TIME = re.compile(
    r"(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?(?::\d{2}(?:\.\d+)?)?\s*"
    r"(?P<half>am|pm|a\.m\.|p\.m\.)?\s*(?:z|[+-]\d{2}:?\d{2})?"
)


def parse_time(value: Any) -> str | None:
    """ "10:00:00", "10:00Z", "10:00+01:00", "10am", "2.30pm" -> "HH:MM".

    Time zones are dropped: UK feeds write local times and often add a "Z"
    they don't mean, and a session "at 10" is at 10 on the clock on the wall.
    """
    text = clean_text(value)
    if text is None:
        return None
    match = _TIME.fullmatch(text.lower())
    if not match:
        raise BadValue(f"is {text!r}, which is not a time (write it as 14:30)")
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    half = (match["half"] or "").replace(".", "")
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        raise BadValue(f"is {text!r}, which is not a time of day")
    return f"{hour:02d}:{minute:02d}"


def parse_day(value: Any) -> int:
    """A weekday, 0 = Monday, from "TU", "Tuesday", "tues" or an ISO number
    (1 = Monday ... 7 = Sunday, as HSDS 1.1 settled)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if int(value) == value and 1 <= value <= 7:
            return int(value) - 1
        raise BadValue(f"is {value!r}, which is not a day (1 = Monday ... 7 = Sunday)")
    text = (clean_text(value) or "").strip().rstrip(".")
    if text.isascii() and text.isdigit():  # not "²": int() would fail
        return parse_day(int(text))
    if text.upper() in DAY_CODES:
        return DAY_CODES.index(text.upper())
    if text.lower() in _DAY_NAMES:
        return _DAY_NAMES[text.lower()]
    raise BadValue(f"has an unknown day {text!r} (use MO, TU, WE, TH, FR, SA or SU)")


_BYDAY_PART = re.compile(r"(?P<ordinal>[+-]?\d)?(?P<day>[A-Za-z]+)")


def parse_byday(value: Any) -> list[tuple[int, int | None]]:
    """An iCal BYDAY list, "TU,TH" or "1TU,-1FR", as (day, ordinal) pairs; the
    ordinal (first, ..., last = -1) is None for every week."""
    text = clean_text(value)
    if text is None:
        return []
    days: list[tuple[int, int | None]] = []
    for part in re.split(r"[,\s]+", text):
        if not part:
            continue
        match = _BYDAY_PART.fullmatch(part)
        if not match:
            raise BadValue(f"has an unknown day {part!r} (use MO, TU, WE, TH, FR, SA or SU)")
        ordinal = int(match["ordinal"]) if match["ordinal"] else None
        if ordinal is not None and ordinal not in ORDINALS:
            raise BadValue(f"has {part!r}, which is not a week of the month")
        days.append((parse_day(match["day"]), ordinal))
    return days


_YES = {"yes", "y", "true", "1", "x"}
_NO = {"no", "n", "false", "0"}


def parse_bool(value: Any) -> bool | None:
    """Yes/no columns: "yes", "Y", "true", "1" or "no", "N", "false", "0"."""
    if isinstance(value, bool):
        return value
    text = (clean_text(value) or "").lower()
    if not text:
        return None
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise BadValue(f"is {text!r}; write yes or no")
