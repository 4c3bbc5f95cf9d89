"""Engine, sessions and migrations.

SQLite is the embedded default (one process). PostgreSQL is for deployments with
several bot instances: there, rows that must not be handled twice at once are
locked with `SELECT ... FOR UPDATE [SKIP LOCKED]` (see `Database.locks_rows`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InvalidatePoolError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

MIGRATIONS = Path(__file__).parent / "migrations"
#: An execution option marking connections that only read (see `Database.reading`):
#: True, or ONE_SNAPSHOT for a look whose statements must all see the same moment.
READING = "spbot_reading"
#: Execution option of a write of one statement, with no transaction around it
#: (`Database.one_statement`).
ALONE = "spbot_alone"
ONE_SNAPSHOT = "one snapshot"
#: Seconds a PostgreSQL connection may have sat unused in the pool and still be
#: handed out without asking the server first. Asking (asyncpg's ping: BEGIN, an
#: empty statement, ROLLBACK) on every checkout made some 40% of the round trips
#: an update cost on PostgreSQL, each a system call or two; yet under load each
#: connection is given back and taken again within milliseconds, with no time to be
#: lost unnoticed, and one the server closed meanwhile (a restart) is known closed
#: without asking. A connection idle longer may have been lost with nothing said (a
#: firewall that forgot it, a host gone): asked, it is replaced rather than fail the
#: work it is handed.
IDLE_BEFORE_PING = 2.0
_GIVEN_BACK = "spbot_given_back"
#: Seconds closing waits for the server to see its connections off (`Database.close`).
CLOSE_WITHIN = 2.0

log = logging.getLogger(__name__)


class Database:
    def __init__(self, url: str, *, schema: str | None = None, timeout: float = 15.0) -> None:
        self.url = url
        self.schema = schema
        self.engine: AsyncEngine = create_async_engine(url, **_engine_options(url, schema, timeout))
        # Sessions know their Database, so the store's queries ask it whether to lock.
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, info={"database": self}
        )
        # A look is each statement on its own, with no transaction around it (on
        # SQLite no BEGIN, on PostgreSQL autocommit): as a transaction of read
        # committed would see it, for two fewer trips to the database. Held to
        # reading by `_only_reads`.
        looks: dict[str, Any] = {READING: True}
        # A look whose statements must add up is one transaction: on SQLite any read
        # transaction sees one snapshot throughout (see `_sqlite_pragmas`).
        snapshots: dict[str, Any] = {READING: ONE_SNAPSHOT}
        if not self.is_sqlite:
            looks["isolation_level"] = "AUTOCOMMIT"
            snapshots.update(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        reader = self.engine.execution_options(**looks)
        _only_reads(reader)
        self._readers = async_sessionmaker(reader, expire_on_commit=False, info={"database": self})
        steady = self.engine.execution_options(**snapshots)
        _only_reads(steady)
        self._steady_readers = async_sessionmaker(
            steady, expire_on_commit=False, info={"database": self}
        )
        self._durable = self.sessions
        # A write of one statement needs no transaction around it: the statement is
        # all or nothing by itself (on SQLite no BEGIN, on PostgreSQL autocommit).
        alone: dict[str, Any] = {ALONE: True}
        if not self.is_sqlite:
            alone["isolation_level"] = "AUTOCOMMIT"
        self._alone = async_sessionmaker(
            self.engine.execution_options(**alone), expire_on_commit=False, info={"database": self}
        )
        # SQLite has one writer at a time, and its waiters poll for the lock, each a
        # little less often the longer it has waited: under a steady stream of writes
        # (a flooding chat's lanes) the one that had waited longest was the likeliest
        # to lose each race, and someone else's /start waited a second. This
        # process's writers take turns here first, in the order they came, for as
        # long as SQLite would have let one wait.
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._turn_wait = max(timeout, 30.0)
        if self.is_sqlite:
            _sqlite_pragmas(self.engine, synchronous="NORMAL")
            # One connection that syncs every commit to disk: for keeping updates
            # before Telegram is told it may forget them (see `durable_transaction`).
            durable = create_async_engine(url, **_engine_options(url, schema, timeout))
            _sqlite_pragmas(durable, synchronous="FULL")
            self._durable_engine: AsyncEngine | None = durable
            self._durable = async_sessionmaker(
                durable, expire_on_commit=False, info={"database": self}
            )
        else:
            _check_out_alive(self.engine)
            self._durable_engine = None

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
        async with self._turn(), _unit_of_work(self.sessions) as session:
            yield session

    @asynccontextmanager
    async def durable_transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction whose commit survives a power cut, not only the process
        dying. On SQLite other transactions are synced less often (WAL with
        synchronous=NORMAL: never corrupt, and a process crash loses nothing, but a
        power cut may roll back the last few); this one is, for what may not be
        lost in any case. PostgreSQL commits are always durable."""
        async with self._turn(), _unit_of_work(self._durable) as session:
            yield session

    @asynccontextmanager
    async def one_statement(self) -> AsyncIterator[AsyncSession]:
        """A write of one statement, kept as it runs: no transaction around it, so no
        BEGIN and no COMMIT (two trips to PostgreSQL fewer, one to SQLite's thread).
        Only for work that is one statement: more would each be kept on its own, not
        together (use `transaction`)."""
        async with self._turn(), _unit_of_work(self._alone) as session:
            yield session

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """On SQLite, this process's turn to write (see `__init__`); on PostgreSQL
        nothing (rows are locked, not the database). Waiting longer than SQLite would
        have raises TimeoutError, as a write SQLite kept waiting raises its own."""
        if not self.is_sqlite:
            yield
            return
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Lock())  # (a lock belongs to one event loop)
        turn = self._turns[1]
        async with asyncio.timeout(self._turn_wait):
            await turn.acquire()
        try:
            yield
        finally:
            turn.release()

    @asynccontextmanager
    async def reading(self, *, one_snapshot: bool = False) -> AsyncIterator[AsyncSession]:
        """A look that changes nothing: a statement that would write is refused
        (`LookWouldWrite`). It takes no lock (on SQLite the write lock is a write
        transaction's, from its first statement), so many can run beside one
        writer. Each statement sees the database as it is when it runs, with no
        transaction around them; with `one_snapshot` they are one transaction, and
        every statement sees the database as the first one did (on PostgreSQL
        REPEATABLE READ, READ ONLY), for figures read in several statements that
        must add up."""
        readers = self._steady_readers if one_snapshot else self._readers
        async with _unit_of_work(readers) as session:
            yield session

    @asynccontextmanager
    async def exclusively(self, job: str) -> AsyncIterator[bool]:
        """Whether this instance may run a periodic `job` now: on PostgreSQL, only
        while no other instance runs it (an advisory lock, held on a connection of
        its own for the job's length and let go with it, so a killed instance holds
        nothing); on SQLite always (one process runs the bot)."""
        if self.is_sqlite:
            yield True
            return
        named = f"spbot:{self.schema or ''}:{job}".encode()
        key = int.from_bytes(hashlib.sha256(named).digest()[:8], "big", signed=True)
        async with self.engine.connect() as conn:
            got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
            await conn.commit()  # the lock is the session's: no transaction held open
            try:
                yield got
            finally:
                if got:
                    try:
                        await conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                        await conn.commit()
                    except Exception:
                        await conn.invalidate()  # closed: the server lets go of the lock

    async def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_run_upgrade, self.schema)

    async def is_up_to_date(self) -> bool:
        """Whether every migration has been applied (checked, not applied, at start on
        PostgreSQL, where several instances must not migrate at once)."""
        async with self.engine.connect() as conn:
            return bool(await conn.run_sync(_at_heads))

    async def checkpoint(self) -> None:
        """SQLite: move the write-ahead log into the database file and empty it, so
        that what was just erased lingers nowhere on disk."""
        if self.is_sqlite:
            await self._outside_a_transaction("PRAGMA wal_checkpoint(TRUNCATE)")

    async def vacuum(self) -> None:
        """SQLite: rebuild the file, leaving no free pages behind (after erasures)."""
        if self.is_sqlite:
            await self.checkpoint()
            await self._outside_a_transaction("VACUUM")

    async def _outside_a_transaction(self, pragma: str) -> None:
        """SQLite checkpoints cannot run inside a transaction, and SQLAlchemy would
        begin one: go to the driver's own connection."""
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            cursor = await raw.driver_connection.execute(pragma)  # type: ignore[union-attr]
            await cursor.close()

    async def close(self) -> None:
        """Close every connection, each told goodbye, for up to `CLOSE_WITHIN` seconds:
        a server that stopped answering would hold each goodbye for the driver's
        timeout (15 s), so what is left then is dropped (the server ends it)."""
        for engine in (self.engine, self._durable_engine):
            if engine is None:
                continue
            try:
                async with asyncio.timeout(CLOSE_WITHIN):
                    await engine.dispose()
            except TimeoutError:
                log.warning("the database did not answer while closing; connections dropped")
                await engine.dispose(close=False)


