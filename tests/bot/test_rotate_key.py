"""`spbot rotate-key` and DATA_ENCRYPTION_KEY, as the app's parser and start-up
run them, on SQLite and PostgreSQL (a database of its own: the command opens
DATABASE_URL itself)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot.app import build_app
from bot.cli import main
from bot.config import SettingsError, load_settings
from bot.store import Database
from bot.store.cases import Case
from bot.store.sealing import use_keys
from tests.conftest import POSTGRES_URL
from tests.fakes import FakeDirectory
from tests.staff.helpers import team

#: Three keys (fixed, so that every test process collects the same tests).
KEY_A, KEY_B, KEY_C = (base64.urlsafe_b64encode(bytes([n]) * 32).decode() for n in (1, 2, 3))
#: tests/flows/harness.py's HAPPY_PATH: what the patient says matters to them.
THEIR_WORDS = "lonely since my wife died"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[str]:
    """DATABASE_URL for the commands: a SQLite file, or a PostgreSQL database made
    for the test (the CLI cannot be given a schema)."""
    monkeypatch.chdir(tmp_path)  # no .env but the test's
    monkeypatch.setenv("STAFF_CHAT_ID", "")
    monkeypatch.setenv("MEANING_SCREEN", "false")
    monkeypatch.delenv("DATA_ENCRYPTION_KEY", raising=False)
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
        monkeypatch.setenv("DATABASE_URL", url)
        yield url
        use_keys([])
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need SPBOT_TEST_POSTGRES_URL (see .ci/run)")
    name = f"t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    try:
        yield url
    finally:
        use_keys([])
        asyncio.run(_admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    assert POSTGRES_URL
    admin = Database(POSTGRES_URL)
    try:
        async with admin.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await admin.close()


def referred_patient(url: str) -> str:
    """A referral in the queue, written through the services; its reference."""

    async def go() -> str:
        db = Database(url)
        try:
            t = await team(db)
            _, case = await t.referred_patient()
            return case.reference
        finally:
            await db.close()

    return asyncio.run(go())


def what_matters(url: str, reference: str) -> str | None:
    """What the case says matters to them, read as the app reads it."""

    async def go() -> str | None:
        db = Database(url)
        try:
            async with db.reading() as s:
                case = (
                    await s.execute(select(Case).where(Case.reference == reference))
                ).scalar_one()
                return case.summary.needs.what_matters
        finally:
            await db.close()

    return asyncio.run(go())


def starts(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    """Build the app as `spbot run` does, with this DATA_ENCRYPTION_KEY."""
    if key is None:
        monkeypatch.delenv("DATA_ENCRYPTION_KEY", raising=False)
    else:
        monkeypatch.setenv("DATA_ENCRYPTION_KEY", key)

    async def go() -> None:
        app = await build_app(load_settings(), directory=FakeDirectory())
        await app.close()

    asyncio.run(go())


def test_rotate_key_moves_everything_to_the_new_key(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", KEY_A)
    assert main(["db", "upgrade"]) == 0
    reference = referred_patient(database_url)  # sealed with A (main took the key)

    monkeypatch.setenv("DATA_ENCRYPTION_KEY", f"{KEY_B},{KEY_A}")
    capsys.readouterr()
    assert main(["rotate-key"]) == 0
    said = capsys.readouterr()
    count = int(said.out.split("Encrypted ")[1].split()[0])
    assert count > 0 and f"Encrypted {count} of {count} stored values" in said.out
    assert "the other keys in DATA_ENCRYPTION_KEY can now be removed" in said.out
    assert "Encrypting" in said.err  # the progress bar
    assert main(["rotate-key"]) == 0  # again: nothing left to do
    assert f"Encrypted 0 of {count} stored values" in capsys.readouterr().out

    starts(monkeypatch, KEY_B)  # the new key alone
    assert what_matters(database_url, reference) == (
        "I'd like to meet people, I've been lonely since my wife died"
    )

    for wrong in (KEY_A, KEY_C):  # the old key alone, or one that never wrote anything
        with pytest.raises(SettingsError, match="DATA_ENCRYPTION_KEY does not open data"):
            starts(monkeypatch, wrong)
        assert main(["rotate-key"]) == 2
        assert "DATA_ENCRYPTION_KEY does not open data" in capsys.readouterr().err
    with pytest.raises(SettingsError, match="DATA_ENCRYPTION_KEY is not set"):
        starts(monkeypatch, None)


def test_rotate_key_seals_what_was_kept_before_encryption_was_on(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    reference = referred_patient(database_url)  # no key: plain, as before
    starts(monkeypatch, None)

    monkeypatch.setenv("DATA_ENCRYPTION_KEY", KEY_A)
    starts(monkeypatch, KEY_A)  # plain rows read with a key set
    capsys.readouterr()
    assert main(["rotate-key"]) == 0
    out = capsys.readouterr().out
    assert "Encrypted" in out and "can now be removed" not in out  # one key
    assert THEIR_WORDS in (what_matters(database_url, reference) or "")
    with pytest.raises(SettingsError, match="DATA_ENCRYPTION_KEY is not set"):
        starts(monkeypatch, None)


def test_rotate_key_without_a_key_says_how_to_make_one(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rotate-key"]) == 2
    err = capsys.readouterr().err
    assert "DATA_ENCRYPTION_KEY is not set" in err and "spbot rotate-key --new-key" in err


def test_new_key_prints_a_key_and_how_to_keep_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", "not a key")  # works even then
    assert main(["rotate-key", "--new-key"]) == 0
    out = capsys.readouterr().out
    key = out.split()[0]
    Fernet(key)  # a usable key
    assert "never in the repository" in out and "DATA_ENCRYPTION_KEY=<this key>" in out
    assert main(["rotate-key", "--new-key"]) == 0
    assert capsys.readouterr().out.split()[0] != key
    use_keys([])


@pytest.mark.parametrize("value", ["not a key", f"{KEY_A},abc", " , "])
def test_a_wrong_key_setting_is_named_and_not_quoted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    said = str(error.value)
    assert said.startswith("DATA_ENCRYPTION_KEY") and "spbot rotate-key --new-key" in said
    assert "Fernet.generate_key()" in said
    assert KEY_A not in said and "abc" not in said


def test_the_key_setting_is_read_and_kept_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_ENCRYPTION_KEY", f" {KEY_B} , {KEY_A} ")
    settings = load_settings()
    assert settings.encryption_keys == [KEY_B, KEY_A]
    assert KEY_A not in repr(settings) and KEY_A not in str(settings)
    monkeypatch.delenv("DATA_ENCRYPTION_KEY")
    assert load_settings().encryption_keys == []
