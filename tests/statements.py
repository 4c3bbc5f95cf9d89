"""Counting the SQL statements and transactions a piece of work costs (issue 16).

Counts, unlike times, are the same on a busy machine as on an idle one, so a test
can hold them to a ceiling. `StatementCounter` listens to a `Database`'s engines
(SQLAlchemy's cursor events) and keeps what it sees under the phase it was told
("handle", "deliver"); only the statements' SQL is kept, never their parameters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store import Database
from bot.store.db import ALONE, READING


class StatementCounter:
    def __init__(self, db: Database) -> None:
        self.engines: list[AsyncEngine] = [db.engine]
        self.durable_engine: AsyncEngine | None = getattr(db, "_durable_engine", None)
        if self.durable_engine is not None:
            self.engines.append(self.durable_engine)
        self.phase: str | None = None
        self.statements: Counter[str] = Counter()
        self.transactions: Counter[str] = Counter()
        #: Transactions that took SQLite's write lock (BEGIN IMMEDIATE).
        self.writes: Counter[str] = Counter()
        #: Of those, the ones whose commit survives a power cut (SQLite's durable
        #: connection: `Database.durable_transaction`).
        self.durable: Counter[str] = Counter()
        #: The SQL of each statement, by phase (to see what a count is made of).
        self.seen: dict[str, list[str]] = {}

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.phase is None:
            return
        if statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            return  # a transaction's edges are counted as the transaction
        self.statements[self.phase] += 1
        self.seen.setdefault(self.phase, []).append(" ".join(statement.split())[:400])

    def _begin(self, conn: Any) -> None:
        if self.phase is None or conn.get_execution_options().get(ALONE):
            return  # (a write of one statement: no transaction is sent)
        self.transactions[self.phase] += 1
        # On SQLite a transaction that does not only read begins IMMEDIATE (bot/store/db.py:
        # sent with its first statement, so no cursor event sees it).
        if conn.dialect.name == "sqlite" and not conn.get_execution_options().get(READING):
            self.writes[self.phase] += 1
        if self.durable_engine is not None and conn.engine is self.durable_engine.sync_engine:
            self.durable[self.phase] += 1

    def __enter__(self) -> StatementCounter:
        for engine in self.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
            event.listen(engine.sync_engine, "begin", self._begin)
        return self

    def __exit__(self, *exc: object) -> None:
        for engine in self.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", self._statement)
            event.remove(engine.sync_engine, "begin", self._begin)

    @contextmanager
    def counting(self, phase: str) -> Iterator[None]:
        before, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = before
