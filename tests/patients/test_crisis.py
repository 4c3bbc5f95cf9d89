"""Crisis language at any point: the crisis reply at once, an urgent case at the top
of the queue, one alert for the team, and the conversation kept where it was."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.app import messages_for
from bot.config import Settings
from bot.patients import PatientService
from bot.staff import CaseNotices
from bot.store import Database
from bot.store.cases import Case, CaseEntry, SafetyAlert
from bot.store.outbox import OutboxMessage
from bot.store.patients import Conversation, Patient
from tests.fakes import FakeDirectory
from tests.patients.helpers import Chat

TEAM = -100777
SUNDAY_NIGHT = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)


def team_chat(db: Database, clock: datetime = SUNDAY_NIGHT) -> Chat:
    chat = Chat(db)
    settings = Settings(staff_chat_id=TEAM, organisation_name="Test Team")
    messages = messages_for(settings)
    chat.service = PatientService(
        db, messages, FakeDirectory, settings, clock=lambda: clock,
        listener=CaseNotices(messages, settings),
    )  # fmt: skip
    return chat


async def alert_cards(db: Database) -> list[OutboxMessage]:
    """The team chat's safety alert cards and their edits (not the case cards)."""
    return [
        r for r in await outbox(db, TEAM)
        if "wrote words about" in r.payload["text"] or "newer alert" in r.payload["text"]
    ]  # fmt: skip


async def outbox(db: Database, chat_id: int) -> list[OutboxMessage]:
    async with db.sessions() as s:
        rows = await s.execute(
            select(OutboxMessage).where(OutboxMessage.chat_id == chat_id).order_by(OutboxMessage.id)
        )
        return list(rows.scalars())


async def test_crisis_mid_referral_gets_the_reply_an_alert_and_keeps_the_place(
    database: Database,
) -> None:
    chat = team_chat(database)
    await chat.walk_to("postcode")
    handled = await chat.send("honestly i dont want to be here anymore")
    async with database.sessions() as s:
        sent = [await s.get(OutboxMessage, i) for i in handled.outbox_ids]
        case = (await s.execute(select(Case))).scalar_one()
        conv = (await s.execute(select(Conversation))).scalar_one()
        entries = (await s.execute(select(CaseEntry.kind, CaseEntry.text))).all()
    patient_texts = [r.payload["text"] for r in sent if r and r.chat_id == chat.chat_id]
    assert "116 123" in patient_texts[0] and "999" in patient_texts[0]
    assert "What would you like to do now?" in patient_texts[-1]  # carry on, stop or talk
    assert conv.state == "crisis_check" and "postcode" not in conv.answers
    assert case.urgent and case.status == "waiting"
    assert ("crisis_message", "honestly i dont want to be here anymore") in entries
    alert_rows = await alert_cards(database)
    assert len(alert_rows) == 1
    card = alert_rows[0].payload["text"]
    assert case.reference in card and "suicide" in card and "Out of hours" in card
    assert "be here" not in card and "Alex" not in card  # no free text, no name in a group
    # "Carry on" goes back exactly where they were.
    await chat.tap("carry_on")
    async with database.sessions() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()
    assert conv.state == "postcode"
    await chat.send("L20")
    async with database.sessions() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()
    assert conv.state == "mode" and conv.answers["postcode"] == "L20"


async def test_a_repeat_on_an_alert_nobody_has_taken_is_a_new_message(
    database: Database,
) -> None:
    """One alert counts the messages; while nobody has tapped Seen, each repeat is a
    new card (Telegram notifies nobody of an edit) and the old one points on."""
    chat = team_chat(database)
    await chat.walk_to("what_matters")
    await chat.send("i want to kill myself")
    await chat.send("I've been saving up my tablets")
    async with database.sessions() as s:
        alert = (await s.execute(select(SafetyAlert))).scalar_one()
    assert alert.count == 2
    rows = await alert_cards(database)
    assert [r.action for r in rows] == ["send", "edit", "send"]
    assert "still not seen" in rows[1].payload["text"]
    assert "2 messages like this" in rows[-1].payload["text"]


async def test_crisis_before_consent_opens_an_urgent_case_that_declining_does_not_delete(
    database: Database,
) -> None:
    chat = team_chat(database)
    await chat.send("/start")
    await chat.send("he hits me and im scared to go home")
    await chat.tap("carry_on")  # back to the consent question
    await chat.tap("decline")
    async with database.sessions() as s:
        case = (await s.execute(select(Case))).scalar_one()
        patients = (await s.execute(select(Patient))).scalars().all()
    assert case.urgent and len(patients) == 1
    rows = await outbox(database, chat.chat_id)
    reached_them = [text for _, text, _ in chat.phone.sent]
    assert any("0808 2000 247" in t for t in reached_them)  # National Domestic Abuse Helpline
    goodbye = rows[-1].payload["text"]
    assert "only kept what you told us about your safety" in goodbye  # honest: not "nothing"
    assert "not kept anything" not in goodbye


async def test_crisis_after_handoff_is_kept_on_the_case_and_alerts(database: Database) -> None:
    chat = team_chat(database, clock=datetime(2026, 11, 23, 11, 0, tzinfo=UTC))  # Monday 11:00
    await chat.walk_to("end")
    await chat.send("I took an overdose an hour ago")
    async with database.sessions() as s:
        case = (await s.execute(select(Case))).scalar_one()
        kinds = (await s.execute(select(CaseEntry.kind))).scalars().all()
    # Their words are on the case once, as the crisis message.
    assert case.urgent and kinds.count("crisis_message") == 1 and "patient_message" not in kinds
    card = (await alert_cards(database))[0].payload["text"]
    assert "medical emergency" in card and "Out of hours" not in card


