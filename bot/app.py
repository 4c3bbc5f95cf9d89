"""Wiring: builds the pieces every adapter shares from the settings, in one place."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.config import Settings
from bot.messages import Messages
from bot.service import PatientService
from bot.store import Database
from flows.directory import Directory, Profile, Suggestion


class EmptyDirectory:
    """Used until a directory has been imported: suggests nothing, so the
    conversation goes straight to offering a link worker."""

    def suggest(self, profile: Profile, n: int = 3, offset: int = 0) -> list[Suggestion]:
        return []


@dataclass
class App:
    settings: Settings
    db: Database
    messages: Messages
    patients: PatientService
    directory: Directory

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


async def build_app(settings: Settings, *, directory: Directory | None = None) -> App:
    db = Database(settings.database_url)
    await db.upgrade()
    messages = messages_for(settings)
    app = App(settings, db, messages, None, directory or EmptyDirectory())  # type: ignore[arg-type]
    app.patients = PatientService(db, messages, lambda: app.directory, settings)
    return app


def configure_logging(level: str) -> None:
    # Ids and events only: message text and names never reach a log line.
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
