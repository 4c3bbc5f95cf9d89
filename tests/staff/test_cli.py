"""`spbot staff ...` and `spbot audit`, as the app's parser runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.store import Database
from bot.store.base import utcnow
from bot.store.cases import Case
from bot.store.patients import Patient
from bot.store.staff import LinkWorker, invite_hash


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("STAFF_CHAT_ID", "")  # as .env.example has it: not set
    return url


def claimed_case(url: str, telegram_id: int) -> None:
    async def go() -> None:
        db = Database(url)
        async with db.transaction() as s:
            worker = (
                await s.execute(select(LinkWorker).where(LinkWorker.telegram_id == telegram_id))
            ).scalar_one()
            patient = Patient(channel="telegram", chat_id=1, created_at=utcnow())
            s.add(patient)
            await s.flush()
            s.add(Case(reference="SP-CL1Q", patient_id=patient.id, status="claimed",
                       link_worker_id=worker.id, opened_at=utcnow(), summary={}))  # fmt: skip
        await db.close()

    asyncio.run(go())


def test_add_list_invite_remove_and_audit(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["staff", "add", "--telegram-id", "123", "--name", "Sam"]) == 0
    out = capsys.readouterr().out
    assert "Sam (link_worker) is on the team" in out
    assert "press Start" in out  # else Telegram will not let the bot message them
    assert main(["staff", "add", "--telegram-id", "456", "--name", "Ash", "--role", "admin"]) == 0
    capsys.readouterr()

    assert main(["staff", "invite", "--name", "Robin", "--hours", "24"]) == 0
    out = capsys.readouterr().out
    code = out.split("Invitation code: ")[1].split()[0]
    assert f"/join {code}" in out and "It works once" in out
    assert len(code) == 14 and code.count("-") == 2 and invite_hash(code) not in out

    claimed_case(database_url, 123)
    assert main(["staff", "list"]) == 0
    listing = capsys.readouterr().out
    assert "Sam" in listing and "1 open" in listing and "admin" in listing

    assert main(["staff", "remove", "--telegram-id", "123"]) == 0
    assert "Back in the queue: SP-CL1Q" in capsys.readouterr().out
    assert main(["staff", "list"]) == 0
    assert "removed" in capsys.readouterr().out

    assert main(["audit", "sp-cl1q"]) == 0
    trail = capsys.readouterr().out
    assert "command line" in trail and "returned" in trail


def test_mistakes_get_one_sentence(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["staff", "remove", "--telegram-id", "999"]) == 2
    assert "nobody with Telegram id 999" in capsys.readouterr().err
    assert main(["staff", "invite", "--hours", "0"]) == 2
    assert "--hours must be more than 0" in capsys.readouterr().err
    assert main(["audit", "SP-NONE"]) == 1
    assert "Nothing recorded for SP-NONE" in capsys.readouterr().err
