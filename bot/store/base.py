"""What every table in the store is built on: one declarative `Base`, UTC
timestamps that survive SQLite, and JSON columns that hold a typed model.

A JSON column typed with `JSONModel(SomeModel)` is read back as `SomeModel` and
written from it: the shape of what is stored is declared once, in that model, and
nothing else in the code reads or writes the raw JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON, DateTime, TypeDecorator
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

M = TypeVar("M", bound=BaseModel)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use datetime.now(UTC)")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class JSONModel(TypeDecorator[M], Generic[M]):
    """A JSON column read and written as a pydantic model.

    The models are frozen: a change is a new value assigned to the column, which
    SQLAlchemy sees (an in-place change to JSON it would not)."""

    impl = JSON
    cache_ok = True

    def __init__(self, model: type[M]) -> None:
        super().__init__()
        self.model = model

    def process_bind_param(self, value: M | dict[str, Any] | None, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dict):
            value = self.model.model_validate(value)
        return value.model_dump(mode="json")

    def process_result_value(self, value: Any, dialect: Any) -> M | None:
        if value is None:
            return None
        return self.model.model_validate(value)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        return JSON()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


def is_sqlite(session: AsyncSession) -> bool:
    """Whether this session talks to SQLite (one writer at a time: no row locks,
    and its own spelling of INSERT ... ON CONFLICT)."""
    return session.get_bind().dialect.name == "sqlite"


def locks_rows(session: AsyncSession) -> bool:
    """Whether to take row locks (`SELECT ... FOR UPDATE [SKIP LOCKED]`): the
    session's `Database.locks_rows` decides (on SQLite a write transaction already
    holds the whole database)."""
    database = session.info.get("database")
    if database is not None:
        return bool(database.locks_rows)
    return not is_sqlite(session)
