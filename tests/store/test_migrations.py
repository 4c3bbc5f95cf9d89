from sqlalchemy import inspect

from bot.store import Base, Database


async def test_migrations_create_every_table_the_models_declare(database: Database) -> None:
    async with database.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables


async def test_upgrading_twice_changes_nothing(database: Database) -> None:
    await database.upgrade()  # must not fail or duplicate anything


async def test_a_migrated_database_is_up_to_date(database: Database) -> None:
    assert await database.is_up_to_date()


async def test_an_unmigrated_postgresql_is_reported_as_not_up_to_date() -> None:
    """What makes `spbot run` on PostgreSQL stop and ask for `spbot db upgrade`."""
    import uuid

    import pytest
    from sqlalchemy import text

    from tests.conftest import POSTGRES_URL

    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need SPBOT_TEST_POSTGRES_URL (see .ci/run)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database(POSTGRES_URL)
    async with admin.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    fresh = Database(POSTGRES_URL, schema=schema)
    try:
        assert not await fresh.is_up_to_date()
        await fresh.upgrade()
        assert await fresh.is_up_to_date()
    finally:
        await fresh.close()
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.close()


async def test_the_migrations_make_exactly_the_schema_the_models_declare(
    database: Database,
) -> None:
    """A model changed without a migration (or the other way round) shows up here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def differences(connection: object) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_an_old_conversation_keeps_its_control_fields_apart_after_upgrading(
    tmp_path: object,
) -> None:
    """Conversations stored before control fields had a column of their own: the
    migration moves them out of the answers, and drops per-message flags."""
    import json
    from pathlib import Path

    from alembic import command
    from sqlalchemy import text

    from bot.store.db import _alembic_config
    from bot.store.patients import Conversation

    db = Database(f"sqlite+aiosqlite:///{Path(str(tmp_path)) / 'old.sqlite3'}")
    try:

        def to_before(connection: object) -> None:
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "701ba9917973")

        async with db.engine.begin() as conn:
            await conn.run_sync(to_before)
            await conn.execute(text("INSERT INTO patient (id, channel, chat_id, created_at) "
                                    "VALUES (1, 'telegram', 5, '2026-11-30 10:00:00')"))  # fmt: skip
            answers = {"name": "Alex", "case_reference": "SP-ABCD", "suggestion_offset": 3,
                       "_back_to": "group", "_note": "stale", "paused_at": "mode"}  # fmt: skip
            await conn.execute(
                text("INSERT INTO conversation (patient_id, flow, state, step, answers, "
                     "updated_at) VALUES (1, 'referral', 'handed_off', 7, :a, "
                     "'2026-11-30 10:00:00')"),
                {"a": json.dumps(answers)},
            )  # fmt: skip
        await db.upgrade()
        async with db.sessions() as s:
            conversation = await s.get(Conversation, 1)
        assert conversation is not None
        assert conversation.answers == {"name": "Alex"}
        control = conversation.control
        assert (control.case_reference, control.suggestion_offset) == ("SP-ABCD", 3)
        assert (control.back_to, control.paused_at) == ("group", "mode")
    finally:
        await db.close()


async def test_upgrading_to_check_ins_keeps_every_patient_and_gives_each_a_journey(
    tmp_path: object,
) -> None:
    """Adding the journey token must not rebuild the patient table: on SQLite that
    would cascade-delete conversations and cases. Each patient gets their own token."""
    from pathlib import Path

    from alembic import command
    from sqlalchemy import select, text

    from bot.store.cases import Case, Referral
    from bot.store.db import _alembic_config
    from bot.store.patients import Conversation, Patient

    db = Database(f"sqlite+aiosqlite:///{Path(str(tmp_path)) / 'old.sqlite3'}")
    try:

        def to_before(connection: object) -> None:
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "9ee851e9b3b3")

        async with db.engine.begin() as conn:
            await conn.run_sync(to_before)
            for pid in (1, 2):
                await conn.execute(
                    text(
                        "INSERT INTO patient (id, channel, chat_id, created_at) "
                        f"VALUES ({pid}, 'telegram', {pid + 4}, '2026-11-30 10:00:00')"
                    )
                )
                await conn.execute(
                    text(
                        "INSERT INTO conversation (patient_id, flow, state, step, answers, control, "
                        f"updated_at) VALUES ({pid}, 'referral', 'handed_off', 7, '{{}}', '{{}}', "
                        "'2026-11-30 10:00:00')"
                    )
                )
            await conn.execute(
                text(
                    'INSERT INTO "case" (id, reference, patient_id, status, urgent, opened_at, '
                    "summary) VALUES (1, 'SP-ABCD', 1, 'referred', 0, '2026-11-30 10:00:00', '{}')"
                )
            )
            await conn.execute(text(
                "INSERT INTO referral (case_id, activity_id, activity_name, organisation, "
                "found_by, made_at) VALUES (1, 'walk-1', 'Walking', '', 'suggested', "
                "'2026-11-30 11:00:00')"))  # fmt: skip
        await db.upgrade()
        async with db.sessions() as s:
            journeys = (await s.execute(select(Patient.journey))).scalars().all()
            assert len(set(journeys)) == 2 and all(len(j) == 16 for j in journeys)
            assert len((await s.execute(select(Conversation))).scalars().all()) == 2
            assert (await s.execute(select(Case.reference))).scalars().all() == ["SP-ABCD"]
            referral = (await s.execute(select(Referral))).scalar_one()
            assert referral.attendance == "unknown"
    finally:
        await db.close()