class LookWouldWrite(RuntimeError):
    """A statement that changes data, sent in a look (`Database.reading`): a fault in
    the code, stopped before it reaches the database."""


_READ_STATEMENTS = ("SELECT", "WITH", "PRAGMA", "EXPLAIN", "SHOW", "VALUES")


def _only_reads(engine: AsyncEngine) -> None:
    """Refuse any statement but a read on `engine` (a copy with its own options: the
    listener is its own, not the whole engine's). Looks run outside a transaction,
    where a write would be kept at once; on PostgreSQL a READ ONLY transaction used
    to refuse them, at two round trips a look."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _refuse_writes(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        first = statement.lstrip(" \t\r\n(")[:8].split(None, 1)  # "(SELECT ...) UNION"
        if not first or first[0].upper() not in _READ_STATEMENTS:
            raise LookWouldWrite(f"a look sent {first[0] if first else 'nothing'}")


@asynccontextmanager
async def _unit_of_work(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose transaction begins with its first statement and is committed
    and closed at the end, or rolled back and closed on any error (as `async with
    sessions() as s, s.begin()` does). Each step of an async session runs in a
    greenlet of its own, made for it: begun, committed and closed that way, a look
    of one statement made five; here it makes two (the statement, then the end)."""
    session = sessions()
    try:
        yield session
        await session.run_sync(_commit_and_close)
    except BaseException:
        # Shielded, as AsyncSession's own `async with` closes: a connection given
        # back half-way through a cancelled close would be lost to the pool.
        await asyncio.shield(session.close())
        raise


