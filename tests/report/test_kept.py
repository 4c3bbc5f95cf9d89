"""The report's figures worked out ahead each night and kept, so that `spbot
report` is ready at once on a big service (bot/report/reading.py)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app
from bot.cli import main
from bot.config import load_settings
from bot.report.demo import demo_milestones
from bot.report.figures import Figures
from bot.report.reading import KEPT_FOR, default_period, due, keep, kept, read_figures
from bot.store import Database
from bot.store.base import utcnow
from bot.store.milestones import record
from tests.report import hand
from tests.report.conftest import LONDON


def test_kept_figures_read_back_exactly_as_they_were_worked_out(july: Figures) -> None:
    # The hand-written July has something in every kind of figure, so none is left out.
    assert july.to_claim and july.to_contact and july.activities and july.stopped_at
    assert all(paired.pairs for paired in july.wellbeing.values())

    assert Figures.from_json(json.loads(json.dumps(july.to_json()))) == july


async def test_the_night_s_figures_are_the_report_s_and_are_used_for_a_day_and_a_half(
    database: Database,
) -> None:
    async with database.transaction() as session:
        for m in demo_milestones(seed=5):
            await record(session, m.journey, m.step, m.at, reference=m.reference, **m.detail)
    night = hand.AS_OF  # the demo's quarter is the last full one before it

    quarter = await keep(database, LONDON, night)

    found = await kept(database, quarter, LONDON, night + timedelta(hours=10))
    assert found is not None and found.as_of == night
    worked_out = await read_figures(database, quarter, zone=LONDON, as_of=night)
    assert (found.current, found.earlier) == worked_out
    assert found.current.started > 100
    # Not for another period, and not once they are too old to be last night's.
    assert await kept(database, quarter.previous(), LONDON, night) is None
    assert await kept(database, quarter, LONDON, night + KEPT_FOR + timedelta(minutes=1)) is None


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A service with seven people who started in the last full quarter (the
    report's without dates) and three who started in the quarter before."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'report.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("TIMEZONE", "Europe/London")
    monkeypatch.chdir(tmp_path)
    quarter = default_period(utcnow(), LONDON)
    asyncio.run(_started(url, 7, quarter.start))
    asyncio.run(_started(url, 3, quarter.previous().start))
    return url


async def _started(url: str, people: int, day: date, *, tag: str = "") -> None:
    db = Database(url)
    await db.upgrade()
    start = datetime.combine(day, time(12), tzinfo=LONDON).astimezone(UTC)
    async with db.transaction() as session:
        for n in range(people):
            await record(session, f"{tag}{day}-{n}", "started", start + timedelta(days=n))
    await db.close()


def started(csv_text: str) -> str:
    rows = csv.DictReader(io.StringIO(csv_text))
    return next(
        r["value"]
        for r in rows
        if r["group"] == "Started a conversation" and r["measure"] == "people"
    )


def test_the_report_uses_last_night_s_figures_and_says_so(
    service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--keep"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("Kept the figures of the outcomes report for 1 ")
    assert "`spbot report` uses them" in said
    # Someone else starts after the figures were worked out.
    asyncio.run(_started(service, 1, default_period(utcnow(), LONDON).start, tag="later"))

    assert main(["report", "--format", "csv", "--output", "-"]) == 0
    kept_report = capsys.readouterr()
    assert started(kept_report.out) == "7"
    assert "worked out ahead: `spbot report --now` works them out afresh" in (kept_report.err)

    assert main(["report", "--format", "csv", "--output", "-", "--now"]) == 0
    fresh = capsys.readouterr()
    assert started(fresh.out) == "8"
    assert "worked out ahead" not in fresh.err


def test_a_report_for_other_dates_is_worked_out_afresh(
    service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--keep"]) == 0
    quarter = default_period(utcnow(), LONDON)
    asyncio.run(_started(service, 1, quarter.start, tag="later"))
    capsys.readouterr()

    # The same quarter asked for by its dates uses the kept figures...
    dates = ["--from", quarter.start.isoformat(), "--to", quarter.end.isoformat()]
    assert main(["report", *dates, "--format", "csv", "--output", "-"]) == 0
    assert started(capsys.readouterr().out) == "7"
    # ...any other period is worked out now.
    a_month = [
        "--from",
        quarter.start.isoformat(),
        "--to",
        (quarter.start + timedelta(31)).isoformat(),
    ]
    assert main(["report", *a_month, "--format", "csv", "--output", "-"]) == 0
    other = capsys.readouterr()
    assert started(other.out) == "8" and "worked out ahead" not in other.err


def test_keep_is_for_the_report_without_dates(
    service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--keep", "--from", "2026-07-01"]) == 2
    assert capsys.readouterr().err == (
        "spbot: --keep works out the figures of the report without dates (the last full "
        "quarter): leave out --from, --to and --now\n"
    )


def _hours_around(now: datetime, zone: ZoneInfo, before: int, after: int) -> str:
    local = now.astimezone(zone)
    return f"{local - timedelta(hours=before):%H:%M}-{local + timedelta(hours=after):%H:%M}"


async def test_the_running_bot_keeps_the_figures_once_a_night_in_quiet_hours(
    fresh_database_url: str,
) -> None:
    """The bot's housekeeping job, with the real `spbot report --keep` process."""
    now = utcnow()
    await _started(fresh_database_url, 7, default_period(now, LONDON).start)

    async def bot(quiet_hours: str) -> App:
        settings = load_settings(
            database_url=fresh_database_url, timezone="Europe/London", quiet_hours=quiet_hours
        )
        return await build_app(settings, clock=lambda: now)

    app = await bot(_hours_around(now, LONDON, -2, 3))  # quiet hours start in two hours
    try:
        assert await app.keep_report_figures() is False  # the day: nothing is worked out
        assert await kept(app.db, default_period(now, LONDON), LONDON, now) is None
    finally:
        await app.close()

    app = await bot(_hours_around(now, LONDON, 1, 1))  # now it is quiet
    try:
        assert await app.keep_report_figures() is True
        found = await kept(app.db, default_period(now, LONDON), LONDON, utcnow())
        assert found is not None and found.current.started == 7
        assert await app.keep_report_figures() is False  # once a night
    finally:
        await app.close()


async def test_with_no_quiet_hours_the_figures_are_kept_twice_a_day(database: Database) -> None:
    never_quiet = (time(0), time(0))
    night = hand.AS_OF
    assert await due(database, LONDON, never_quiet, night)
    await keep(database, LONDON, night)
    assert not await due(database, LONDON, never_quiet, night + timedelta(hours=11))
    assert await due(database, LONDON, never_quiet, night + timedelta(hours=12, minutes=1))
