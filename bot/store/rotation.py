"""The queries behind encryption at rest: which columns are sealed, whether the
keys held now open what is stored, and re-sealing it with the first key
(`spbot rotate-key`, driven by `bot.encryption`).

Values are read and written raw (as the column's plain Text or JSON, not through
its sealing type), in batches by primary key, each batch one transaction with its
rows locked on PostgreSQL: a value the bot changes meanwhile is never overwritten
with an older one, and an interrupted run loses nothing (run it again: values
already sealed with the first key are left as they are).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, bindparam, func, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import Base
from bot.store.base import locks_rows
from bot.store.sealing import SealedJSON, SealedModel, SealedText, check_opens, resealed


def sealed_columns() -> list[Column[Any]]:
    """Every sealed column of every table, in a fixed order."""
    found = [
        column
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, SealedText | SealedJSON | SealedModel)
    ]
    return sorted(found, key=lambda c: (c.table.name, c.name))


def _raw(column: Column[Any]) -> Any:
    """The column as it is stored (its type's plain impl: Text or JSON)."""
    return type_coerce(column, column.type.impl_instance)  # type: ignore[attr-defined]


def _key(column: Column[Any]) -> Column[Any]:
    [primary] = column.table.primary_key.columns
    return primary


async def newest_values_open(session: AsyncSession) -> None:
    """Raise (naming DATA_ENCRYPTION_KEY) if the newest value of any sealed column
    cannot be opened with the keys held now: checked when the bot starts, so a
    missing or wrong key stops it at once instead of failing each message."""
    for column in sealed_columns():
        query = (
            select(_raw(column)).where(column.is_not(None)).order_by(_key(column).desc()).limit(1)
        )
        check_opens(await session.scalar(query))


async def count_filled(session: AsyncSession, column: Column[Any]) -> int:
    """How many rows hold a value in this column (the work there is to do)."""
    query = select(func.count()).select_from(column.table).where(column.is_not(None))
    return int(await session.scalar(query) or 0)


@dataclass(frozen=True)
class Batch:
    #: The last primary key read (where the next batch starts), None: no more rows.
    last: Any
    read: int
    changed: int


async def reseal_batch(session: AsyncSession, column: Column[Any], after: Any, limit: int) -> Batch:
    """Seal with the first key the next `limit` values after primary key `after`
    (None: from the start) that are not already, and write them back."""
    key = _key(column)
    query = select(key, _raw(column)).where(column.is_not(None)).order_by(key).limit(limit)
    if after is not None:
        query = query.where(key > after)
    if locks_rows(session):
        query = query.with_for_update()
    rows = (await session.execute(query)).all()
    if not rows:
        return Batch(None, 0, 0)
    is_json = not isinstance(column.type, SealedText)
    changes = [
        {"b_key": row_key, "b_value": sealed}
        for row_key, stored in rows
        if (sealed := resealed(stored, is_json=is_json)) is not None
    ]
    if changes:
        raw_type = column.type.impl_instance  # type: ignore[attr-defined]
        statement = (
            update(column.table)
            .where(key == bindparam("b_key"))
            .values({column: bindparam("b_value", type_=raw_type)})
        )
        await session.execute(statement, changes)
    return Batch(rows[-1][0], len(rows), len(changes))
