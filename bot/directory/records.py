"""What every importer produces: activities written one way, whatever the format
they came in, and the problems that stop a file from being imported.

Each format's reader (ORUK 3.0 and 1.0 JSON, an HSDS data package, a simple CSV)
turns its records into `ActivityRecord`s. Two kinds of trouble are told apart:

- a `Problem` is structural (the file is not JSON or CSV, a record has no id or no
  name, two records share an id): the file is rejected whole, before the
  database is touched, and the directory in use stays as it was;
- an `ImportWarning` is about one value (a bad postcode, phone, website, email,
  time, cost; an unknown taxonomy term; a missing optional file): the record is
  imported without that value, or with it mended (`LU7 ONY` -> `LU7 0NY`), and
  the warning says which record, which field, what it said and what was done.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date


@dataclass(frozen=True)
class OrganisationRecord:
    source_id: str
    name: str
    description: str = ""
    url: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class LocationRecord:
    name: str | None = None
    address: str | None = None
    postcode: str | None = None  # normalised full postcode or district
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class ScheduleRecord:
    day: int | None = None  # 0 = Monday
    starts: str | None = None  # "HH:MM"
    ends: str | None = None
    weekly: bool = True
    note: str | None = None


@dataclass(frozen=True)
class ActivityRecord:
    source_id: str
    organisation: OrganisationRecord
    name: str
    description: str = ""
    url: str | None = None
    email: str | None = None
    phone: str | None = None
    how_to_join: str | None = None
    modes: tuple[str, ...] = ("in_person",)  # flows.directory.MODES
    format: str | None = None  # "group" | "one_to_one"
    free: bool | None = None
    cost: str | None = None
    minimum_age: int | None = None
    maximum_age: int | None = None
    accessibility: str | None = None
    languages: tuple[str, ...] = ()
    taxonomy_terms: tuple[str, ...] = ()
    need_areas: tuple[str, ...] = ()
    by_appointment: bool = False
    checked_on: date | None = None
    active: bool = True
    schedules: tuple[ScheduleRecord, ...] = ()
    locations: tuple[LocationRecord, ...] = ()

    def fingerprint(self) -> str:
        """A hash of everything imported: equal hashes mean nothing changed."""
        payload = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Problem:
    """Why a record cannot be imported, in words for the person importing:
    which record, which field, what is wrong."""

    record: str  # "service 3 (id 7, “Knit and Natter”)" or "row 5"
    field: str  # the field as the file names it: "organization.name"
    problem: str  # "is missing"

    def __str__(self) -> str:
        return f"{self.record}: {self.field} {self.problem}"


@dataclass
class Problems:
    """Collects problems for one file while its records are read."""

    items: list[Problem] = field(default_factory=list)

    def add(self, record: str, field_name: str, problem: str) -> None:
        self.items.append(Problem(record, field_name, problem))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)


#: What each kind of warning is called in the summary, in the order shown.
WARNING_KINDS = {
    "postcode mended": "Postcodes mended",
    "postcode": "Postcodes left out (not UK postcodes)",
    "outside the UK": "Addresses outside the UK (imported without a place)",
    "place": "Places left out (no address, postcode or coordinates)",
    "coordinates": "Coordinates left out",
    "phone mended": "Phone numbers mended",
    "phone": "Phone numbers left out",
    "website mended": "Websites mended",
    "website": "Websites left out",
    "email mended": "Email addresses mended",
    "email": "Email addresses left out",
    "time": "Times left out",
    "day": "Sessions left out (unknown day)",
    "ended": "Sessions left out (ended)",
    "cost": "Costs left out",
    "age": "Ages left out",
    "date": "Dates left out",
    "status": "Unknown status (hidden from patients)",
    "taxonomy term": "Unknown taxonomy terms",
    "organisation": "No organisation named",
    "value": "Other values left out",
    "missing file": "Files listed but not there",
}


@dataclass(frozen=True)
class ImportWarning:
    """A value that could not be used as it was, and what was done instead: the
    record was still imported."""

    record: str  # "service 3 (id '7', “Knit and Natter”)" or "row 5"
    field: str  # as the file names it: "locations[0].postcode"
    value: str  # what the file said
    kind: str  # a key of WARNING_KINDS
    done: str  # "left out" / "mended to 'LU7 0NY'"
    source_id: str | None = None  # the record's id, to find its activity later

    def __str__(self) -> str:
        said = f" {self.value!r}" if self.value else ""
        return f"{self.record}: {self.field}{said}: {self.done}"


@dataclass
class Warnings:
    """Collects warnings for one file while its records are read."""

    items: list[ImportWarning] = field(default_factory=list)

    def add(
        self,
        record: str,
        field_name: str,
        value: object,
        kind: str,
        done: str,
        source_id: str | None = None,
    ) -> None:
        assert kind in WARNING_KINDS, kind
        text = "" if value is None else str(value)
        self.items.append(ImportWarning(record, field_name, text, kind, done, source_id))

    def __len__(self) -> int:
        return len(self.items)


def group_warnings(
    warnings: Sequence[ImportWarning],
) -> list[tuple[str, list[ImportWarning]]]:
    """Warnings grouped by kind, in WARNING_KINDS' order: (title, warnings)."""
    groups: dict[str, list[ImportWarning]] = {}
    for warning in warnings:
        groups.setdefault(warning.kind, []).append(warning)
    return [(title, groups[kind]) for kind, title in WARNING_KINDS.items() if kind in groups]


