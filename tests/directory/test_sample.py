"""The sample directory is valid ORUK 3.0, clearly fictional, and varied."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest

from bot.directory import SAMPLE_DIRECTORY
from bot.directory.importer import read_path
from tests.conftest import SHARED

SERVICES: list[dict[str, Any]] = json.loads(SAMPLE_DIRECTORY.read_text(encoding="utf-8"))


def test_sample_follows_the_oruk3_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed")
    schema_file = SHARED / "open-referral-uk" / "oruk3" / "compiled" / "service.json"
    if not schema_file.exists():
        pytest.skip(f"the ORUK 3.0 schemas are not at {schema_file.parent} (../shared is absent)")
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    for service in SERVICES:
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(service)]
        assert not errors, (service["name"], errors)


def test_sample_is_labelled_and_uses_drama_numbers() -> None:
    for service in SERVICES:
        assert service["organization"]["description"].startswith(
            "SAMPLE DATA – not a real service."
        )
        assert "Sample data" in service["description"]
        for phone in service.get("phones", []):
            # Ofcom reserves 0151 496 0000–0999 for drama.
            assert re.fullmatch(r"0151 496 0\d{3}", phone["number"]), phone["number"]
        assert service["email"].endswith("@example.org")


def test_sample_is_varied() -> None:
    read = read_path(SAMPLE_DIRECTORY)
    assert not read.problems and 38 <= len(read.records) <= 45
    needs = Counter(need for record in read.records for need in record.need_areas)
    assert all(needs[need] >= 2 for need in needs) and len(needs) == 10
    modes = Counter(mode for record in read.records for mode in record.modes)
    assert modes["online"] >= 4 and modes["phone"] >= 4
    towns = {
        place.address.split(", ")[-1]
        for r in read.records
        for place in r.locations
        if place.address
    }
    assert {"Bootle", "Litherland", "Crosby", "Southport", "Formby", "Maghull"} <= towns