async def test_everyday_idioms_do_not_alarm(database: Database) -> None:
    chat = team_chat(database)
    await chat.walk_to("what_matters")
    await chat.send("I'm dying to try the choir, and killing time at home is boring")
    assert await outbox(database, TEAM) == []
    async with database.sessions() as s:
        conv = (await s.execute(select(Conversation))).scalar_one()
    assert conv.state == "need_areas"


async def test_a_crisis_before_handoff_and_the_handoff_make_one_case(database: Database) -> None:
    chat = team_chat(database)
    await chat.walk_to("what_matters")
    await chat.send("sometimes i think everyone would be better off without me")
    await chat.walk_to("end")
    async with database.sessions() as s:
        cases = (await s.execute(select(Case))).scalars().all()
    assert len(cases) == 1
    # (What they wrote named no need area: only what the walk tapped is ticked.)
    assert cases[0].urgent and cases[0].summary.needs.need_areas == ["activity"]


async def test_a_more_serious_message_sends_a_new_alert_so_the_team_is_notified(
    database: Database,
) -> None:
    chat = team_chat(database)
    await chat.walk_to("what_matters")
    await chat.send("he hits me when hes drunk")
    await chat.send("i took all my pills an hour ago")
    async with database.sessions() as s:
        alert = (await s.execute(select(SafetyAlert))).scalar_one()
    assert alert.category == "medical_emergency" and alert.count == 2
    rows = await alert_cards(database)
    sends = [r for r in rows if r.action == "send"]
    assert len(sends) == 2  # a new message, which Telegram notifies, not only an edit
    assert "medical emergency" in sends[-1].payload["text"]
    assert any("See the newer alert below" in r.payload["text"] for r in rows if r.action == "edit")


async def test_crisis_replies_and_alert_cards_are_marked_for_delivery_never_to_give_up(
    database: Database,
) -> None:
    chat = team_chat(database)
    await chat.walk_to("what_matters")
    handled = await chat.send("i want to kill myself")
    async with database.sessions() as s:
        rows = [await s.get(OutboxMessage, i) for i in handled.outbox_ids]
    crisis_reply = next(
        r for r in rows if r and r.chat_id == chat.chat_id and "116 123" in r.payload["text"]
    )
    question = [r for r in rows if r and r.chat_id == chat.chat_id][-1]
    assert crisis_reply.payload.get("urgent") is True
    assert not question.payload.get("urgent")  # ordinary messages are not
    [alert] = [r for r in await alert_cards(database) if r.action == "send"]
    assert alert.payload.get("urgent") is True


async def test_a_photo_captioned_with_crisis_words_gets_the_crisis_reply(
    database: Database,
) -> None:
    from flows.core import Unsupported

    chat = team_chat(database)
    await chat.walk_to("what_matters")
    handled = await chat.send(Unsupported("photo", "I want to end my life"))
    async with database.sessions() as s:
        sent = [await s.get(OutboxMessage, i) for i in handled.outbox_ids]
        case = (await s.execute(select(Case))).scalar_one()
    texts = [r.payload["text"] for r in sent if r is not None and r.chat_id == chat.chat_id]
    assert "116 123" in texts[0] and case.urgent
    assert len(await alert_cards(database)) == 1


async def test_a_health_worry_gets_111_advice_keeps_the_answer_and_alerts_nobody(
    database: Database,
) -> None:
    chat = team_chat(database)
    await chat.walk_to("what_matters")
    handled = await chat.send("to get fit, though my chest hurts when I walk up hills")
    async with database.sessions() as s:
        sent = [await s.get(OutboxMessage, i) for i in handled.outbox_ids]
        conv = (await s.execute(select(Conversation))).scalar_one()
    texts = [r.payload["text"] for r in sent if r is not None]
    assert "NHS 111" in texts[0] and "call 999 now" not in texts[0].lower()
    assert conv.state == "need_areas" and conv.answers["what_matters"].startswith("to get fit")
    assert await alert_cards(database) == []
    async with database.sessions() as s:
        assert (await s.execute(select(Case))).first() is None  # no urgent case opened


async def test_a_follow_up_soon_after_an_alert_counts(database: Database) -> None:
    chat = team_chat(database)
    await chat.walk_to("what_matters")
    await chat.send("i want to end my life")
    await chat.send("I've got the pills here.")
    async with database.sessions() as s:
        alert = (await s.execute(select(SafetyAlert))).scalar_one()
    assert alert.count == 2


async def test_status_after_a_crisis_says_the_team_was_told(database: Database) -> None:
    chat = team_chat(database)
    await chat.walk_to("postcode")
    await chat.send("he hits me and im scared to go home")
    handled = await chat.send("/status")
    async with database.sessions() as s:
        sent = [await s.get(OutboxMessage, i) for i in handled.outbox_ids]
    status = next(r.payload["text"] for r in sent if r and "Your referral" in r.payload["text"])
    assert "our team has been told" in status and "116 123" in status


class BrokenMeaningScreen:
    """A meaning screen that fails (a bug, memory): the rules must still screen."""

    def read(self, text: str) -> object:
        raise MemoryError("no room for the model")


async def test_when_the_meaning_screen_fails_the_rules_still_screen(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    chat = team_chat(database)
    chat.service.meaning = BrokenMeaningScreen()  # type: ignore[assignment]
    await chat.walk_to("postcode")
    handled = await chat.send("honestly i dont want to be here anymore")
    async with database.sessions() as s:
        sent = [await s.get(OutboxMessage, i) for i in handled.outbox_ids]
        alerts = (await s.execute(select(SafetyAlert))).scalars().all()
    assert any("116 123" in m.payload["text"] for m in sent if m is not None)
    assert len(alerts) == 1
    assert "meaning screen failed" in caplog.text
    assert "anymore" not in caplog.text  # still no words in the log
