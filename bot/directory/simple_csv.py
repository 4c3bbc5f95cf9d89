"""The simple CSV: one row per activity, for small organisations without an Open
Referral UK feed. The columns are documented in docs/directory.md and shown in
docs/directory/activities-template.csv; only id, name and organisation must be
filled in. Rows are named in the report by their line in the file, as a
spreadsheet shows them (the header is row 1). A row without an id, a name or an
organisation, or with an id used before, rejects the file; any other value that
cannot be used is left out (or mended) with a warning, as in the other formats.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any, TypeVar

from bot.directory import taxonomy
from bot.directory.mending import Mended, mend_email, mend_phone, mend_postcode, mend_url
from bot.directory.postcodes import valid_point
from bot.directory.records import (
    ActivityRecord,
    LocationRecord,
    OrganisationRecord,
    Problems,
    ScheduleRecord,
    Warnings,
)
from bot.directory.values import (
    BadValue,
    clean_text,
    parse_age,
    parse_bool,
    parse_date,
    parse_day,
    parse_number,
    parse_time,
)
from flows.directory import MODES, NEED_AREAS

#: Every column the simple CSV understands, in the template's order.
COLUMNS = (
    "id", "name", "organisation", "description", "need_areas", "how", "format",
    "days", "starts", "ends", "frequency", "by_appointment", "venue", "address",
    "postcode", "latitude", "longitude", "cost", "minimum_age", "maximum_age",
    "phone", "email", "website", "how_to_join", "accessibility", "languages",
    "last_checked", "active",
)  # fmt: skip
REQUIRED = ("id", "name", "organisation")

_HOW = {
    "in person": "in_person", "in_person": "in_person", "face to face": "in_person",
    "online": "online", "video": "online", "phone": "phone", "telephone": "phone",
    "by phone": "phone",
}  # fmt: skip
_FORMATS = {"group": "group", "one-to-one": "one_to_one", "one to one": "one_to_one",
            "one_to_one": "one_to_one", "1:1": "one_to_one"}  # fmt: skip
_FREQUENCIES = {"weekly": None, "every week": None, "fortnightly": "every other week",
                "every other week": "every other week", "monthly": "once a month"}  # fmt: skip

T = TypeVar("T")


def looks_like_simple_csv(header: list[str]) -> bool:
    names = {name.strip().lower() for name in header}
    return set(REQUIRED) <= names


def read_simple_csv(
    text: str, problems: Problems, warnings: Warnings | None = None
) -> tuple[list[ActivityRecord], int]:
    """The activities in the file, and how many rows had problems."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        problems.add(
            "the header row",
            ", ".join(missing),
            "is missing (the columns id, name and organisation are needed)",
        )
        return [], 1
    records: list[ActivityRecord] = []
    seen: dict[str, int] = {}
    bad_rows = 0
    for line, raw in enumerate(reader, start=2):
        row = {(key or "").strip().lower(): value for key, value in raw.items()}
        if not any(clean_text(value) for value in row.values()):
            continue  # spreadsheets leave blank lines at the end
        before = len(problems)
        record = _Row(
            row, line, problems, warnings if warnings is not None else Warnings()
        ).record()
        if record is not None and record.source_id in seen:
            problems.add(
                _label(row, line),
                "id",
                f"{record.source_id!r} is also used on row {seen[record.source_id]}",
            )
        elif record is not None:
            seen[record.source_id] = line
            records.append(record)
        if len(problems) > before:
            bad_rows += 1
    return records, bad_rows


def _label(row: dict[str, Any], line: int) -> str:
    parts = []
    if clean_text(row.get("id")):
        parts.append(f"id {clean_text(row.get('id'))!r}")
    if clean_text(row.get("name")):
        parts.append(f"“{clean_text(row.get('name'))}”")
    return f"row {line}" + (f" ({', '.join(parts)})" if parts else "")


