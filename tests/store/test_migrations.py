from sqlalchemy import inspect

import bot.store.all_models  # noqa: F401
from bot.store import Base, Database


async def test_migrations_create_every_table_the_models_declare(database: Database) -> None:
    async with database.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables


async def test_upgrading_twice_changes_nothing(database: Database) -> None:
    await database.upgrade()  # must not fail or duplicate anything
