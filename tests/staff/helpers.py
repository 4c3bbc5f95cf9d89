"""A patient side and a staff side on one database, with a clock the test sets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.app import messages_for
from bot.config import Settings
from bot.messages import html_to_text
from bot.patients import PatientService
from bot.patients.effects import raise_alert
from bot.staff import CaseNotices, StaffHandled, StaffInbound, StaffService
from bot.staff.admin import add_worker
from bot.store import Database
from bot.store.cases import Case
from bot.store.outbox import OutboxMessage
from bot.store.patients import Patient
from bot.store.staff import LinkWorker
from bot.taps import StaffTap
from flows.core import Command, Event, Text
from tests import factories
from tests.fakes import FakeDirectory
from tests.patients.helpers import Chat

TEAM = -100200300
#: Monday 23 November 2026, 10:00 in London (UTC in November): working hours.
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SAM_ID, JO_ID, ADMIN_ID = 9001, 9002, 9009


class Clock:
    def __init__(self, now: datetime = MONDAY) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Team:
    db: Database
    settings: Settings
    clock: Clock
    staff: StaffService
    patients: PatientService
    update_id: int = 50_000

    async def act(self, user_id: int, event: Event | StaffTap | str, *, chat_id: int | None = None,
                  message_id: int | None = None) -> StaffHandled | None:  # fmt: skip
        if isinstance(event, str):
            event = Command(*event[1:].split(" ", 1)) if event.startswith("/") else Text(event)
        self.update_id += 1
        chat = user_id if chat_id is None else chat_id
        return await self.staff.handle(
            StaffInbound(user_id, chat, chat == user_id, event, self.update_id, "Sam", message_id)
        )

    async def tap(self, user_id: int, verb: str, reference: str = "", arg: str = "",
                  **kw: Any) -> StaffHandled | None:  # fmt: skip
        return await self.act(user_id, StaffTap(verb, reference, arg), **kw)

    async def said(self, chat_id: int, since: int = 0) -> list[str]:
        """Plain text of everything sent (or edited to) in a chat, oldest first."""
        return [html_to_text(r.payload["text"]) for r in await self.rows(chat_id, since)]

    async def rows(self, chat_id: int, since: int = 0) -> list[OutboxMessage]:
        async with self.db.sessions() as s:
            rows = await s.execute(
                select(OutboxMessage)
                .where(OutboxMessage.chat_id == chat_id, OutboxMessage.id > since)
                .order_by(OutboxMessage.id)
            )
            return list(rows.scalars())

    async def last_id(self) -> int:
        async with self.db.sessions() as s:
            rows = await s.execute(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()))
            return rows.scalars().first() or 0

    async def case(self, reference: str | None = None) -> Case:
        async with self.db.sessions() as s:
            query = select(Case).order_by(Case.id.desc())
            if reference:
                query = query.where(Case.reference == reference)
            return (await s.execute(query.limit(1))).scalar_one()

    def patient(self, chat_id: int = 42) -> Chat:
        """A patient talking to this team's patient service."""
        chat = Chat(self.db, chat_id)
        chat.service = self.patients
        chat.update_id = chat_id * 1000
        return chat

    async def referred_patient(self, chat_id: int = 42) -> tuple[Chat, Case]:
        """A patient whose referral is in the queue (made directly: tests/factories.py)."""
        case = await factories.referred_patient(
            self.db, self.settings, self.patients.listener, self.clock(), chat_id
        )
        return self.patient(chat_id), case

    async def crisis(self, case: Case, category: str = "suicide") -> None:
        """The patient side raises a safety alert on the case, as crisis words
        ("zz-their-words") would."""
        async with self.db.transaction() as s:
            patient = await s.get(Patient, case.patient_id)
            assert patient is not None
            await raise_alert(s, patient, {}, category, "zz-their-words", (), self.settings,
                              self.patients.listener, self.clock())  # fmt: skip

    async def worker(self, telegram_id: int) -> LinkWorker:
        async with self.db.sessions() as s:
            return (
                await s.execute(select(LinkWorker).where(LinkWorker.telegram_id == telegram_id))
            ).scalar_one()


def settings_for(*, staff_chat: int | None = TEAM, **settings: Any) -> Settings:
    return Settings(organisation_name="Test Team", response_time_text="within 2 working days",
                    staff_chat_id=staff_chat, **settings)  # fmt: skip


async def team(
    db: Database, *, staff_chat: int | None = TEAM, add_workers: bool = True, **settings: Any
) -> Team:
    """`add_workers=False`: a second instance of the bot on the same database."""
    config = settings_for(staff_chat=staff_chat, **settings)
    clock = Clock()
    messages = messages_for(config)
    patients = PatientService(db, messages, FakeDirectory, config, clock=clock,
                              listener=CaseNotices(messages, config))  # fmt: skip
    staff = StaffService(db, messages, FakeDirectory, config, patients, clock=clock)
    if add_workers:
        await add_worker(db, SAM_ID, "Sam", "link_worker", clock())
        await add_worker(db, JO_ID, "Jo", "link_worker", clock())
        await add_worker(db, ADMIN_ID, "Ash", "admin", clock())
    return Team(db, config, clock, staff, patients)
