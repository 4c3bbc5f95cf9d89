"""Logs carry ids and events, never message text, names or phone numbers
(docs/architecture.md rule 6): a whole referral, a crisis message and a message after
the handoff, at DEBUG level, and nothing a person wrote appears in any log record."""

from __future__ import annotations

import logging

import pytest

from bot.app import configure_logging
from bot.store import Database
from tests.patients.helpers import Chat

SECRETS = ["Alex", "meet people", "lonely since my wife died", "7911", "123456", "wheelchair",
           "want to kill myself", "L20 3AB"]  # fmt: skip


def everything_logged(records: list[logging.LogRecord]) -> str:
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.extend(str(value) for key, value in vars(record).items() if key not in _STANDARD)
    return "\n".join(parts)


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


async def test_no_words_names_or_numbers_reach_the_logs(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    configure_logging("DEBUG")  # what an operator debugging a problem would set
    # configure_logging replaces the root handlers (force=True), caplog's among them
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    chat = Chat(database)
    await chat.walk_to("end")
    await chat.send("I use a wheelchair")
    await chat.send("sometimes i want to kill myself")
    logged = everything_logged(caplog.records)
    assert "case opened" in logged and "crisis language" in logged  # events are logged
    for secret in SECRETS:
        assert secret not in logged, f"{secret!r} reached the logs"
