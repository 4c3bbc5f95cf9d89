"""Use cases for patients: turn one inbound message into one transaction.

`PatientService.handle` dedupes the update, loads (and on PostgreSQL locks) the
patient's conversation, runs the flow, records its effects, and writes the replies
to the outbox, all in one commit (ARCHITECTURE.md rule 1). It never sends anything
itself: `bot.delivery` does, so a crash after the commit loses nothing.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot import safety
from bot.config import Settings
from bot.messages import Messages, html_to_text
from bot.staff.models import LinkWorker
from bot.store import Database
from bot.store.models import (
    Case,
    CaseEntry,
    Consent,
    Conversation,
    OutboxMessage,
    Patient,
    ProcessedUpdate,
    SafetyAlert,
    WellbeingScore,
    utcnow,
)
from flows import referral
from flows.core import (
    AddToCase,
    CloseQuestion,
    Crisis,
    Edited,
    Effect,
    Event,
    ForgetPatient,
    OpenCase,
    Option,
    RaiseSafetyAlert,
    RecordConsent,
    RecordWellbeing,
    Reply,
    Text,
)
from flows.directory import Directory

log = logging.getLogger(__name__)

REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud safely


@dataclass(frozen=True)
class Inbound:
    """One thing a person did, as any adapter (Telegram, terminal) reports it."""

    channel: str
    chat_id: int
    event: Event
    update_id: int | None = None
    first_name: str | None = None


class CaseListener(Protocol):
    """The link worker side, told about a case within the patient's transaction
    (bot/staff/notices.py): new cases, messages after the handoff, safety alerts."""

    async def case_opened(self, session: AsyncSession, case: Case, now: datetime) -> None: ...

    async def case_updated(self, session: AsyncSession, case: Case, now: datetime) -> None: ...

    async def patient_wrote(
        self, session: AsyncSession, case: Case, text: str, edited: bool, now: datetime
    ) -> None: ...

    async def alert_raised(
        self, session: AsyncSession, case: Case, alert: SafetyAlert, now: datetime
    ) -> None: ...

    def alert_buttons(self, case: Case) -> list[list[dict[str, str]]]: ...


@dataclass
class Handled:
    duplicate: bool = False
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
    ) -> None:
        self.db = db
        self.messages = messages
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self.listener = listener

    async def handle(self, inbound: Inbound) -> Handled:
        async with self.db.transaction() as session:
            if inbound.update_id is not None and not await self._first_delivery(
                session, inbound.update_id
            ):
                log.info("duplicate update", extra={"update_id": inbound.update_id})
                return Handled(duplicate=True)
            event = self._screened(inbound.event)
            patient = await self._patient(session, inbound)
            conversation = patient.conversation
            now = self.clock()
            ctx = referral.FlowContext(
                directory=self.directory(),
                label_of=self._label_of,
                now=now,
                first_name=inbound.first_name,
                case=await self._case_view(session, patient.id),
                last_seen=conversation.updated_at if conversation.state != "new" else None,
            )
            result = referral.handle(
                referral.Conversation(
                    conversation.state, conversation.step, dict(conversation.answers)
                ),
                event,
                ctx,
            )
            log.info(
                "handled event",
                extra={"patient_id": patient.id, "event": type(event).__name__,
                       "from_state": conversation.state, "to_state": result.state},
            )  # fmt: skip
            forgotten = await self._apply(session, patient, result.answers, result.effects)
            outbox_ids = await self._write_replies(
                session, inbound, conversation, result.replies, result.answers
            )
            if (forgotten or result.state == "new") and not await self._has_urgent_case(
                session, patient.id
            ):
                # Nothing of theirs is kept: not even that they talked to us. (An
                # urgent case is kept: vital interests come before consent.)
                await session.delete(patient)
            else:
                conversation.state = result.state
                conversation.step = result.step
                conversation.answers = result.answers
                conversation.updated_at = now
            notice = None
            if result.tap_notice:
                notice = html_to_text(self.messages.render(f"referral/{result.tap_notice}_tap"))
            return Handled(tap_notice=notice, outbox_ids=outbox_ids)

    def _screened(self, event: Event) -> Event:
        """Safety runs first: crisis language in any free text becomes a Crisis."""
        if not isinstance(event, Text | Edited):
            return event
        screening = safety.screen(event.text)
        if not screening.is_crisis:
            return event
        assert screening.category is not None
        log.warning("crisis language", extra={"category": screening.category})
        return Crisis(screening.category, event.text, tuple(screening.reasons))

    async def _has_urgent_case(self, session: AsyncSession, patient_id: int) -> bool:
        query = select(Case.id).where(Case.patient_id == patient_id, Case.urgent.is_(True))
        return (await session.execute(query)).first() is not None

    # --- loading -------------------------------------------------------------------
    async def _first_delivery(self, session: AsyncSession, update_id: int) -> bool:
        insert = pg_insert if not self.db.is_sqlite else sqlite_insert
        stmt = insert(ProcessedUpdate).values(update_id=update_id, processed_at=self.clock())
        result = await session.execute(stmt.on_conflict_do_nothing())
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _patient(self, session: AsyncSession, inbound: Inbound) -> Patient:
        query = (
            select(Patient)
            .where(Patient.channel == inbound.channel, Patient.chat_id == inbound.chat_id)
            .options(selectinload(Patient.conversation))
        )
        if self.db.locks_rows:
            query = query.with_for_update(of=Patient)
        patient = (await session.execute(query)).scalar_one_or_none()
        if patient is None:
            # First message. ON CONFLICT: their second message may be racing this one.
            insert = pg_insert if not self.db.is_sqlite else sqlite_insert
            await session.execute(
                insert(Patient)
                .values(channel=inbound.channel, chat_id=inbound.chat_id, created_at=self.clock())
                .on_conflict_do_nothing()
            )
            patient = (await session.execute(query)).scalar_one()
        if patient.conversation is None:
            patient.conversation = Conversation(
                state="new", step=0, answers={}, updated_at=self.clock()
            )
            session.add(patient.conversation)
        return patient

    async def _case_view(self, session: AsyncSession, patient_id: int) -> referral.CaseView | None:
        case = await latest_case(session, patient_id)
        if case is None:
            return None
        worker = await session.get(LinkWorker, case.link_worker_id) if case.link_worker_id else None
        return referral.CaseView(case.reference, case.status, worker.name if worker else None)

    # --- effects -------------------------------------------------------------------
    async def _apply(
        self,
        session: AsyncSession,
        patient: Patient,
        answers: dict[str, Any],
        effects: Sequence[Effect],
    ) -> bool:
        """Record what the flow decided. Returns True if the patient is to be forgotten."""
        forgotten = False
        for effect in effects:
            match effect:
                case RecordConsent(notice_version=version):
                    session.add(
                        Consent(
                            patient_id=patient.id, notice_version=version, given_at=self.clock()
                        )
                    )
                case RecordWellbeing(context=context, scores=scores):
                    session.add(WellbeingScore(patient_id=patient.id, context=context,
                                               measured_at=self.clock(), **scores))  # fmt: skip
                case OpenCase(summary=summary):
                    current = await latest_case(session, patient.id)
                    if current is not None and current.status != "closed":
                        # Opened earlier by a safety alert: the referral completes it.
                        current.summary = {
                            **summary,
                            "opened_because": current.summary.get("opened_because"),
                        }
                        session.add(
                            CaseEntry(
                                case_id=current.id,
                                kind="event",
                                text="referral completed",
                                at=self.clock(),
                            )
                        )
                        if self.listener is not None:  # the team card now has more to show
                            await self.listener.case_updated(session, current, self.clock())
                        opened = current
                    else:
                        opened = await self._open_case(session, patient, summary)
                    answers["case_reference"] = opened.reference
                case AddToCase(text=text, edited=edited):
                    case = await latest_case(session, patient.id)
                    if case is not None:
                        kind = "patient_message_edited" if edited else "patient_message"
                        session.add(
                            CaseEntry(case_id=case.id, kind=kind, text=text, at=self.clock())
                        )
                        log.info("patient message kept on case", extra={"case_id": case.id})
                        if self.listener is not None:
                            await self.listener.patient_wrote(
                                session, case, text, edited, self.clock()
                            )
                case RaiseSafetyAlert(category=category, text=text, reasons=reasons):
                    await self._raise_alert(session, patient, answers, category, text, reasons)
                case ForgetPatient(reason=reason):
                    # What we already sent them quotes their name and words: forget it too.
                    # (Unsent rows stay: the goodbye must still reach them.)
                    await session.execute(
                        delete(OutboxMessage).where(
                            OutboxMessage.channel == patient.channel,
                            OutboxMessage.chat_id == patient.chat_id,
                            OutboxMessage.sent_at.is_not(None),
                        )
                    )
                    if reason == "restart":
                        await session.execute(
                            delete(Consent).where(Consent.patient_id == patient.id)
                        )
                        await session.execute(
                            delete(WellbeingScore).where(WellbeingScore.patient_id == patient.id)
                        )
                        log.info("answers forgotten on restart", extra={"patient_id": patient.id})
                    else:
                        forgotten = True
                        log.info(
                            "patient forgotten", extra={"patient_id": patient.id, "reason": reason}
                        )
        return forgotten

    async def _raise_alert(
        self,
        session: AsyncSession,
        patient: Patient,
        answers: dict[str, Any],
        category: str,
        text: str,
        reasons: tuple[str, ...],
    ) -> None:
        """Flag the case urgent, first in the queue; tell the team once per open alert."""
        now = self.clock()
        case = await latest_case(session, patient.id)
        if case is None or case.status == "closed":
            # Only what is needed: who (the chat, to reach them) and why.
            summary = referral.case_summary(answers)
            summary["opened_because"] = "crisis language"
            case = await self._open_case(session, patient, summary)
            answers.setdefault("case_reference", case.reference)
        case.urgent = True
        session.add(CaseEntry(case_id=case.id, kind="crisis_message", text=text, at=now))
        session.add(
            CaseEntry(case_id=case.id, kind="safety_screening", at=now,
                      text=f"{category}: " + "; ".join(reasons))
        )  # fmt: skip
        alert = (
            await session.execute(
                select(SafetyAlert)
                .where(SafetyAlert.case_id == case.id, SafetyAlert.seen_at.is_(None))
                .order_by(SafetyAlert.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        out_of_hours = not self.settings.is_working_time(now)
        escalated = False
        if alert is None:
            alert = SafetyAlert(case_id=case.id, category=category, first_at=now, last_at=now,
                                count=1, out_of_hours=out_of_hours)  # fmt: skip
            session.add(alert)
        else:
            alert.count += 1
            alert.last_at = now
            alert.out_of_hours = alert.out_of_hours or out_of_hours
            if safety.more_serious(category, than=alert.category):
                alert.category = category
                escalated = True
        log.warning(
            "safety alert", extra={"case_id": case.id, "category": category, "count": alert.count}
        )
        if self.listener is not None:
            await self.listener.alert_raised(session, case, alert, now)
        if self.settings.staff_chat_id is None:
            return
        buttons = self.listener.alert_buttons(case) if self.listener is not None else []
        card = self.messages.render(
            "staff/safety_alert", case=case, alert=alert, zone=self.settings.zone
        )
        team = Outbox(session, "telegram", self.settings.staff_chat_id, now)
        previous = await session.get(OutboxMessage, alert.outbox_id) if alert.outbox_id else None
        if previous is not None and escalated:
            # More serious than before: Telegram does not notify anyone of an edit, so
            # the old card points on and a new one goes out.
            team.edit(
                previous, self.messages.render("staff/safety_alert_superseded", case=case), []
            )
            previous = None
        if previous is not None:
            team.edit(previous, card, buttons)
        else:
            row = team.send(card, buttons, urgent=True)
            await session.flush()
            alert.outbox_id = row.id

    async def _open_case(
        self, session: AsyncSession, patient: Patient, summary: dict[str, Any]
    ) -> Case:
        while True:
            reference = "SP-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(4))
            if (
                await session.execute(select(Case.id).where(Case.reference == reference))
            ).first() is None:
                break
        case = Case(reference=reference, patient_id=patient.id, status="waiting",
                    opened_at=self.clock(), summary=summary)  # fmt: skip
        session.add(case)
        await session.flush()
        session.add(CaseEntry(case_id=case.id, kind="event", text="opened", at=self.clock()))
        # The baseline was measured just before the handoff: it belongs to this case.
        await session.execute(
            update(WellbeingScore)
            .where(WellbeingScore.patient_id == patient.id, WellbeingScore.case_id.is_(None))
            .values(case_id=case.id)
        )
        log.info("case opened", extra={"case_id": case.id, "patient_id": patient.id})
        if self.listener is not None:
            await self.listener.case_opened(session, case, self.clock())
        return case

    # --- replies -------------------------------------------------------------------
    async def _write_replies(
        self,
        session: AsyncSession,
        inbound: Inbound,
        conversation: Conversation,
        replies: Sequence[Reply | CloseQuestion],
        answers: dict[str, Any],
    ) -> list[int]:
        outbox = Outbox(session, inbound.channel, inbound.chat_id, self.clock())
        prompt = (
            await session.get(OutboxMessage, conversation.prompt_outbox_id)
            if conversation.prompt_outbox_id
            else None
        )
        for reply in replies:
            if isinstance(reply, CloseQuestion):
                if prompt is not None:
                    chosen = self.messages.render(
                        "referral/closed",
                        chosen=self._label(reply.chosen_label, reply.chosen_context),
                    )
                    outbox.close_prompt(prompt, chosen)
                continue
            context = {"reference": answers.get("case_reference"), **reply.context}
            text = self.messages.render(reply.template, **context)
            buttons = self._keyboard(reply)
            if reply.mode == "update" and prompt is not None:
                outbox.edit(prompt, text, buttons)
                continue
            if buttons and prompt is not None:
                outbox.close_prompt(prompt)  # an older keyboard must not mislead
            row = outbox.send(text, buttons, urgent=reply.template.startswith("safety/"))
            if buttons:
                await session.flush()
                prompt = row
                conversation.prompt_outbox_id = row.id
        await session.flush()
        return [row.id for row in outbox.rows]

    def _keyboard(self, reply: Reply) -> list[list[dict[str, str]]]:
        if not reply.options:
            return []
        buttons = [
            {"text": self._option_label(option), "data": f"{reply.step}:{option.value}"}
            for option in reply.options
        ]
        return [buttons[i : i + reply.columns] for i in range(0, len(buttons), reply.columns)]

    def _option_label(self, option: Option) -> str:
        label = self._label(option.label, option.label_context)
        return self.messages.label("ticked_option", label=label) if option.ticked else label

    def _label(self, key: str, context: dict[str, Any]) -> str:
        return self.messages.label(key, **context)

    def _label_of(self, option: Option) -> str:
        return self._label(option.label, option.label_context)


class Outbox:
    """Writes outgoing messages for one chat within the current transaction."""

    def __init__(self, session: AsyncSession, channel: str, chat_id: int, now: datetime) -> None:
        self.session = session
        self.channel = channel
        self.chat_id = chat_id
        self.now = now
        self.rows: list[OutboxMessage] = []

    def send(
        self, text: str, buttons: list[list[dict[str, str]]] | None = None, *, urgent: bool = False
    ) -> OutboxMessage:
        """`urgent`: a crisis reply or alert, which delivery never gives up on."""
        payload: dict[str, Any] = {"text": text, "buttons": buttons or []}
        if urgent:
            payload["urgent"] = True
        return self._add("send", payload)

    def edit(self, target: OutboxMessage, text: str, buttons: list[list[dict[str, str]]]) -> None:
        target.payload = {**target.payload, "text": text, "buttons": buttons}
        self._add("edit", {"text": text, "buttons": buttons}, target_id=target.id)

    def close_prompt(self, prompt: OutboxMessage, chosen: str | None = None) -> None:
        """Take the buttons off a question (once), showing what was chosen."""
        if prompt.payload.get("closed") or not prompt.payload.get("buttons"):
            return
        text = prompt.payload["text"] + (f"\n\n{chosen}" if chosen else "")
        prompt.payload = {**prompt.payload, "closed": True}
        self._add("edit", {"text": text, "buttons": []}, target_id=prompt.id)

    def _add(
        self, action: str, payload: dict[str, Any], target_id: int | None = None
    ) -> OutboxMessage:
        row = OutboxMessage(channel=self.channel, chat_id=self.chat_id, action=action, target_id=target_id,
                            payload=payload, created_at=self.now, next_attempt_at=self.now)  # fmt: skip
        self.session.add(row)
        self.rows.append(row)
        return row


async def latest_case(session: AsyncSession, patient_id: int) -> Case | None:
    query = select(Case).where(Case.patient_id == patient_id).order_by(Case.id.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()
