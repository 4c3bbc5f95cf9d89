"""Feeds re-imported on a schedule (`--every 1d`), the database as the truth."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import build_app
from bot.config import load_settings
from bot.directory.feeds import import_due_feeds, schedule_feed
from bot.store import Database
from bot.store.directory import feed_schedules
from flows.directory import Profile
from tests.directory.test_cli import run
from tests.directory.test_import_store import active_names, service, write

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)


async def test_a_due_feed_is_imported_once_and_its_next_time_kept(
    database: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, [service("a", "Art Club"), service("b", "Book Club")])
    await schedule_feed(database, "council", str(path), DAY, deactivate_missing=True, now=T0)
    assert await import_due_feeds(database, T0 + timedelta(hours=23)) == 0
    assert await active_names(database) == []

    assert await import_due_feeds(database, T0 + DAY) == 1
    assert await active_names(database) == ["Art Club", "Book Club"]

    write(tmp_path, [service("a", "Art Club (Mondays)")])  # the council changed its feed
    # Two instances tick at the same moment: one imports.
    done = await asyncio.gather(
        import_due_feeds(database, T0 + 2 * DAY), import_due_feeds(database, T0 + 2 * DAY)
    )
    assert sorted(done) == [0, 1]
    assert await active_names(database) == ["Art Club (Mondays)"]  # --deactivate-missing
    async with database.sessions() as session:
        (schedule,) = await feed_schedules(session)
    assert schedule.next_due_at == T0 + 3 * DAY
    assert schedule.last_result is not None and "1 updated" in schedule.last_result


async def test_a_failed_import_changes_nothing_and_is_tried_next_time(
    database: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, [service("a", "Art Club")])
    await schedule_feed(database, "council", str(path), DAY, deactivate_missing=False, now=T0)
    await import_due_feeds(database, T0 + DAY)
    path.write_text("[{not json", encoding="utf-8")
    assert await import_due_feeds(database, T0 + 2 * DAY) == 0
    assert await active_names(database) == ["Art Club"]
    async with database.sessions() as session:
        (schedule,) = await feed_schedules(session)
    assert schedule.last_result is not None and schedule.last_result.startswith(
        "Failed: Nothing was imported"
    )
    assert schedule.next_due_at == T0 + 3 * DAY


def test_spbot_directory_import_every(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")
    path = write(tmp_path, [service("a", "Art Club")])
    assert run("directory", "import", str(path), "--every", "1d") == 0
    out = capsys.readouterr().out
    assert "The running bot will import feed.json again every 1d" in out
    assert run("directory", "feeds") == 0
    assert f"feed.json: {path} every 1 day, 0:00:00, next" in capsys.readouterr().out
    assert run("directory", "import", str(path), "--every", "1s") == 1
    assert "--every='1s' should be a number and a unit" in capsys.readouterr().err
    assert run("directory", "import", str(path), "--every", "never") == 0
    assert "will no longer be imported on a schedule" in capsys.readouterr().out
    assert run("directory", "feeds") == 0
    assert capsys.readouterr().out.startswith("No feeds are imported on a schedule")


async def test_the_running_bot_imports_a_due_feed_and_suggests_from_it(tmp_path: Path) -> None:
    now = [T0]
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    app = await build_app(settings, clock=lambda: now[0])
    try:
        path = write(tmp_path, [service("a", "Art Club", description="Painting for everyone.")])
        await schedule_feed(app.db, "council", str(path), DAY, deactivate_missing=False, now=T0)
        assert await app.import_due_feeds() == 0 and app.directory.suggest(Profile()) == []
        now[0] = T0 + DAY
        assert await app.import_due_feeds() == 1
        assert [s.name for s in app.directory.suggest(Profile())] == ["Art Club"]
    finally:
        await app.close()
