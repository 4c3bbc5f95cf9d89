"""aiosqlite with one trip to its thread per statement, not four.

aiosqlite runs each call on a thread of its own and hands back the answer through
the event loop: creating a cursor, executing, fetching and closing are four trips,
and SQLAlchemy makes all four for every statement (it fetches every row at once),
and three more for each BEGIN. Each trip costs the event loop a wake-up and the
bot's one core most of what a small statement costs; an update took about 150.

`LeanConnection` is aiosqlite's connection with a cursor that does all four in
one trip, in the same order on the same thread (execute, read the description,
fetch every row, read rowcount and lastrowid, close), and answers SQLAlchemy's
fetches from what it brought back. A BEGIN goes on the same trip as the
transaction's first statement, just before it (a write transaction's BEGIN
IMMEDIATE still takes the write lock before anything is read). Nothing else
changes: the same sqlite3 connection, the same statements in the same order, the
same errors (a BEGIN that fails fails that statement). A rollback with no
transaction open (the pool's reset after every commit) is not sent: sqlite3 would
do nothing with it (it sends ROLLBACK only inside a transaction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

import aiosqlite

#: What begins a transaction (bot/store/db.py): sent with the first statement.
BEGINS = frozenset({"BEGIN", "BEGIN IMMEDIATE"})
Row = tuple[Any, ...]
Description = tuple[tuple[Any, ...], ...] | None


class LeanCursor:
    """What SQLAlchemy's aiosqlite adapter uses of a cursor, one trip a statement."""

    def __init__(self, connection: LeanConnection) -> None:
        self._connection = connection
        self._rows: list[Row] = []
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> LeanCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> LeanCursor:
        if sql in BEGINS and not parameters:
            # Sent with the transaction's first statement, on the same trip.
            self._connection.begin = sql
            self.description, self._rows, self.rowcount, self.lastrowid = None, [], -1, None
            return self
        return await self._run(lambda cursor: cursor.execute(sql, parameters or ()))

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> LeanCursor:
        return await self._run(lambda cursor: cursor.executemany(sql, parameters))

    async def _run(self, statement: Callable[[sqlite3.Cursor], object]) -> LeanCursor:
        connection = self._connection

        begin, connection.begin = connection.begin, None

        def whole() -> tuple[Description, list[Row], int, int | None]:
            cursor = connection._conn.cursor()  # (on aiosqlite's thread)
            try:
                if begin is not None:
                    cursor.execute(begin)
                statement(cursor)
                description = cursor.description
                rows = cursor.fetchall() if description else []
                return description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        self.description, self._rows, self.rowcount, self.lastrowid = await connection._execute(
            whole
        )
        return self

    async def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        size = self.arraysize if size is None else size
        rows, self._rows = self._rows[:size], self._rows[size:]
        return rows

    async def fetchall(self) -> list[Row]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


class LeanConnection(aiosqlite.Connection):
    #: A BEGIN not sent yet: it goes with the next statement (or the commit).
    begin: str | None = None

    def cursor(self) -> LeanCursor:  # type: ignore[override]
        return LeanCursor(self)

    async def commit(self) -> None:
        begin, self.begin = self.begin, None
        if begin is None:
            return await super().commit()

        def both() -> None:  # a transaction with no statement: begun and ended
            self._conn.execute(begin)
            self._conn.commit()

        await self._execute(both)

    async def rollback(self) -> None:
        self.begin = None  # never sent: nothing to roll back
        # Read on this thread while no call of this connection is under way
        # (SQLAlchemy awaits each): sqlite3's own rollback looks at the same flag.
        if self._connection is not None and not self._connection.in_transaction:
            return
        await super().rollback()


def lean_connect(database: str, **kwargs: Any) -> Callable[[], Any]:
    """For `create_async_engine(async_creator=...)`: connections to `database`
    (sqlite3.connect's `kwargs`), one trip a statement."""

    async def connect() -> LeanConnection:
        connection = LeanConnection(lambda: sqlite3.connect(database, **kwargs), 64)
        connection._thread.daemon = True  # (as SQLAlchemy does: never holds up the exit)
        await connection
        return connection

    return connect
