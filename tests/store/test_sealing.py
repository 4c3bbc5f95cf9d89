"""Encryption at rest (DATA_ENCRYPTION_KEY, bot/store/sealing.py), on SQLite and
PostgreSQL: with a key the raw database holds none of what a person wrote, but the
app reads all of it; rotation moves everything to a new key; a wrong or missing key
is named; with no key, values are stored as they always were."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot import encryption
from bot.config import SettingsError
from bot.encryption import rotate
from bot.store import Database
from bot.store import inbox as kept
from bot.store.cases import Case, CaseEntry
from bot.store.rotation import Batch, newest_values_open, reseal_batch, sealed_columns
from bot.store.sealing import (
    EncryptionKeyError,
    SealedModel,
    open_json,
    open_text,
    seal_json,
    seal_text,
    use_keys,
)
from flows.summary import AboutThePerson, CaseSummary
from tests.staff.helpers import SAM_ID, Team, team

#: Three keys (fixed, so that every test process collects the same tests).
KEY_A, KEY_B, KEY_C = (base64.urlsafe_b64encode(bytes([n]) * 32).decode() for n in (1, 2, 3))

#: What only this person wrote: none of it may be in the raw database with a key.
NAME = "Quillonia"
STORY = "my kingfisher Barnabus-7731 flew off and I stopped going out"
PHONE, PHONE_DIGITS = "07412 583961", "7412583961"
FOLLOW_UP = "Barnabus-7731 came back this morning"
NOTE = "Knows the heron-watch group at Crosby"
INBOX_WORDS = "zircon-meadow-8812 is what I typed"
SECRETS = ("Quillonia", "Barnabus-7731", PHONE_DIGITS, "heron-watch", "zircon-meadow-8812")


@pytest.fixture(autouse=True)
def no_keys_after() -> Iterator[None]:
    """The keyring is held by the process: leave it as the other tests expect."""
    use_keys([])
    yield
    use_keys([])


async def write_everything(t: Team) -> Case:
    """A referral typed through the real services, a message after the handoff, a
    link worker's note, and an update kept in the inbox."""
    chat = t.patient()
    await chat.walk_to("name")
    await chat.send(NAME)
    await chat.send(STORY)
    await chat.walk_to("phone")
    await chat.send(PHONE)
    await chat.walk_to("the end")
    case = await t.case()
    await t.act(SAM_ID, f"/claim {case.reference}")
    t.clock.advance(minutes=5)
    await chat.send(FOLLOW_UP)
    await t.act(SAM_ID, f"/note {case.reference} {NOTE}")
    async with t.db.durable_transaction() as s:
        update = {"update_id": 77, "message": {"chat": {"id": 42}, "text": INBOX_WORDS}}
        await kept.keep(s, [kept.Received(77, 42, update)], t.clock())
    return case


async def raw_holds(db: Database) -> set[str]:
    """Which of SECRETS are anywhere in the stored data, read raw: SQLite's file
    (and its log) byte by byte; on PostgreSQL every text and JSON column of every
    table, as text."""
    if db.is_sqlite:
        await db.checkpoint()
        path = Path(str(make_url(db.url).database))
        stored = b"".join(
            p.read_bytes()
            for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal"))
            if p.exists()
        ).decode("latin-1")
    else:
        async with db.sessions() as s:
            columns = await s.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = :schema AND data_type IN "
                    "('text', 'character varying', 'json', 'jsonb')"
                ),
                {"schema": db.schema or "public"},
            )
            found = []
            for table, column in columns.all():
                values = await s.execute(text(f'SELECT "{column}"::text FROM "{table}"'))
                found.extend(v for v in values.scalars() if v is not None)
        stored = "\n".join(found)
    return {secret for secret in SECRETS if secret in stored}


async def read_every_sealed_value(db: Database) -> int:
    """Read every sealed column of every row through the app's types (raises if a
    value does not open)."""
    count = 0
    async with db.sessions() as s:
        for column in sealed_columns():
            count += len((await s.execute(select(column))).all())
    return count


async def the_case_view(t: Team, case: Case) -> str:
    await t.act(SAM_ID, f"/case {case.reference}")
    return "\n".join(await t.said(SAM_ID))


async def test_with_a_key_the_raw_database_holds_none_of_it_and_the_app_reads_it_all(
    database: Database,
) -> None:
    use_keys([KEY_A])
    t = await team(database)
    case = await write_everything(t)
    assert await raw_holds(database) == set()

    view = await the_case_view(t, case)
    assert STORY in view and NAME in view and PHONE in view and FOLLOW_UP in view
    async with database.sessions() as s:
        stored = await s.get(Case, case.id)
        assert stored is not None and stored.summary.needs.what_matters == STORY
        entries = (await s.execute(select(CaseEntry.text))).scalars().all()
        kept_update = await kept.lease(s, 77, "me", t.clock() + timedelta(hours=1), timedelta(1))
    assert FOLLOW_UP in entries and NOTE in entries
    assert kept_update is not None and kept_update["message"]["text"] == INBOX_WORDS


async def test_rotation_moves_everything_to_the_new_key_and_the_old_can_go(
    database: Database,
) -> None:
    use_keys([KEY_A])
    t = await team(database)
    case = await write_everything(t)

    use_keys([KEY_B, KEY_A])
    first = await rotate(database)
    assert first.changed == first.read > 0  # every value was sealed with A
    again = await rotate(database, batch=3)
    assert (again.read, again.changed) == (first.read, 0)  # run twice: nothing to do

    use_keys([KEY_B])
    assert await read_every_sealed_value(database) > 0
    view = await the_case_view(t, case)
    assert STORY in view and FOLLOW_UP in view
    assert await raw_holds(database) == set()

    use_keys([KEY_A])  # the old key alone opens nothing now
    with pytest.raises(EncryptionKeyError):
        await read_every_sealed_value(database)


