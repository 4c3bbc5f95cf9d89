"""One link worker's action, inside its transaction, and the tools every handler
shares: saying things privately, buttons, finding a case, and moving it.

A case moves by asking `flows.case` whether this worker may do this to it, then
applying the answer only if nobody moved the case since it was read
(`bot.store.cases.move_case`); the loser of a race is told who has it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import Messages, html_to_text
from bot.staff.cards import TeamCards
from bot.store import milestones
from bot.store.cases import Case, SafetyAlert, case_by_reference, move_case, normalise_reference
from bot.store.outbox import ButtonSpec, Keyboard, Outbox
from bot.store.patients import patient_by_id
from bot.store.staff import LinkWorker, worker_name
from bot.taps import StaffTap, button
from flows import case as case_life
from flows.core import Event
from flows.directory import Directory

log = logging.getLogger(__name__)


class Conversations(Protocol):
    """The patient side, as the staff side may move it (bot.patients implements it;
    bot.app wires it in, so neither side imports the other)."""

    async def talking_with_worker(
        self, session: AsyncSession, patient_id: int, now: datetime
    ) -> None: ...


@dataclass(frozen=True)
class StaffInbound:
    """Something a person did that may be a link worker's action."""

    user_id: int
    chat_id: int
    private: bool
    event: Event | StaffTap
    update_id: int | None = None
    first_name: str | None = None
    #: The bot's message a tapped button is on (lists page in place).
    message_id: int | None = None
    #: The bot's message this one answers (Telegram's reply-to), if any.
    reply_to: int | None = None


@dataclass(frozen=True)
class Team:
    """What every handler may use, built once per process."""

    messages: Messages
    settings: Settings
    cards: TeamCards
    directory: Callable[[], Directory]
    conversations: Conversations


