"""Wiring: builds the pieces every adapter shares from the settings, in one place."""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from types import TracebackType

from bot.config import Settings, SettingsError, parse_working_hours
from bot.directory import directory_version, load_directory
from bot.directory.feeds import import_due_feeds
from bot.encryption import start_encryption
from bot.messages import Messages
from bot.patients import PatientService
from bot.report import reading
from bot.safety.embedding import ModelUnavailable
from bot.safety.meaning import MeaningScreen
from bot.staff import CaseNotices, StaffService
from bot.store import Database
from bot.store.base import utcnow
from flows.directory import Directory

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    db: Database
    messages: Messages
    directory: Directory
    #: The import the loaded directory reflects (None: a directory given by a test).
    directory_version: int | None
    #: What the link worker side hears (also told of messages that cannot be delivered).
    notices: CaseNotices
    #: The meaning-based crisis screen (None: the rules alone).
    meaning: MeaningScreen | None = None
    #: What time it is, for everything the app does (tests move it).
    clock: Callable[[], datetime] = utcnow
    patients: PatientService = field(init=False)
    staff: StaffService = field(init=False)

    def __post_init__(self) -> None:
        # The two front doors stand on one store and meet only here: the staff side
        # hears of cases through CaseNotices and moves conversations through patients.
        def current() -> Directory:
            return self.directory

        self.patients = PatientService(
            self.db, self.messages, current, self.settings, listener=self.notices,
            meaning=self.meaning, clock=self.clock,
        )  # fmt: skip
        self.staff = StaffService(self.db, self.messages, current, self.settings, self.patients,
                                  clock=self.clock)  # fmt: skip

    async def refresh_directory(self) -> None:
        """Reload the activity directory if an import has changed it since."""
        if self.directory_version is None:
            return
        version = await directory_version(self.db)
        if version != self.directory_version:
            self.directory = await load_directory(self.db)
            self.directory_version = version
            log.info("directory reloaded", extra={"version": version})

    async def import_due_feeds(self) -> int:
        """Re-import the feeds whose schedule has come round (`--every`), then
        reload the directory if that changed it."""
        imported = await import_due_feeds(self.db, self.clock())
        if imported:
            await self.refresh_directory()
        return imported

    async def keep_report_figures(self) -> bool:
        """Each night, the outcomes report's figures worked out ahead and kept, in a
        process of its own (bot/report/reading.py): whether they were."""
        settings = self.settings
        if not await reading.due(self.db, settings.zone, settings.quiet, self.clock()):
            return False
        env = {"DATABASE_URL": settings.database_url, "TIMEZONE": settings.timezone}
        code = await reading.keep_in_a_process(env)
        if code:
            log.warning("report figures not kept", extra={"exit_code": code})
        else:
            log.info("report figures kept")
        return code == 0

    async def close(self) -> None:
        await self.db.close()


def in_words(days: int) -> str:
    """730 -> "2 years", 90 -> "3 months", 10 -> "10 days": as the notice says it."""
    for size, unit in ((365, "year"), (30, "month"), (7, "week")):
        if days % size == 0:
            n = days // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{days} day{'s' if days != 1 else ''}"


_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _clock_words(at: time) -> str:
    hour = at.hour % 12 or 12
    return f"{hour}{f':{at.minute:02d}' if at.minute else ''}{'am' if at.hour < 12 else 'pm'}"


def working_hours_words(working_hours: str) -> str:
    """'Mon-Fri 09:00-17:00' -> 'Monday to Friday, 9am to 5pm', as patients are told."""
    days, start, end = parse_working_hours(working_hours)
    first, last = min(days), max(days)
    span = _DAY_NAMES[first] if first == last else f"{_DAY_NAMES[first]} to {_DAY_NAMES[last]}"
    return f"{span}, {_clock_words(start)} to {_clock_words(end)}"


def messages_for(settings: Settings) -> Messages:
    return Messages(
        defaults={
            "organisation_name": settings.organisation_name,
            "response_time_text": settings.response_time_text,
            "working_hours_words": working_hours_words(settings.working_hours),
            "local_crisis_lines": settings.local_crisis_lines,
            "retention_words": in_words(settings.retention_days),
        }
    )


