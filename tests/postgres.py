"""PostgreSQL for the tests: a database of its own for every test that asks.

Tests use PostgreSQL only when SPBOT_TEST_POSTGRES_URL is set (CI sets it). Each
gets a database nobody else sees, so parallel workers (and other people's runs
on the same server) never meet. Migrating a fresh database takes over a second;
so each test process migrates one template database once, and each test gets a
copy of it (`CREATE DATABASE ... TEMPLATE`, about a tenth of a second), dropped
after the test.

    async with (await template()).copy("spbot_crash") as url:
        ...          # a migrated database of its own, dropped afterwards
    drop_templates() # at the end of the session (tests/conftest.py)
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import URL, make_url

from bot.store import Database

POSTGRES_URL = os.environ.get("SPBOT_TEST_POSTGRES_URL")
SKIP_REASON = "PostgreSQL tests need SPBOT_TEST_POSTGRES_URL (see .ci/run)"


def server() -> URL:
    assert POSTGRES_URL, SKIP_REASON
    return make_url(POSTGRES_URL)


def url_of(database: str) -> str:
    """The SQLAlchemy URL of `database` on the test server."""
    return server().set(database=database).render_as_string(hide_password=False)


async def admin(statement: str) -> None:
    """Run a statement that cannot run in a transaction (CREATE/DROP DATABASE) on
    the server's own database."""
    import asyncpg

    where = server()
    conn = await asyncpg.connect(user=where.username, password=where.password,
                                 host=where.host, port=where.port, database=where.database)  # fmt: skip
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def fresh_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class Template:
    """A migrated, empty database that copies are made from."""

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    async def create(cls) -> Template:
        name = fresh_name(f"spbot_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")
        await admin(f'CREATE DATABASE "{name}"')
        db = Database(url_of(name))
        try:
            await db.upgrade()
        finally:
            await db.close()  # a template may have nobody connected when it is copied
        return cls(name)

    @asynccontextmanager
    async def copy(self, prefix: str = "spbot_test") -> AsyncIterator[str]:
        """A migrated database of its own (its URL), dropped afterwards whoever is
        still connected to it."""
        name = fresh_name(prefix)
        await admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
        try:
            yield url_of(name)
        finally:
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def drop(self) -> None:
        await admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


_made: list[Template] = []


async def template() -> Template:
    """This process's template, made (and migrated) the first time it is asked for."""
    if not _made:
        _made.append(await Template.create())
    return _made[0]


def drop_templates() -> None:
    """At the end of the session (no event loop running then)."""
    while _made:
        asyncio.run(_made.pop().drop())
