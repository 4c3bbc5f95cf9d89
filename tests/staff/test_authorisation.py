"""Who may do what. Every staff command and button, tried by a patient and by a
removed worker, is not handled by the staff side at all (it changes nothing and
the adapter gives the ordinary patient reply); tried by a worker who does not hold
the case, wherever holding it matters, it is refused and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import messages_for
from bot.patients import Inbound
from bot.staff.admin import remove_worker
from bot.store import Database
from bot.store.audit import AuditEntry
from bot.store.cases import Case, CaseEntry
from bot.store.outbox import OutboxMessage
from bot.store.updates import ProcessedUpdate
from bot.taps import StaffTap
from flows.core import Button, Command, Text
from tests.staff.helpers import JO_ID, SAM_ID, TEAM, Team, team

PATIENT_ID = 42  # the patient who referred (their chat id is their user id)

#: Every command a link worker can type ({ref} is the case's reference).
COMMANDS = ["/queue", "/queue 2", "/mine", "/case {ref}", "/claim {ref}", "/release {ref}",
            "/reopen {ref}", "/reply {ref} hello", "/note {ref} hello", "/refer {ref}",
            "/refer {ref} walking", "/close {ref}", "/close {ref} declined", "/done {ref} phoned",
            "/cancel", "/join", "/join NOT-A-CODE"]  # fmt: skip
#: Every button (verb, arg).
TAPS = [("home", ""), ("queue", "2"), ("mine", "1"), ("open", ""), ("claim", ""), ("release", ""),
        ("reopen", ""), ("reply", ""), ("note", ""), ("refer", ""), ("search", ""), ("pick", "0"),
        ("close", ""), ("outcome", "declined"), ("seen", ""), ("done", ""), ("cancel", "")]  # fmt: skip


async def snapshot(db: Database) -> dict[str, Any]:
    async with db.sessions() as s:
        case = (await s.execute(select(Case))).scalar_one()
        counts = {
            model.__name__: await s.scalar(select(func.count()).select_from(model))
            for model in (OutboxMessage, CaseEntry, AuditEntry, ProcessedUpdate)
        }
    return {"case": (case.status, case.link_worker_id, case.outcome), **counts}


async def held_by_sam(db: Database) -> tuple[Team, str]:
    t = await team(db)
    _, case = await t.referred_patient(PATIENT_ID)
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, f"/refer {case.reference}")  # Sam has a list of choices pending
    return t, case.reference


def events(reference: str) -> list[Any]:
    typed = [Command(*c.format(ref=reference)[1:].split(" ", 1)) for c in COMMANDS]
    return typed + [StaffTap(verb, reference, arg) for verb, arg in TAPS] + [Text("hello")]


@pytest.mark.parametrize("who", ["patient", "removed_worker"])
async def test_nobody_but_an_active_worker_reaches_the_staff_side(
    database: Database, who: str
) -> None:
    t, reference = await held_by_sam(database)
    if who == "removed_worker":
        await remove_worker(database, messages_for(t.settings), t.settings, JO_ID, t.clock())
    user = PATIENT_ID if who == "patient" else JO_ID
    before = await snapshot(database)
    for event in events(reference):
        for chat in (user, TEAM):  # privately, and in the team chat
            assert await t.act(user, event, chat_id=chat) is None, event
    assert await snapshot(database) == before  # not even the update was recorded


async def test_the_patient_gets_the_ordinary_reply_to_a_staff_command(database: Database) -> None:
    t, reference = await held_by_sam(database)
    replies = {}
    for name in ("queue", "claim", "frobnicate"):
        assert await t.act(PATIENT_ID, Command(name, reference)) is None
        handled = await t.patients.handle(
            Inbound("telegram", PATIENT_ID, Command(name, reference), None, "Alex")
        )
        async with database.sessions() as s:
            rows = [await s.get(OutboxMessage, i) for i in handled.outbox_ids]
        replies[name] = [r.payload["text"].replace(name, "X") for r in rows if r is not None]
    assert replies["queue"] == replies["claim"] == replies["frobnicate"]
    assert "don't know /X" in replies["queue"][0]
    # A forged staff button from a patient is an old tap, as any stale button is.
    handled = await t.patients.handle(
        Inbound("telegram", PATIENT_ID, Button(-1, f"claim:{reference}:"), None, "Alex")
    )
    assert handled.tap_notice and not handled.outbox_ids


#: Actions on a case that only its holder (or, for some, an admin) may take.
HOLDER_ONLY = ["/release {ref}", "/reply {ref} hello", "/note {ref} hello", "/refer {ref}",
               "/refer {ref} walking", "/close {ref}", "/close {ref} declined"]  # fmt: skip
HOLDER_TAPS = [("release", ""), ("reply", ""), ("note", ""), ("refer", ""), ("search", ""),
               ("pick", "0"), ("close", ""), ("outcome", "declined")]  # fmt: skip


async def test_a_worker_who_does_not_hold_the_case_is_refused(database: Database) -> None:
    t, reference = await held_by_sam(database)
    typed = [Command(*c.format(ref=reference)[1:].split(" ", 1)) for c in HOLDER_ONLY]
    taps = [StaffTap(verb, reference, arg) for verb, arg in HOLDER_TAPS]
    for event in typed + taps:
        before = await snapshot(database)
        handled = await t.act(JO_ID, event)
        assert handled is not None
        after = await snapshot(database)
        assert after["case"] == before["case"], event  # the case did not move
        assert after["CaseEntry"] == before["CaseEntry"], event  # nothing written on it
        assert after["AuditEntry"] == before["AuditEntry"], event  # no action to audit
        said = (await t.said(JO_ID))[-1]
        if isinstance(event, StaffTap) and event.verb == "pick":
            assert "out of date" in said  # Jo was never offered a list
        else:
            assert "Sam's case" in said, (event, said)
        if isinstance(event, StaffTap):
            assert handled.tap_notice is None or "Sam's case" in handled.tap_notice
    # Nothing reached the patient from Jo.
    assert not [m for m in await t.said(PATIENT_ID) if "Jo" in m]


async def test_a_closed_case_is_reopened_only_by_its_holder_or_an_admin(database: Database) -> None:
    t, reference = await held_by_sam(database)
    await t.act(SAM_ID, f"/close {reference} declined")
    for event in (Command("reopen", reference), StaffTap("reopen", reference)):
        await t.act(JO_ID, event)
        assert "Sam's case" in (await t.said(JO_ID))[-1]
    assert (await snapshot(database))["case"][0] == "closed"


async def test_telling_a_patient_from_a_worker_only_reads(tmp_path: Any) -> None:
    """Every patient update is first offered to the staff side. Finding out that
    the sender is not on the team must not take SQLite's write lock: it returns
    while another transaction is writing, instead of queueing behind it."""
    import asyncio

    from bot.staff import StaffInbound

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'read.sqlite3'}")
    await db.upgrade()
    try:
        t = await team(db)
        async with db.transaction() as writer:
            await writer.execute(select(func.count()).select_from(Case))  # holds the write lock
            handled = await asyncio.wait_for(
                t.staff.handle(StaffInbound(PATIENT_ID, PATIENT_ID, True, Text("hello"), 1)),
                timeout=5,
            )
        assert handled is None
    finally:
        await db.close()
