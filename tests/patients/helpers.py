"""A patient talking to the patient service on a real database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.app import messages_for
from bot.config import Settings
from bot.delivery import Delivery
from bot.patients import Inbound, PatientService
from bot.store import Database
from bot.store.patients import Conversation, Patient
from flows.core import Button, Command, Event, Text
from tests.fakes import FAST, FakeDirectory, RecordingSender
from tests.flows.harness import HAPPY_PATH, TYPED

SETTINGS = Settings(organisation_name="Test Team", response_time_text="within 2 working days")


class Chat:
    """A patient writing to the patient service. `reads=False`: nothing is delivered
    to them (for tests of delivery itself; they can then only tap, not type)."""

    def __init__(self, db: Database, chat_id: int = 42, *, reads: bool = True) -> None:
        self.db = db
        self.chat_id = chat_id
        self.service = PatientService(db, messages_for(SETTINGS), FakeDirectory, SETTINGS)
        self.update_id = 1000
        #: What reaches their phone. They read what the bot said before they answer:
        #: a typed answer to a question that never reached them is not taken as one.
        self.phone = RecordingSender()
        self.delivery = Delivery(db, self.phone, "telegram", limits=FAST)
        self.reads = reads

    async def step(self) -> int:
        async with self.db.sessions() as s:
            conv = await s.scalar(
                select(Conversation).join(Patient).where(Patient.chat_id == self.chat_id)
            )
            return conv.step if conv else 0

    async def send(self, event: Event | str, update_id: int | None = None) -> Any:
        if isinstance(event, str):
            event = Command(event[1:]) if event.startswith("/") else Text(event)
        self.update_id += 1
        while self.reads and await self.delivery.deliver_due():
            pass
        return await self.service.handle(
            Inbound("telegram", self.chat_id, event, update_id or self.update_id, "Alex")
        )

    async def tap(self, value: str) -> Any:
        return await self.send(Button(await self.step(), value))

    async def state(self) -> str:
        async with self.db.sessions() as s:
            conv = await s.scalar(
                select(Conversation).join(Patient).where(Patient.chat_id == self.chat_id)
            )
            return conv.state if conv else "new"

    async def walk_to(self, state: str) -> None:
        """Answer along the happy path, from wherever the conversation is, up to `state`."""
        if await self.state() == "new":
            await self.send("/start")
        if await self.state() == "crisis_check":  # after crisis words: "Carry on"
            await self.tap("carry_on")
        path = [at for at, _ in HAPPY_PATH]
        current = await self.state()
        start = path.index(current) if current in path else len(path)
        for at, value in HAPPY_PATH[start:]:
            if at == state:
                return
            assert await self.state() == at
            await (self.send(value) if at in TYPED else self.tap(value))


async def count(db: Database, model: Any) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)
