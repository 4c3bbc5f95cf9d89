"""The patient service on a real database: one update, one transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.app import messages_for
from bot.config import Settings
from bot.delivery import Blocked, Delivery, Limits, RetryLater, Undeliverable
from bot.patients import Inbound, PatientService
from bot.store import Database
from bot.store.cases import Case, CaseEntry
from bot.store.outbox import Keyboard, OutboxMessage
from bot.store.patients import Consent, Conversation, Patient, WellbeingScore
from flows.core import Button, Command, Event, Text
from tests.fakes import FakeDirectory
from tests.flows.harness import HAPPY_PATH, TYPED

SETTINGS = Settings(organisation_name="Test Team", response_time_text="within 2 working days")


class Chat:
    def __init__(self, db: Database, chat_id: int = 42) -> None:
        self.db = db
        self.chat_id = chat_id
        self.service = PatientService(db, messages_for(SETTINGS), FakeDirectory, SETTINGS)
        self.update_id = 1000

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


async def test_a_whole_referral_records_consent_baseline_and_a_waiting_case(
    database: Database,
) -> None:
    chat = Chat(database)
    await chat.walk_to("end")
    async with database.sessions() as s:
        case = (await s.execute(select(Case))).scalar_one()
        consent = (await s.execute(select(Consent))).scalar_one()
        score = (await s.execute(select(WellbeingScore))).scalar_one()
        entries = (await s.execute(select(CaseEntry))).scalars().all()
    assert (
        case.status == "waiting" and case.reference.startswith("SP-") and len(case.reference) == 7
    )
    assert case.summary.needs.what_matters.startswith("I'd like to meet people")
    assert consent.notice_version and consent.given_at is not None
    assert (score.life_satisfaction, score.anxiety, score.case_id) == (4, 7, case.id)
    assert [e.text for e in entries] == ["opened"]
    async with database.sessions() as s:
        last = (
            (await s.execute(select(OutboxMessage).order_by(OutboxMessage.id.desc())))
            .scalars()
            .first()
        )
    assert last is not None and case.reference in last.payload["text"]


async def test_the_same_update_twice_has_one_effect(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("name")
    before = await count(database, OutboxMessage)
    first = await chat.send("Sam", update_id=777)
    again = await chat.send("Samantha", update_id=777)
    assert not first.duplicate and again.duplicate
    async with database.sessions() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()
    assert conv.answers["name"] == "Sam" and conv.state == "what_matters"
    assert await count(database, OutboxMessage) == before + len(first.outbox_ids)


async def test_a_double_tap_has_one_effect(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("mode")
    step = await chat.step()
    await chat.send(Button(step, "online"))
    second = await chat.send(Button(step, "online"))
    assert second.tap_notice and "earlier question" in second.tap_notice
    assert second.outbox_ids == []


async def test_a_new_service_instance_resumes_at_the_same_question(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("postcode")
    restarted = Chat(database)  # as after a process restart: nothing in memory
    restarted.update_id = 5000
    await restarted.send("L20")
    async with database.sessions() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()
    assert conv.state == "mode" and conv.answers["postcode"] == "L20"


async def test_declining_consent_keeps_nothing_about_the_person(database: Database) -> None:
    chat = Chat(database)
    await chat.send("/start")
    delivery = Delivery(database, RecordingSender(), "telegram", limits=FAST)
    while await delivery.deliver_due():  # "Hello Alex..." has reached them
        pass
    await chat.tap("decline")
    for model in (Patient, Conversation, Consent, Case, WellbeingScore):
        assert await count(database, model) == 0
    async with database.sessions() as s:
        kept = (await s.execute(select(OutboxMessage))).scalars().all()
    # Only the goodbye waits to be sent; what was already sent to them (their name) is gone.
    assert kept and [r.sent_at for r in kept] == [None] * len(kept)
    assert not any("Alex" in r.payload["text"] for r in kept)
    assert any("not kept anything" in r.payload["text"] for r in kept)
    # Talking again starts afresh with the welcome.
    await chat.send("hello")
    async with database.sessions() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()
    assert conv.state == "consent"


async def test_under_18_keeps_nothing(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("age")
    await chat.tap("no")
    assert await count(database, Patient) == 0 and await count(database, Consent) == 0


async def test_help_before_starting_keeps_nothing(database: Database) -> None:
    chat = Chat(database)
    await chat.send("/help")
    assert await count(database, Patient) == 0
    assert await count(database, OutboxMessage) == 1


async def test_restart_before_handoff_forgets_consent_and_scores(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("suggestions")
    assert await count(database, WellbeingScore) == 1
    await chat.send("/restart")
    await chat.tap("yes")
    assert await count(database, WellbeingScore) == 0 and await count(database, Consent) == 0


async def test_messages_after_handoff_are_kept_on_the_case(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("end")
    await chat.send("I use a <b>wheelchair</b> & a stick")
    async with database.sessions() as s:
        entry = (
            await s.execute(select(CaseEntry).where(CaseEntry.kind == "patient_message"))
        ).scalar_one()
    assert entry.text == "I use a <b>wheelchair</b> & a stick"


async def test_patient_text_is_escaped_in_what_we_send(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("name")
    await chat.send("<b>Bob</b> & co")
    await chat.send("/start")
    async with database.sessions() as s:
        texts = [r.payload["text"] for r in (await s.execute(select(OutboxMessage))).scalars()]
    assert any("&lt;b&gt;Bob&lt;/b&gt; &amp; co" in t for t in texts)
    assert not any("<b>Bob</b>" in t for t in texts)


async def test_answering_closes_the_question_and_marks_the_choice(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("group")
    result = await chat.tap("group")
    async with database.sessions() as s:
        rows = [await s.get(OutboxMessage, i) for i in result.outbox_ids]
    edit = rows[0]
    assert edit is not None and edit.action == "edit" and edit.payload["buttons"] == []
    assert edit.payload["text"].endswith("✓ <i>In a group</i>")


class RecordingSender:
    def __init__(self, fail_with: list[Exception] | None = None) -> None:
        self.sent: list[tuple[int, str, Keyboard]] = []
        self.edits: list[tuple[int, int, str]] = []
        self.fail_with = fail_with or []

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> int:
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append((chat_id, text, buttons))
        return len(self.sent)

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> None:
        self.edits.append((chat_id, message_id, text))


FAST = Limits(1000, 1000, 1)


async def test_delivery_sends_in_order_and_edits_the_right_message(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("age")
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    while await delivery.deliver_due():
        pass
    assert sender.sent[0][1].startswith("Hello Alex")
    assert len(sender.edits) == 1 and sender.edits[0][1] == 2  # the consent question, closed
    assert await delivery.deliver_due() == 0  # nothing is sent twice


async def test_delivery_waits_when_telegram_says_slow_down(database: Database) -> None:
    chat = Chat(database)
    await chat.send("/help")
    sender = RecordingSender([RetryLater(30, "429")])
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    assert await delivery.deliver_due() == 1
    assert await delivery.deliver_due() == 0  # not due again for 30 seconds
    async with database.sessions() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
    assert row.sent_at is None and row.attempts == 1 and row.failed_reason is None


async def test_a_patient_who_blocked_the_bot_is_marked_not_retried(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("age")
    sender = RecordingSender([Blocked()])
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    await delivery.deliver_due()
    async with database.sessions() as s:
        patient = (await s.execute(select(Patient))).scalar_one()
        failed = (
            (await s.execute(select(OutboxMessage).where(OutboxMessage.failed_reason.is_not(None))))
            .scalars()
            .all()
        )
    assert patient.blocked_at is not None and len(failed) == 1


async def test_a_refused_message_does_not_hold_up_the_next(database: Database) -> None:
    chat = Chat(database)
    await chat.walk_to("age")
    sender = RecordingSender([Undeliverable("Bad Request: can't parse entities")])
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    while await delivery.deliver_due():
        pass
    assert len(sender.sent) >= 1  # the consent question still went


async def test_a_team_chat_the_bot_was_removed_from_keeps_being_retried(database: Database) -> None:
    async with database.transaction() as session:
        from bot.store.base import utcnow
        from bot.store.outbox import Outbox

        Outbox(session, "telegram", -100555, utcnow()).send("alert")
    delivery = Delivery(database, RecordingSender([Blocked()]), "telegram", limits=FAST)
    await delivery.deliver_due()
    async with database.sessions() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
    assert row.failed_reason is None and row.sent_at is None  # not dropped as "blocked"


async def test_an_edit_that_changes_nothing_is_not_sent(database: Database) -> None:
    from bot.store.base import utcnow
    from bot.store.outbox import Outbox

    async with database.transaction() as session:
        outbox = Outbox(session, "telegram", 77, utcnow())
        card = outbox.send("card v1")
        await session.flush()
        outbox.edit(card, "card v2", [])  # changed again before it was ever sent
    sender = RecordingSender()
    delivery = Delivery(database, sender, "telegram", limits=FAST)
    while await delivery.deliver_due():
        pass
    assert [t for _, t, _ in sender.sent] == ["card v2"]
    assert sender.edits == []  # Telegram would refuse it: "message is not modified"
    async with database.transaction() as session:
        row = await session.get(OutboxMessage, card.id)
        assert row is not None
        Outbox(session, "telegram", 77, utcnow()).edit(row, "card v3", [])
    while await delivery.deliver_due():
        pass
    assert [t for _, _, t in sender.edits] == ["card v3"]


async def test_a_crisis_reply_is_never_given_up_on(database: Database) -> None:
    from bot.delivery import MAX_ATTEMPTS
    from bot.store.base import utcnow
    from bot.store.outbox import Outbox

    async with database.transaction() as session:
        Outbox(session, "telegram", 88, utcnow()).send("call 999", urgent=True)
        Outbox(session, "telegram", 89, utcnow()).send("ordinary")
    clock = [utcnow()]
    failures = [RetryLater(1, "network") for _ in range(2 * MAX_ATTEMPTS + 2)]
    delivery = Delivery(
        database, RecordingSender(failures), "telegram", limits=FAST, clock=lambda: clock[0]
    )
    from datetime import timedelta

    for _ in range(MAX_ATTEMPTS + 2):
        await delivery.deliver_due()
        clock[0] += timedelta(minutes=10)
    async with database.sessions() as s:
        rows = {r.chat_id: r for r in (await s.execute(select(OutboxMessage))).scalars()}
    assert rows[89].failed_reason is not None  # an ordinary message is given up on
    assert (
        rows[88].failed_reason is None and rows[88].attempts > MAX_ATTEMPTS
    )  # a crisis reply is not
