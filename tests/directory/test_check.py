"""`spbot directory check`: what needs a link worker's attention (issue 15)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot.directory import import_directory, import_sample
from bot.directory.check import check_directory
from bot.store import Database
from tests.directory.test_cli import run
from tests.directory.test_import_store import service, write
from tests.directory.test_import_warnings import MESSY_PAGE


async def test_the_last_imports_warnings_are_listed_until_fixed(
    database: Database, tmp_path: Path
) -> None:
    await import_directory(database, MESSY_PAGE, feed="council")
    report = await check_directory(database, today=date(2026, 12, 3))
    assert len(report.warnings) == 9
    assert report.warnings[0] == (
        "council: service 6 (id 'm6', “Letter O Lunch Club”): service_at_locations[0].location."
        "physical_addresses[0].postal_code 'LU7 ONY': mended to 'LU7 0NY'"
    )
    # The council fixes its feed: the next import's (no) warnings are what count.
    page = json.loads(MESSY_PAGE.read_text(encoding="utf-8"))
    clean = [s for s in page["content"] if s["id"] in {"m1", "m2"}]
    await import_directory(database, write(tmp_path, clean), feed="council")
    report = await check_directory(database, today=date(2026, 12, 3))
    assert report.warnings == []


async def test_stale_no_way_to_join_and_closed(database: Database, tmp_path: Path) -> None:
    services = [
        service("fresh", "Fresh Group", assured_date="2026-10-01", phones=[{"number": "0151 496 0000"}]),
        service("stale", "Stale Group", assured_date="2026-05-01", url="https://example.org"),
        service("lost", "Nobody To Ask", assured_date="2026-11-01"),
        service("shut", "Closed Club", status="temporarily closed", email="a@example.org"),
    ]  # fmt: skip
    await import_directory(database, write(tmp_path, services), feed="f")
    report = await check_directory(database, today=date(2026, 12, 3), stale_after_days=180)
    assert [e.name for e in report.not_checked] == ["Stale Group"]
    assert report.not_checked[0].detail == "last confirmed 01 May 2026"
    assert [e.name for e in report.no_contact] == ["Nobody To Ask"]
    assert [e.name for e in report.closed] == ["Closed Club"]
    longer = await check_directory(database, today=date(2026, 12, 3), stale_after_days=365)
    assert longer.not_checked == []


def test_spbot_directory_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("STALE_AFTER_DAYS", "180")
    assert run("directory", "import", "--sample") == 0
    assert run("directory", "import", str(MESSY_PAGE)) == 0
    capsys.readouterr()
    assert run("directory", "check") == 0
    out = capsys.readouterr().out
    assert "Warnings from the last import (fix them in the source) (9):" in out
    assert "'LU7 ONY': mended to 'LU7 0NY'" in out
    assert "Not confirmed for 180 days" in out
    assert "Closed, or gone from their feed (hidden from patients) (1):" in out
    assert "Over-50s Swimming (closed)" in out


async def test_the_sample_alone(database: Database) -> None:
    await import_sample(database)
    report = await check_directory(database, today=date(2026, 12, 3))
    assert report.warnings == [] and [e.name for e in report.closed] == [
        "Over-50s Swimming (closed)"
    ]