class _Row:
    def __init__(
        self, row: dict[str, Any], line: int, problems: Problems, warnings: Warnings
    ) -> None:
        self.row = row
        self.label = _label(row, line)
        self.problems = problems
        self.warnings = warnings
        self.ok = True

    def warn(self, column: str, value: Any, kind: str, done: str) -> None:
        self.warnings.add(self.label, column, value, kind, done, self.text("id"))

    def mended(
        self, column: str, mend: Callable[[str], Mended], kind: str, what: str
    ) -> str | None:
        text = self.text(column)
        if not text:
            return None
        result = mend(text)
        if result.value is None:
            self.warn(column, text, kind, f"left out: it is not {what}")
        elif result.mended:
            self.warn(column, text, f"{kind} mended", f"mended to {result.value!r}")
        return result.value

    def text(self, column: str) -> str | None:
        return clean_text(self.row.get(column))

    def problem(self, column: str, message: str) -> None:
        self.problems.add(self.label, column, message)
        self.ok = False

    def value(self, column: str, parse: Callable[[Any], T], kind: str = "value") -> T | None:
        try:
            return parse(self.row.get(column))
        except BadValue as exc:
            self.warn(column, self.row.get(column), kind, f"left out: it {exc}")
            return None

    def record(self) -> ActivityRecord | None:
        for column in REQUIRED:
            if not self.text(column):
                self.problem(column, "is missing")
        name = self.text("name") or ""
        description = self.text("description") or ""
        organisation_name = self.text("organisation") or ""
        location = self.location()
        modes = self.modes(location)
        schedules = self.schedules()
        need_areas = self.need_areas() or taxonomy.need_areas_for([name, description])
        free, cost = self.cost()
        format = self.format(f"{name}\n{description}")
        record = ActivityRecord(
            source_id=self.text("id") or "",
            organisation=OrganisationRecord(
                source_id=re.sub(r"[^a-z0-9]+", "-", organisation_name.lower()).strip("-"),
                name=organisation_name,
            ),
            name=name,
            description=description,
            url=self.mended("website", mend_url, "website", "a website"),
            email=self.mended("email", mend_email, "email", "an email address"),
            phone=self.mended("phone", mend_phone, "phone", "a UK phone number"),
            how_to_join=self.text("how_to_join"),
            modes=modes,
            format=format,
            free=free,
            cost=cost,
            minimum_age=self.value("minimum_age", parse_age, "age"),
            maximum_age=self.value("maximum_age", parse_age, "age"),
            accessibility=self.text("accessibility"),
            languages=tuple(_split(self.text("languages"))),
            need_areas=need_areas,
            by_appointment=bool(self.value("by_appointment", parse_bool)),
            checked_on=self.value("last_checked", parse_date, "date"),
            active=self.value("active", parse_bool) is not False,
            schedules=tuple(schedules),
            locations=(location,) if location else (),
        )
        return record if self.ok else None

    def location(self) -> LocationRecord | None:
        postcode = self.mended("postcode", mend_postcode, "postcode", "a UK postcode")
        latitude = self.value("latitude", parse_number, "coordinates")
        longitude = self.value("longitude", parse_number, "coordinates")
        if (latitude is not None or longitude is not None) and not valid_point(latitude, longitude):
            self.warn(
                "latitude", f"{latitude}, {longitude}", "coordinates",
                "left out: not a place on Earth (latitude first, e.g. 53.46, -2.99)",
            )  # fmt: skip
            latitude = longitude = None
        address = self.text("address")
        if not (postcode or address or latitude is not None):
            return None
        return LocationRecord(self.text("venue"), address, postcode, latitude, longitude)

    def modes(self, location: LocationRecord | None) -> tuple[str, ...]:
        modes: list[str] = []
        for word in _split(self.text("how")):
            mode = _HOW.get(word.lower())
            if mode is None:
                self.warn("how", word, "value", "left out: use in person, online or phone")
            elif mode not in modes:
                modes.append(mode)
        if not modes:
            modes = ["in_person" if location else "phone" if self.text("phone") else "online"]
        return tuple(mode for mode in MODES if mode in modes)

    def format(self, words: str) -> str | None:
        given = self.text("format")
        if not given:
            return taxonomy.format_for(words)
        if given.lower() not in _FORMATS:
            self.warn("format", given, "value", "left out: use group or one-to-one")
            return None
        return _FORMATS[given.lower()]

    def schedules(self) -> list[ScheduleRecord]:
        starts = self.value("starts", parse_time, "time")
        ends = self.value("ends", parse_time, "time")
        frequency = self.text("frequency")
        note = _FREQUENCIES.get(frequency.lower(), frequency) if frequency else None
        days = []
        for word in _split(self.text("days")):
            try:
                days.append(parse_day(word))
            except BadValue as exc:
                self.warn("days", word, "day", f"left out: it {exc}")
        if not days:
            return (
                [ScheduleRecord(None, starts, ends, weekly=False, note=note)]
                if (starts or note)
                else []
            )
        return [ScheduleRecord(day, starts, ends, weekly=note is None, note=note) for day in days]

    def need_areas(self) -> tuple[str, ...]:
        found: list[str] = []
        for word in _split(self.text("need_areas")):
            key = re.sub(r"[\s-]+", "_", word.lower())
            needs = (key,) if key in NEED_AREAS else taxonomy.need_areas_for([word])
            if not needs:
                self.warn(
                    "need_areas", word, "taxonomy term",
                    f"left out: not an area of need (use {', '.join(NEED_AREAS)})",
                )  # fmt: skip
            found += [need for need in needs if need not in found]
        return tuple(need for need in NEED_AREAS if need in found)

    def cost(self) -> tuple[bool | None, str | None]:
        cost = self.text("cost")
        if cost is None:
            return None, None
        if cost.lower() in ("free", "£0", "0", "no cost"):
            return True, None
        if re.search(r"\d", cost):
            return False, cost
        return None, cost


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in re.split(r"[;,]", text or "") if part.strip()]
