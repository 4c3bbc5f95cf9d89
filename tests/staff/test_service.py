"""The link worker side on a real database (SQLite and PostgreSQL): the queue, one
case from claim to close, the patient kept informed, the team chat, the audit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.messages import html_to_text
from bot.staff import StaffInbound
from bot.staff.admin import audit_trail, create_invite, remove_worker
from bot.store import Database
from bot.store.audit import AuditEntry
from bot.store.cases import Case, CaseEntry, Referral, SafetyAlert
from bot.store.patients import Conversation, Patient, WellbeingScore
from bot.store.staff import LinkWorker, Pending
from flows.core import Edited, Text, Unsupported
from tests.patients.helpers import Chat
from tests.staff.helpers import ADMIN_ID, JO_ID, MONDAY, SAM_ID, TEAM, Team, team


async def claimed(t: Team, worker: int = SAM_ID) -> tuple[Chat, Case]:
    chat, case = await t.referred_patient()
    await t.act(worker, f"/claim {case.reference}")
    return chat, case


async def test_a_new_case_is_announced_to_the_team_without_personal_details(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    [card] = await t.rows(TEAM)
    text = card.payload["text"]
    assert case.reference in text and "Feeling lonely, Getting active" in text
    assert "L20" in text and "L20 3AB" not in text and "phone call" in text
    for private in ("Alex", "7911", "lonely since my wife"):  # name, phone, their words
        assert private not in text
    assert card.payload["buttons"][0][0]["data"] == f"s:claim:{case.reference}:"


async def test_claiming_tells_the_patient_who_and_by_when_and_edits_the_card(
    database: Database,
) -> None:
    t = await team(database)
    chat, _case = await claimed(t)
    told = (await t.said(chat.chat_id))[-1]
    # Referred on Monday; RESPONSE_WORKING_DAYS=2; they asked for a phone call.
    assert "Sam from Test Team has your referral" in told and "phone you by Wednesday" in told
    card = (await t.rows(TEAM))[0]
    assert "Sam has it" in card.payload["text"] and card.payload["buttons"] == []
    assert "is yours" in (await t.said(SAM_ID))[-1]
    await chat.send("/status")
    assert any("Sam is looking after it" in s for s in await t.said(chat.chat_id))


async def test_the_second_claimer_is_told_who_has_it(database: Database) -> None:
    t = await team(database)
    _, case = await claimed(t)
    handled = await t.tap(JO_ID, "claim", case.reference, chat_id=TEAM)
    assert handled is not None and handled.tap_notice == f"{case.reference}: Sam has it."
    await t.act(JO_ID, f"/claim {case.reference}")
    assert "already been claimed by Sam" in (await t.said(JO_ID))[-1]


async def test_claiming_from_the_team_chat_sends_the_case_privately(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    handled = await t.tap(SAM_ID, "claim", case.reference, chat_id=TEAM)
    assert handled is not None and "sent you the case privately" in (handled.tap_notice or "")
    view = "\n".join(await t.said(SAM_ID))
    assert "What matters to them" in view and "07911 123456" in view
    assert len(await t.rows(TEAM)) == 2  # the card, and its one edit: nothing else in the group


async def test_reply_reaches_the_patient_and_their_answer_reaches_the_worker(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.act(SAM_ID, f"/reply {case.reference} Hello Alex, shall I call tomorrow?")
    assert (await t.said(chat.chat_id))[-1] == (
        "Sam, your link worker:\nHello Alex, shall I call tomorrow?"
    )
    assert (await t.case()).status == "in_contact"
    await chat.send("Yes please, after 10 <b>is</b> best & thanks")
    forwarded = (await t.rows(SAM_ID))[-1]
    assert (
        "Yes please, after 10 &lt;b&gt;is&lt;/b&gt; best &amp; thanks" in forwarded.payload["text"]
    )
    assert forwarded.payload["buttons"][0][0]["data"] == f"s:reply:{case.reference}:"
    # Tapping Reply, then typing, is the same as /reply.
    await t.tap(SAM_ID, "reply", case.reference)
    await t.act(SAM_ID, "See you at 10.")
    assert (await t.said(chat.chat_id))[-1].endswith("See you at 10.")
    async with database.sessions() as s:
        kinds = (await s.execute(select(CaseEntry.kind).order_by(CaseEntry.id))).scalars().all()
    assert kinds == ["event", "reply", "patient_message", "reply"]


async def test_while_nobody_holds_the_case_the_team_hears_only_that_there_is_a_message(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await t.referred_patient()
    await chat.send("My number changed to 07700 900123")
    notice = (await t.said(TEAM))[-1]
    assert case.reference in notice and "New message" in notice and "0770" not in notice


async def test_refer_from_the_suggestions_or_a_directory_search(database: Database) -> None:
    t = await team(database)
    _, case = await claimed(t)
    await t.act(SAM_ID, f"/refer {case.reference}")  # the one they chose, to send
    await t.tap(SAM_ID, "choices", case.reference)  # Another activity
    offer = (await t.rows(SAM_ID))[-1]
    labels = [b[0]["text"] for b in offer.payload["buttons"]]
    assert labels[0] == "1. Bootle Walking Football"  # the one they were interested in
    assert "⭐ they were interested" in offer.payload["text"]
    await t.tap(SAM_ID, "search", case.reference)
    await t.act(SAM_ID, "help with money")
    found = (await t.rows(SAM_ID))[-1]
    assert "Found for" in found.payload["text"]
    names = [b[0]["text"] for b in found.payload["buttons"][:-1]]
    await t.tap(SAM_ID, "pick", case.reference, str(names.index("4. Debt Advice")))
    await t.act(SAM_ID, "They can help with the bills.")
    async with database.sessions() as s:
        referral = (await s.execute(select(Referral))).scalar_one()
    assert (referral.activity_id, referral.found_by) == ("debt-1", "search")
    assert (await t.case()).status == "referred"


async def test_close_needs_an_outcome_and_other_needs_a_note(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.act(SAM_ID, f"/close {case.reference}")
    buttons = [b[0]["text"] for b in (await t.rows(SAM_ID))[-1].payload["buttons"]]
    assert buttons[:6] == ["Referred to an activity", "Signposted elsewhere", "They declined",
                           "Could not contact them", "Not eligible", "Other (add a note)"]  # fmt: skip
    await t.tap(SAM_ID, "outcome", case.reference, "other")
    assert (await t.case()).status == "claimed"  # not yet: a note first
    await t.act(SAM_ID, "Moved out of the area")
    closed = await t.case()
    assert (closed.status, closed.outcome) == ("closed", "other")
    assert "has closed your referral" in (await t.said(chat.chat_id))[-1]
    assert "Closed by Sam" in (await t.rows(TEAM))[0].payload["text"]
    async with database.sessions() as s:
        note = await s.scalar(select(CaseEntry.text).where(CaseEntry.kind == "note"))
    assert note == "Moved out of the area"


async def test_release_puts_it_back_and_reopen_takes_it_again(database: Database) -> None:
    t = await team(database)
    _, case = await claimed(t)
    await t.act(SAM_ID, f"/release {case.reference}")
    back = await t.case()
    assert (back.status, back.link_worker_id) == ("waiting", None)
    card = (await t.rows(TEAM))[0].payload
    assert "Waiting for a link worker" in card["text"] and card["buttons"]
    await t.act(JO_ID, f"/claim {case.reference}")
    await t.act(JO_ID, f"/close {case.reference} declined")
    assert (await t.case()).status == "closed"
    await t.act(SAM_ID, f"/reopen {case.reference}")  # not Sam's to reopen
    assert "Jo's case" in (await t.said(SAM_ID))[-1]
    await t.act(ADMIN_ID, f"/reopen {case.reference}")
    reopened = await t.case()
    assert (reopened.status, reopened.outcome, reopened.closed_at) == ("claimed", None, None)
    assert reopened.link_worker_id == (await t.worker(ADMIN_ID)).id


async def test_the_queue_puts_urgent_first_then_the_longest_waiting_and_pages(
    database: Database,
) -> None:
    t = await team(database)
    references = []
    for n in range(7):
        _, case = await t.referred_patient(chat_id=100 + n)
        references.append(case.reference)
        t.clock.advance(minutes=30)
    async with database.transaction() as s:
        urgent = (await s.execute(select(Case).where(Case.reference == references[4]))).scalar_one()
        urgent.urgent = True
    await t.act(SAM_ID, "/queue")
    first = (await t.rows(SAM_ID))[-1]
    text = first.payload["text"]
    order = [references[4], references[0], references[1], references[2], references[3]]
    positions = [text.index(r) for r in order]
    assert positions == sorted(positions) and references[5] not in text
    assert "🚨" in text and "waited 1 h" in text and "Page 1 of 2" in text
    # Next › edits the same message in place (Telegram's message id, once delivered).
    async with database.transaction() as s:
        row = await s.get(type(first), first.id)
        assert row is not None
        row.message_id = 555
    await t.tap(SAM_ID, "queue", "", "2", message_id=555)
    edit = (await t.rows(SAM_ID))[-1]
    assert edit.action == "edit" and edit.target_id == first.id
    assert references[5] in edit.payload["text"] and "Page 2 of 2" in edit.payload["text"]


async def test_mine_lists_my_open_cases_with_the_last_thing_that_happened(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    t.clock.advance(hours=3)
    await chat.send("Are you still there?")
    t.clock.advance(minutes=5)
    await t.act(SAM_ID, "/mine")
    text = (await t.said(SAM_ID))[-1]
    assert case.reference in text and "Last: they wrote, 5 min ago" in text


async def test_the_case_view_shows_everything_on_one_screen(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await chat.send('I use a <b>wheelchair</b> & a <a href="http://x">stick</a>')
    await t.act(SAM_ID, f"/note {case.reference} Knows the walking group leader")
    before = await t.last_id()
    await t.act(SAM_ID, f"/case {case.reference}")
    view = "\n".join(await t.said(SAM_ID, since=before))
    for expected in (
        "About the person", "Name: Alex (18 or over)", "Postcode: L20 3AB",
        "Contact: phone call, 07911 123456", "Best time: mornings",
        "I'd like to meet people, I've been lonely since my wife died",
        "Needs: Feeling lonely, Getting active",
        "1. Bootle Walking Football (Sefton Sport (sample)) #walk-1 ⭐ interested",
        "Satisfied with life: 4 (low)", "Things they do are worthwhile: 5 (medium)",
        "Happy yesterday: 3 (low)", "Anxious yesterday: 7 (high; lower is better)",
        'I use a <b>wheelchair</b> & a <a href="http://x">stick</a>',
        "Knows the walking group leader", "Sam claimed it",
    ):  # fmt: skip
        assert expected in view, expected
    rows = await t.rows(SAM_ID, since=before)
    assert "&lt;a href=&#34;http://x&#34;&gt;stick&lt;/a&gt;" in rows[0].payload["text"]
    labels = [b["text"] for row in rows[-1].payload["buttons"] for b in row]
    assert labels[:5] == ["💬 Reply", "📝 Note", "➡️ Refer", "✅ Close", "↩️ Release to the queue"]


async def test_a_long_case_is_split_between_paragraphs_and_nothing_is_lost(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    messages = [f"Message {n}: " + " ".join(f"w{n}x{i}" for i in range(500)) for n in range(6)]
    for text in messages:
        await chat.send(text)
    before = await t.last_id()
    await t.act(SAM_ID, f"/case {case.reference}")
    parts = await t.said(SAM_ID, since=before)
    assert len(parts) >= 4 and all(len(p) <= 4096 for p in parts)
    joined = "\n".join(parts)
    for text in messages:
        assert text in joined  # each message whole, in one part
    rows = await t.rows(SAM_ID, since=before)
    assert [bool(r.payload["buttons"]) for r in rows] == [False] * (len(rows) - 1) + [True]


async def test_a_safety_alert_is_taken_and_what_was_done_recorded(database: Database) -> None:
    t = await team(database)
    _, case = await claimed(t)
    await t.crisis(case, "suicide")
    holder_alert = (await t.rows(SAM_ID))[-1]
    assert (
        "Urgent" in holder_alert.payload["text"] and "zz-their" not in holder_alert.payload["text"]
    )
    alert_card = (await t.rows(TEAM))[-1]
    assert alert_card.payload["buttons"][0][0]["text"] == "👀 Seen – I'm on it"
    assert "URGENT" in (await t.rows(TEAM))[0].payload["text"]  # the case card too
    handled = await t.tap(JO_ID, "seen", case.reference, chat_id=TEAM)
    assert handled is not None and "asked you privately" in (handled.tap_notice or "")
    card = (await t.rows(TEAM))[-1]
    shown = html_to_text(card.payload["text"])
    assert card.action == "edit" and "Jo is on it" in shown and not card.payload["buttons"]
    assert "tell me what you did" in (await t.said(JO_ID))[-1]
    again = await t.tap(SAM_ID, "seen", case.reference, chat_id=TEAM)
    assert again is not None and again.tap_notice == f"Jo is already on {case.reference}."
    await t.act(JO_ID, "Phoned them; safe, GP aware, crisis team informed")
    async with database.sessions() as s:
        alert = (await s.execute(select(SafetyAlert))).scalar_one()
        jo = (
            await s.execute(select(LinkWorker).where(LinkWorker.telegram_id == JO_ID))
        ).scalar_one()
    assert (alert.seen_by, alert.action_taken) == (
        "Jo",
        "Phoned them; safe, GP aware, crisis team informed",
    )
    actions = [(e.actor, e.action) for e in await audit_trail(database, case.reference)]
    assert ("Jo", "alert_seen") in actions and ("Jo", "alert_action") in actions
    assert jo.pending == Pending()


async def test_done_command_records_the_action_on_the_latest_alert(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    await t.crisis(case, "self_harm")
    await t.act(SAM_ID, f"/done {case.reference} Called, arranged a visit")
    async with database.sessions() as s:
        alert = (await s.execute(select(SafetyAlert))).scalar_one()
    assert (alert.seen_by, alert.action_taken) == ("Sam", "Called, arranged a visit")


async def test_unclaimed_cases_are_reannounced_in_working_hours_only_and_once(
    database: Database,
) -> None:
    t = await team(database, claim_reminder_hours=4)
    t.clock.now = t.clock.now.replace(hour=15)  # Monday 15:00
    _, _case = await t.referred_patient()
    t.clock.advance(hours=3)  # 18:00: closed for the day, 2 working hours so far
    assert await t.staff.remind_unclaimed() == 0
    t.clock.advance(hours=16)  # Tuesday 10:00: 3 working hours
    assert await t.staff.remind_unclaimed() == 0
    t.clock.advance(hours=1)  # Tuesday 11:00: 4 working hours
    counts = await asyncio.gather(*(t.staff.remind_unclaimed() for _ in range(3)))
    assert sorted(counts) == [0, 0, 1]  # several instances: announced once
    rows = await t.rows(TEAM)
    assert [r.action for r in rows] == ["send", "edit", "send"]
    assert "still waiting after 4 working hours" in rows[-1].payload["text"]
    assert rows[0].payload["buttons"] == [] and rows[-1].payload["buttons"]
    assert "announced again below" in rows[0].payload["text"]
    assert (await t.case()).team_card_id == rows[-1].id


async def test_invite_codes_work_once_and_expire(database: Database) -> None:
    t = await team(database)
    invite = await create_invite(database, "Robin", "link_worker", 48, t.clock())
    assert await t.act(7777, "/join WRONG-CODE-0000") is None  # the patient reply says nothing
    assert await t.act(7777, f"/join {invite.code.lower().replace('-', ' ')}") is not None
    robin = await t.worker(7777)
    assert (robin.name, robin.role, robin.active) == ("Robin", "link_worker", True)
    assert "Welcome to the team, Robin" in (await t.said(7777))[-1]
    assert await t.act(7778, f"/join {invite.code}") is None  # used
    late = await create_invite(database, None, "admin", 1, t.clock())
    t.clock.advance(hours=2)
    assert await t.act(7779, f"/join {late.code}") is None  # expired


async def test_removing_a_worker_returns_their_cases_with_a_note(database: Database) -> None:
    t = await team(database)
    _, case = await claimed(t)
    worker, returned = await remove_worker(
        database, t.staff.messages, t.settings, SAM_ID, t.clock()
    )
    assert returned == [case.reference] and not worker.active
    back = await t.case()
    assert (back.status, back.link_worker_id) == ("waiting", None)
    async with database.sessions() as s:
        note = await s.scalar(select(CaseEntry.text).where(CaseEntry.kind == "note"))
    assert note == "Returned to the queue because Sam left the team."
    assert "Waiting for a link worker" in (await t.rows(TEAM))[0].payload["text"]
    assert await t.act(SAM_ID, "/queue") is None  # at once: their next action is a patient's


async def test_the_audit_lists_every_open_and_action(database: Database) -> None:
    t = await team(database)
    _chat, case = await t.referred_patient()
    ref = case.reference
    for user, command in [(SAM_ID, f"/case {ref}"), (SAM_ID, f"/claim {ref}"),
                          (JO_ID, f"/case {ref}"), (SAM_ID, f"/reply {ref} Hi"),
                          (SAM_ID, f"/note {ref} Called GP"), (SAM_ID, f"/refer {ref} 1 See you there")]:  # fmt: skip
        await t.act(user, command)
    await t.act(SAM_ID, f"/close {ref} referred_to_activity")
    await t.act(SAM_ID, f"/release {ref}")  # refused: closed; not an action taken
    await t.act(SAM_ID, f"/reopen {ref}")
    await t.act(SAM_ID, f"/release {ref}")
    trail = [(e.actor, e.action) for e in await audit_trail(database, ref.lower())]
    assert trail == [("Sam", "open"), ("Sam", "claim"), ("Jo", "open"), ("Sam", "reply"),
                     ("Sam", "note"), ("Sam", "refer"), ("Sam", "close"), ("Sam", "reopen"),
                     ("Sam", "release")]  # fmt: skip
    async with database.sessions() as s:
        details = (await s.execute(select(AuditEntry.detail))).scalars().all()
    assert not any("Hi" in d or "Called GP" in d for d in details)  # never message text


async def test_a_worker_whose_patient_blocked_the_bot_is_told(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    async with database.transaction() as s:
        patient = await s.get(Patient, case.patient_id)
        assert patient is not None
        patient.blocked_at = t.clock()
    before = await t.last_id()
    await t.act(SAM_ID, f"/reply {case.reference} Hello?")
    assert await t.rows(chat.chat_id, since=before) == []
    assert "blocked the bot" in (await t.said(SAM_ID))[-1]


async def test_a_reply_typed_long_after_the_button_is_not_sent(database: Database) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.tap(SAM_ID, "reply", case.reference)
    t.clock.advance(hours=2)
    before = await t.last_id()
    await t.act(SAM_ID, "ok")
    assert await t.rows(chat.chat_id, since=before) == []
    assert "That was a while ago" in (await t.said(SAM_ID))[-1]


async def test_a_redelivered_staff_update_has_one_effect(database: Database) -> None:
    t = await team(database)
    _chat, case = await claimed(t)
    inbound = StaffInbound(SAM_ID, SAM_ID, True, Text("x"), 999_999)
    await t.tap(SAM_ID, "note", case.reference)
    first = await t.staff.handle(inbound)
    again = await t.staff.handle(inbound)
    assert first is not None and again is not None and again.duplicate
    async with database.sessions() as s:
        assert (
            await s.scalar(
                select(func.count()).select_from(CaseEntry).where(CaseEntry.kind == "note")
            )
            == 1
        )


async def test_without_a_team_chat_an_alert_on_an_unclaimed_case_reaches_every_worker(
    database: Database,
) -> None:
    t = await team(database, staff_chat=None)
    _, case = await t.referred_patient()
    await t.crisis(case, "suicide")
    for worker in (SAM_ID, JO_ID, ADMIN_ID):
        [alert] = await t.rows(worker)
        assert "Urgent" in alert.payload["text"] and "tap Seen" in alert.payload["text"]
        assert alert.payload["buttons"][0][0]["data"] == f"s:seen:{case.reference}:"
    await t.tap(JO_ID, "seen", case.reference)
    assert "tell me what you did" in (await t.said(JO_ID))[-1]


async def test_an_edit_or_a_photo_from_a_worker_is_explained(database: Database) -> None:
    t = await team(database)
    await t.act(SAM_ID, Edited("changed"))
    assert "send it again" in (await t.said(SAM_ID))[-1]
    await t.act(SAM_ID, Unsupported("photo"))
    assert "only pass on typed text" in (await t.said(SAM_ID))[-1]


async def test_after_a_worker_writes_mid_referral_the_patients_answer_reaches_them(
    database: Database,
) -> None:
    """A crisis opened the case before the referral was finished; once the worker
    writes, what the patient says is for the worker, not the bot's next question."""
    t = await team(database)
    chat = t.patient(43)
    await chat.walk_to("what_matters")
    await chat.send("i want to kill myself")
    case = await t.case()
    await t.tap(SAM_ID, "claim", case.reference)
    await t.act(SAM_ID, f"/reply {case.reference} Hello, it's Sam. Are you safe right now?")
    await chat.send("yes im ok now thanks, my sister is here")
    forwarded = (await t.said(SAM_ID))[-1]
    assert "yes im ok now thanks, my sister is here" in forwarded
    async with database.sessions() as s:
        conv = (
            await s.execute(select(Conversation).join(Patient).where(Patient.chat_id == 43))
        ).scalar_one()
        kept = (
            (await s.execute(select(CaseEntry.text).where(CaseEntry.kind == "patient_message")))
            .scalars()
            .all()
        )
    # Not taken as the bot's answer (their crisis words were what matters to them).
    assert conv.answers["what_matters"] == "i want to kill myself"
    assert conv.control.paused_at == "crisis_check"
    assert kept == ["yes im ok now thanks, my sister is here"]


