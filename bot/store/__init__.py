"""Storage: typed models, sessions, migrations."""

from bot.store.db import Database, upgrade
from bot.store.models import Base

__all__ = ["Base", "Database", "upgrade"]
