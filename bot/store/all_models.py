"""Imports every module that defines tables, so that `Base.metadata` is complete
(for migrations and for tests). Add new model modules here."""

import bot.store.directory as directory_models  # noqa: F401
from bot.store import audit, case_file, cases, outbox, patients, staff, updates  # noqa: F401
