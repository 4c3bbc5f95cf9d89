"""Moved: the tables live in one module per area (see bot/store/__init__.py)."""

from bot.store.base import Base, UTCDateTime, utcnow

__all__ = ["Base", "UTCDateTime", "utcnow"]
