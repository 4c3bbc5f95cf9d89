"""Shared fixtures. `database` runs a test on SQLite and, when
SPBOT_TEST_POSTGRES_URL is set, again on PostgreSQL in a schema of its own (so
parallel runs on one server never see each other's rows)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.safety import model_files
from bot.safety.meaning import MeaningScreen
from bot.safety.model_files import ModelFilesError
from bot.store import Database

POSTGRES_URL = os.environ.get("SPBOT_TEST_POSTGRES_URL")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec and callspec.params.get("database") == "postgresql":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}")
        await db.upgrade()
        yield db
        await db.close()
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need SPBOT_TEST_POSTGRES_URL (see .ci/run)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(POSTGRES_URL)
    async with admin.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(POSTGRES_URL, schema=schema)
    try:
        await db.upgrade()
        yield db
    finally:
        await db.close()
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.close()


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
