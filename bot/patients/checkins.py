"""Check-ins after a referral, on the patient's side: starting those that are due,
one gentle reminder, the check-in conversation itself, and a nudge for someone
who stopped halfway through their referral.

The dispatcher (`CheckIns.tick`) is called every few seconds by the adapter, but
the truth is in the database: a check-in is due when its row says so, whichever
instance ticks, however long the bot was down. Each is taken by one instance
(FOR UPDATE SKIP LOCKED on PostgreSQL) and its messages go through the outbox in
the same transaction as the row that says it was sent, so it is sent once, with
Telegram's limits and retries. Nothing goes in quiet hours, and nothing goes into
a live conversation (docs/architecture.md rule 10).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.hours import working_days_after
from bot.messages import Messages, html_to_text
from bot.patients.effects import raise_alert
from bot.patients.listener import CaseListener
from bot.patients.replies import ReplyWriter
from bot.store import Database, milestones
from bot.store.cases import Case, Referral, add_entry, move_case
from bot.store.checkins import (
    CheckIn,
    add_check_in,
    awaiting_reply,
    cancel_pending,
    due_of_referral,
    due_to_send,
    pending_of_referral,
    postpone_pending,
    referral_by_id,
    reminded_before,
    save_check_in,
    stale_answers,
)
from bot.store.outbox import CHECK_IN
from bot.store.patients import (
    Conversation,
    Patient,
    baseline_of_case,
    record_wellbeing,
    save_conversation,
    stalled_conversations,
)
from bot.store.staff import active_holder, worker_name
from flows import case as case_life
from flows import checkin, referral
from flows.core import (
    AddToCase,
    AskForLinkWorker,
    CheckInAnswer,
    CheckInSooner,
    Event,
    FinishCheckIn,
    FlowResult,
    PauseCheckIns,
    RaiseSafetyAlert,
    RecordAttendance,
    RecordWellbeing,
    Reply,
    StopCheckIns,
)
from flows.directory import Directory
from flows.schedule import at_their_time, is_quiet, preferred_time
from flows.summary import ActivityRef
from flows.wellbeing import MEASURES

log = logging.getLogger(__name__)

#: How many rows one tick takes at most (the outbox paces what goes to Telegram).
BATCH = 200
#: Check-ins written to the outbox in one transaction.
CHUNK = 25
#: No patient gets more than one check-in in this long.
ONE_A_DAY = timedelta(hours=24)
#: Where a stalled referral is nudged: after consent (before it, nothing of theirs
#: is kept, and "your answers are saved" would not be true).
NUDGED_STATES = [s for s in referral.QUESTION_STATES if s != "consent"]


class CheckIns:
    def __init__(
        self,
        db: Database,
        messages: Messages,
        directory: Callable[[], Directory],
        settings: Settings,
        replies: ReplyWriter,
        listener: CaseListener,
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.messages = messages
        self.directory = directory
        self.settings = settings
        self.replies = replies
        self.listener = listener
        self.clock = clock

    # --- the dispatcher ----------------------------------------------------------------
    async def tick(self, limit: int = BATCH) -> int:
        """Send what is due now; returns how many messages were written (0 in quiet
        hours, when nothing goes)."""
        now = self.clock()
        async with self.db.transaction() as session:
            await self._let_go_of_silent(session, now, limit)
        if is_quiet(now, self.settings.quiet, self.settings.zone):
            return 0
        written = taken = 0
        while taken < limit:
            # Committed a few at a time: the first check-ins reach the outbox (and
            # the delivery) while the rest are still being written.
            async with self.db.transaction() as session:
                sent = await self._send_due(session, now, min(CHUNK, limit - taken))
            if not sent:
                break
            written, taken = written + sent, taken + CHUNK
        async with self.db.transaction() as session:
            written += await self._remind(session, now, limit)
        async with self.db.transaction() as session:
            written += await self._nudge_stalled(session, now, limit)
        return written

    async def _send_due(self, session: AsyncSession, now: datetime, limit: int) -> int:
        due = await due_to_send(session, now, busy_since=now - self.settings.hold_off,
                                day_ago=now - ONE_A_DAY, limit=limit)  # fmt: skip
        written, started = 0, set()
        for check_in, patient, conversation in due:
            if patient.id in started:
                continue  # one a day: the next waits until tomorrow
            referral_row = await referral_by_id(session, check_in.referral_id)
            case = await session.get(Case, check_in.case_id)
            if referral_row is None or case is None:
                check_in.status = "cancelled"
                continue
            # After downtime or a pause, several check-ins of the same referral may be
            # due: one message asks about it now (as the latest), not one per date.
            *earlier, check_in = await due_of_referral(session, referral_row.id, now)
            for superseded in earlier:
                superseded.status = "superseded"
                if superseded.note and not check_in.note:  # a worker's line is not lost
                    check_in.note, check_in.asked_by = superseded.note, superseded.asked_by
            later = [c for c in await pending_of_referral(session, referral_row.id)
                     if c.id != check_in.id and c.due_at > check_in.due_at]  # fmt: skip
            ctx = await self._context(session, now, check_in, referral_row, case, conversation,
                                      last=not later)  # fmt: skip
            result = checkin.handle(checkin.CheckInState(step=conversation.step),
                                    checkin.Begin(), ctx)  # fmt: skip
            written += await self._write(session, patient, conversation, check_in, result, case,
                                         now, priority=CHECK_IN)  # fmt: skip
            check_in.status, check_in.sent_at = "sent", now
            weeks = round(ctx.days_since / 7)
            add_entry(session, case.id, "check_in",
                      self._entry("sent", activity=ctx.activity, weeks=weeks, kind=check_in.kind),
                      now)  # fmt: skip
            await milestones.record(session, patient.journey, "checkin_sent", now,
                                    reference=case.reference, activity_id=referral_row.activity_id,
                                    weeks=weeks)  # fmt: skip
            started.add(patient.id)
            log.info("check-in sent", extra={"check_in_id": check_in.id, "case_id": case.id})
        return written

    async def _remind(self, session: AsyncSession, now: datetime, limit: int) -> int:
        """One gentle reminder, CHECKIN_REMINDER after a check-in nobody answered."""
        written = 0
        busy_since = now - self.settings.hold_off
        for check_in, patient, conversation in await awaiting_reply(
            session, now - self.settings.reminder_after, limit
        ):
            if conversation.updated_at >= busy_since:
                continue  # they are talking with us now: later
            if check_in.sent_at is not None and conversation.updated_at > check_in.sent_at:
                # They wrote since (to their link worker): no reminder; it ends quietly.
                check_in.status, check_in.reminded_at = "reminded", now
                continue
            referral_row = await referral_by_id(session, check_in.referral_id)
            case = await session.get(Case, check_in.case_id)
            if referral_row is None or case is None:
                continue
            ctx = await self._context(session, now, check_in, referral_row, case, conversation,
                                      last=False)  # fmt: skip
            result = checkin.handle(self._state(check_in, conversation), checkin.Remind(), ctx)
            written += await self._write(session, patient, conversation, check_in, result, case,
                                         now, priority=CHECK_IN)  # fmt: skip
            check_in.status, check_in.reminded_at = "reminded", now
            add_entry(session, case.id, "check_in", self._entry("reminded"), now)
            log.info("check-in reminder sent", extra={"check_in_id": check_in.id})
        return written

    async def _let_go_of_silent(self, session: AsyncSession, now: datetime, limit: int) -> None:
        """A check-in still unanswered CHECKIN_REMINDER after its reminder is marked
        unanswered, and one left halfway that long ago ends with what it has: no
        more messages about it (never more than one unanswered message in a row)."""
        wait = self.settings.reminder_after
        for check_in in await reminded_before(session, now - wait, limit):
            case = await session.get(Case, check_in.case_id)
            result = checkin.handle(self._state(check_in, None), checkin.TimedOut(),
                                    _bare_context(self, now))  # fmt: skip
            save_check_in(check_in, None, result)
            check_in.status = "unanswered"
            if case is not None:
                add_entry(session, case.id, "check_in", self._entry("unanswered"), now)
                journey = await _journey(session, case)
                referral_row = await referral_by_id(session, check_in.referral_id)
                await milestones.record(session, journey, "checkin_unanswered", now,
                                        reference=case.reference,
                                        activity_id=referral_row.activity_id if referral_row else None)  # fmt: skip
            log.info("check-in unanswered", extra={"check_in_id": check_in.id})
        for check_in in await stale_answers(session, now - wait, limit):
            result = checkin.handle(self._state(check_in, None), checkin.TimedOut(),
                                    _bare_context(self, now))  # fmt: skip
            case = await session.get(Case, check_in.case_id)
            patient = await session.get(Patient, check_in.patient_id)
            if case is not None and patient is not None:
                await self._record(session, patient, case, check_in, result, now)
            save_check_in(check_in, None, result)

    async def _nudge_stalled(self, session: AsyncSession, now: datetime, limit: int) -> int:
        """Someone who stopped halfway through the referral hears once, NUDGE_AFTER
        later, with the question they were on; then they are left alone."""
        written = 0
        for patient, conversation in await stalled_conversations(
            session, NUDGED_STATES, now - self.settings.nudge_delay, limit
        ):
            ctx = referral.FlowContext(directory=self.directory(),
                                       label_of=self.replies.label_of, now=now)  # fmt: skip
            stopped_at = conversation.state
            result = referral.handle(_stored(conversation), referral.Nudge(), ctx)
            ids = await self.replies.write(
                session, patient.channel, patient.chat_id, conversation, result.replies,
                reference=result.control.case_reference, now=now, priority=CHECK_IN,
            )  # fmt: skip
            conversation.nudged_at = now
            await save_conversation(session, conversation, result, now)
            # Where they stopped: the drop-off per question (a state's name only).
            await milestones.record(session, patient.journey, "nudged", now, stopped_at=stopped_at)
            written += len(ids)
            log.info("stalled referral nudged", extra={"patient_id": patient.id})
        return written

    # --- the check-in conversation -------------------------------------------------------
    async def answer(
        self,
        session: AsyncSession,
        patient: Patient,
        conversation: Conversation,
        check_in: CheckIn,
        event: Event,
        now: datetime,
        *,
        crisis_answered: bool = False,
    ) -> tuple[list[int], str | None]:
        """What the patient did while a check-in is under way. Returns the outbox ids
        written and the tap notice, if any. `crisis_answered`: the crisis reply went
        out already, straight away (the database was down)."""
        referral_row = await referral_by_id(session, check_in.referral_id)
        case = await session.get(Case, check_in.case_id)
        assert referral_row is not None and case is not None
        later = [c for c in await pending_of_referral(session, referral_row.id)
                 if c.due_at > (check_in.sent_at or now)]  # fmt: skip
        ctx = await self._context(session, now, check_in, referral_row, case, conversation,
                                  last=not later)  # fmt: skip
        result = checkin.handle(self._state(check_in, conversation), event, ctx)
        log.info("check-in answer",
                 extra={"patient_id": patient.id, "check_in_id": check_in.id,
                        "from_state": check_in.state, "to_state": result.state})  # fmt: skip
        await self._record(session, patient, case, check_in, result, now)
        replies = result.replies
        if crisis_answered:
            replies = [r for r in replies
                       if not (isinstance(r, Reply) and r.template.startswith("safety/"))]  # fmt: skip
        ids = await self.replies.write(
            session, patient.channel, patient.chat_id, conversation, replies,
            reference=case.reference, now=now,
        )  # fmt: skip
        save_check_in(check_in, conversation, result)
        conversation.updated_at = now
        return ids, result.tap_notice

    async def end_quietly(
        self, session: AsyncSession, patient: Patient, check_in: CheckIn, now: datetime
    ) -> None:
        """End a check-in under way without a word (they asked to stop, or to delete)."""
        case = await session.get(Case, check_in.case_id)
        result = checkin.handle(self._state(check_in, None), checkin.TimedOut(),
                                _bare_context(self, now))  # fmt: skip
        if case is not None:
            await self._record(session, patient, case, check_in, result, now)
        save_check_in(check_in, None, result)

    async def _write(
        self,
        session: AsyncSession,
        patient: Patient,
        conversation: Conversation,
        check_in: CheckIn,
        result: FlowResult[checkin.CheckInControl],
        case: Case,
        now: datetime,
        *,
        priority: int,
    ) -> int:
        ids = await self.replies.write(
            session, patient.channel, patient.chat_id, conversation, result.replies,
            reference=case.reference, now=now, priority=priority,
        )  # fmt: skip
        save_check_in(check_in, conversation, result)
        return len(ids)

    async def _record(
        self,
        session: AsyncSession,
        patient: Patient,
        case: Case,
        check_in: CheckIn,
        result: FlowResult[checkin.CheckInControl],
        now: datetime,
    ) -> None:
        """Write what the check-in found onto the case, the referral and the
        milestones (each effect named in a row of flows/checkin.py)."""
        referral_row = await referral_by_id(session, check_in.referral_id)
        activity = _activity(referral_row)
        for effect in result.effects:
            match effect:
                case CheckInAnswer(question=question, value=value, words=words):
                    text = self._entry("answer", question=question, value=value, words=words,
                                       activity=activity)  # fmt: skip
                    add_entry(session, case.id, "check_in", text, now)
                    if question == "opening" and check_in.answered_at is None:
                        check_in.answered_at = now
                        check_in.status = "answered"
                case RecordAttendance(attendance=attendance):
                    check_in.outcome = attendance
                    if referral_row is not None:
                        went = ("attended", "not_for_them")  # "not for me" went, too
                        if attendance in went and referral_row.attendance not in went:
                            await milestones.record(session, patient.journey, "attended", now,
                                                    reference=case.reference,
                                                    activity_id=activity.id, activity=activity.name,
                                                    organisation=activity.organisation,
                                                    liked=attendance == "attended")  # fmt: skip
                        referral_row.attendance = attendance
                case RecordWellbeing(context=context, scores=scores):
                    await record_wellbeing(
                        session, patient.id, context, scores, now, case_id=case.id
                    )
                    await milestones.record(session, patient.journey, "wellbeing", now,
                                            context=context, scores=scores)  # fmt: skip
                case AskForLinkWorker(why=why, activity=picked):
                    await self._back_to_a_link_worker(session, case, why, picked, now)
                case PauseCheckIns(days=days):
                    if referral_row is not None:
                        until = at_their_time(now + timedelta(days=days), self._aim(case),
                                              self.settings.quiet, self.settings.zone)  # fmt: skip
                        referral_row.checkins_paused_until = until
                        await postpone_pending(session, referral_row.id, until)
                    add_entry(session, case.id, "check_in", self._entry("paused", days=days), now)
                    await milestones.record(session, patient.journey, "checkins_paused", now)
                case StopCheckIns(reason=reason):
                    if referral_row is not None:
                        referral_row.checkins_stopped_at = now
                        referral_row.checkins_stop_reason = reason
                        await cancel_pending(session, referral_row.id)
                    add_entry(session, case.id, "check_in",
                              self._entry("stopped", words=reason), now)  # fmt: skip
                    await milestones.record(session, patient.journey, "checkins_stopped", now)
                case CheckInSooner(days=days):
                    await self._sooner(session, case, referral_row, days, now)
                case FinishCheckIn(outcome=outcome):
                    check_in.outcome = check_in.outcome or outcome
                    check_in.answered_at = check_in.answered_at or now
                    if check_in.status in ("sent", "reminded"):
                        check_in.status = "answered"
                    await milestones.record(session, patient.journey, "checkin_answered", now,
                                            reference=case.reference, went=outcome,
                                            activity_id=activity.id, activity=activity.name,
                                            organisation=activity.organisation,
                                            **_barrier(result.answers))  # fmt: skip
                case RaiseSafetyAlert(category=category, text=text, reasons=reasons):
                    await raise_alert(session, patient, {}, category, text, reasons,
                                      self.settings, self.listener, now)  # fmt: skip
                case AddToCase(text=text, edited=edited, kept_already=kept_already):
                    if not kept_already:
                        kind = "patient_message_edited" if edited else "patient_message"
                        add_entry(session, case.id, kind, text, now)
                    await self.listener.patient_wrote(session, case, text, edited, now,
                                                      crisis=kept_already)  # fmt: skip
                case _:
                    raise AssertionError(f"not a check-in effect: {effect!r}")

    async def _back_to_a_link_worker(
        self,
        session: AsyncSession,
        case: Case,
        why: str,
        picked: ActivityRef | None,
        now: datetime,
    ) -> None:
        """The case goes back to a link worker, marked "asked for contact": reopened if
        it was closed (to the worker who knows them, if still on the team)."""
        holder = await active_holder(session, case.link_worker_id)
        decision = case_life.decide(case.status, case.link_worker_id, case_life.SYSTEM,
                                    "ask_for_contact", holder_active=holder is not None)  # fmt: skip
        moves = decision.allowed and decision.status != case.status
        reopened = moves and await move_case(session, case, decision.status, decision.holder_id)
        if reopened:
            case.closed_at, case.outcome = None, None
            case.claimed_at = now if decision.holder_id is not None else None
            # What they were just told ("by Wednesday"), not the first claim's promise:
            # else the morning's overdue check flags it at once.
            case.promised_by = working_days_after(
                now, max(self.settings.response_working_days, 1), self.settings
            )
            case.overdue_told_at = case.overdue_team_told_at = None
        case.asked_for_contact_at = now
        add_entry(session, case.id, "check_in",
                  self._entry("asked_for_contact", why=why, activity=picked, reopened=reopened),
                  now)  # fmt: skip
        log.info("asked for a link worker at a check-in",
                 extra={"case_id": case.id, "reopened": reopened})  # fmt: skip
        await self.listener.asked_for_contact(session, case, reopened, now)

    async def _sooner(
        self,
        session: AsyncSession,
        case: Case,
        referral_row: Referral | None,
        days: int,
        now: datetime,
    ) -> None:
        """ "I'll try again": a check-in in `days`, unless one comes sooner anyway."""
        if referral_row is None:
            return
        when = at_their_time(now + timedelta(days=days), self._aim(case), self.settings.quiet,
                             self.settings.zone)  # fmt: skip
        pending = await pending_of_referral(session, referral_row.id)
        if any(c.due_at <= when for c in pending):
            return
        add_check_in(session, case, when, referral_id=referral_row.id, kind="sooner")

    # --- what a check-in needs to know --------------------------------------------------
    async def _context(
        self,
        session: AsyncSession,
        now: datetime,
        check_in: CheckIn,
        referral_row: Referral,
        case: Case,
        conversation: Conversation,
        *,
        last: bool,
    ) -> checkin.CheckInContext:
        baseline = await baseline_of_case(session, case.id)
        # Skipped while they waited: asked at the check-ins all the same, from the
        # referral, and with nothing to compare with.
        since_baseline = (now - (baseline.measured_at if baseline is not None
                                 else referral_row.made_at)).days  # fmt: skip
        asked_by = await worker_name(session, check_in.asked_by)
        by = working_days_after(now, max(self.settings.response_working_days, 1), self.settings)
        return checkin.CheckInContext(
            label_of=self.replies.label_of,
            now=now,
            directory=self.directory(),
            name=conversation.answers.get("name") or case.summary.about_the_person.name,
            activity=_activity(referral_row),
            days_since=max((now - referral_row.made_at).days, 0),
            profile=referral.profile_from(conversation.answers),
            note=check_in.note,
            worker=asked_by,
            wellbeing_due=checkin.wellbeing_due(last=last, days_since_baseline=since_baseline),
            baseline={m: getattr(baseline, m) for m in MEASURES} if baseline else {},
            contact_by=by,
            working_hours=self.settings.working_hours,
        )  # fmt: skip

    def _state(self, check_in: CheckIn, conversation: Conversation | None) -> checkin.CheckInState:
        step = conversation.step if conversation is not None else 0
        return checkin.CheckInState(check_in.state or "new", step, dict(check_in.answers),
                                    check_in.control)  # fmt: skip

    def _aim(self, case: Case) -> Any:
        about = case.summary.about_the_person
        return preferred_time(about.best_time, about.takes_part.free_times)

    def _entry(self, what: str, **context: Any) -> str:
        """A line for the case (plain text: the case view escapes it)."""
        return html_to_text(self.messages.render("staff/check_in_entry", what=what, **context))


def _activity(referral_row: Referral | None) -> ActivityRef:
    if referral_row is None:
        return ActivityRef(id="", name="")
    return ActivityRef(id=referral_row.activity_id, name=referral_row.activity_name,
                       organisation=referral_row.organisation)  # fmt: skip


def _barrier(answers: dict[str, Any]) -> dict[str, Any]:
    barrier = answers.get("barrier")
    return {"barrier": barrier} if barrier else {}


def _bare_context(checkins: CheckIns, now: datetime) -> checkin.CheckInContext:
    """Enough context to end a check-in that nobody is answering."""
    return checkin.CheckInContext(label_of=checkins.replies.label_of, now=now,
                                  directory=checkins.directory(), name=None,
                                  activity=ActivityRef(id="", name=""), days_since=0)  # fmt: skip


async def _journey(session: AsyncSession, case: Case) -> str:
    patient = await session.get(Patient, case.patient_id)
    return patient.journey if patient is not None else "erased"


def _stored(conversation: Conversation) -> referral.Conversation:
    return referral.Conversation(
        conversation.state, conversation.step, dict(conversation.answers), conversation.control
    )