def _commit_and_close(session: Session) -> None:
    session.commit()
    session.close()


def _engine_options(url: str, schema: str | None, timeout: float) -> dict[str, Any]:
    """What the engine waits for, and what it never says. `hide_parameters`: an
    error's text must not quote the values of a statement, which are what patients
    wrote (docs/architecture.md rule 6)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _private_file(parsed.database)
        # Waiting for the write lock beats failing: several tasks share one file.
        return {"connect_args": {"timeout": max(timeout, 30.0)}, "hide_parameters": True}
    connect: dict[str, Any] = {"timeout": timeout, "command_timeout": timeout}
    if schema:
        connect["server_settings"] = {"search_path": schema}
    # No `pool_pre_ping`: `_check_out_alive` asks only where it is worth a trip.
    return {"pool_timeout": timeout, "connect_args": connect, "hide_parameters": True}


def _check_out_alive(engine: AsyncEngine) -> None:
    """PostgreSQL: never hand out a connection the server has closed. SQLAlchemy's
    pessimistic disconnect handling ("Dealing with Disconnects"), as `pool_pre_ping`
    does it, but asking the server only for a connection idle a while (see
    `IDLE_BEFORE_PING`). A `DisconnectionError` raised on checkout makes the pool
    throw the connection away and hand out a fresh one in its place. A connection
    that dies while in use still fails its statement, is thrown away by SQLAlchemy's
    disconnect handling (the pool's other connections with it), and the work is
    tried again as after any database error."""
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _given_back(_dbapi_connection: Any, record: Any) -> None:
        record.info[_GIVEN_BACK] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        given_back = record.info.get(_GIVEN_BACK)
        if given_back is None:
            return  # just connected: a record's info is emptied when it reconnects
        if dbapi_connection.driver_connection.is_closed():
            # asyncpg has read the server hang up (a restart, an ended session).
            raise DisconnectionError("closed by the server while pooled")
        if time.monotonic() - given_back < IDLE_BEFORE_PING:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if not dialect.is_disconnect(exc, dbapi_connection, None):
                raise
            # As `pool_pre_ping` does: the server was likely lost to every pooled
            # connection at once, so all of them are replaced, not asked in turn.
            raise InvalidatePoolError("a ping found it gone") from exc


def _private_file(path: str | None) -> None:
    """Create the SQLite file readable by its owner only (0600): it holds health data."""
    if not path or path == ":memory:":
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


class _SQLiteConnection(aiosqlite.Connection):
    """aiosqlite's connection, whose worker thread is asked to stop once only.

    SQLAlchemy closes a connection it has given up on (a statement cancelled
    halfway) politely, shielded from cancellation, and stops its thread outright if
    that wait is cancelled too, as a stop does. The polite close then asks to stop
    again, and aiosqlite 0.22 waits for that second request for ever: the thread has
    already gone. Every request after the first waits for the first instead."""

    _stop_asked = False
    _stopped: asyncio.Future[Any] | None = None
    #: The BEGIN of a transaction SQLAlchemy has begun, sent with its first
    #: statement (see `_sqlite_pragmas`); None when it has been sent, or for a look
    #: whose statements each stand alone.
    begin_with_next: str | None = None

    def stop(self) -> asyncio.Future[Any] | None:
        if not self._stop_asked:
            self._stop_asked = True
            self._stopped = super().stop()
        return self._stopped

    async def commit(self) -> None:
        """Commits what is open, and makes no trip to the connection's thread when
        nothing is: a look whose statements stood alone, or a transaction that never
        ran a statement (its BEGIN was never sent)."""
        self.begin_with_next = None
        if self._nothing_open():
            return
        await super().commit()

    async def rollback(self) -> None:
        """sqlite3 rolls back only a transaction that is open (it asks SQLite, in
        the connection's thread); so does this, asking here, where no statement of
        this connection is running: the pool rolls back every connection given back
        to it, and most (a look that committed) have nothing open."""
        self.begin_with_next = None
        if self._nothing_open():
            return
        await super().rollback()

    def _nothing_open(self) -> bool:
        return self._connection is not None and not self._connection.in_transaction

    def cursor(self) -> _OneTrip:  # type: ignore[override]
        """A cursor that makes one trip to the connection's thread a statement (see
        `_OneTrip`): aiosqlite's makes one for each step, four for most statements."""
        return _OneTrip(self)


class _OneTrip:
    """The cursor SQLAlchemy is given: a statement is run, its rows fetched and its
    cursor closed in one trip to the connection's thread, not one trip to make the
    cursor, one to run the statement, one to fetch and one to close (each trip a
    queue, a thread woken and the event loop woken). SQLAlchemy fetches every row
    of a statement at once anyway (it streams none here); what a trip found is kept
    for it to read. A streamed result (`stream()`, `yield_per`) would be read whole
    too: the store uses none, and a SQLite file is read on this machine anyway."""

    __slots__ = ("_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, connection: _SQLiteConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.arraysize = 1
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> _OneTrip:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._rows = []

    def __await__(self) -> Any:  # `await connection.cursor()`, as aiosqlite's
        return self.__aenter__().__await__()

    async def execute(self, sql: str, parameters: Any = ()) -> _OneTrip:
        return await self._run(sql, parameters, False)

    async def executemany(self, sql: str, parameters: Any) -> _OneTrip:
        return await self._run(sql, parameters, True)

    async def _run(self, sql: str, parameters: Any, many: bool) -> _OneTrip:
        connection = self._connection
        begin, connection.begin_with_next = connection.begin_with_next, None
        found = await connection._execute(_run_once, connection._conn, begin, sql, parameters, many)
        self.description, self._rows, self.rowcount, self.lastrowid = found
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        size = size or self.arraysize
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []


def _run_once(
    connection: sqlite3.Connection, begin: str | None, sql: str, parameters: Any, many: bool
) -> tuple[Any, list[Any], int, int | None]:
    """In the connection's thread: the transaction begun if `begin` says so, then a
    statement run, its rows fetched, its cursor closed."""
    if begin is not None:
        connection.execute(begin).close()
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description is not None else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _sqlite_connection(database: str, *, iter_chunk_size: int = 64, **kwargs: Any) -> Any:
    """What `aiosqlite.connect` makes, as a `_SQLiteConnection`; its thread a daemon,
    as SQLAlchemy makes it, so that a connection never closed cannot keep the
    process alive."""
    connection = _SQLiteConnection(partial(sqlite3.connect, database, **kwargs), iter_chunk_size)
    connection._thread.daemon = True
    return connection


def _sqlite_pragmas(engine: AsyncEngine, *, synchronous: str) -> None:
    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["async_creator_fn"] = _sqlite_connection

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver begins no transaction of its own: BEGIN is ours (below), so
        # that BEGIN IMMEDIATE takes the write lock at the start of a transaction,
        # not halfway through it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # What is deleted (a forgotten story) is overwritten, not left in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # BEGIN goes with the transaction's first statement, in the same trip to the
        # connection's thread (`_OneTrip`): a trip of its own cost as much as a
        # statement. Nothing is lost by waiting: SQLAlchemy begins a transaction
        # just before its first statement anyway, and BEGIN IMMEDIATE still takes
        # the write lock before that statement runs. A look that needs no snapshot
        # has no BEGIN at all: each statement is its own read, and there is
        # nothing to commit (two trips saved); nor has a write of one statement.
        options = conn.get_execution_options()
        reading = options.get(READING, False)
        driver = conn.connection.dbapi_connection.driver_connection
        if reading is True or options.get(ALONE):
            driver.begin_with_next = None
        else:
            driver.begin_with_next = "BEGIN" if reading == ONE_SNAPSHOT else "BEGIN IMMEDIATE"


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


def trouble(exc: BaseException) -> str:
    """What went wrong, in words a log may carry (never the exception's own text,
    which can quote what a patient wrote)."""
    if isinstance(exc, DBAPIError | SQLAlchemyTimeout | TimeoutError | ConnectionError):
        return "database unreachable or slow"
    return type(exc).__name__


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
