"""Importing into the database: all or nothing, updates by id, deactivation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.directory import (
    ImportRejected,
    directory_version,
    import_directory,
    import_sample,
    load_directory,
)
from bot.store import Database
from bot.store.base import utcnow
from bot.store.directory import Activity, ImportRun
from bot.store.patients import Patient
from tests.directory.conftest import FIXTURES


def service(id: str, name: str | None = "Tea and Chat", **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": id,
        "status": "active",
        "organization": {"id": "org-1", "name": "Test Group", "description": "Test fixture."},
        **extra,
    }
    if name is not None:
        record["name"] = name
    return record


def write(tmp_path: Path, services: list[dict[str, Any]], name: str = "feed.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(services), encoding="utf-8")
    return path


async def active_names(db: Database) -> list[str]:
    async with db.sessions() as session:
        return sorted(await session.scalars(select(Activity.name).where(Activity.active.is_(True))))


async def test_sample_imports_through_the_real_importer(database: Database) -> None:
    summary = await import_sample(database)
    assert summary.added == 43 and summary.format == "ORUK 3.0"
    index = await load_directory(database)
    assert len(index) == 42  # one is "temporarily closed"
    assert index.version == await directory_version(database) > 0


async def test_every_fixture_imports(database: Database) -> None:
    for source in ("oruk3_full_service.json", "oruk1_services.json", "messy_feed.json",
                   "hsds_package", "activities.csv"):  # fmt: skip
        summary = await import_directory(database, FIXTURES / source)
        assert summary.added > 0, source
    assert len(await active_names(database)) == 1 + 5 + 4 + 3 + 3


BAD_FILES = {
    "malformed JSON": ('[{"id": "1", "name": "Tea"', "line 1, column 27", "is not valid JSON"),
    "missing name": (
        [service("s1"), service("s2", name=None)],
        "service 2 (id 's2'): name",
        "is missing",
    ),
    "duplicate id": (
        [service("s1"), service("s1", name="Again")],
        "service 2",
        "also used by service 1",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
async def test_a_bad_file_is_rejected_whole_and_the_old_directory_stays(
    database: Database, tmp_path: Path, kind: str
) -> None:
    await import_directory(database, write(tmp_path, [service("old", "Old Favourite")]), feed="f")
    version = await directory_version(database)
    content, where, problem = BAD_FILES[kind]
    path = tmp_path / "feed.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")

    with pytest.raises(ImportRejected) as rejected:
        await import_directory(database, path, feed="f", deactivate_missing=True)

    message = str(rejected.value)
    assert message.startswith(f"Nothing was imported from {path}")
    assert where in message and problem in message, message
    assert await active_names(database) == ["Old Favourite"]
    assert await directory_version(database) == version


async def test_a_bad_csv_row_is_named_by_its_line(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "groups.csv"
    path.write_text(
        "id,name,organisation,postcode,days\n1,Tea,Group,L20 3AB,Mon\n2,Chat,Group,L20 3AB,Funday\n"
        "3,,Group,,\n4,Walk,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected:
        await import_directory(database, path)
    problems = [str(p) for p in rejected.value.problems]
    assert problems == [
        "row 4 (id '3'): name is missing",
        "row 5 (id '4', “Walk”): organisation is missing",
    ]
    assert rejected.value.records_with_problems == 2
    assert await active_names(database) == []

    path.write_text(
        "id,name,organisation,postcode,days\n1,Tea,Group,L20 3AB,Mon\n2,Chat,Group,L20 3AB,Funday\n",
        encoding="utf-8",
    )
    summary = await import_directory(database, path)
    assert summary.added == 2
    (warning,) = summary.warnings
    assert str(warning) == (
        "row 3 (id '2', “Chat”): days 'Funday': left out: it has an unknown day 'Funday' "
        "(use MO, TU, WE, TH, FR, SA or SU)"
    )


async def test_a_bad_package_value_is_named_by_its_file_and_line(
    database: Database, tmp_path: Path
) -> None:
    package = tmp_path / "package"
    package.mkdir()
    for file in (FIXTURES / "hsds_package").iterdir():
        (package / file.name).write_bytes(file.read_bytes())
    addresses = package / "addresses.csv"
    addresses.write_text(addresses.read_text().replace("L37 1LJ", "NOT A POSTCODE"))
    summary = await import_directory(database, package)
    (warning,) = summary.warnings
    assert warning.record.startswith("services.csv row 2 (id 'svc-1'")
    assert (warning.field, warning.value) == (
        "service_at_locations[0].location.addresses[0].postal_code",
        "NOT A POSTCODE",
    )
    assert summary.added == 3


async def test_reimport_updates_by_id_and_deactivates_what_disappeared(
    database: Database, tmp_path: Path
) -> None:
    first = [service("a", "Art Club"), service("b", "Book Club"), service("c", "Choir")]
    summary = await import_directory(database, write(tmp_path, first), feed="council")
    assert (summary.added, summary.updated, summary.unchanged) == (3, 0, 0)

    second = [service("a", "Art Club"), service("b", "Book Club (Tuesdays)")]
    summary = await import_directory(database, write(tmp_path, second), feed="council")
    assert (summary.added, summary.updated, summary.unchanged, summary.deactivated) == (0, 1, 1, 0)
    assert await active_names(database) == ["Art Club", "Book Club (Tuesdays)", "Choir"]

    summary = await import_directory(
        database, write(tmp_path, second), feed="council", deactivate_missing=True
    )
    assert (summary.unchanged, summary.deactivated) == (2, 1)
    assert await active_names(database) == ["Art Club", "Book Club (Tuesdays)"]

    # Coming back reactivates it; another feed's entries are never touched.
    await import_directory(database, write(tmp_path, [service("a", "Other Art")]), feed="other",
                           deactivate_missing=True)  # fmt: skip
    summary = await import_directory(database, write(tmp_path, first), feed="council")
    assert (summary.added, summary.updated) == (0, 2)
    assert await active_names(database) == ["Art Club", "Book Club", "Choir", "Other Art"]
    async with database.sessions() as session:
        runs = await session.scalar(select(func.count()).select_from(ImportRun))
    assert runs == 5


async def test_changed_child_rows_are_replaced(database: Database, tmp_path: Path) -> None:
    with_place = service(
        "a",
        schedules=[{"id": "s", "byday": "MO", "opens_at": "10:00"}],
        locations=[{"id": "l", "postcode": "L20 3AB"}],
    )
    await import_directory(database, write(tmp_path, [with_place]), feed="f")
    moved = service(
        "a",
        schedules=[{"id": "s", "byday": "FR", "opens_at": "14:00"}],
        locations=[{"id": "l", "postcode": "PR8 1ET"}],
    )
    summary = await import_directory(database, write(tmp_path, [moved]), feed="f")
    assert summary.updated == 1
    index = await load_directory(database)
    (activity,) = index.activities
    assert [(s.day, s.starts) for s in activity.base.sessions] == [(4, "14:00")]
    assert activity.base.address == "PR8 1ET"


async def test_reading_the_directory_waits_for_no_writer(database: Database) -> None:
    """The bot looks at the directory's version every minute, and loads it when it
    changed: a look, which never waits for handling under way (on SQLite a read
    that began as a write transaction took the one write lock, and waited for it)."""
    await import_sample(database)
    async with database.transaction() as s:
        s.add(Patient(channel="telegram", chat_id=1, created_at=utcnow()))
        await s.flush()  # handling under way: the write lock is held
        assert await asyncio.wait_for(directory_version(database), 2) > 0
        index = await asyncio.wait_for(load_directory(database), 5)
        assert index.version > 0
