"""A patient who blocked the bot and then writes to it again (they unblocked it):
they can be reached once more, and whoever was told they could not be is told
they can (README "When things fail")."""

from __future__ import annotations

from sqlalchemy import select

from bot.delivery import Blocked, Delivery, Sent
from bot.store import Database
from bot.store.cases import Case
from bot.store.outbox import Keyboard
from bot.store.patients import Patient
from tests.fakes import FAST, RecordingSender
from tests.patients.helpers import Chat
from tests.staff.helpers import SAM_ID, TEAM, Team, team


class BlockedBy(RecordingSender):
    """Telegram, for a patient who blocked the bot: 403 to every message to them."""

    def __init__(self, chat_id: int) -> None:
        super().__init__()
        self.chat_id = chat_id

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> Sent:
        if chat_id == self.chat_id:
            raise Blocked()
        return await super().send(chat_id, text, buttons)


async def blocks_the_bot(t: Team, chat: Chat, case: Case) -> None:
    """Sam writes to them, and Telegram says they blocked the bot."""
    delivery = Delivery(t.db, BlockedBy(chat.chat_id), "telegram", limits=FAST, clock=t.clock,
                        on_blocked=t.patients.listener.patient_blocked)  # fmt: skip
    await t.act(SAM_ID, f"/reply {case.reference} Are you still there?")
    while await delivery.deliver_due():
        pass


async def blocked(t: Team, case: Case) -> bool:
    async with t.db.sessions() as s:
        patient = await s.get(Patient, case.patient_id)
        assert patient is not None
        return patient.blocked_at is not None


def about(said: list[str], words: str) -> list[str]:
    return [text for text in said if words in text]


async def test_a_patient_who_writes_again_after_blocking_the_bot_can_be_reached_again(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await t.referred_patient()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await blocks_the_bot(t, chat, case)
    assert await blocked(t, case)
    assert about(await t.said(SAM_ID), "blocked the bot")

    before = await t.last_id()
    await chat.send("Sorry, I blocked you by mistake")
    await chat.send("Are you there?")

    assert not await blocked(t, case)
    told = about(await t.said(SAM_ID, before), "can reach them again here")
    assert len(told) == 1 and case.reference in told[0], await t.said(SAM_ID, before)
    assert not about(await t.said(TEAM, before), "can reach them again here")
    # Sam's reply goes to them now.
    before = await t.last_id()
    await t.act(SAM_ID, f"/reply {case.reference} Hello again")
    assert [r.payload["text"] for r in await t.rows(chat.chat_id, since=before)]


async def test_with_nobody_holding_the_case_the_team_chat_hears_they_are_back(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await t.referred_patient()
    async with t.db.transaction() as s:  # a 403 marked them, with nobody holding it
        patient = await s.get(Patient, case.patient_id)
        assert patient is not None
        patient.blocked_at = t.clock()
    before = await t.last_id()
    await chat.send("hello?")
    assert not await blocked(t, case)
    told = about(await t.said(TEAM, before), "can reach them again here")
    assert len(told) == 1 and case.reference in told[0]


async def test_someone_who_blocked_the_bot_before_any_case_is_simply_reachable_again(
    database: Database,
) -> None:
    t = await team(database)
    chat = t.patient(77)
    await chat.send("/start")
    async with t.db.transaction() as s:
        patient = await s.scalar(select(Patient).where(Patient.chat_id == 77))
        assert patient is not None
        patient.blocked_at = t.clock()
    before = await t.last_id()
    await chat.tap("agree")
    async with t.db.sessions() as s:
        patient = await s.scalar(select(Patient).where(Patient.chat_id == 77))
        assert patient is not None and patient.blocked_at is None
    assert not about(await t.said(TEAM, before), "can reach them again here")
