"""The patient service on a real database: one update, one transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.delivery import Delivery
from bot.store import Database
from bot.store.cases import Case, CaseEntry
from bot.store.outbox import OutboxMessage
from bot.store.patients import Consent, Conversation, Patient, WellbeingScore
from flows.core import Button
from tests.fakes import FAST, RecordingSender
from tests.patients.helpers import Chat, count


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
        sent = (await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars().all()
    # The reference, then the wellbeing questions while they wait (issue 13).
    handed_off = next(i for i, m in enumerate(sent) if case.reference in m.payload["text"])
    assert "While you wait" in sent[handed_off + 1].payload["text"]
    assert case.summary.outcomes.wellbeing_baseline["life_satisfaction"] == 4


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
    await chat.send(Button(step, "remote"))
    second = await chat.send(Button(step, "remote"))
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
    while await delivery.deliver_due():  # the welcome and consent question have reached them
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
    assert await count(database, Consent) == 1  # (scores come after the handoff now)
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
    await chat.walk_to("mode")
    async with database.sessions() as s:
        asked = await s.scalar(select(Conversation.prompt_outbox_id))
    # Tapped, a short question gives way to the next in the same message (issue 16):
    # what was chosen, then the next question.
    result = await chat.tap("bus_ride")
    async with database.sessions() as s:
        rows = [await s.get(OutboxMessage, i) for i in result.outbox_ids]
    in_place = rows[0]
    assert in_place is not None and in_place.action == "send" and in_place.target_id == asked
    assert in_place.payload.get("in_place") and in_place.payload["buttons"]
    assert "✓ <i>In person, a short bus ride</i>" in in_place.payload["text"].split("\n")[0]
    # Typed, the question is closed where it is, with what was read from their words.
    result = await chat.send("mornings")
    async with database.sessions() as s:
        closed = await s.get(OutboxMessage, result.outbox_ids[0])
    assert closed is not None and closed.action == "edit" and closed.payload["buttons"] == []
    assert "✓" in closed.payload["text"]


async def test_a_forgotten_story_is_nowhere_in_the_database_files(tmp_path: Path) -> None:
    """Starting again before the handoff forgets what they said: not only in the
    tables, but on disk (no copy left in free pages or the write-ahead log). The
    file is readable by its owner only."""
    import os
    import stat

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'private.sqlite3'}")
    await db.upgrade()
    try:
        chat = Chat(db)
        await chat.walk_to("what_matters")
        story = "Zebedee Quill looks after my cat Marmaduke since the flood"
        await chat.send(story)
        await chat.send("/restart")
        await chat.tap("yes")
        assert _files_holding(tmp_path, "private.sqlite3", b"Marmaduke") == []
        mode = stat.S_IMODE(os.stat(tmp_path / "private.sqlite3").st_mode)
        assert mode == 0o600, oct(mode)
    finally:
        await db.close()


def _files_holding(folder: Path, prefix: str, needle: bytes) -> list[str]:
    """The database's files (main, -wal, -shm) that contain `needle` anywhere."""
    files = [p for p in folder.iterdir() if p.name.startswith(prefix)]
    assert files
    return [p.name for p in files if needle in p.read_bytes()]