async def test_once_claimed_the_patients_next_message_reaches_the_worker_even_mid_referral(
    database: Database,
) -> None:
    """The claim tells them "anything you write here goes to them": that must be true
    before the worker has written anything."""
    t = await team(database)
    chat = t.patient(44)
    await chat.walk_to("postcode")
    await chat.send("i want to kill myself")
    case = await t.case()
    await t.tap(SAM_ID, "claim", case.reference)
    await chat.send("im scared")
    assert "im scared" in (await t.said(SAM_ID))[-1]
    async with database.sessions() as s:
        conv = (
            await s.execute(select(Conversation).join(Patient).where(Patient.chat_id == 44))
        ).scalar_one()
    assert "postcode" not in conv.answers and conv.state == "handed_off"


@pytest.mark.parametrize("before", ["first_message", "then_declined"])
async def test_once_claimed_a_crisis_case_opened_before_the_referral_routes_to_the_worker(
    database: Database, before: str
) -> None:
    t = await team(database)
    chat = t.patient(45)
    if before == "first_message":
        await chat.send("he hits me and i cant go home")
    else:
        await chat.send("/start")
        await chat.send("he hits me and i cant go home")
        await chat.tap("decline")
    case = await t.case()
    await t.tap(SAM_ID, "claim", case.reference)
    await chat.send("hes asleep now")
    assert "hes asleep now" in (await t.said(SAM_ID))[-1]
    async with database.sessions() as s:
        kept = (
            (await s.execute(select(CaseEntry.text).where(CaseEntry.kind == "patient_message")))
            .scalars()
            .all()
        )
    assert kept == ["hes asleep now"]


