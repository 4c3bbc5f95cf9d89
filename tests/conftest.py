"""Shared fixtures. `database` (and `fresh_database_url`) runs a test on SQLite and, when
SPBOT_TEST_POSTGRES_URL is set, again on PostgreSQL in a database of its own (so
parallel runs on one server never see each other's rows), copied from one migrated
template per test process (tests/postgres.py)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.safety import model_files
from bot.safety.meaning import MeaningScreen
from bot.safety.model_files import ModelFilesError
from bot.store import Database
from tests.postgres import POSTGRES_URL, SKIP_REASON, drop_templates, template

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and "postgresql" in (
            callspec.params.get("database"),
            callspec.params.get("fresh_database_url"),
            callspec.params.get("e2e_database_url"),
        ):
            item.add_marker(pytest.mark.postgres)


_sqlite_template: list[bytes] = []


async def migrated_sqlite(path: Path) -> None:
    """A migrated, empty SQLite file at `path` (readable by its owner only): a copy
    of one migrated once per test process (migrating takes a third of a second)."""
    if not _sqlite_template:
        with tempfile.TemporaryDirectory() as folder:
            template = Path(folder) / "template.sqlite3"
            db = Database(f"sqlite+aiosqlite:///{template}")
            await db.upgrade()
            await db.checkpoint()
            await db.close()
            _sqlite_template.append(template.read_bytes())
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(_sqlite_template[0])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_templates()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a migrated, empty PostgreSQL database of this test's own (skipped,
    saying why, without SPBOT_TEST_POSTGRES_URL)."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    async with (await template()).copy() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database's URL: a SQLite file, or a PostgreSQL database of
    this test's own."""
    if request.param == "sqlite":
        await migrated_sqlite(tmp_path / "test.sqlite3")
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    async with (await template()).copy() as url:
        yield url


@pytest.fixture
async def database(fresh_database_url: str) -> AsyncIterator[Database]:
    """A migrated, empty database (on both, see `fresh_database_url`)."""
    db = Database(fresh_database_url)
    yield db
    await db.close()


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The embedding model's folder, fetched once if it is not there (`make install`
    fetches it); the test is skipped, saying why, when it cannot be had."""
    pytest.importorskip("tokenizers", reason="the encoder needs the `tokenizers` package")
    folder = model_files.default_model_dir()
    try:
        return model_files.verify(folder)
    except ModelFilesError as missing:
        if os.environ.get("SPBOT_NO_MODEL_FETCH"):
            pytest.skip(f"embedding model not available (SPBOT_NO_MODEL_FETCH is set): {missing}")
    try:
        return model_files.fetch(folder)
    except ModelFilesError as exc:
        pytest.skip(f"embedding model not available and could not be fetched: {exc}")


@pytest.fixture(scope="session")
def meaning_screen(model_dir: Path) -> MeaningScreen:
    """The meaning-based crisis screen, loaded once per test process."""
    return MeaningScreen.load(model_dir)