class DirectoryImportError(Exception):
    """An import could not be done. The message is one sentence for the person
    importing; nothing was changed in the directory."""


class SourceUnavailable(DirectoryImportError):
    """The file or server could not be read at all."""


class ImportRejected(DirectoryImportError):
    """The file was read but some records are unusable; nothing was imported."""

    #: How many problems the one-line message lists before "and N more".
    SHOWN = 10

    def __init__(self, source: str, problems: list[Problem], records_with_problems: int) -> None:
        self.source = source
        self.problems = problems
        self.records_with_problems = records_with_problems
        super().__init__(self.describe())

    def describe(self) -> str:
        count = len(self.problems)
        lines = [
            f"Nothing was imported from {self.source}: "
            f"{count} problem{'s' if count != 1 else ''} to fix first "
            "(the directory in use has not changed)."
        ]
        lines += [f"  - {problem}" for problem in self.problems[: self.SHOWN]]
        if count > self.SHOWN:
            lines.append(f"  ... and {count - self.SHOWN} more.")
        return "\n".join(lines)


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed, for the end-of-import line and the import log."""

    source: str
    feed: str
    format: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    rejected: int = 0
    warnings: tuple[ImportWarning, ...] = ()

    #: How many examples of each kind of warning the summary shows.
    EXAMPLES = 3

    @property
    def with_warnings(self) -> int:
        """How many records were imported with a warning."""
        return len({(w.source_id or w.record) for w in self.warnings if w.kind != "missing file"})

    def describe(self) -> str:
        """The end-of-import summary: what changed, then what needs fixing, by kind."""
        lines = [
            f"Imported {self.source} ({self.format}): {self.added} added, {self.updated} "
            f"updated, {self.unchanged} unchanged, {self.deactivated} deactivated."
        ]
        if not self.warnings:
            return lines[0]
        records = self.with_warnings
        lines.append(
            f"{records} record{'s' if records != 1 else ''} imported with warnings "
            f"({len(self.warnings)} in all): each was imported without the value named, "
            "or with it mended. Fix them in the source so the next import is clean."
        )
        for title, items in group_warnings(self.warnings):
            lines.append(f"  {title} ({len(items)}):")
            lines += [f"    - {w}" for w in items[: self.EXAMPLES]]
            if len(items) > self.EXAMPLES:
                lines.append(f"    ... and {len(items) - self.EXAMPLES} more.")
        return "\n".join(lines)