async def test_a_page_number_that_is_not_0_to_9_shows_the_first_page(database: Database) -> None:
    t = await team(database)
    await t.referred_patient()
    handled = await t.act(SAM_ID, "/queue ²")
    assert handled is not None and "Waiting for a link worker: 1" in (await t.said(SAM_ID))[-1]


async def test_crisis_words_after_a_case_was_closed_reopen_it_for_the_worker_who_knows_them(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await claimed(t)
    await t.act(SAM_ID, f"/close {case.reference} signposted")
    before = await t.last_id()
    await chat.send("i want to end it all")
    async with database.sessions() as s:
        cases = (await s.execute(select(Case))).scalars().all()
    [reopened] = cases  # the same case, not a new one with no history
    sam = await t.worker(SAM_ID)
    assert reopened.status == "claimed" and reopened.link_worker_id == sam.id and reopened.urgent
    told = await t.said(SAM_ID, since=before)
    assert any(case.reference in m and "your case" in m for m in told)
    actions = [e.action for e in await audit_trail(database, case.reference)]
    assert actions[-1] == "reopen"


async def test_the_case_view_says_only_what_is_true_after_a_crisis(database: Database) -> None:
    t = await team(database)
    chat = t.patient(44)
    await chat.walk_to("postcode")
    await chat.send("i want to kill myself")
    case = await t.case()
    await t.act(SAM_ID, f"/case {case.reference}")
    view = "\n".join(await t.said(SAM_ID))
    assert "Contact: not asked yet" in view and "no contact wanted" not in view
    assert "some answers may be missing" in view
    await chat.tap("carry_on")
    await chat.walk_to("end")
    await t.act(SAM_ID, f"/case {case.reference}")
    later = (await t.said(SAM_ID))[-1]
    assert "some answers may be missing" not in later and "Contact: phone call" in later
    async with database.sessions() as s:
        score = (await s.execute(select(WellbeingScore))).scalar_one()
    assert score.case_id == case.id  # the baseline taken after the crisis is on the case


async def test_an_alert_nobody_takes_is_posted_again_and_sent_to_the_holder(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await claimed(t)
    await t.crisis(case)
    before = await t.last_id()
    t.clock.advance(minutes=10)
    assert await t.staff.remind_unseen_alerts() == 0  # not yet
    t.clock.advance(minutes=6)
    assert await t.staff.remind_unseen_alerts() == 1
    new_cards = [r for r in await t.rows(TEAM, since=before) if r.action == "send"]
    assert len(new_cards) == 1 and new_cards[0].payload.get("urgent")
    assert "Still not seen" in (await t.said(SAM_ID, since=before))[-1]
    await t.tap(JO_ID, "seen", case.reference, chat_id=TEAM)
    t.clock.advance(minutes=30)
    assert await t.staff.remind_unseen_alerts() == 0  # taken: no more reminders


async def test_the_working_day_starts_with_the_alerts_raised_overnight(database: Database) -> None:
    t = await team(database)
    _, case = await t.referred_patient()
    t.clock.now = MONDAY.replace(hour=2)  # nobody working
    await t.crisis(case, "unsafe_at_home")
    assert await t.staff.remind_unseen_alerts() == 0  # nobody is there to see it
    before = await t.last_id()
    t.clock.now = MONDAY.replace(hour=9, minute=1)
    assert await t.staff.remind_unseen_alerts() == 1
    said = await t.said(TEAM, since=before)
    assert any("Raised while nobody was working (1)" in m and case.reference in m for m in said)


async def test_an_alert_left_at_the_end_of_the_day_is_posted_again_as_the_next_day_starts(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await claimed(t)
    t.clock.now = MONDAY.replace(hour=16, minute=55)
    await t.crisis(case)
    t.clock.now = MONDAY.replace(hour=17, minute=20)
    assert await t.staff.remind_unseen_alerts() == 0  # nobody is working
    t.clock.now = MONDAY.replace(hour=9, minute=1) + timedelta(days=1)
    assert await t.staff.remind_unseen_alerts() == 1  # the next day starts with it
