"""A reply always reaches the right person (issue 14): a waiting /reply or /note
prompt belongs to one case, says whose, is cancelled by anything else the worker
does, and expires; replies can be given in one line or by replying to the
patient's relayed message."""

from __future__ import annotations

from sqlalchemy import select

from bot.staff import StaffInbound
from bot.store import Database
from bot.store.cases import Case, CaseEntry
from bot.store.outbox import OutboxMessage
from flows.core import Text
from tests.patients.helpers import Chat
from tests.staff.helpers import SAM_ID, Team, team


async def named(t: Team, chat_id: int, name: str) -> tuple[Chat, Case]:
    """A referred patient called `name`, their case claimed by Sam."""
    chat, case = await t.referred_patient(chat_id)
    async with t.db.transaction() as s:
        row = await s.get(Case, case.id)
        assert row is not None
        about = row.summary.about_the_person.model_copy(update={"name": name})
        row.summary = row.summary.model_copy(update={"about_the_person": about})
    await t.act(SAM_ID, f"/claim {case.reference}")
    return chat, await t.case(case.reference)


async def replies_in(t: Team, case: Case) -> list[str]:
    async with t.db.sessions() as s:
        rows = await s.execute(
            select(CaseEntry.text).where(CaseEntry.case_id == case.id, CaseEntry.kind == "reply")
        )
        return list(rows.scalars())


async def test_a_reply_prompt_is_cancelled_by_opening_another_case(database: Database) -> None:
    """The sequence seen: /reply on Kofi's case with no text, then /case on Joan's,
    then "Hi Joan..." typed. It went to Kofi. Now it goes to nobody, and Sam is
    asked what he meant, naming Joan's case."""
    t = await team(database)
    kofi_chat, kofi = await named(t, 41, "Kofi")
    joan_chat, joan = await named(t, 43, "Joan")
    kofi_before = len(await t.said(kofi_chat.chat_id))
    joan_before = len(await t.said(joan_chat.chat_id))

    await t.act(SAM_ID, f"/reply {kofi.reference}")
    prompt = (await t.said(SAM_ID))[-1]
    assert "Kofi" in prompt and kofi.reference in prompt
    mark = await t.last_id()
    await t.act(SAM_ID, f"/case {joan.reference}")
    said = await t.said(SAM_ID, mark)
    assert any("not sent" in s and "Kofi" in s for s in said)  # the prompt is cancelled, aloud
    mark = await t.last_id()
    await t.act(SAM_ID, "Hi Joan, it's Sam from the team")

    assert len(await t.said(kofi_chat.chat_id)) == kofi_before
    assert len(await t.said(joan_chat.chat_id)) == joan_before
    assert await replies_in(t, kofi) == [] and await replies_in(t, joan) == []
    [answer] = await t.said(SAM_ID, mark)
    assert "not sent" in answer.lower() and joan.reference in answer and "Joan" in answer
    [buttons] = [r.payload["buttons"] for r in await t.rows(SAM_ID, mark)]
    assert buttons[0][0]["data"] == f"s:reply:{joan.reference}:"


async def test_the_prompt_and_the_confirmation_name_the_patient(database: Database) -> None:
    t = await team(database)
    chat, kofi = await named(t, 41, "Kofi")
    await t.tap(SAM_ID, "reply", kofi.reference)
    assert "Kofi" in (await t.said(SAM_ID))[-1]
    await t.act(SAM_ID, "Hello Kofi")
    done = (await t.said(SAM_ID))[-1]
    assert "Sent to Kofi" in done and kofi.reference in done
    assert (await t.said(chat.chat_id))[-1].endswith("Hello Kofi")
    await t.tap(SAM_ID, "note", kofi.reference)
    assert "Kofi" in (await t.said(SAM_ID))[-1]
    await t.act(SAM_ID, "Called, no answer")
    assert "Kofi" in (await t.said(SAM_ID))[-1]


