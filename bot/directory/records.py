"""What every importer produces: activities written one way, whatever the format
they came in, and the problems that stop a file from being imported.

Each format's reader (ORUK 3.0 and 1.0 JSON, an HSDS data package, a simple CSV)
turns its records into `ActivityRecord`s and writes down a `Problem` for anything
it cannot use. The writer (`bot.directory.saving`) only ever sees clean records:
a file with any problem is rejected whole, before the database is touched.
"""

from __future__ import annotations

import hashlib
import json
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
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        return (
            f"Imported {self.source} ({self.format}): {self.added} added, {self.updated} "
            f"updated, {self.unchanged} unchanged, {self.deactivated} deactivated, "
            f"{self.rejected} rejected."
        )
