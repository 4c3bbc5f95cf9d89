from sqlalchemy import inspect

import bot.store.all_models  # noqa: F401
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
