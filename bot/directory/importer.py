"""Importing a directory from wherever it is published, all or nothing.

`import_directory(db, source)` takes a file, a folder, a .zip or an API URL,
works out the format, reads every record, and unless the file has a structural
problem (not JSON or CSV, a record without an id or a name, an id used twice)
writes them in one transaction. A structural problem raises `ImportRejected`,
which names each record, field and problem, and the directory in use stays as it
was. A value that cannot be used is left out (or mended) and reported as a
warning: the summary groups them by kind, and `write_report` lists them all.

Formats, told apart by what the source holds:
- Open Referral UK JSON (3.0 or 1.0): one service, a list, or a page envelope;
- an HSDS tabular data package: a folder, its datapackage.json, or a .zip;
- the simple CSV (docs/directory.md): a .csv with id, name and organisation columns;
- an http(s) URL: an ORUK API, followed page by page.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.directory.api import fetch_services, read_page
from bot.directory.oruk import ServiceReader
from bot.directory.package import DataPackage
from bot.directory.postcodes import import_postcodes
from bot.directory.records import (
    WARNING_KINDS,
    ActivityRecord,
    DirectoryImportError,
    ImportRejected,
    ImportSummary,
    Problem,
    Problems,
    SourceUnavailable,
    Warnings,
)
from bot.directory.saving import save_records
from bot.directory.simple_csv import looks_like_simple_csv, read_simple_csv
from bot.store import Database

SAMPLE_FOLDER = Path(__file__).with_name("sample")
#: Fictional activities in Sefton, Merseyside, in ORUK 3.0 JSON: the demo's directory.
SAMPLE_DIRECTORY = SAMPLE_FOLDER / "sefton.oruk3.json"
#: Centres of the sample area's postcode districts (L20, L30, PR8...).
SAMPLE_POSTCODES = SAMPLE_FOLDER / "postcode_districts.csv"

#: ORUK 1.0 names that 3.0 renamed: their presence tells the versions apart.
_ORUK1_KEYS = frozenset(
    {"regular_schedules", "service_taxonomys", "eligibilitys", "attending_type", "attending_access"}
)


@dataclass
class ReadSource:
    """Everything read from a source before anything is written."""

    format: str
    records: list[ActivityRecord]
    problems: Problems = field(default_factory=Problems)
    records_with_problems: int = 0
    warnings: Warnings = field(default_factory=Warnings)


async def import_directory(
    db: Database,
    source: str | Path,
    *,
    feed: str | None = None,
    deactivate_missing: bool = False,
    progress: bool = False,
    client: httpx.AsyncClient | None = None,
    retries: int = 3,
    backoff: float = 0.5,
) -> ImportSummary:
    """Import activities from `source`. `feed` names the set of entries a
    re-import updates (and `deactivate_missing` prunes); it defaults to the file
    name or the URL, so two feeds' ids never collide."""
    name = str(source)
    if _is_url(name):
        read = await read_url(
            name, client=client, progress=progress, retries=retries, backoff=backoff
        )
    else:
        read = read_path(Path(source))
    if read.problems:
        raise ImportRejected(name, read.problems.items, read.records_with_problems)
    return await save_records(
        db,
        read.records,
        feed=(feed or default_feed(name))[:200],
        source=name,
        format=read.format,
        deactivate_missing=deactivate_missing,
        progress=progress,
        warnings=read.warnings.items,
    )


#: The columns of the `--report` CSV: every warning of an import, one a row.
REPORT_COLUMNS = ("record_id", "record", "field", "value", "problem", "what_was_done")


def write_report(summary: ImportSummary, path: Path) -> int:
    """Every warning of an import as a CSV a person can sort and work through;
    how many rows it has."""
    kinds = dict(WARNING_KINDS)
    with path.open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(REPORT_COLUMNS)
        for w in summary.warnings:
            writer.writerow([w.source_id or "", w.record, w.field, w.value, kinds[w.kind], w.done])
    return len(summary.warnings)


async def import_sample(db: Database, *, progress: bool = False) -> ImportSummary:
    """Load the sample area's postcode districts and its fictional directory,
    through the same importers a real feed uses."""
    await import_postcodes(db, SAMPLE_POSTCODES, progress=progress)
    return await import_directory(db, SAMPLE_DIRECTORY, feed="sample", progress=progress)


