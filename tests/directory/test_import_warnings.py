"""Real feeds are messy: the good records are imported, and what needs fixing is
listed (issue 15). A structural problem still rejects the file whole
(test_import_store.py); a bad value is left out or mended, and said so."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.directory import SourceUnavailable, import_directory
from bot.directory.importer import read_path, write_report
from bot.directory.mending import mend_email, mend_phone, mend_postcode, mend_url
from bot.directory.records import ImportSummary, ImportWarning
from bot.store import Database
from bot.store.directory import Activity
from tests.directory.conftest import FIXTURES
from tests.directory.test_cli import run
from tests.directory.test_import_store import service, write

MESSY_PAGE = FIXTURES / "messy_page.oruk1.json"
HSDS1 = FIXTURES / "hsds1_package"


def kinds(warnings: list[ImportWarning] | tuple[ImportWarning, ...]) -> dict[str, str]:
    """Which kind of warning each record had (by id)."""
    return {f"{w.source_id}:{w.kind}": w.value for w in warnings}


async def stored(db: Database) -> dict[str, Activity]:
    async with db.sessions() as session:
        rows = await session.scalars(
            select(Activity).options(
                selectinload(Activity.locations),
                selectinload(Activity.schedules),
                selectinload(Activity.organisation),
            )
        )
        return {a.source_id: a for a in rows}


async def test_a_page_with_one_bad_postcode_imports_every_service(database: Database) -> None:
    """The reported case: one service in a page typed LU7 ONY; the page was refused."""
    summary = await import_directory(database, MESSY_PAGE)

    assert summary.added == 13 and summary.format == "ORUK 1.0"
    activities = await stored(database)
    assert activities["m6"].locations[0].postcode == "LU7 0NY"
    assert kinds(summary.warnings) == {
        "m6:postcode mended": "LU7 ONY",
        "m7:phone": "ring the office",
        "m8:website": "not a website",
        "m8:email": "walks at example dot org",
        "m9:time": "25:99",
        "m10:cost": "a fiver",
        "m11:taxonomy term": "no-such-term",
        "m12:outside the UK": "1 O'Connell Street, Dublin, D01 F5P2, IE",
        "m13:phone mended": "+44 (0)I525 I23456",
    }
    # Each record is there without the one value that was wrong.
    assert activities["m7"].phone is None and activities["m7"].name == "Bad Phone Befriending"
    assert activities["m8"].url == "https://example.org/8"  # the organisation's website instead
    assert activities["m8"].email is None
    assert [(s.day, s.starts, s.ends) for s in activities["m9"].schedules] == [(1, None, "12:00")]
    assert activities["m10"].free is None and activities["m10"].cost is None
    assert activities["m13"].phone == "01525 123456"
    # Outside the UK: no place, so it is offered by phone, not in person.
    dublin = activities["m12"]
    assert dublin.locations == [] and not dublin.in_person and dublin.by_phone
    # Every warning names the record, the field, what it said and what was done.
    (letter_o,) = [w for w in summary.warnings if w.source_id == "m6"]
    assert str(letter_o) == (
        "service 6 (id 'm6', “Letter O Lunch Club”): service_at_locations[0].location."
        "physical_addresses[0].postal_code 'LU7 ONY': mended to 'LU7 0NY'"
    )


async def test_the_summary_says_what_changed_and_what_to_fix_by_kind(database: Database) -> None:
    summary = await import_directory(database, MESSY_PAGE)
    text = summary.describe()
    lines = text.splitlines()
    assert lines[0] == (
        f"Imported {MESSY_PAGE} (ORUK 1.0): 13 added, 0 updated, 0 unchanged, 0 deactivated."
    )
    assert lines[1].startswith("8 records imported with warnings (9 in all)")
    assert "  Postcodes mended (1):" in lines
    assert "  Phone numbers left out (1):" in lines
    assert "  Addresses outside the UK (imported without a place) (1):" in lines
    assert any("'LU7 ONY': mended to 'LU7 0NY'" in line for line in lines)

    again = await import_directory(database, MESSY_PAGE)
    assert (
        again.describe()
        .splitlines()[0]
        .endswith("0 added, 0 updated, 13 unchanged, 0 deactivated.")
    )


def test_many_warnings_of_a_kind_show_the_first_few() -> None:
    warnings = tuple(
        ImportWarning(f"service {i}", "phones", "nope", "phone", "left out", str(i))
        for i in range(1, 8)
    )
    text = ImportSummary("feed.json", "feed", "ORUK 3.0", added=7, warnings=warnings).describe()
    assert "  Phone numbers left out (7):" in text
    assert text.count("    - service") == ImportSummary.EXAMPLES
    assert "    ... and 4 more." in text


def test_an_hsds_1_package_as_published() -> None:
    """Resources listed at the root but kept under data/, listed files that are not
    there, HSDS 1.x table and column names, an address in Ireland."""
    read = read_path(HSDS1)

    assert not read.problems
    records = {r.source_id: r for r in read.records}
    assert set(records) == {"h1", "h2", "h3"}
    lunch, money, dublin = records["h1"], records["h2"], records["h3"]
    assert lunch.organisation.name == "Leighton Friends"  # data/organizations.csv
    assert lunch.locations[0].postcode == "LU7 0NY"  # physical_addresses.csv, mended
    assert lunch.schedules[0].day == 2  # regular_schedules.csv, weekday 3
    assert lunch.need_areas == ("loneliness",)  # services_taxonomy.csv + taxonomy.csv
    assert money.need_areas == ("money",)
    assert money.schedules[0].day == 0 and money.schedules[0].starts == "18:00"  # "Monday"
    assert money.url == "https://www.example.org/money" and money.email == "money@example.org"
    assert money.phone == "0800 123 4567"
    assert dublin.locations == () and "in_person" not in dublin.modes
    by_kind = {(w.kind, w.field): w for w in read.warnings.items}
    assert ("missing file", "resource 'contacts'") in by_kind
    assert ("missing file", "resource 'languages'") in by_kind
    assert by_kind[("missing file", "resource 'contacts'")].done.startswith("not there")
    unknown = by_kind[("taxonomy term", "attributes[1].taxonomy_term_id")]
    assert unknown.value == "t-99" and unknown.record.startswith("data/services.csv row 3")
    assert any(w.kind == "outside the UK" and w.source_id == "h3" for w in read.warnings.items)


@pytest.mark.parametrize("where", ["root", "data"])
def test_a_package_missing_its_services_table_is_refused(tmp_path: Path, where: str) -> None:
    package = tmp_path / "package"
    shutil.copytree(HSDS1, package)
    (package / "data" / "services.csv").unlink()
    with pytest.raises(SourceUnavailable, match=r"services\.csv, the services table"):
        read_path(package)


def test_a_resource_is_found_by_its_name(tmp_path: Path) -> None:
    package = tmp_path / "package"
    shutil.copytree(FIXTURES / "hsds_package", package)
    (package / "data").mkdir()
    descriptor = json.loads((package / "datapackage.json").read_text())
    for resource in descriptor["resources"]:
        (package / resource["path"]).rename(package / "data" / f"{resource['name']}.csv")
        resource["path"] = f"exports/{resource['name']}-2026.csv"  # not where they are
    (package / "datapackage.json").write_text(json.dumps(descriptor))
    read = read_path(package)
    assert len(read.records) == 3 and read.records[0].organisation.name == "Formby Green Gym"
    assert not read.warnings.items

    (package / "data" / "phone.csv").unlink()
    read = read_path(package)
    assert len(read.records) == 3 and read.records[1].phone is None
    (missing,) = read.warnings.items
    assert str(missing) == (
        "datapackage.json: resource 'phone' 'exports/phone-2026.csv': "
        "not there (nor under data/): read as empty"
    )


BAD_VALUES: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "postcode": (
        {"locations": [{"id": "l1", "address_1": "1 High St", "postcode": "ABC 1234"}]},
        "locations[0].postcode",
        "ABC 1234",
        "left out: it is not a UK postcode",
    ),
    "day": (
        {"schedules": [{"id": "x", "byday": "XY", "opens_at": "10:00"}]},
        "schedules[0].byday",
        "XY",
        "left out: it has an unknown day 'XY'",
    ),
    "cost": (
        {"cost_options": [{"id": "c", "amount": "a fiver"}]},
        "cost_options[0].amount",
        "a fiver",
        "left out: it is 'a fiver', which is not a number",
    ),
    "organisation": ({}, "organization", "", "missing: imported without an organisation's name"),
    "status": (
        {"status": "pending"},
        "status",
        "pending",
        "not known (use active, inactive, defunct or temporarily closed)",
    ),
    "phone": ({"phones": [{"number": "12345"}]}, "phones", "12345", "left out"),
    "website": ({"url": "http://"}, "url", "http://", "left out: it is not a website"),
}


@pytest.mark.parametrize("kind", list(BAD_VALUES))
async def test_a_bad_value_is_left_out_and_the_record_imported(
    database: Database, tmp_path: Path, kind: str
) -> None:
    extra, field, value, done = BAD_VALUES[kind]
    record = service("s1", **extra)
    if kind == "organisation":
        del record["organization"]
    summary = await import_directory(database, write(tmp_path, [record, service("s2", "Choir")]))
    assert summary.added == 2
    (warning,) = summary.warnings
    assert (warning.field, warning.value, warning.kind) == (field, value, kind)
    assert warning.done.startswith(done), warning.done
    assert warning.source_id == "s1" and warning.record == "service 1 (id 's1', “Tea and Chat”)"


@pytest.mark.parametrize(
    ("given", "kept", "mended"),
    [
        ("LU7 ONY", "LU7 0NY", True),
        ("lu7 0ny", "LU7 0NY", True),
        ("L2O 3AB", "L20 3AB", True),
        ("  L20   3AB ", "L20 3AB", True),
        ("L20 3AB", "L20 3AB", False),
        ("PR8", "PR8", False),
        ("ABC 1234", None, False),
        ("D02 X285", None, False),  # an Eircode is not guessed into a postcode
    ],
)
def test_postcodes_are_mended_only_when_obvious(given: str, kept: str | None, mended: bool) -> None:
    result = mend_postcode(given)
    assert (result.value, result.mended) == (kept, mended)


@pytest.mark.parametrize(
    ("given", "kept", "mended"),
    [
        ("0151 496 0901", "0151 496 0901", False),
        ("01514960901", "0151 496 0901", False),
        ("+44 (0)151 496 0901", "0151 496 0901", False),
        ("+44 151 496 0901", "0151 496 0901", False),
        ("0151-496-0901", "0151 496 0901", False),
        ("(0151) 496 0901", "0151 496 0901", False),
        ("0800 123 4567", "0800 123 4567", False),
        ("01632 960001", "01632 960001", False),  # Ofcom's numbers for drama and tests
        ("116 123", "116123", False),
        ("01234 567890 ext 2", "01234 567890 ext 2", False),
        ("0I5I 496 O9O1", "0151 496 0901", True),
        ("Call 0151 496 0901 (weekdays)", "0151 496 0901", True),
        ("0151 496 090", None, False),
        ("ring the office", None, False),
    ],
)
def test_uk_phone_numbers_in_any_common_format(given: str, kept: str | None, mended: bool) -> None:
    result = mend_phone(given)
    assert (result.value, result.mended) == (kept, mended)


def test_websites_and_emails() -> None:
    assert mend_url("www.example.org").value == "https://www.example.org"
    assert mend_url("www.example.org").mended
    assert mend_url("https://example.org/a?b=1").value == "https://example.org/a?b=1"
    assert mend_url("see our facebook page").value is None
    assert mend_url("ftp://example.org").value is None
    assert mend_email("mailto:hello@example.org").value == "hello@example.org"
    assert mend_email("hello@example").value is None


async def test_the_report_lists_every_warning(database: Database, tmp_path: Path) -> None:
    summary = await import_directory(database, MESSY_PAGE)
    report = tmp_path / "report.csv"
    assert write_report(summary, report) == 9
    with report.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows[0] == {
        "record_id": "m6",
        "record": "service 6 (id 'm6', “Letter O Lunch Club”)",
        "field": "service_at_locations[0].location.physical_addresses[0].postal_code",
        "value": "LU7 ONY",
        "problem": "Postcodes mended",
        "what_was_done": "mended to 'LU7 0NY'",
    }


def test_spbot_directory_import_with_a_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")
    report = tmp_path / "fix-these.csv"
    assert run("directory", "import", str(HSDS1), "--report", str(report)) == 0
    out = capsys.readouterr().out
    assert "3 added" in out
    assert "Files listed but not there (2):" in out
    assert f"All 7 warnings are listed in {report}." in out
    assert len(report.read_text(encoding="utf-8-sig").splitlines()) == 1 + 7
