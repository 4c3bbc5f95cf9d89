"""Transactions as the store relies on them, through the driver it uses: work that
reads and then writes is never interleaved with another's, and a transaction that
fails leaves nothing behind."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, literal, select, text, union_all, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.store import Database
from bot.store import db as db_module
from bot.store.base import utcnow
from bot.store.db import LookWouldWrite
from bot.store.outbox import Outbox, OutboxMessage
from bot.store.patients import Conversation, Patient
from tests.conftest import migrated_sqlite
from tests.faults.pgproxy import PgProxy
from tests.postgres import admin

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def test_read_then_write_transactions_at_once_lose_nothing(database: Database) -> None:
    """Twenty messages handled at once, each moving one conversation on a step (as
    handling does: read it, locked on PostgreSQL, then write it): all twenty count."""
    async with database.transaction() as s:
        patient = Patient(channel="telegram", chat_id=7, created_at=NOW)
        patient.conversation = Conversation(state="new", step=0, updated_at=NOW)
        s.add(patient)
        await s.flush()
        patient_id = patient.id

    async def one_step() -> None:
        async with database.transaction() as s:
            query = select(Conversation).where(Conversation.patient_id == patient_id)
            if database.locks_rows:
                query = query.with_for_update()
            conversation = (await s.execute(query)).scalar_one()
            await asyncio.sleep(0)  # another task's transaction may try to begin now
            conversation.step += 1

    await asyncio.gather(*(one_step() for _ in range(20)))
    async with database.reading() as s:
        assert await s.scalar(select(Conversation.step)) == 20


async def test_a_transaction_that_fails_leaves_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as s:
            s.add(Patient(channel="telegram", chat_id=8, created_at=NOW))
            await s.flush()  # written, inside the transaction
            raise RuntimeError("a fault halfway through handling")
    async with database.transaction() as s:
        pass  # a transaction with nothing in it begins and ends
    async with database.reading() as s:
        assert await s.scalar(select(func.count()).select_from(Patient)) == 0


async def test_a_sqlite_writer_waits_its_turn_behind_writers_that_never_pause(
    tmp_path: Path,
) -> None:
    """Two lanes write back to back, as a flooding chat's do; someone else's write (a
    new message kept, their /start handled) goes after the one under way and the one
    already waiting, not after however many a lock taken by polling lets through
    first. SQLite's waiters poll for its write lock, each a little less often the
    longer it has waited, so the one that had waited longest was the likeliest to
    lose each race: before this process's writers took turns, the most of the
    flood's that went first in three runs of this test were 775, 914 and 1,088.
    (PostgreSQL locks rows: these writes never wait for each other there.)"""
    path = tmp_path / "turns.sqlite3"
    await migrated_sqlite(path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    committed: list[str] = []
    chats = itertools.count(100)
    flooding = True
    under_way = asyncio.Event()

    async def lane(name: str) -> None:
        while flooding:
            async with database.transaction() as s:
                s.add(Patient(channel="telegram", chat_id=next(chats), created_at=NOW))
                await s.flush()
                await asyncio.sleep(0.003)  # the work of handling, in the transaction
            committed.append(name)
            if len(committed) >= 20:
                under_way.set()

    lanes = [asyncio.create_task(lane(name)) for name in ("flood", "flood too")]
    await under_way.wait()
    went_first = []
    for chat in range(1, 6):
        before = len(committed)
        async with database.transaction() as s:
            s.add(Patient(channel="telegram", chat_id=chat, created_at=NOW))
        went_first.append(len(committed) - before)
    flooding = False
    await asyncio.gather(*lanes)
    await database.close()
    assert max(went_first) <= 3, f"the flood's writes that went first, each time: {went_first}"


async def test_a_look_cannot_change_anything(database: Database) -> None:
    """A look runs outside a transaction (each statement on its own), so a write sent
    in one would be kept at once: it is refused before it reaches the database,
    whether written through the ORM or as a statement, and nothing is kept."""
    with pytest.raises(LookWouldWrite):
        async with database.reading() as s:
            s.add(Patient(channel="telegram", chat_id=9, created_at=NOW))
            await s.flush()
    for one_snapshot in (False, True):
        with pytest.raises(LookWouldWrite):
            async with database.reading(one_snapshot=one_snapshot) as s:
                await s.execute(insert(Patient).values(channel="telegram", chat_id=10,
                                                       created_at=NOW))  # fmt: skip
    async with database.reading() as s:
        assert await s.scalar(select(func.count()).select_from(Patient)) == 0
    async with database.transaction() as s:  # a unit of work writes as before
        s.add(Patient(channel="telegram", chat_id=11, created_at=NOW))
    async with database.reading() as s:
        assert await s.scalar(select(Patient.chat_id)) == 11


async def test_a_look_may_read_with_a_union_of_limited_selects(postgres_url: str) -> None:
    """SQLAlchemy writes each limited part of a UNION in brackets, so the statement
    begins "(SELECT": still a read, and a look runs it. (PostgreSQL only: SQLite
    does not accept such brackets.)"""
    database = Database(postgres_url)
    try:
        two_parts = union_all(select(literal(1)).limit(1), select(literal(2)).limit(1))
        async with database.reading() as s:
            assert sorted((await s.execute(two_parts)).scalars()) == [1, 2]
    finally:
        await database.close()


async def test_work_cancelled_twice_while_sqlite_is_busy_leaves_nothing_waiting_for_ever(
    tmp_path: Path,
) -> None:
    """A stop cancels work under way, and may cancel it again while it unwinds. On
    SQLite a statement cancelled halfway makes SQLAlchemy give up its connection,
    closing it politely and, when that wait is cancelled too, stopping its worker
    thread outright; the polite close then asked to stop a thread that was already
    gone and waited for it for ever, so the bot never finished stopping (a CI run
    hung ten minutes in `aiosqlite` `close`)."""
    path = tmp_path / "busy.sqlite3"
    await migrated_sqlite(path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    busy = text(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000)"
        " SELECT count(*) FROM c"
    )

    async def long_read() -> None:
        async with database.reading() as s:
            await s.execute(busy)

    before = asyncio.all_tasks()
    work = asyncio.create_task(long_read())
    await asyncio.sleep(0.2)  # the statement is running in the driver's thread
    work.cancel()
    await asyncio.sleep(0.05)  # SQLAlchemy is closing the connection it gave up on
    work.cancel()
    with pytest.raises(asyncio.CancelledError):
        await work
    await asyncio.wait_for(database.close(), 10)
    left = asyncio.all_tasks() - before - {asyncio.current_task()}
    if left:
        _, still_waiting = await asyncio.wait(left, timeout=10)
        assert not still_waiting, "the closing of a connection given up on never ended"


# -- PostgreSQL connections the server or the network dropped --------------------------


async def _backend(database: Database) -> int:
    """The server process behind the connection a unit of work is given."""
    async with database.transaction() as s:
        return int(await s.scalar(text("SELECT pg_backend_pid()")))


@asynccontextmanager
async def _through_a_proxy(postgres_url: str) -> AsyncIterator[tuple[PgProxy, Database]]:
    """A Database whose connections go through a proxy the test controls."""
    where = make_url(postgres_url)
    async with PgProxy(where.host or "127.0.0.1", where.port or 5432) as proxy:
        database = Database(proxy.url(where.database or "", where.username or "postgres"))
        try:
            yield proxy, database
        finally:
            await database.close()


async def test_a_connection_the_server_ended_while_pooled_is_not_handed_out(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL restart, or an administrator ending a session, closes the pool's
    connections between two messages. The next message must still be handled, however
    recently its connection was last used (under load, within milliseconds): handed a
    dead connection, the work would fail and the update wait to be tried again."""
    monkeypatch.setattr(db_module, "IDLE_BEFORE_PING", 3600.0)  # used "just now"
    database = Database(postgres_url)
    try:
        ended = await _backend(database)
        # Waits until the server process has gone, and with it the connection.
        await admin(f"SELECT pg_terminate_backend({ended}, 5000)")
        await asyncio.sleep(0.1)  # the client has read the server hang up
        assert await _backend(database) != ended
    finally:
        await database.close()


