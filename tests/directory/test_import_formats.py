"""Each format is read into the same activity records, field by field."""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from pathlib import Path

import pytest

from bot.directory.importer import read_path
from bot.directory.records import ActivityRecord, ScheduleRecord
from tests.directory.conftest import FIXTURES


def by_id(path: Path) -> dict[str, ActivityRecord]:
    read = read_path(path)
    assert not read.problems, [str(p) for p in read.problems.items]
    return {record.source_id: record for record in read.records}


def test_oruk3_full_service() -> None:
    read = read_path(FIXTURES / "oruk3_full_service.json")
    assert read.format == "ORUK 3.0"
    (record,) = read.records
    assert record.source_id == "0d6a4c3e-5b1f-4a8e-9f2a-1c3b5d7e9f01"
    assert record.name == "Seaforth Walking Netball"
    assert record.organisation.name == "Seaforth Netball Club"
    assert record.organisation.source_id == "8192a3b4-0000-4000-8000-000000000001"
    assert record.url == "https://example.org/walking-netball"
    assert record.modes == ("in_person",)
    assert record.format == "group"  # "in a friendly group"
    assert record.free is False and record.cost == "£2 per session (Adults)"
    assert (record.minimum_age, record.maximum_age) == (16, 99)
    assert record.checked_on == date(2026, 6, 1)
    assert record.taxonomy_terms == ("Netball", "Keeping active")
    assert record.need_areas == ("activity",)
    assert record.accessibility == "Step-free access and an accessible changing room."
    assert record.schedules == (
        ScheduleRecord(1, "18:00", "19:00", True, None),
        ScheduleRecord(3, "18:00", "19:00", True, None),
        ScheduleRecord(5, "10:00", "11:30", False, "first Saturday of the month"),
    )
    (place,) = record.locations
    assert place.postcode == "L21 1AA"
    assert (place.latitude, place.longitude) == (53.4655, -3.0055)
    assert place.address == "1 Crosby Road South, Seaforth"
    assert record.how_to_join == "Just turn up"


def test_oruk1_services() -> None:
    read = read_path(FIXTURES / "oruk1_services.json")
    assert read.format == "ORUK 1.0"
    records = {r.source_id: r for r in read.records}
    debt = records["oruk1-1"]
    assert debt.need_areas == ("money",)
    assert debt.schedules == (
        ScheduleRecord(2, "10:00", "12:00", True, None),
    )  # weekday 3 = Wednesday
    assert debt.locations[0].postcode == "L20 4AB"
    assert debt.phone == "0151 496 0901"
    assert debt.free is True
    assert debt.how_to_join == "Just turn up: no need to book."
    assert debt.accessibility == "Step-free entrance"
    assert (debt.minimum_age, debt.maximum_age) == (18, 120)
    lunch = records["oruk1-2"]
    assert lunch.description == "A hot lunch and good company."
    assert lunch.schedules[0].day == 4  # "Friday"
    assert lunch.need_areas == ("loneliness",)
    carers = records["oruk1-3"]
    assert carers.modes == ("phone",)
    assert carers.locations == ()
    assert carers.by_appointment is True
    assert records["oruk1-5"].schedules[0].day == 1  # "TU"


def test_messy_feed_is_read_without_editing() -> None:
    read = read_path(FIXTURES / "messy_feed.json")
    records = {r.source_id: r for r in read.records}
    assert set(records) == {"101", "102", "103", "104", "105"}  # integer ids become text
    knit = records["101"]
    assert knit.name == "Knit Club"  # Windows line ending gone
    assert knit.description == "Knitting and a natter.\nAll welcome."
    assert knit.organisation.name == "Waterloo Crafters"  # "organisation", British spelling
    assert knit.locations[0].postcode == "L22 5PE"  # "l225pe"
    assert (knit.locations[0].latitude, knit.locations[0].longitude) == (
        53.4753,
        -3.0247,
    )  # GeoJSON
    assert knit.schedules == (ScheduleRecord(0, "13:30", "15:30", True, None),)
    assert (knit.free, knit.cost) == (False, "£1.50 per session")  # amount as a string
    assert knit.minimum_age == 18
    friends = records["102"]
    assert friends.locations[0].postcode == "L31"  # only a district
    assert friends.locations[0].latitude == 53.5169  # coordinates as strings
    assert friends.free is True  # "£0.00"
    assert records["103"].modes == ("online",)  # no location, "Online, on Zoom"
    assert records["104"].modes == ("phone",)  # no location, a phone number
    assert records["104"].phone == "01632 960001"
    assert records["105"].active is False  # defunct


