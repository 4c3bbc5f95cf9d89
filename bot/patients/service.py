"""Handling one patient's message: one inbound event, one transaction.

`PatientService.handle` dedupes the update, loads (and on PostgreSQL locks) the
patient's conversation, screens free text for crisis language before the flow
sees it, runs the flow, records its effects, and writes the replies to the
outbox, all in one commit (docs/architecture.md rules 1 and 4). It never sends
anything itself: `bot.delivery` does, so a crash after the commit loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import safety
from bot.config import Settings
from bot.hours import back_on
from bot.messages import Messages, html_to_text
from bot.patients.checkins import CheckIns
from bot.patients.effects import record_effects
from bot.patients.listener import CaseListener, NobodyListening
from bot.patients.privacy import sweep
from bot.patients.replies import ReplyWriter
from bot.safety.meaning import Meaning, MeaningScreen
from bot.store import Database, milestones
from bot.store.base import utcnow
from bot.store.cases import Case, SafetyAlert, has_urgent_case, latest_alert, latest_case
from bot.store.checkins import live_check_in
from bot.store.outbox import Outbox, OutboxMessage
from bot.store.patients import (
    Conversation,
    Patient,
    conversation_for_update,
    conversation_state,
    delete_patient,
    find_patient,
    patient_for_update,
    reachable_again,
    save_conversation,
)
from bot.store.staff import active_holder, cover_for, worker_name
from bot.store.updates import first_delivery
from flows import referral
from flows.core import (
    Button,
    CloseQuestion,
    Command,
    Crisis,
    Edited,
    Event,
    FlowResult,
    ForgetPatient,
    Reply,
    Text,
    Unsupported,
    WorkerTookOver,
)
from flows.directory import Directory

log = logging.getLogger(__name__)

#: A message this soon after a safety alert is read as a possible follow-up to it
#: ("I've got the pills here").
FOLLOW_UP_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Inbound:
    """One thing a person did, as any adapter (Telegram, terminal) reports it."""

    channel: str
    chat_id: int
    event: Event
    update_id: int | None = None
    first_name: str | None = None
    #: When they wrote it, by the channel's clock (a typed answer written before a
    #: question appeared is not an answer to it).
    written_at: datetime | None = None
    #: Their crisis reply went out already, straight away (the database was down).
    crisis_answered: bool = False
    #: It waits in the inbox, kept when it arrived. False: it is handled as it
    #: arrived (bot/inbox.py `InboxDrain.at_once`), so the transaction that handles
    #: it is what keeps it, and must survive a power cut before Telegram is told.
    kept: bool = True


@dataclass
class Handled:
    duplicate: bool = False
    #: Not handled now: the adapter's `may_go` said it must wait (nothing written).
    waiting: bool = False
    #: Plain text for the tap itself (Telegram's answerCallbackQuery), if any.
    tap_notice: str | None = None
    outbox_ids: list[int] = field(default_factory=list)


class PatientService:
    def __init__(
        self,
        db: Database,
        messages: Messages,
        directory: Callable[[], Directory],
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        listener: CaseListener | None = None,
        meaning: MeaningScreen | None = None,
    ) -> None:
        self.db = db
        self.meaning = meaning
        self.messages = messages
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self.listener: CaseListener = listener or NobodyListening()
        self.replies = ReplyWriter(messages)
        self.checkins = CheckIns(db, messages, directory, settings, self.replies, self.listener,
                                 clock)  # fmt: skip

    async def handle(
        self,
        inbound: Inbound,
        *,
        may_go: Callable[[AsyncSession], Awaitable[bool]] | None = None,
        then: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> Handled:
        """`may_go`: the adapter's question, first in the transaction, whether the
        update may be handled now (an update handled as it arrived: bot/inbox.py
        `at_once`); if not, nothing is written. `then`: the adapter's work in the
        same transaction, once the update is handled (delivery claims the reply
        there: bot/delivery.py `claim_in`)."""
        # Read for meaning before the transaction: it is CPU work (about 15 ms a
        # sentence) that must hold no database connection or lock.
        meaning = await self.read_meaning(_free_text(inbound.event))
        transaction = self.db.transaction if inbound.kept else self.db.durable_transaction
        async with transaction() as session:
            if may_go is not None and not await may_go(session):
                return Handled(waiting=True)
            now = self.clock()
            if inbound.update_id is not None and not await first_delivery(
                session, inbound.update_id, now, kept=inbound.kept
            ):
                log.info("duplicate update", extra={"update_id": inbound.update_id})
                return Handled(duplicate=True)
            writing = await patient_for_update(session, inbound.channel, inbound.chat_id, now)
            patient, conversation = writing.patient, writing.conversation
            # Their newest case, read with them (someone new has none yet).
            case = writing.case
            if reachable_again(patient):  # they had blocked the bot; now they write
                log.info("patient can be reached again", extra={"patient_id": patient.id})
                if case is not None and case.status != "closed":
                    await self.listener.reachable_again(session, case, now)
            alert = await latest_alert(session, case.id) if case is not None else None
            recent = alert is not None and now - alert.last_at < FOLLOW_UP_WINDOW
            event = screened(inbound.event, after_alert=recent, meaning=meaning)
            agreed = writing.agreed_notice
            check_in = await live_check_in(session, patient.id) if case is not None else None
            if check_in is not None and agreed not in (None, referral.NOTICE_VERSION):
                # The notice changed since they agreed: it comes first (the referral
                # flow asks), before a check-in keeps anything new.
                await self.checkins.end_quietly(session, patient, check_in, now)
                check_in = None
            # Their rights (/mydata, /delete, /stop) come first, even mid check-in.
            right = event.name if isinstance(event, Command) else None
            rights = right in ("mydata", "delete", "stop")
            if check_in is not None and right in ("delete", "stop"):
                await self.checkins.end_quietly(session, patient, check_in, now)
            if check_in is not None and not rights and not isinstance(event, WorkerTookOver):
                # A check-in is under way: what they do answers it.
                ids, tap = await self.checkins.answer(
                    session, patient, conversation, check_in, event, now,
                    crisis_answered=inbound.crisis_answered,
                )  # fmt: skip
                if then is not None:
                    await then(session)
                return Handled(tap_notice=self._tap_notice(tap), outbox_ids=ids)
            ctx = await self._context(session, now, inbound.first_name, conversation, case, alert)
            # The question they are on, read with them (the reply closes or replaces it).
            prompt = writing.prompt
            ctx = replace(
                ctx, written_at=inbound.written_at, agreed_notice=agreed,
                **_question_shown(prompt),
            )  # fmt: skip
            result = referral.handle(stored(conversation), event, ctx)
            log.info(
                "handled event",
                extra={"patient_id": patient.id, "event": type(event).__name__,
                       "from_state": conversation.state, "to_state": result.state},
            )  # fmt: skip
            await self._milestones(session, patient, conversation.state, result, now)
            forgetting = await record_effects(
                session, patient, result, self.settings, self.listener, now, self.messages
            )
            replies = result.replies
            if inbound.crisis_answered:  # it went out already, straight away
                replies = [r for r in replies if not _is_crisis_reply(r)]
            outbox_ids = await self.replies.write(
                session, inbound.channel, inbound.chat_id, conversation, replies,
                reference=result.control.case_reference, now=now, prompt=prompt,
                tapped=isinstance(event, Button),
            )  # fmt: skip
            if forgetting == "erased":
                pass  # they asked: everything about them is gone already
            elif (forgetting == "forget" or result.state == "new") and not await has_urgent_case(
                session, patient.id
            ):
                # Nothing of theirs is kept: not even that they talked to us. (An
                # urgent case is kept: vital interests come before consent.)
                await delete_patient(session, patient)
            else:
                await save_conversation(session, conversation, result, now)
            notice = self._tap_notice(result.tap_notice)
            if then is not None:
                await then(session)
        if forgetting != "kept" or any(isinstance(e, ForgetPatient) for e in result.effects):
            await self.db.checkpoint()  # what was erased lingers nowhere on disk
        return Handled(tap_notice=notice, outbox_ids=outbox_ids)

    async def privacy_sweep(self, *, dry_run: bool = False) -> int:
        """Erase whoever's data is due to go (retention, or a deletion they asked
        for once their safety alert is seen). Returns how many were erased."""
        return len(await sweep(self.db, self.settings, self.listener, self.clock(),
                               dry_run=dry_run))  # fmt: skip

    def _tap_notice(self, tap_notice: str | None) -> str | None:
        if not tap_notice:
            return None
        return html_to_text(self.messages.render(f"referral/{tap_notice}_tap"))

    async def _milestones(
        self,
        session: AsyncSession,
        patient: Patient,
        before: str,
        result: FlowResult[referral.ReferralControl],
        now: datetime,
    ) -> None:
        """How far their journey went, for the outcomes report (anonymous): started,
        and finished (every question answered, whether or not they wanted contact)."""
        if before == "new" and result.state != "new":
            await milestones.record(session, patient.journey, "started", now)
        # (A handoff records it with the case: bot/patients/effects.py.)
        finished = result.state == "finished" and before != "finished"
        if finished and not await milestones.reached(session, patient.journey, "finished"):
            await milestones.record(session, patient.journey, "finished", now)

    async def read_meaning(self, text: str | None) -> Meaning | None:
        """What the meaning screen reads in `text` (None: no text, no screen, or it
        failed, when the rules still run)."""
        if self.meaning is None or not text or not text.strip():
            return None
        try:
            return await asyncio.to_thread(self.meaning.read, text)
        except Exception as exc:
            # By its kind only: an exception's text could carry their words (rule 6).
            log.warning("meaning screen failed; the rules alone screened this message",
                        extra={"error": type(exc).__name__})  # fmt: skip
            return None

    async def talking_with_worker(
        self, session: AsyncSession, patient_id: int, now: datetime
    ) -> None:
        """A link worker is now talking with this patient (bot/staff calls this in its
        own transaction): the referral flow moves them on, so their next words go to
        the worker and are not taken as the answer to an unfinished question."""
        conversation = await conversation_for_update(session, patient_id)
        if conversation is None:
            return
        ctx = await self._context(session, now, None, conversation, None)
        result = referral.handle(stored(conversation), WorkerTookOver(), ctx)
        if (result.state, result.step) != (conversation.state, conversation.step):
            log.info("link worker took over", extra={"patient_id": patient_id})
            await save_conversation(session, conversation, result, now)

    async def where_they_are(self, channel: str, chat_id: int) -> str:
        """The state of their referral conversation ("new" when nothing is held)."""
        async with self.db.reading() as session:
            return await conversation_state(session, channel, chat_id) or "new"

    async def not_handled(self, channel: str, chat_id: int) -> None:
        """A message of theirs could not be handled, however often it was tried (a
        fault of ours): tell them, once, and tell the team, without its content."""
        async with self.db.transaction() as session:
            now = self.clock()
            patient = await find_patient(session, channel, chat_id)
            case = await latest_case(session, patient.id) if patient is not None else None
            Outbox(session, channel, chat_id, now).send(
                self.messages.render("referral/not_handled"), urgent=True
            )
            await self.listener.message_not_handled(session, case, now)

    async def tell_group(self, chat_id: int) -> None:
        """Someone wrote to the bot in a group: health information does not belong
        there, so ask them to message privately."""
        async with self.db.transaction() as session:
            text = self.messages.render("referral/group_chat")
            Outbox(session, "telegram", chat_id, self.clock()).send(text)

    async def _away(
        self, session: AsyncSession, case: Case, now: datetime
    ) -> tuple[date | None, str | None]:
        """When their link worker is away: the day they are back, and who covers."""
        holder = await active_holder(session, case.link_worker_id)
        today = now.astimezone(self.settings.zone).date()
        if case.status == "closed" or holder is None or holder.away_until is None:
            return None, None
        if not holder.away_on(today):
            return None, None
        cover = await cover_for(session, holder, today)
        return back_on(holder.away_until, self.settings), cover.name if cover else None

    async def _context(
        self,
        session: AsyncSession,
        now: datetime,
        first_name: str | None,
        conversation: Conversation,
        case: Case | None,
        alert: SafetyAlert | None = None,
    ) -> referral.FlowContext:
        """`alert`: the case's newest safety alert (a new one is raised only when none
        is unseen, so the newest says whether one is waiting to be seen)."""
        view = None
        if case is not None:
            holder = await worker_name(session, case.link_worker_id)
            flagged = case.urgent and alert is not None and alert.seen_at is None
            view = referral.CaseView(case.reference, case.status, holder, flagged,
                                     case.summary.about_the_person.contact_method,
                                     *await self._away(session, case, now))  # fmt: skip
        return referral.FlowContext(
            directory=self.directory(),
            label_of=self.replies.label_of,
            now=now,
            first_name=first_name,
            case=view,
            last_seen=conversation.updated_at if conversation.state != "new" else None,
            service_area=self.settings.service_districts,
        )


def _free_text(event: Event) -> str | None:
    """The words in an event that are screened: typed text, an edit, a caption."""
    return event.text if isinstance(event, Text | Edited | Unsupported) else None


def screened(event: Event, *, after_alert: bool = False, meaning: Meaning | None = None) -> Event:
    """Safety runs first: crisis language in any free text (a photo's caption too)
    becomes a Crisis; in typed text, a sign short of a crisis is passed on with it.
    `after_alert`: they raised an alert a short while ago (a follow-up counts);
    `meaning`: what the meaning screen read in the same text."""
    if not isinstance(event, Text | Edited | Unsupported) or not event.text:
        return event
    screening = safety.screen(event.text, after_alert=after_alert, meaning=meaning)
    if not screening.is_crisis:
        if screening.concern and isinstance(event, Text):
            log.info("a sign short of a crisis", extra={"concern": screening.concern})
            return Text(event.text, concern=screening.concern)
        return event
    assert screening.category is not None
    log.warning("crisis language", extra={"category": screening.category})
    return Crisis(screening.category, event.text, tuple(screening.reasons))


def _question_shown(prompt: OutboxMessage | None) -> dict[str, Any]:
    """Whether the question they are on has gone out yet, and when it appeared."""
    if prompt is None or prompt.payload.get("closed"):
        return {}
    unsent = prompt.sent_at is None and prompt.leased_by is None and prompt.attempts == 0
    return {"question_unsent": unsent and prompt.failed_reason is None,
            "question_shown_at": prompt.shown_at}  # fmt: skip


def _is_crisis_reply(reply: Reply | CloseQuestion) -> bool:
    return isinstance(reply, Reply) and reply.template.startswith("safety/")


def stored(conversation: Conversation) -> referral.Conversation:
    """The stored conversation as the flow sees it (a copy: the flow returns changes)."""
    return referral.Conversation(
        conversation.state, conversation.step, dict(conversation.answers), conversation.control
    )