async def test_a_pooled_connection_the_network_forgot_is_replaced_after_a_pause(
    postgres_url: str,
) -> None:
    """A connection that sat unused in the pool (a quiet spell) may have been lost with
    nothing said: a firewall forgot it, the server's host went away. Asked before it is
    handed out, it is replaced, and the first message after the quiet spell is handled."""
    async with _through_a_proxy(postgres_url) as (proxy, database):
        first = await _backend(database)
        await asyncio.sleep(db_module.IDLE_BEFORE_PING + 0.5)  # a quiet spell
        proxy.forget()
        assert await _backend(database) != first


async def test_work_under_way_when_the_connections_drop_fails_and_the_next_is_handled(
    postgres_url: str,
) -> None:
    """A PostgreSQL restart under load drops every connection, some mid-transaction.
    The work under way fails (and is tried again, as after any database error); the
    next unit of work gets a working connection, not one of the dropped ones."""
    async with _through_a_proxy(postgres_url) as (proxy, database):
        async with database.transaction() as one, database.transaction() as two:
            for s in (one, two):  # two connections in the pool, both used just now
                await s.execute(text("SELECT 1"))
        with pytest.raises(DBAPIError):
            async with database.transaction() as s:
                await s.execute(text("SELECT 1"))
                proxy.cut()
                await s.execute(text("SELECT 1"))
        assert await _backend(database) and await _backend(database)


async def test_a_write_of_one_statement_is_kept_with_no_transaction(database: Database) -> None:
    """`Database.one_statement` (how a message's send is written down): kept the
    moment it runs, with no transaction around it to begin and commit."""
    async with database.transaction() as session:
        row = Outbox(session, "telegram", 5, utcnow()).send("hello")
    async with database.one_statement() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row.id).values(attempts=1)
        )
        async with database.reading() as elsewhere:  # before this unit of work ends
            kept = await elsewhere.get(OutboxMessage, row.id)
            assert kept is not None and kept.attempts == 1
    async with database.transaction() as session:  # as a transaction would not be
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == row.id).values(attempts=2)
        )
        async with database.reading() as elsewhere:
            kept = await elsewhere.get(OutboxMessage, row.id, populate_existing=True)
            assert kept is not None and kept.attempts == 1