@dataclass
class Act:
    """One worker's action, within its transaction."""

    team: Team
    session: AsyncSession
    worker: LinkWorker
    inbound: StaffInbound
    now: datetime
    me: Outbox  # the worker's private chat
    #: Plain text for the tap itself (Telegram shows it on the phone), if any.
    notice: str | None = None
    #: The away colleagues whose cases this worker covers today (bot/staff/away.py).
    covers: frozenset[int] = frozenset()

    @property
    def actor(self) -> case_life.Actor:
        return case_life.Actor(self.worker.id, self.worker.role, self.covers)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.team.settings.zone).date()

    @property
    def tapped(self) -> bool:
        return isinstance(self.inbound.event, StaffTap)

    @property
    def private(self) -> bool:
        return self.inbound.private

    # --- saying things ------------------------------------------------------------------
    def say(self, template: str, *, buttons: Keyboard | None = None, **context: Any) -> None:
        """To the worker, privately (in parts, if it is long)."""
        self.send(self.team.messages.render(template, **context), buttons or [])

    def send(self, text: str, buttons: Keyboard) -> None:
        """Rendered text to the worker, privately (in parts, if it is long)."""
        self.me.send(text, buttons)

    def toast(self, what: str, **context: Any) -> str:
        return html_to_text(self.team.messages.render("staff/toast", what=what, **context))

    def button(
        self, label: str, verb: str, ref: str = "", arg: str = "", **context: Any
    ) -> ButtonSpec:
        """A button labelled from buttons.yaml (`context` fills the label) that
        taps `verb` on case `ref` with `arg`."""
        return button(self.team.messages.label(label, **context), StaffTap(verb, ref, arg))

    def nav(self) -> Keyboard:
        return [[self.button("staff_queue", "queue"), self.button("staff_mine", "mine")]]

    def case_buttons(self, case: Case, alerts: list[SafetyAlert] | None = None) -> Keyboard:
        """What this worker may do to this case now, as buttons."""
        ref = case.reference

        def allowed(action: case_life.Action) -> bool:
            return case_life.decide(case.status, case.link_worker_id, self.actor, action).allowed

        def b(key: str, verb: str) -> ButtonSpec:
            return self.button(key, verb, ref, reference=ref)

        rows: Keyboard = []
        if allowed("claim"):
            rows.append([b("staff_claim", "claim")])
        if allowed("reply"):
            rows.append([b("staff_reply", "reply"), b("staff_note", "note")])
            rows.append([b("staff_refer", "refer"), b("staff_close", "close")])
        elif allowed("note"):
            rows.append([b("staff_note", "note")])
        if allowed("release"):
            row = [b("staff_release", "release")]
            if allowed("assign"):
                row.append(b("staff_assign", "assign"))
            rows.append(row)
        if allowed("reopen"):
            rows.append([b("staff_reopen", "reopen")])
        if alerts and any(a.seen_at is None for a in alerts):
            rows.insert(0, [b("alert_seen", "seen")])
        return rows + self.nav()

    def tell_worker(
        self,
        worker: LinkWorker,
        template: str,
        case: Case,
        *,
        buttons: Keyboard | None = None,
        **context: Any,
    ) -> None:
        """A message about a case to another worker, privately (it may name the patient)."""
        text = self.team.messages.render(template, reference=case.reference, **context)
        Outbox(self.session, "telegram", worker.telegram_id, self.now, about=case.reference).send(
            text, buttons or []
        )

    async def tell_patient(
        self, case: Case, template: str, *, worker: str | None = None, **context: Any
    ) -> bool:
        """A message to the patient, through the outbox, from this worker (or as
        `worker` names). False if they blocked the bot."""
        patient = await patient_by_id(self.session, case.patient_id)
        if patient is None or patient.blocked_at is not None:
            return False
        text = self.team.messages.render(
            template, worker=worker or self.worker.name, reference=case.reference, **context
        )
        Outbox(self.session, patient.channel, patient.chat_id, self.now).send(text)
        return True

    async def milestone(self, case: Case, step: str, *, once: bool = False, **detail: Any) -> None:
        """The case's journey reached `step`, for the outcomes report (nothing that
        names them: bot/store/milestones.py). `once`: only the first time, per case."""
        patient = await patient_by_id(self.session, case.patient_id)
        if patient is None:
            return
        if once and await milestones.reached(self.session, patient.journey, step, case.reference):
            return
        await milestones.record(self.session, patient.journey, step, self.now,
                                reference=case.reference, **detail)  # fmt: skip

    # --- cases --------------------------------------------------------------------------
    async def find(self, reference: str) -> Case | None:
        """The case, locked for this transaction on PostgreSQL; or say there is none."""
        case = await case_by_reference(self.session, reference, lock=True)
        if case is None:
            self.say("staff/no_such_case", reference=normalise_reference(reference))
        return case

    def may(self, case: Case, action: case_life.Action) -> case_life.Decision:
        return case_life.decide(case.status, case.link_worker_id, self.actor, action)

    async def allowed(self, case: Case, action: case_life.Action) -> bool:
        """Whether they may do this to the case now; if not, they are told why."""
        decision = self.may(case, action)
        if not decision.allowed:
            await self.refuse(case, decision)
        return decision.allowed

    async def move(self, case: Case, action: case_life.Action) -> case_life.Decision:
        """Decide with flows.case, then apply it only if nobody moved the case since."""
        decision = self.may(case, action)
        if not decision.allowed:
            await self.refuse(case, decision)
            return decision
        if (decision.status, decision.holder_id) == (case.status, case.link_worker_id):
            return decision
        if not await move_case(self.session, case, decision.status, decision.holder_id):
            # Someone else got there first (only possible without a row lock).
            log.info("case moved by someone else first", extra={"case_id": case.id})
            refused = self.may(case, action)
            if refused.allowed:  # moved and back again: still refuse, it changed under us
                refused = case_life.Decision(False, case.status, case.link_worker_id, "taken")
            await self.refuse(case, refused)
            return refused
        return decision

    async def refuse(self, case: Case, decision: case_life.Decision) -> None:
        holder = await worker_name(self.session, case.link_worker_id)
        log.info("staff action refused", extra={"case_id": case.id, "reason": decision.refusal})
        context: dict[str, Any] = {"reason": decision.refusal, "reference": case.reference,
                                   "holder": holder, "mine": case.link_worker_id == self.worker.id}  # fmt: skip
        if self.tapped:
            self.notice = self.toast("refused", **context)
        if self.private:
            self.say("staff/refused", **context)
