"""Logs carry ids and events, never message text, names or phone numbers
(docs/architecture.md rule 6): a whole referral, a crisis message and a message after
the handoff, at DEBUG level, and nothing a person wrote appears in any log record.
And the bot token appears nowhere (issue 12): not in a log line, not in a traceback,
not in anything printed, whatever the level of any logger."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.app import CHATTY_LIBRARIES, build_app, configure_logging
from bot.config import SettingsError
from bot.store import Database
from bot.telegram import TelegramBot
from tests.e2e.conftest import Running
from tests.e2e.test_referral_e2e import REFERRAL, handoff_message
from tests.fakes import FakeDirectory
from tests.patients.helpers import Chat
from tests.standin.server import BotApiStandIn

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


async def test_at_info_a_conversation_logs_the_bots_own_events_only(
    database: Database, caplog: pytest.LogCaptureFixture, logging_restored: None
) -> None:
    """At the default level an operator reads one line an update, the bot's own (an
    id and what happened), not three more of the state machine library's
    bookkeeping ("Finished processing state consent enter callbacks.") for each."""
    configure_logging("INFO")
    logging.getLogger().addHandler(caplog.handler)
    chat = Chat(database)
    await chat.walk_to("end")
    names = {record.name for record in caplog.records}
    assert "bot.patients.service" in names  # the bot's own events are there
    chatter = sorted(name for name in names if not name.startswith("bot."))
    assert chatter == [], f"logged at INFO by {chatter}"


# --- The bot token, end to end -------------------------------------------------------------

#: Shaped like the tokens @BotFather gives (digits, a colon, 35 characters).
TOKEN = "7351829460:AAH-zq9Xv_4kTbQm2LpR8sWn3YcJ5dUe6Fg"
SECRET_HALF = TOKEN.split(":", 1)[1]
#: What the patient typed, or is called, in the referral below (REFERRAL).
TYPED = ["Alex", "meet people", "lonely since my wife died", "l20 3ab", "L20 3AB", "07911",
         "7911123456", "wheelchair"]  # fmt: skip


class Everything(logging.Handler):
    """Every record, as created (this handler is added after configure_logging, so
    it has no filter of its own: what it keeps is what a logger wrote)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """This test turns every logger to DEBUG: put them back afterwards, or every
    later test in the process would log every SQL statement."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logger.level for name, logger in logging.Logger.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}  # fmt: skip
    hooks = sys.excepthook, threading.excepthook
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in handlers:
            handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))
    sys.excepthook, threading.excepthook = hooks


def every_logger_at_debug() -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    for name in (*CHATTY_LIBRARIES, *logging.Logger.manager.loggerDict):
        logging.getLogger(name).setLevel(logging.DEBUG)


def let_through_by_configure_logging(record: logging.LogRecord) -> bool:
    """Whether `configure_logging("DEBUG")` lets this record out: everything, but
    the chatty libraries' below WARNING."""
    chatty = any(record.name == n or record.name.startswith(n + ".") for n in CHATTY_LIBRARIES)
    return record.levelno >= logging.WARNING or not chatty


@pytest.mark.e2e
async def test_a_referral_through_telegram_never_logs_the_token_or_what_was_typed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], logging_restored: None
) -> None:
    """A whole referral through python-telegram-bot and the Bot API stand-in, with
    every logger at DEBUG (the libraries that log each request's URL, with the token
    in it, too: the filter must protect, not the level), a Bot API failure, the
    network gone for a moment, an error whose text quotes a URL, and a token
    Telegram refuses: the token is in no log line, no traceback and nothing printed;
    and nothing the patient typed is in any line the configured levels let out."""
    log_file = tmp_path / "spbot.log"
    configure_logging("DEBUG", to_file=str(log_file))
    every_logger_at_debug()
    everything = Everything()
    logging.getLogger().addHandler(everything)
    log = logging.getLogger("bot.telegram")

    async with BotApiStandIn(token=TOKEN) as api:
        bot = Running(api, f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
        await bot.start()
        try:
            chat = 5001
            for step, (how, what) in enumerate(REFERRAL):
                if step == 5:  # Telegram fails, then goes away for a moment
                    api.fail_next("getUpdates", error_code=502)
                    api.fail_next("sendMessage", error_code=500)
                if step == 10:
                    await api.stop()
                    await asyncio.sleep(1.5)
                    await api.start()
                update = (
                    api.send_text(chat, what, first_name="Alex")
                    if how == "type"
                    else api.press(chat, what, first_name="Alex")
                )
                await bot.handled(update, timeout=20)
            await bot.handled(api.send_text(chat, "I use a wheelchair", first_name="Alex"))
            assert "Your reference is SP-" in handoff_message(api, chat)

            # An error whose text quotes a Bot API URL (what httpx says of a failed
            # response), logged with its traceback and left uncaught.
            async with httpx.AsyncClient() as client:
                response = await client.post(f"{api.base_url}{TOKEN}/noSuchMethod")
            try:
                response.raise_for_status()
            except httpx.HTTPStatusError as error:
                assert TOKEN in str(error)  # it would have leaked
                log.exception("a request failed: %s", error, extra={"error": str(error)})
                sys.excepthook(type(error), error, error.__traceback__)
        finally:
            await bot.stop()

        # A token Telegram refuses: python-telegram-bot's error quotes it.
        api.fail_next("getMe", error_code=401, description="Unauthorized")
        refused = TelegramBot(await build_app(bot.settings, directory=FakeDirectory()))
        with pytest.raises(SettingsError) as stopped:
            await refused.start()
        await refused.app.close()
        log.error("start-up failed", exc_info=stopped.value)

    logged = log_file.read_text("utf-8")
    printed = capfd.readouterr()
    told = "".join(traceback.format_exception(stopped.value))
    for output, where in ((logged, "the log"), (printed.out + printed.err, "the terminal"),
                          (told, "the start-up error")):  # fmt: skip
        assert SECRET_HALF not in output, f"the token is in {where}"
    assert "refused TELEGRAM_BOT_TOKEN" in told
    # The libraries did log their requests, at DEBUG: with the token taken out.
    assert "bot<token>/getUpdates" in logged and "noSuchMethod" in logged
    assert "getUpdates failed" in logged and "a request failed" in logged

    # Rule 6: what the configured levels let out holds nothing the patient typed.
    out = everything_logged([r for r in everything.records if let_through_by_configure_logging(r)])
    assert "case opened" in out  # events are logged
    for typed in TYPED:
        assert typed not in out, f"{typed!r} reached the logs"