async def build_app(
    settings: Settings,
    *,
    directory: Directory | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> App:
    db = Database(settings.database_url, timeout=settings.database_timeout)
    if db.is_sqlite:
        await db.upgrade()  # one process owns the file: migrating on start is safe
    elif not await db.is_up_to_date():
        await db.close()
        raise SettingsError(
            "The PostgreSQL database in DATABASE_URL needs its tables created or updated: "
            "run `spbot db upgrade` once, then start the bot again."
        )
    await start_encryption(db, settings)  # DATA_ENCRYPTION_KEY: seal, and open what is kept
    messages = messages_for(settings)
    version = None
    if directory is None:
        directory = await load_directory(db)  # an empty directory suggests nothing
        version = await directory_version(db)
    notices = CaseNotices(messages, settings)
    return App(settings, db, messages, directory, version, notices, meaning_screen(settings),
               clock)  # fmt: skip


_loaded: dict[str | None, MeaningScreen | None] = {}


def meaning_screen(settings: Settings) -> MeaningScreen | None:
    """The meaning screen, loaded once per process; None (said once, in the log)
    when it is switched off or its model files are not there."""
    if not settings.meaning_screen:
        return None
    folder = settings.embedding_model_dir
    if folder not in _loaded:
        try:
            loaded = _loaded[folder] = MeaningScreen.load(folder)
            log.info("meaning screen on", extra={"threshold": loaded.threshold})
        except ModelUnavailable as exc:
            _loaded[folder] = None
            log.warning(
                "meaning screen off (%s): crisis screening runs on the rules alone; "
                "`spbot safety fetch-model` fetches the model", exc,
            )  # fmt: skip
    return _loaded[folder]


#: Libraries that, below WARNING, log SQL parameters or Bot API payloads, which
#: hold what patients wrote; and the state machine library, whose INFO is three
#: lines of bookkeeping an update that would bury the bot's own one. They stay at
#: WARNING whatever LOG_LEVEL says.
CHATTY_LIBRARIES = (
    "aiosqlite",
    "asyncpg",
    "sqlalchemy",
    "httpx",
    "httpcore",
    "telegram",
    "alembic",
    "transitions",
)

#: A bot token wherever it is written: in a Bot API URL (`.../bot123:ABC/getMe`), and
#: on its own (123456789:AA... as @BotFather gives it).
TOKEN_PATTERNS = (
    re.compile(r"bot\d+:[A-Za-z0-9_-]+"),
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"),
)
REDACTED = "<token>"
_secrets: set[str] = set()


def keep_secret(secret: str) -> None:
    """Never write `secret` (the bot token) in a log line, a traceback or an error
    printed to the terminal, from now on: every handler's `RedactSecrets` drops it."""
    if secret:
        _secrets.add(secret)


def redact(text: str) -> str:
    """`text` without the bot token (the one in use, or anything shaped like one)."""
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


#: What every log record has; anything else on one came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RedactSecrets(logging.Filter):
    """Takes the bot token out of a record before any handler writes it: its message
    and arguments, its exception and stack text, and its `extra` fields.

    python-telegram-bot and httpx put the token in what they log (every request's
    URL) and raise (`InvalidToken` quotes it), and a library's level can be turned
    down by anyone debugging: so the token is removed here, on the way out, whatever
    the level and whichever logger wrote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = _FORMATTER.formatException(record.exc_info)
            # Only the redacted text goes on: a formatter that reads the exception
            # itself would print the token.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS and value is not None:
                shown = value if isinstance(value, str) else str(value)
                if redact(shown) != shown:
                    setattr(record, key, redact(shown))
        return True


_FORMATTER = logging.Formatter()
_REDACT = RedactSecrets()


def configure_logging(
    level: str, *, to_file: str | None = None, quiet: bool = False, secrets: tuple[str, ...] = ()
) -> None:
    """Ids and events only: message text and names never reach a log line, and the
    bot token (`secrets`, and anything shaped like a token) never reaches any output.
    To `to_file` if given; `quiet`: nowhere else (not even Python's last-resort
    printing of warnings to the terminal)."""
    for secret in secrets:
        keep_secret(secret)
    handlers: list[logging.Handler]
    if to_file:
        handlers = [logging.FileHandler(to_file, encoding="utf-8")]
    elif quiet:
        handlers = [logging.NullHandler()]
    else:
        handlers = [logging.StreamHandler()]
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        handlers=handlers,
        force=True,
    )
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    redact_everywhere()


def redact_everywhere() -> None:
    """`RedactSecrets` on every handler there is (the root's, any a library added, and
    the last resort), and on what Python prints of an exception nobody caught."""
    loggers = [logging.getLogger(), *(
        logger for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    )]  # fmt: skip
    handlers = [handler for logger in loggers for handler in logger.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if _REDACT not in handler.filters:
            handler.addFilter(_REDACT)
    sys.excepthook = _print_redacted
    threading.excepthook = _print_thread_redacted


def _print_redacted(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    sys.stderr.write(redact("".join(traceback.format_exception(kind, error, trace))))


def _print_thread_redacted(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "a thread"
    sys.stderr.write(f"Exception in {redact(name)}:\n")
    _print_redacted(args.exc_type, args.exc_value, args.exc_traceback)