def test_hsds_data_package(tmp_path: Path) -> None:
    for source in (
        FIXTURES / "hsds_package",
        FIXTURES / "hsds_package" / "datapackage.json",
        _zipped(FIXTURES / "hsds_package", tmp_path / "package.zip"),
    ):
        records = by_id(source)
        assert set(records) == {"svc-1", "svc-2", "svc-3"}
        gym = records["svc-1"]
        assert gym.organisation.name == "Formby Green Gym"
        assert gym.locations[0].postcode == "L37 1LJ"
        assert gym.free is True
        assert gym.schedules[0].day == 5
        assert gym.need_areas == ("mood", "activity")  # "Gardening", in NEED_AREAS order
        housing = records["svc-2"]
        assert housing.locations[0].latitude is None  # empty cells are "not given"
        assert housing.phone == "01632 960111"
        assert housing.need_areas == ("housing",)
        assert records["svc-3"].modes == ("phone",)


def _zipped(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for file in folder.iterdir():
            archive.write(file, f"export/{file.name}")
    return target


def test_simple_csv() -> None:
    read = read_path(FIXTURES / "activities.csv")
    assert read.format == "simple CSV"
    records = {r.source_id: r for r in read.records}
    choir = records["1"]
    assert choir.organisation.name == "Crosby Singers"
    assert choir.need_areas == ("loneliness", "mood")
    assert choir.schedules == (ScheduleRecord(3, "19:00", "20:30", True, None),)
    assert choir.locations[0].postcode == "L23 5SE"
    assert (choir.free, choir.cost) == (False, "£2 a session")
    assert choir.format == "group"
    calls = records["2"]
    assert calls.modes == ("phone",) and calls.by_appointment and calls.free
    assert calls.format == "one_to_one"
    art = records["3"]
    assert art.modes == ("in_person", "online")
    assert [s.day for s in art.schedules] == [1, 2]
    assert art.schedules[0].note == "every other week" and not art.schedules[0].weekly
    assert art.active is True  # "active" left empty


def test_the_template_csv_imports(tmp_path: Path) -> None:
    template = (
        Path(__file__).resolve().parents[2] / "docs" / "directory" / "activities-template.csv"
    )
    copy = tmp_path / "mine.csv"
    shutil.copy(template, copy)
    assert read_path(copy).records


@pytest.mark.parametrize(
    "name", ["oruk3_full_service.json", "oruk1_services.json", "messy_feed.json"]
)
def test_the_fixtures_follow_oruk_field_names(name: str) -> None:
    """Fixtures use the standard's names, so the tests prove we read real feeds."""
    import json

    text = (FIXTURES / name).read_bytes().decode("utf-8-sig")
    document = json.loads(text)
    services = document if isinstance(document, list) else document.get("contents", [document])
    known = {
        "id", "name", "description", "url", "email", "status", "fees", "accreditations",
        "minimum_age", "maximum_age", "assured_date", "assurer_email", "alert", "last_modified",
        "schedules", "service_areas", "service_at_locations", "languages", "organization",
        "funding", "cost_options", "contacts", "attributes", "deliverable_type",
        "attending_type", "attending_access", "service_taxonomys", "regular_schedules",
        "eligibilitys",
        # the quirks real feeds have, on purpose:
        "organisation", "locations", "phones",
    }  # fmt: skip
    for service in services:
        assert set(service) <= known, set(service) - known
