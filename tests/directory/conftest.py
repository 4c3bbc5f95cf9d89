"""Fixtures for the directory tests: the fixture files, and the sample directory
indexed in memory (no database), as the bot would hold it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.directory import SAMPLE_DIRECTORY, SAMPLE_POSTCODES, DirectoryIndex
from bot.directory.importer import read_path
from bot.directory.postcodes import Centroids, read_postcode_csv

FIXTURES = Path(__file__).parent / "fixtures"


def index_of(path: Path, postcodes: Path = SAMPLE_POSTCODES) -> DirectoryIndex:
    read = read_path(path)
    assert not read.problems, [str(p) for p in read.problems.items]
    points, _ = read_postcode_csv(postcodes)
    return DirectoryIndex.from_records(
        ((r.source_id, r.organisation.source_id, r) for r in read.records), Centroids(points)
    )


@pytest.fixture(scope="session")
def sample_index() -> DirectoryIndex:
    return index_of(SAMPLE_DIRECTORY)
