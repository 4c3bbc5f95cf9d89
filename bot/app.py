"""Wiring: builds the pieces every adapter shares from the settings, in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import Settings, SettingsError
from bot.directory import directory_version, load_directory
from bot.messages import Messages
from bot.patients import PatientService
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

    async def close(self) -> None:
        await self.db.close()


def messages_for(settings: Settings) -> Messages:
    return Messages(
        defaults={
            "organisation_name": settings.organisation_name,
            "response_time_text": settings.response_time_text,
            "local_crisis_lines": settings.local_crisis_lines,
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
#: hold what patients wrote. They stay at WARNING whatever LOG_LEVEL says.
CHATTY_LIBRARIES = (
    "aiosqlite",
    "asyncpg",
    "sqlalchemy",
    "httpx",
    "httpcore",
    "telegram",
    "alembic",
)


def configure_logging(level: str, *, to_file: str | None = None, quiet: bool = False) -> None:
    """Ids and events only: message text and names never reach a log line. To
    `to_file` if given; `quiet`: nowhere else (not even Python's last-resort
    printing of warnings to the terminal)."""
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
