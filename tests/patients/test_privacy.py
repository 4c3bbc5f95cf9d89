"""A person's rights over their data, on a real database (SQLite and PostgreSQL):
/mydata gives them everything; /delete erases everything (every table, every
column, and on SQLite the file's bytes), tells the link worker and the team chat,
and leaves the outcomes report's counts as they were; /stop stops contact."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.report.figures import cohort, compute
from bot.store import Base, Database
from bot.store.audit import AuditEntry
from bot.store.checkins import CheckIn
from bot.store.milestones import Milestone
from bot.store.outbox import OutboxMessage
from bot.store.patients import Consent, Patient
from flows import referral
from tests.flows.harness import HAPPY_PATH, TYPED
from tests.patients.helpers import Chat
from tests.patients.test_checkins import WEEK_ON, heard, tick_at
from tests.staff.helpers import MONDAY, SAM_ID, TEAM, Team, team

#: A person whose every detail is a string found nowhere else.
PERSONA = {
    "name": "Zephyrine",
    "what_matters": "my antique barometers, since Gerald left",
    "postcode": "L20 9QX",
    "phone": "07911 730461",
}
#: What must be gone after /delete (the phone as stored, the postcode whole).
NEEDLES = ("Zephyrine", "barometer", "Gerald", "L20 9QX", "730461", "Quillfeather")


async def referred_as_persona(t: Team, chat_id: int = 61) -> Chat:
    """Their referral, then Sam claims it, replies, notes, refers, and a check-in
    a week later is answered in their own words."""
    chat = t.patient(chat_id)
    await chat.send("/start")
    for at, value in HAPPY_PATH:
        assert await chat.state() == at
        if at == "name":
            await chat.send(PERSONA["name"])
        elif at in TYPED:
            await chat.send(PERSONA.get(at, value))
        else:
            await chat.tap(value)
    case = await t.case()
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, f"/reply {case.reference} Hello Zephyrine, tell me about the barometers")
    await chat.send("Gerald took the best barometer")
    await t.act(SAM_ID, f"/note {case.reference} Zephyrine's neighbour Mrs Quillfeather helps")
    await t.act(SAM_ID, f"/refer {case.reference} 1 Here are the details.")
    await tick_at(t, WEEK_ON + timedelta(hours=3))
    await chat.tap("liked")
    await chat.send("A barometer club would keep me going")
    return chat


async def everything_in(db: Database) -> str:
    """Every value in every table, as text."""
    found = []
    async with db.sessions() as s:
        for table in Base.metadata.sorted_tables:
            rows = await s.execute(select(table))
            found += [repr(tuple(row)) for row in rows]
    return "\n".join(found)


async def report_figures(db: Database) -> Any:
    async with db.sessions() as s:
        marks = list((await s.execute(select(Milestone))).scalars())
    start, end = MONDAY - timedelta(days=1), MONDAY + timedelta(days=1)
    return compute(marks, cohort(marks, start, end), MONDAY + timedelta(days=30))


async def test_mydata_gives_them_a_summary_and_everything_as_a_file(database: Database) -> None:
    t = await team(database)
    chat = await referred_as_persona(t)
    since = await t.last_id()
    await chat.send("/mydata")
    said = await heard(t, chat, since)
    assert "Here's what we hold about you" in said[0]
    assert "Your referral SP-" in said[0] and "To delete it all, send /delete" in said[0]
    [document] = [r for r in await t.rows(chat.chat_id, since) if r.payload.get("document")]
    everything = json.loads(document.payload["document"]["content"])
    content = json.dumps(everything)
    for needle in NEEDLES:
        assert needle in content, needle  # answers, their words, the reply, the note
    [case] = everything["cases"]
    kinds = {e["kind"] for e in case["entries"]}
    assert {"reply", "note", "patient_message", "check_in"} <= kinds
    assert everything["consent"][0]["notice_version"]
    assert [w["when"] for w in everything["wellbeing"]] == ["baseline"]
    assert case["referrals"][0]["did_they_go"] == "attended"
    assert case["check_ins"][0]["answers"]["went"] == "liked"
    # Once it reaches them, the copy of their data leaves the outbox.
    while await chat.delivery.deliver_due():
        pass
    [(_, filename, sent)] = chat.phone.documents
    assert filename.startswith("my-data-SP-") and b"Zephyrine" in sent
    async with database.sessions() as s:
        kept = await s.get(OutboxMessage, document.id)
        assert kept is not None and kept.payload["document"]["content"] == ""


async def test_delete_erases_everything_and_keeps_the_report_counts(database: Database) -> None:
    t = await team(database)
    chat = await referred_as_persona(t)
    case = await t.case()
    figures_before = await report_figures(database)
    await chat.send("/delete")
    question = (await t.rows(chat.chat_id))[-1]
    assert "delete everything we hold about you" in question.payload["text"]
    assert [b["text"] for row in question.payload["buttons"] for b in row] == [
        "Yes, delete everything", "No, keep it"]  # fmt: skip
    await chat.tap("yes")
    goodbye = (await t.said(chat.chat_id))[-1]
    assert "We've deleted everything we held about you" in goodbye
    assert "counts that don't say who you are" in goodbye
    # Sam, who holds the case, is told; the team card says it was withdrawn.
    assert "withdrew their consent" in (await t.said(SAM_ID))[-1]
    card = (await t.rows(TEAM))[0]
    assert "withdrawn" in card.payload["text"] and card.payload["buttons"] == []
    # Nothing of theirs is left, in any table or column.
    if database.is_sqlite:
        await database.checkpoint()
    everything = await everything_in(database)
    for needle in NEEDLES:
        assert needle not in everything, needle
    if database.is_sqlite:
        await database.vacuum()
        path = database.engine.url.database
        assert path is not None
        raw = await asyncio.to_thread(Path(path).read_bytes)
        for needle in NEEDLES:
            assert needle.encode() not in raw, needle
    # What stays: the counts (the report is unchanged) and that an erasure happened.
    assert await report_figures(database) == figures_before
    async with database.sessions() as s:
        [erased] = (
            await s.execute(select(AuditEntry).where(AuditEntry.action == "erase"))
        ).scalars()
    assert erased.case_reference == case.reference and erased.actor == "the person"
    # They can start again, fresh.
    await chat.send("/start")
    assert await chat.state() == "consent"


async def test_no_keep_it_goes_back_and_erases_nothing(database: Database) -> None:
    t = await team(database)
    chat = t.patient(62)
    await chat.walk_to("postcode")
    await chat.send("/delete")
    await chat.tap("no")
    assert await chat.state() == "postcode"
    assert "L20 3AB" not in await everything_in(database)  # (not yet answered)
    assert "lonely since my wife" in await everything_in(database)


async def test_delete_waits_while_a_safety_alert_is_unseen(database: Database) -> None:
    t = await team(database)
    chat = t.patient(63)
    await chat.walk_to("postcode")
    await chat.send("I want to end my life")
    await chat.send("/delete")
    await chat.tap("yes")
    said = (await t.said(chat.chat_id))[-1]
    assert "First, a link worker needs to see the message you sent about your safety" in said
    assert await chat.state() == "erasing"
    await chat.send("please hurry")  # still reaches the team
    assert "please hurry" in await everything_in(database)
    case = await t.case()
    await t.tap(SAM_ID, "seen", case.reference)
    erased = await t.patients.privacy_sweep()
    assert erased == 1
    assert "please hurry" not in await everything_in(database)


async def test_stop_cancels_check_ins_and_nudges(database: Database) -> None:
    t = await team(database)
    chat = await referred_as_persona(t)
    await chat.send("/stop")
    assert "I won't send you any more check-ins or reminders" in (await t.said(chat.chat_id))[-1]
    async with database.sessions() as s:
        statuses = [c.status for c in (await s.execute(select(CheckIn))).scalars()]
    assert "due" not in statuses
    since = await t.last_id()
    for days in (28, 84, 90):
        await tick_at(t, MONDAY + timedelta(days=days, hours=2))
    assert await heard(t, chat, since) == []


async def test_mydata_and_delete_with_nothing_held(database: Database) -> None:
    t = await team(database)
    chat = t.patient(64)
    await chat.send("/mydata")
    assert "We don't hold anything about you" in (await t.said(chat.chat_id))[-1]


async def agreed_to_an_older_notice(db: Database, chat_id: int) -> None:
    async with db.transaction() as s:
        patient = await s.scalar(select(Patient).where(Patient.chat_id == chat_id))
        assert patient is not None
        for consent in (await s.execute(select(Consent).where(
                Consent.patient_id == patient.id))).scalars():  # fmt: skip
            consent.notice_version = "2026-11-v1"


async def test_a_changed_notice_is_shown_before_anything_new_is_kept(database: Database) -> None:
    t = await team(database)
    chat = t.patient(65)
    await chat.walk_to("postcode")
    await agreed_to_an_older_notice(database, 65)
    await chat.send("L20 9QX")
    assert await chat.state() == "reconsent"
    assert "we've updated how we look after your information" in (await t.said(65))[-1]
    assert "L20 9QX" not in await everything_in(database)  # not kept
    await chat.tap("more")
    assert "2 years after your case is closed" in (await t.said(65))[-1]
    await chat.tap("agree")
    assert await chat.state() == "postcode"  # back where they were, to answer again
    async with database.sessions() as s:
        versions = (await s.execute(select(Consent.notice_version).order_by(Consent.id))).all()
    assert [v for (v,) in versions] == ["2026-11-v1", referral.NOTICE_VERSION]


async def test_not_agreeing_to_the_changed_notice_offers_to_delete(database: Database) -> None:
    t = await team(database)
    chat = t.patient(66)
    await chat.walk_to("postcode")
    await agreed_to_an_older_notice(database, 66)
    await chat.send("/start")
    await chat.tap("decline")
    assert await chat.state() == "confirm_delete"
    await chat.tap("yes")
    async with database.sessions() as s:
        assert await s.scalar(select(Patient).where(Patient.chat_id == 66)) is None
