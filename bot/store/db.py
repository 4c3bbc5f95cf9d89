"""Engine, sessions and migrations.

SQLite is the embedded default (one process). PostgreSQL is for deployments with
several bot instances: there, rows that must not be handled twice at once are
locked with `SELECT ... FOR UPDATE [SKIP LOCKED]` (see `Database.locks_rows`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"
#: An execution option marking connections that only read (see `Database.reading`).
READING = "spbot_reading"


class Database:
    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.engine: AsyncEngine = create_async_engine(url, **_engine_options(url, schema))
        # Sessions know their Database, so the store's queries ask it whether to lock.
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, info={"database": self}
        )
        reader = self.engine.execution_options(
            **({READING: True} if self.is_sqlite else {"postgresql_readonly": True})
        )
        self._readers = async_sessionmaker(reader, expire_on_commit=False, info={"database": self})
        if self.is_sqlite:
            _sqlite_pragmas(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def locks_rows(self) -> bool:
        """Whether `with_for_update()` means anything here (not on SQLite, where a
        write transaction already holds the whole database)."""
        return not self.is_sqlite

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits on success, rolls back on any error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A look that changes nothing. On SQLite it does not take the write lock
        (a write transaction does, from its first statement), so many can run
        beside one writer; on PostgreSQL the transaction is READ ONLY."""
        async with self._readers() as session, session.begin():
            yield session

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_upgrade, self.schema)

    async def is_up_to_date(self) -> bool:
        """Whether every migration has been applied (checked, not applied, at start on
        PostgreSQL, where several instances must not migrate at once)."""
        async with self.engine.connect() as conn:
            return bool(await conn.run_sync(_at_heads))

    async def close(self) -> None:
        await self.engine.dispose()


def _engine_options(url: str, schema: str | None) -> dict[str, Any]:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        # Waiting for the write lock beats failing: several tasks share one file.
        return {"connect_args": {"timeout": 30}}
    options: dict[str, Any] = {"pool_pre_ping": True}
    if schema:
        options["connect_args"] = {"server_settings": {"search_path": schema}}
    return options


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself so that BEGIN IMMEDIATE below takes the
        # write lock at the start of a transaction, not halfway through it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        reading = conn.get_execution_options().get(READING, False)
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _at_heads(connection: Any) -> bool:
    heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
    return set(MigrationContext.configure(connection).get_current_heads()) == heads


def _run_upgrade(connection: Any, schema: str | None) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, "heads")


def upgrade(url: str) -> None:
    """`spbot db upgrade`: apply every pending migration."""

    async def _go() -> None:
        db = Database(url)
        try:
            await db.upgrade()
        finally:
            await db.close()

    asyncio.run(_go())


def make_migration(url: str, message: str) -> None:
    """`spbot db revision -m "..."` (for developers): write a new migration from the
    difference between the models and a database at the newest migration."""

    def _revise(connection: Any) -> None:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
        command.revision(config, message=message, autogenerate=True)

    async def _go() -> None:
        db = Database(url)
        try:
            async with db.engine.begin() as conn:
                await conn.run_sync(_revise)
        finally:
            await db.close()

    asyncio.run(_go())
