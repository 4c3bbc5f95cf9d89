"""Check-ins after a referral, on a real database (SQLite and PostgreSQL), with a
clock the test moves: when they go (and when not), what each answer does to the
case, pause and stop, the one reminder, and the nudge for a stalled referral."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.app import messages_for
from bot.messages import html_to_text
from bot.store import Database
from bot.store.cases import Case, CaseEntry, Referral
from bot.store.checkins import CheckIn
from bot.store.milestones import Milestone
from bot.store.outbox import CHECK_IN, OutboxMessage
from bot.store.patients import Conversation, Patient, WellbeingScore
from tests.patients.helpers import Chat
from tests.staff.helpers import MONDAY, SAM_ID, TEAM, Team, team


async def referred(t: Team, chat_id: int = 42) -> tuple[Chat, Case]:
    """A patient whose case Sam claimed, talked on, and referred to the first
    activity they were shown (Bootle Walking Football), on Monday at 10:00."""
    chat, case = await t.referred_patient(chat_id)
    await t.act(SAM_ID, f"/claim {case.reference}")
    await t.act(SAM_ID, f"/refer {case.reference} 1 Here are the details.")
    return chat, case


async def check_ins(db: Database, case: Case | None = None) -> list[CheckIn]:
    async with db.sessions() as s:
        query = select(CheckIn).order_by(CheckIn.due_at, CheckIn.id)
        if case is not None:
            query = query.where(CheckIn.case_id == case.id)
        return list((await s.execute(query)).scalars())


async def heard(t: Team, chat: Chat, since: int) -> list[str]:
    """What reached their chat as new messages (not edits), oldest first."""
    rows = await t.rows(chat.chat_id, since)
    return [html_to_text(r.payload["text"]) for r in rows if r.action == "send"]


async def tick_at(t: Team, when: datetime) -> int:
    t.clock.now = when
    return await t.patients.checkins.tick()


async def entries(db: Database, case: Case, kind: str = "check_in") -> list[str]:
    async with db.sessions() as s:
        rows = await s.execute(
            select(CaseEntry.text).where(CaseEntry.case_id == case.id, CaseEntry.kind == kind)
            .order_by(CaseEntry.id)
        )  # fmt: skip
        return list(rows.scalars())


WEEK_ON = MONDAY + timedelta(days=7)  # Monday 30 November, 10:00


async def at_first_check_in(t: Team, chat_id: int = 42) -> tuple[Chat, Case, int]:
    """Referred, then a week on: the first check-in has just gone out."""
    chat, case = await referred(t, chat_id)
    since = await t.last_id()
    assert await tick_at(t, WEEK_ON) > 0
    return chat, case, since


# --- the schedule ----------------------------------------------------------------------


async def test_a_referral_brings_check_ins_at_the_schedule_and_their_time_of_day(
    database: Database,
) -> None:
    t = await team(database)
    _, case = await referred(t)
    rows = await check_ins(database, case)
    assert [r.kind for r in rows] == ["scheduled"] * 3
    # 7, 28 and 84 days after Monday 23 November; they said mornings suit them (10:00,
    # London time: GMT in winter, BST from March).
    assert [r.due_at for r in rows] == [
        datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
        datetime(2026, 12, 21, 10, 0, tzinfo=UTC),
        datetime(2027, 2, 15, 10, 0, tzinfo=UTC),
    ]
    told = (await t.said(SAM_ID))[-1]
    assert "I'll check in with them on Mon 30 Nov, Mon 21 Dec, Mon 15 Feb" in told


async def test_a_worker_adds_a_one_off_check_in_with_their_own_line(database: Database) -> None:
    t = await team(database)
    _chat, case = await referred(t)
    await t.act(SAM_ID, f"/checkin {case.reference} 10d How did the first session go?")
    assert "on Thursday 3 December, around 10:00" in (await t.said(SAM_ID))[-1]
    one_off = [r for r in await check_ins(database, case) if r.kind == "one_off"]
    assert [r.due_at for r in one_off] == [datetime(2026, 12, 3, 10, 0, tzinfo=UTC)]
    await t.act(SAM_ID, f"/checkin {case.reference} soon")
    assert "say when" in (await t.said(SAM_ID))[-1]


async def test_nothing_goes_before_it_is_due_or_in_quiet_hours(database: Database) -> None:
    t = await team(database)
    chat, _ = await referred(t)
    since = await t.last_id()
    assert await tick_at(t, WEEK_ON - timedelta(minutes=1)) == 0
    # Due at 10:00, but the bot was down until 22:30: quiet hours (21:00-09:00).
    assert await tick_at(t, WEEK_ON.replace(hour=22, minute=30)) == 0
    assert await tick_at(t, WEEK_ON.replace(hour=23, minute=59) + timedelta(hours=8)) == 0
    assert await heard(t, chat, since) == []
    assert await tick_at(t, WEEK_ON.replace(hour=9, minute=0) + timedelta(days=1)) > 0
    [greeting] = await heard(t, chat, since)
    assert "since you were put in touch with Bootle Walking Football" in greeting


async def test_it_is_sent_once_however_often_the_dispatcher_ticks(database: Database) -> None:
    t = await team(database)
    chat, case, since = await at_first_check_in(t)
    for minutes in range(1, 6):
        await tick_at(t, WEEK_ON + timedelta(minutes=minutes))
    assert len(await heard(t, chat, since)) == 1
    rows = await t.rows(chat.chat_id, since)
    assert rows[0].priority == CHECK_IN  # behind replies to anyone talking with us now
    [first, *_] = await check_ins(database, case)
    assert first.status == "sent"


async def test_it_never_interrupts_a_live_conversation(database: Database) -> None:
    t = await team(database)
    chat, case = await referred(t)
    # An hour before it is due, they write to Sam, and Sam answers 30 minutes later.
    t.clock.now = WEEK_ON - timedelta(hours=1)
    await chat.send("Is there parking there?")
    t.clock.now = WEEK_ON - timedelta(minutes=30)
    await t.act(SAM_ID, f"/reply {case.reference} Yes, free parking behind the centre.")
    since = await t.last_id()
    # CHECKIN_HOLD_OFF (2 hours) from the last message either way: not before 11:30.
    assert await tick_at(t, WEEK_ON) == 0
    assert await tick_at(t, WEEK_ON + timedelta(hours=1, minutes=29)) == 0
    assert await tick_at(t, WEEK_ON + timedelta(hours=1, minutes=31)) > 0
    assert len(await heard(t, chat, since)) == 1


async def test_mid_referral_waits_until_the_referral_is_done(database: Database) -> None:
    t = await team(database)
    chat, case = await referred(t)
    async with database.transaction() as s:  # halfway through a referral, 3 hours ago
        conversation = await s.get(Conversation, case.patient_id)
        assert conversation is not None
        conversation.state, conversation.updated_at = "postcode", WEEK_ON - timedelta(hours=3)
    since = await t.last_id()
    assert await tick_at(t, WEEK_ON + timedelta(hours=5)) == 0
    assert await heard(t, chat, since) == []
    assert [r.status for r in await check_ins(database, case)] == ["due"] * 3


async def test_after_downtime_each_missed_check_in_is_sent_once(database: Database) -> None:
    t = await team(database)
    chats = [(await referred(t, chat_id))[0] for chat_id in (41, 42, 43)]
    since = await t.last_id()
    # Down from before the first check-in until after the second was due.
    for minutes in range(0, 10, 2):
        await tick_at(t, datetime(2026, 12, 22, 11, minutes, tzinfo=UTC))
    for chat in chats:
        said = await heard(t, chat, since)
        # One message about the referral (now four weeks on), not one per missed date.
        assert len(said) == 1 and "a month since" in said[0]
    statuses = sorted(r.status for r in await check_ins(database))
    assert statuses == ["due"] * 3 + ["sent"] * 3 + ["superseded"] * 3


async def test_no_patient_gets_more_than_one_check_in_a_day(database: Database) -> None:
    t = await team(database)
    chat, case, since = await at_first_check_in(t)
    await chat.tap("liked")
    await chat.tap("skip")
    await t.act(SAM_ID, f"/checkin {case.reference} 1d")  # due Tuesday 10:00
    since = await t.last_id()
    # Tuesday 09:30: due, but less than a day since Monday's: waits until 10:00.
    assert await tick_at(t, WEEK_ON + timedelta(hours=23, minutes=30)) == 0
    assert await tick_at(t, WEEK_ON + timedelta(days=1, hours=3)) > 0
    assert len(await heard(t, chat, since)) == 1


# --- the conversation -------------------------------------------------------------------


async def test_went_and_liked_it(database: Database) -> None:
    t = await team(database)
    chat, case, since = await at_first_check_in(t)
    await chat.tap("liked")
    await chat.send("A lift on rainy days would help")
    said = await heard(t, chat, since)
    assert "anything that would help you keep going" in said[1]
    assert "Enjoy it, and I'll check in again later" in said[-1]
    async with database.sessions() as s:
        referral = await s.scalar(select(Referral).where(Referral.case_id == case.id))
        assert referral is not None and referral.attendance == "attended"
    notes = await entries(database, case)
    assert any("went, and liked it" in n for n in notes)
    assert any("A lift on rainy days would help" in n for n in notes)
    # The next check-in stays; whatever they write now goes to Sam.
    assert [r.status for r in await check_ins(database, case)] == ["answered", "due", "due"]
    await chat.send("Thanks Sam!")
    assert "Thanks Sam!" in (await t.said(SAM_ID))[-1]


async def test_not_been_yet_getting_there_then_a_link_worker(database: Database) -> None:
    t = await team(database)
    chat, case, since = await at_first_check_in(t)
    await t.act(SAM_ID, f"/close {case.reference} referred_to_activity")
    await chat.tap("not_yet")
    await chat.tap("getting_there")
    await chat.tap("talk")
    said = await heard(t, chat, since)
    assert any("What got in the way?" in s for s in said)
    assert "I've asked a link worker to get in touch" in said[-1]
    assert "Mon-Fri 09:00-17:00" in said[-1] and "by Wednesday" in said[-1]
    reopened = await t.case(case.reference)
    # Closed, so it opens again, with Sam (who knows them), who is told.
    assert reopened.status == "claimed" and reopened.link_worker_id is not None
    assert reopened.asked_for_contact_at == t.clock()
    assert "asked at a check-in to talk to someone" in (await t.said(SAM_ID))[-1]
    notes = await entries(database, case)
    assert any("hasn't been yet" in n for n in notes)
    assert any("What got in the way: getting there" in n for n in notes)
    async with database.sessions() as s:
        referral = await s.scalar(select(Referral).where(Referral.case_id == case.id))
        assert referral is not None and referral.attendance == "not_yet"


async def test_asking_for_someone_with_nobody_holding_the_case_posts_a_fresh_card(
    database: Database,
) -> None:
    t = await team(database)
    chat, _case, _ = await at_first_check_in(t)
    from bot.staff.admin import remove_worker

    await remove_worker(
        database, messages_for(t.settings), t.settings, SAM_ID, t.clock()
    )  # their cases go back to the queue
    cards_before = len(await t.rows(TEAM))
    await chat.tap("talk")
    cards = await t.rows(TEAM)
    assert len(cards) > cards_before
    assert "Asked at a check-in to talk to someone" in html_to_text(cards[-1].payload["text"])
    assert cards[-1].payload["buttons"]  # Claim


async def test_not_for_me_offers_others_leaving_that_one_out(database: Database) -> None:
    t = await team(database)
    chat, case, since = await at_first_check_in(t)
    await chat.tap("not_for_me")
    await chat.send("Too competitive for me")
    said = await heard(t, chat, since)
    assert "Knit and Natter" in said[-1] and "Bootle Walking Football" not in said[-1]
    await chat.tap("pick_0")
    assert "you're interested in Knit and Natter" in (await heard(t, chat, since))[-1]
    notes = await entries(database, case)
    assert any("Too competitive for me" in n for n in notes)
    assert any("interested in: “Knit and Natter”" in n for n in notes)
    assert (await t.case(case.reference)).asked_for_contact_at is not None


async def test_try_again_brings_the_next_check_in_sooner(database: Database) -> None:
    t = await team(database)
    chat, case, since = await at_first_check_in(t)
    await chat.tap("not_yet")
    await chat.send("I was poorly that week")  # their own words: something else
    await chat.tap("try_again")
    assert "I'll check in again in 7 days" in (await heard(t, chat, since))[-1]
    sooner = [r for r in await check_ins(database, case) if r.kind == "sooner"]
    assert [r.due_at for r in sooner] == [datetime(2026, 12, 7, 10, 0, tzinfo=UTC)]
    assert any(
        "something else: “I was poorly that week”" in n for n in await entries(database, case)
    )


async def test_pause_then_carry_on_four_weeks_later(database: Database) -> None:
    t = await team(database)
    chat, _case, since = await at_first_check_in(t)
    await chat.tap("pause")
    assert "I won't send these messages for 4 weeks" in (await heard(t, chat, since))[-1]
    since = await t.last_id()
    # The 28-day check-in (21 December) falls in the pause: it waits until the pause ends.
    assert await tick_at(t, datetime(2026, 12, 21, 12, 0, tzinfo=UTC)) == 0
    assert await tick_at(t, datetime(2026, 12, 28, 10, 5, tzinfo=UTC)) > 0
    assert len(await heard(t, chat, since)) == 1


async def test_stop_means_no_more_check_ins_for_that_referral(database: Database) -> None:
    t = await team(database)
    chat, case, since = await at_first_check_in(t)
    await chat.tap("stop")
    await chat.send("Too many messages")
    said = (await heard(t, chat, since))[-1]
    assert "I won't send any more check-ins about Bootle Walking Football" in said
    assert "doesn't close your referral or delete anything" in said
    assert [r.status for r in await check_ins(database, case)] == ["answered", "cancelled",
                                                                   "cancelled"]  # fmt: skip
    async with database.sessions() as s:
        referral = await s.scalar(select(Referral).where(Referral.case_id == case.id))
        assert referral is not None and referral.checkins_stopped_at is not None
        assert referral.checkins_stop_reason == "Too many messages"
    since = await t.last_id()
    for day in (28, 84, 90):
        await tick_at(t, MONDAY + timedelta(days=day, hours=2))
    assert await heard(t, chat, since) == []


async def test_one_gentle_reminder_then_left_alone(database: Database) -> None:
    t = await team(database)
    chat, case, since = await at_first_check_in(t)
    for hours in (24, 71):
        await tick_at(t, WEEK_ON + timedelta(hours=hours))
    assert len(await heard(t, chat, since)) == 1
    await tick_at(t, WEEK_ON + timedelta(days=3, minutes=1))
    said = await heard(t, chat, since)
    assert len(said) == 2 and "just checking you saw my message" in said[-1]
    # The first message's buttons are gone: only the reminder's work.
    for days in (4, 5, 6, 6.5, 7):
        await tick_at(t, WEEK_ON + timedelta(days=days, hours=1))
    assert len(await heard(t, chat, since)) == 2  # (edits aside) nothing more
    [first, *_] = await check_ins(database, case)
    assert first.status == "unanswered"
    assert any("not answered" in n for n in await entries(database, case))


async def test_the_last_check_in_asks_about_wellbeing_again_and_compares(
    database: Database,
) -> None:
    t = await team(database)
    chat, case = await referred(t)
    since = await t.last_id()
    for when in (WEEK_ON, datetime(2026, 12, 21, 10, tzinfo=UTC)):
        await tick_at(t, when)
        await chat.tap("liked")
        await chat.tap("skip")
    await tick_at(t, datetime(2027, 2, 15, 10, tzinfo=UTC))  # the last
    await chat.tap("liked")
    await chat.tap("skip")
    for score in ("8", "8", "7", "2"):
        await chat.send(score)
    said = await heard(t, chat, since)
    assert "the same as when you first wrote to us" in "\n".join(said)
    compared = said[-1]
    # The baseline (tests/flows/harness.py): life 4, worthwhile 5, happy 3, anxious 7.
    assert "How satisfied you are with life: 4 then, 8 now" in compared
    assert "How anxious you felt: 7 then, 2 now" in compared
    assert "a bit brighter" in compared
    async with database.sessions() as s:
        scores = (await s.execute(select(WellbeingScore).where(WellbeingScore.case_id == case.id)
                                  .order_by(WellbeingScore.id))).scalars().all()  # fmt: skip
    assert [(w.context, w.life_satisfaction, w.anxiety) for w in scores] == [
        ("baseline", 4, 7), ("check_in", 8, 2)]  # fmt: skip


async def test_typed_words_at_a_check_in_reach_the_link_worker(database: Database) -> None:
    t = await team(database)
    chat, _case, since = await at_first_check_in(t)
    await chat.send("Can you ring me about the times?")
    said = await heard(t, chat, since)
    assert "passed that on to your link worker" in said[-2] and "How's it going" in said[-1]
    assert "Can you ring me about the times?" in (await t.said(SAM_ID))[-1]


async def test_crisis_words_at_a_check_in_are_answered_and_the_team_told(
    database: Database,
) -> None:
    t = await team(database)
    chat, case, since = await at_first_check_in(t)
    await chat.send("i want to end my life")
    said = await heard(t, chat, since)
    assert any("116 123" in s for s in said)
    assert (await t.case(case.reference)).urgent
    assert "How's it going" in said[-1]  # the question again, when they are ready
    await chat.tap("talk")
    assert "I've asked a link worker" in (await heard(t, chat, since))[-1]


async def test_a_stale_tap_on_an_old_check_in_button_does_nothing(database: Database) -> None:
    t = await team(database)
    chat, case, _since = await at_first_check_in(t)
    step = await chat.step()
    await chat.tap("liked")
    from flows.core import Button

    handled = await chat.send(Button(step, "stop"))
    assert handled.tap_notice
    assert [r.status for r in await check_ins(database, case)][1:] == ["due", "due"]


async def test_milestones_record_the_journey_and_name_nobody(database: Database) -> None:
    t = await team(database)
    chat, case, _ = await at_first_check_in(t)
    await chat.tap("liked")
    async with database.sessions() as s:
        rows = (await s.execute(select(Milestone).order_by(Milestone.id))).scalars().all()
        patient = await s.get(Patient, case.patient_id)
    steps = [m.step for m in rows]
    for step in ("consented", "wellbeing", "finished", "handed_off", "claimed", "referred",
                 "checkin_sent", "attended"):  # fmt: skip
        assert step in steps
    assert patient is not None and {m.journey for m in rows} == {patient.journey}
    everything = repr([(m.reference, m.detail) for m in rows])
    for private in ("Alex", "7911", "L20 3AB", "lonely since my wife"):
        assert private not in everything
    handed_off = next(m for m in rows if m.step == "handed_off")
    assert handed_off.detail["district"] == "L20"


# --- nudges -----------------------------------------------------------------------------


async def test_a_stalled_referral_is_nudged_once_with_the_question(database: Database) -> None:
    t = await team(database)
    chat = t.patient(77)
    await chat.walk_to("postcode")
    since = await t.last_id()
    assert await tick_at(t, MONDAY + timedelta(hours=23)) == 0
    # 24 hours later is Tuesday 10:00: inside their sending window.
    assert await tick_at(t, MONDAY + timedelta(hours=24, minutes=1)) > 0
    said = await heard(t, chat, since)
    assert "didn't finish" in said[0] and "postcode" in said[-1].lower()
    for days in (2, 3, 9):
        await tick_at(t, MONDAY + timedelta(days=days, hours=1))
    assert len(await heard(t, chat, since)) == len(said)
    async with database.sessions() as s:
        [nudged] = (await s.execute(select(Milestone).where(Milestone.step == "nudged"))).scalars()
    # Where they stopped, for the drop-off per question (a question's name, nobody's words).
    assert nudged.detail == {"stopped_at": "postcode"}


async def test_a_nudge_waits_for_the_end_of_quiet_hours(database: Database) -> None:
    t = await team(database)
    t.clock.now = MONDAY.replace(hour=20, minute=30)
    chat = t.patient(78)
    await chat.walk_to("postcode")
    since = await t.last_id()
    assert await tick_at(t, MONDAY.replace(hour=21, minute=40) + timedelta(days=1)) == 0
    assert await tick_at(t, MONDAY.replace(hour=9, minute=1) + timedelta(days=2)) > 0
    assert len(await heard(t, chat, since)) >= 1


# --- several instances ------------------------------------------------------------------


async def test_two_dispatchers_at_once_never_send_a_check_in_twice(database: Database) -> None:
    """On PostgreSQL each takes rows the other has not locked (SKIP LOCKED); on
    SQLite one writer at a time. Run many times, on many patients."""
    t = await team(database)
    other = await team(database, add_workers=False)
    other.clock.now = t.clock.now
    chat_ids = list(range(500, 530))
    for chat_id in chat_ids:
        await referred(t, chat_id)
    since = await t.last_id()
    for minute in range(10):
        when = WEEK_ON + timedelta(minutes=minute)
        t.clock.now = other.clock.now = when
        await asyncio.gather(t.patients.checkins.tick(limit=7),
                             other.patients.checkins.tick(limit=7))  # fmt: skip
    async with database.sessions() as s:
        per_chat = (await s.execute(
            select(OutboxMessage.chat_id, func.count())
            .where(OutboxMessage.id > since, OutboxMessage.chat_id.in_(chat_ids),
                   OutboxMessage.action == "send")
            .group_by(OutboxMessage.chat_id)
        )).all()  # fmt: skip
    assert sorted(per_chat) == [(chat_id, 1) for chat_id in chat_ids]


async def test_the_case_view_shows_the_check_ins_and_what_they_found(database: Database) -> None:
    t = await team(database)
    chat, case, _ = await at_first_check_in(t)
    await chat.tap("not_yet")
    await chat.tap("nerves")
    await chat.tap("talk")
    await t.act(SAM_ID, f"/case {case.reference}")
    view = (await t.said(SAM_ID))[-1]
    assert "they asked to talk to someone" in view
    assert "Did they go: not been yet" in view
    assert "Check-ins" in view and "answered" in view and "due" in view
    assert "What got in the way: nerves" in view


async def test_someone_who_never_consented_is_not_nudged(database: Database) -> None:
    t = await team(database)
    chat = t.patient(79)
    await chat.send("/start")
    since = await t.last_id()
    assert await tick_at(t, MONDAY + timedelta(days=2)) == 0
    assert await heard(t, chat, since) == []


async def test_no_reminder_for_someone_who_wrote_after_the_check_in(database: Database) -> None:
    t = await team(database)
    chat, _case, since = await at_first_check_in(t)
    t.clock.now = WEEK_ON + timedelta(hours=1)
    await chat.send("Sorry, which day is it on?")
    for days in (3.5, 7):
        await tick_at(t, WEEK_ON + timedelta(days=days))
    said = await heard(t, chat, since)
    assert not any("just checking you saw my message" in s for s in said)


async def test_went_but_not_for_me_still_counts_as_went(database: Database) -> None:
    t = await team(database)
    chat, _case, _ = await at_first_check_in(t)
    await chat.tap("not_for_me")
    async with database.sessions() as s:
        [went] = (await s.execute(select(Milestone).where(Milestone.step == "attended"))).scalars()
    assert went.detail["activity"] == "Bootle Walking Football" and went.detail["liked"] is False