async def test_an_interrupted_rotation_is_finished_by_running_it_again(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_keys([KEY_A])
    await write_everything(await team(database))
    use_keys([KEY_B, KEY_A])
    batches = 0

    async def stopped_after_three(*args: Any) -> Batch:
        nonlocal batches
        batches += 1
        if batches > 3:
            raise KeyboardInterrupt
        return await reseal_batch(*args)

    monkeypatch.setattr(encryption, "reseal_batch", stopped_after_three)
    with pytest.raises(KeyboardInterrupt):
        await rotate(database, batch=2)
    monkeypatch.undo()
    done = await rotate(database)
    assert 0 < done.changed < done.read  # what the first run did stays done
    use_keys([KEY_B])
    assert await read_every_sealed_value(database) > 0


async def test_data_kept_before_encryption_was_on_reads_and_rotation_seals_it(
    database: Database,
) -> None:
    t = await team(database)
    case = await write_everything(t)  # no key: plain
    assert await raw_holds(database) == set(SECRETS)

    use_keys([KEY_A])  # switched on: the old rows still read, new ones are sealed
    assert STORY in await the_case_view(t, case)
    done = await rotate(database)
    assert 0 < done.changed < done.read  # not the case view just sent: sealed already
    assert await raw_holds(database) == set()
    assert STORY in await the_case_view(t, case)


async def test_a_key_that_does_not_open_the_data_is_named(database: Database) -> None:
    use_keys([KEY_A])
    t = await team(database)
    case = await write_everything(t)

    use_keys([KEY_C])
    with pytest.raises(EncryptionKeyError, match="DATA_ENCRYPTION_KEY does not open") as wrong:
        async with database.sessions() as s:
            await s.get(Case, case.id)
    assert "add the old key after the new one" in str(wrong.value)
    with pytest.raises(EncryptionKeyError, match="DATA_ENCRYPTION_KEY"):
        async with database.reading() as s:
            await newest_values_open(s)  # what stops the bot at start-up
    with pytest.raises(SettingsError, match="DATA_ENCRYPTION_KEY does not open"):
        await rotate(database)  # rotating needs the old key too

    use_keys([])
    with pytest.raises(EncryptionKeyError, match="DATA_ENCRYPTION_KEY is not set"):
        async with database.sessions() as s:
            await s.get(Case, case.id)


async def test_without_a_key_everything_is_stored_as_it_was(database: Database) -> None:
    t = await team(database)
    case = await write_everything(t)
    assert await raw_holds(database) == set(SECRETS)
    assert STORY in await the_case_view(t, case)
    async with database.reading() as s:
        await newest_values_open(s)


async def test_words_that_look_sealed_are_kept_as_they_were_typed(database: Database) -> None:
    """Someone typing "enc:1:..." cannot make their words unreadable, key or none."""
    t = await team(database)
    _, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    looks_sealed = "enc:1:gAAAAABnot-a-token"
    for keys in ([], [KEY_A]):
        use_keys(keys)
        await t.act(SAM_ID, f"/note {case.reference} {looks_sealed} {len(keys)}")
    async with database.sessions() as s:
        notes = (await s.execute(select(CaseEntry.text).where(CaseEntry.kind == "note"))).all()
    assert [n for (n,) in notes] == [f"{looks_sealed} 0", f"{looks_sealed} 1"]


# --- Values, without a database --------------------------------------------------------


def test_a_sealed_value_is_authenticated() -> None:
    use_keys([KEY_A])
    sealed = seal_text(STORY)
    assert sealed.startswith("enc:1:") and STORY not in sealed
    assert open_text(sealed) == STORY
    assert seal_text(STORY) != sealed  # sealed afresh each time: equal to nothing
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    for broken in (tampered, "enc:1:", "enc:1:é"):
        with pytest.raises(EncryptionKeyError, match="DATA_ENCRYPTION_KEY does not open"):
            open_text(broken)


def test_a_json_model_column_sealed_reads_back_as_its_model() -> None:
    use_keys([KEY_A])
    column = SealedModel(CaseSummary)
    summary = CaseSummary(about_the_person=AboutThePerson(name=NAME, phone=PHONE))
    stored = column.process_bind_param(summary, None)
    assert isinstance(stored, str) and NAME not in stored
    assert column.process_result_value(stored, None) == summary
    use_keys([])
    assert column.process_result_value({"about_the_person": {"name": NAME}}, None) == (
        CaseSummary(about_the_person=AboutThePerson(name=NAME))
    )


def test_no_key_leaves_json_as_it_is() -> None:
    value = {"text": STORY, "buttons": []}
    assert seal_json(value) is value and open_json(value) is value


def test_the_columns_sealed_are_those_holding_what_people_wrote() -> None:
    assert {f"{c.table.name}.{c.name}" for c in sealed_columns()} == {
        "case.summary",
        "case_entry.text",
        "check_in.answers",
        "check_in.control",
        "check_in.note",
        "conversation.answers",
        "conversation.control",
        "inbox_update.payload",
        "outbox.payload",
        "referral.checkins_stop_reason",
        "safety_alert.action_taken",
    }