def default_feed(source: str) -> str:
    if _is_url(source):
        parts = urlsplit(source)
        return f"{parts.netloc}{parts.path}".rstrip("/")
    return Path(source).name


def _is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


# --- Reading ------------------------------------------------------------------------


async def read_url(
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    progress: bool = False,
    retries: int = 3,
    backoff: float = 0.5,
) -> ReadSource:
    services, _envelope = await fetch_services(
        url, client=client, progress=progress, retries=retries, backoff=backoff
    )
    return read_services(services, f"{_oruk_version(services)} API")


def read_path(path: Path) -> ReadSource:
    if not path.exists():
        raise SourceUnavailable(f"There is no file or folder at {path}.")
    if path.is_dir() or path.suffix.lower() == ".zip" or path.name.lower() == "datapackage.json":
        return read_package(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise SourceUnavailable(f"Cannot read {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise SourceUnavailable(
            f"{path.name} is not UTF-8 text: save it as “CSV UTF-8” or UTF-8 JSON and try again."
        ) from None
    if path.suffix.lower() == ".csv":
        return read_csv_text(text, path.name)
    return read_json_text(text, path)


def read_json_text(text: str, path: Path) -> ReadSource:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        problems = Problems()
        problems.add(
            path.name, f"line {exc.lineno}, column {exc.colno}", f"is not valid JSON ({exc.msg})"
        )
        return ReadSource("JSON", [], problems, 1)
    if isinstance(document, dict) and "resources" in document:
        return read_package(path)
    services, _envelope, _ = read_page(document, 1)
    if not services or not all(isinstance(s, dict) for s in services):
        raise DirectoryImportError(
            f"{path.name} is JSON but not Open Referral UK: it should hold a service, a list "
            "of services, or a page of them ({contents: [...]} or {content: [...]})."
        )
    return read_services(services, _oruk_version(services))


def read_services(
    services: list[Any], format: str, organisations: dict[str, Any] | None = None
) -> ReadSource:
    problems = Problems()
    reader = ServiceReader(problems, organisations=organisations)
    records = reader.read_all(services)
    return ReadSource(format, records, problems, reader.records_with_problems, reader.warnings)


def read_package(path: Path) -> ReadSource:
    package = DataPackage(path)
    services, organisations = package.services()
    read = read_services(services, "HSDS data package", organisations)
    # Name rows as the person sees them in services.csv (the header is row 1).
    file_name = package.files["service"]
    read.problems.items = [
        Problem(_package_label(p.record, file_name), p.field, p.problem)
        for p in read.problems.items
    ]
    read.warnings.items = [
        *package.warnings,
        *(replace(w, record=_package_label(w.record, file_name)) for w in read.warnings.items),
    ]
    return read


def _package_label(label: str, file_name: str) -> str:
    if label.startswith("service "):
        number, _, rest = label.removeprefix("service ").partition(" ")
        if number.isascii() and number.isdigit():
            return f"{file_name} row {int(number) + 1}" + (f" {rest}" if rest else "")
    return label


def read_csv_text(text: str, name: str) -> ReadSource:
    header = next(csv.reader(io.StringIO(text, newline="")), [])
    if not looks_like_simple_csv(header):
        raise DirectoryImportError(
            f"{name} is not a directory CSV: its first row should name the columns, with at "
            "least id, name and organisation (see docs/directory/activities-template.csv). "
            "For an HSDS data package, import its folder or datapackage.json instead."
        )
    problems, warnings = Problems(), Warnings()
    records, bad_rows = read_simple_csv(text, problems, warnings)
    return ReadSource("simple CSV", records, problems, bad_rows, warnings)


def _oruk_version(services: list[Any]) -> str:
    for service in services:
        if isinstance(service, dict) and _ORUK1_KEYS & service.keys():
            return "ORUK 1.0"
        locations = service.get("service_at_locations") if isinstance(service, dict) else None
        for link in locations if isinstance(locations, list) else []:
            location = link.get("location") if isinstance(link, dict) else None
            if isinstance(location, dict) and "physical_addresses" in location:
                return "ORUK 1.0"
    return "ORUK 3.0"
