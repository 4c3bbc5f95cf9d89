"""`spbot subject-access`, `spbot erase` and `spbot purge`, as the app's parser runs
them; and retention with a clock the test moves."""

from __future__ import annotations

import asyncio
import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.patients.privacy import sweep
from bot.store import Database
from bot.store.patients import Conversation, Patient
from tests.staff.helpers import MONDAY, SAM_ID, team


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("STAFF_CHAT_ID", "")
    monkeypatch.setenv("MEANING_SCREEN", "false")
    return url


def a_referral(url: str) -> str:
    """A patient's referral in the queue; its reference."""

    async def go() -> str:
        db = Database(url)
        await db.upgrade()
        t = await team(db)
        _, case = await t.referred_patient()
        await db.close()
        return case.reference

    return asyncio.run(go())


def patients(url: str) -> int:
    async def go() -> int:
        db = Database(url)
        async with db.sessions() as s:
            count = await s.scalar(select(func.count()).select_from(Patient))
        await db.close()
        return int(count or 0)

    return asyncio.run(go())


def test_subject_access_writes_everything_readable_by_its_owner_only(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = a_referral(database_url)
    out = tmp_path / "their-data.json"
    assert main(["subject-access", reference.lower(), "--output", str(out)]) == 0
    everything = json.loads(out.read_text(encoding="utf-8"))
    assert everything["conversation"]["answers"]["postcode"] == "L20 3AB"
    assert everything["cases"][0]["reference"] == reference
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "Send it to them securely" in capsys.readouterr().out
    assert main(["subject-access", "SP-NONE", "--output", str(out)]) == 1


def test_erase_asks_for_the_reference_again_unless_told_yes(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = a_referral(database_url)
    monkeypatch.setattr("builtins.input", lambda prompt: "SP-WRNG")
    assert main(["erase", reference]) == 1
    assert "nothing was deleted" in capsys.readouterr().out and patients(database_url) == 1
    assert main(["erase", reference, "--yes"]) == 0
    assert "Erased: 1 case(s)" in capsys.readouterr().out
    assert patients(database_url) == 0
    assert main(["audit", reference]) == 0
    assert "erase" in capsys.readouterr().out  # that it happened, with no content


def test_purge_dry_run_says_what_would_go_and_changes_nothing(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a_referral(database_url)
    assert main(["purge", "--dry-run"]) == 0
    assert "Nothing is due to be erased" in capsys.readouterr().out
    assert patients(database_url) == 1


async def test_retention_erases_closed_and_abandoned_and_nothing_else(database: Database) -> None:
    t = await team(database)
    _, closed = await t.referred_patient(chat_id=71)
    await t.act(SAM_ID, f"/claim {closed.reference}")
    await t.act(SAM_ID, f"/close {closed.reference} signposted")
    await t.referred_patient(chat_id=72)  # an open case: kept however old
    left = t.patient(73)
    await left.walk_to("mode")  # left halfway
    settings, listener = t.settings, t.patients.listener

    at_89_days = MONDAY + timedelta(days=89)
    assert await sweep(database, settings, listener, at_89_days) == []
    dry = await sweep(database, settings, listener, MONDAY + timedelta(days=91), dry_run=True)
    assert [(d.reason, d.references) for d in dry] == [("abandoned", ())]
    async with database.sessions() as s:
        assert await s.get(Conversation, (await s.scalar(
            select(Patient.id).where(Patient.chat_id == 73)))) is not None  # fmt: skip
    done = await sweep(database, settings, listener, MONDAY + timedelta(days=91))
    assert [d.reason for d in done] == ["abandoned"]
    # Two years (RETENTION_DAYS=730) after the case closed: it goes; the open one stays.
    assert await sweep(database, settings, listener, MONDAY + timedelta(days=729)) == []
    done = await sweep(database, settings, listener, MONDAY + timedelta(days=731))
    assert [(d.reason, d.references) for d in done] == [("retention", (closed.reference,))]
    async with database.sessions() as s:
        left_ids = (await s.execute(select(Patient.chat_id))).scalars().all()
    assert left_ids == [72]


def test_erase_waits_for_an_unseen_safety_alert(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def go() -> str:
        db = Database(database_url)
        await db.upgrade()
        t = await team(db)
        _, case = await t.referred_patient()
        await t.crisis(case)
        await db.close()
        return case.reference

    reference = asyncio.run(go())
    assert main(["erase", reference, "--yes"]) == 1
    assert "safety alert nobody has seen yet" in capsys.readouterr().err
    assert patients(database_url) == 1