async def test_a_prompt_expires_after_prompt_expires_minutes(database: Database) -> None:
    t = await team(database, prompt_expires_minutes=10)
    chat, kofi = await named(t, 41, "Kofi")
    before = len(await t.said(chat.chat_id))
    await t.tap(SAM_ID, "reply", kofi.reference)
    t.clock.advance(minutes=11)
    await t.act(SAM_ID, "Hello Kofi")
    assert len(await t.said(chat.chat_id)) == before
    assert "didn't send it" in (await t.said(SAM_ID))[-1]
    # Within the time, it goes.
    await t.tap(SAM_ID, "reply", kofi.reference)
    t.clock.advance(minutes=9)
    await t.act(SAM_ID, "Hello Kofi")
    assert (await t.said(chat.chat_id))[-1].endswith("Hello Kofi")


async def test_a_tap_on_another_case_cancels_the_prompt_too(database: Database) -> None:
    t = await team(database)
    kofi_chat, kofi = await named(t, 41, "Kofi")
    _, joan = await named(t, 43, "Joan")
    before = len(await t.said(kofi_chat.chat_id))
    await t.tap(SAM_ID, "note", kofi.reference)
    await t.tap(SAM_ID, "open", joan.reference)
    await t.act(SAM_ID, "Some words")
    assert len(await t.said(kofi_chat.chat_id)) == before
    async with t.db.sessions() as s:
        notes = (await s.execute(select(CaseEntry).where(CaseEntry.kind == "note"))).all()
    assert notes == []


async def test_replying_to_the_patients_relayed_message_goes_to_that_patient(
    database: Database,
) -> None:
    t = await team(database)
    kofi_chat, kofi = await named(t, 41, "Kofi")
    joan_chat, joan = await named(t, 43, "Joan")
    await kofi_chat.send("Can you call me after 3?")
    await joan_chat.send("Is the group on Friday?")
    relayed = {
        ref: row
        for row in await t.rows(SAM_ID)
        for ref in (kofi.reference, joan.reference)
        if row.case_reference == ref and "wrote" in row.payload["text"]
    }
    # Delivered: Telegram gave each its message_id.
    async with t.db.transaction() as s:
        for n, row in enumerate(relayed.values(), start=700):
            stored = await s.get(OutboxMessage, row.id)
            assert stored is not None
            stored.message_id, stored.sent_at = n, t.clock()
    kofi_message = 700 if list(relayed) == [kofi.reference, joan.reference] else 701

    # Even with a prompt waiting for Joan, a reply to Kofi's message goes to Kofi.
    await t.tap(SAM_ID, "reply", joan.reference)
    t.update_id += 1
    await t.staff.handle(
        StaffInbound(
            SAM_ID,
            SAM_ID,
            True,
            Text("Yes, 3:30 is fine"),
            t.update_id,
            "Sam",
            reply_to=kofi_message,
        )
    )
    assert (await t.said(kofi_chat.chat_id))[-1].endswith("Yes, 3:30 is fine")
    assert not (await t.said(joan_chat.chat_id))[-1].endswith("Yes, 3:30 is fine")
    assert "Sent to Kofi" in (await t.said(SAM_ID))[-1]


async def test_replying_to_a_prompt_or_a_confirmation_sends_nothing(database: Database) -> None:
    """Only the patient's own words, relayed, are a thing to answer: a reply to the
    bot's other messages about a case is not sent to the patient by surprise."""
    t = await team(database)
    kofi_chat, kofi = await named(t, 41, "Kofi")
    before = len(await t.said(kofi_chat.chat_id))
    await t.act(SAM_ID, f"/note {kofi.reference} Called, no answer")
    [confirmation] = [r for r in await t.rows(SAM_ID) if "Note added" in r.payload["text"]]
    async with t.db.transaction() as s:
        stored = await s.get(OutboxMessage, confirmation.id)
        assert stored is not None
        stored.message_id, stored.sent_at = 900, t.clock()
    t.update_id += 1
    await t.staff.handle(
        StaffInbound(SAM_ID, SAM_ID, True, Text("to self"), t.update_id, "Sam", reply_to=900)
    )
    assert len(await t.said(kofi_chat.chat_id)) == before
    assert "not sent" in (await t.said(SAM_ID))[-1].lower()
