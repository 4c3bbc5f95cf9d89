"""Use cases for link workers: one staff update, one transaction.

`StaffService.handle` first asks the database whether the person is an active link
worker. If they are not, it returns None and touches nothing, so the adapter gives
them the ordinary patient reply: nothing reveals that staff commands exist. If they
are, it dedupes the update and does what they asked, checking what the case's life
(`flows.case`) allows them, and writes every message (to the worker, the patient
and the team chat) to the outbox in the same commit.

Moves of a case are applied with a conditional UPDATE on the status and holder they
were decided from, so when two workers claim at once exactly one wins, on SQLite
and PostgreSQL alike; the other is told who has it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.config import Settings
from bot.messages import Messages, html_to_text
from bot.service import REFERENCE_ALPHABET, Outbox
from bot.staff.cards import Keyboard, TeamCards, tap_data
from bot.staff.hours import working_days_after, working_seconds_between
from bot.staff.models import LinkWorker, Referral, StaffInvite
from bot.staff.records import (
    active_worker,
    audit,
    case_by_reference,
    district,
    first_delivery,
    invite_hash,
    load_case_file,
    normalise_reference,
    worker_name,
)
from bot.staff.split import split_html
from bot.store import Database
from bot.store.models import (
    Case,
    CaseEntry,
    Conversation,
    OutboxMessage,
    Patient,
    SafetyAlert,
    utcnow,
)
from flows import case as case_life
from flows.core import Command, Edited, Event, Text
from flows.directory import Directory, Profile
from flows.wellbeing import MEASURES, band

log = logging.getLogger(__name__)

PAGE_SIZE = 5
SEARCH_RESULTS = 5
#: A worker's text goes to the patient in one message, with room for "Sam, your link worker:".
REPLY_LIMIT = 3500
#: "Type your reply" is forgotten after this long: a message typed much later is not
#: sent to a patient by surprise.
PENDING_FOR = timedelta(hours=1)
#: Commands a worker can type. Anyone else typing them gets the patient reply.
COMMANDS = ("queue", "mine", "case", "claim", "release", "reopen", "reply", "note",
            "refer", "close", "done", "cancel", "join")  # fmt: skip
#: Buttons that work in the team chat; every other one only in a private chat.
TEAM_CHAT_TAPS = ("claim", "seen")


@dataclass(frozen=True)
class StaffTap:
    """A tap on a staff button (callback data "s:<verb>:<reference>:<arg>")."""

    verb: str
    reference: str = ""
    arg: str = ""

    @classmethod
    def parse(cls, data: str) -> StaffTap | None:
        prefix, _, rest = data.partition(":")
        if prefix != "s" or not rest:
            return None
        verb, _, rest = rest.partition(":")
        reference, _, arg = rest.partition(":")
        return cls(verb, reference, arg)


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


@dataclass
class StaffHandled:
    duplicate: bool = False
    #: Plain text for the tap itself (answerCallbackQuery), if any.
    tap_notice: str | None = None


@dataclass
class _Act:
    """One worker's action, within its transaction."""

    session: AsyncSession
    worker: LinkWorker
    inbound: StaffInbound
    now: datetime
    me: Outbox  # the worker's private chat
    notice: str | None = None

    @property
    def actor(self) -> case_life.Actor:
        return case_life.Actor(self.worker.id, self.worker.role)

    @property
    def tapped(self) -> bool:
        return isinstance(self.inbound.event, StaffTap)


class StaffService:
    def __init__(
        self,
        db: Database,
        messages: Messages,
        directory: Callable[[], Directory],
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.messages = messages
        self.directory = directory
        self.settings = settings
        self.clock = clock
        self.cards = TeamCards(messages, settings)

    # --- the way in ------------------------------------------------------------------
    async def handle(self, inbound: StaffInbound) -> StaffHandled | None:
        """Handle a link worker's update, or return None (having changed nothing) if
        this is not one: the person is not an active worker, or it is not ours."""
        async with self.db.transaction() as session:
            now = self.clock()
            worker = await active_worker(session, inbound.user_id, lock=self.db.locks_rows)
            event = inbound.event
            if worker is None:
                if inbound.private and isinstance(event, Command) and event.name == "join":
                    return await self._join(session, inbound, event.args, now)
                return None
            if not inbound.private and not (
                isinstance(event, StaffTap)
                and event.verb in TEAM_CHAT_TAPS
                and inbound.chat_id == self.settings.staff_chat_id
            ):
                return None  # the team chat's own conversation is not for us
            if inbound.update_id is not None and not await first_delivery(
                session, self.db, inbound.update_id, now
            ):
                return StaffHandled(duplicate=True)
            act = _Act(
                session, worker, inbound, now, Outbox(session, "telegram", worker.telegram_id, now)
            )
            if isinstance(event, StaffTap):
                await self._tap(act, event)
            elif isinstance(event, Command):
                await self._command(act, event)
            elif isinstance(event, Text):
                await self._text(act, event.text)
            elif isinstance(event, Edited):
                self._say(act, "staff/edited")
            else:
                self._say(act, "staff/only_text")
            log.info("staff action", extra={"link_worker_id": worker.id,
                                            "event": type(event).__name__})  # fmt: skip
            return StaffHandled(tap_notice=act.notice)

    async def _command(self, act: _Act, command: Command) -> None:
        name, args = command.name, command.args.strip()
        first, _, rest = args.partition(" ")
        if name in ("start", "help"):
            await self._home(act)
        elif name == "queue":
            await self._queue(act, int(first) if first.isdigit() else 1)
        elif name == "mine":
            await self._mine(act, int(first) if first.isdigit() else 1)
        elif name == "cancel":
            act.worker.pending = {}
            self._say(act, "staff/done", what="cancelled")
        elif name == "join":
            self._say(act, "staff/joined", worker=act.worker, again=True)
        elif name not in COMMANDS:
            self._say(act, "staff/unknown_command", command=name)
        elif not first:
            self._say(act, "staff/needs_reference", command=name)
        else:
            case = await self._find(act, first)
            if case is not None:
                await self._on_case(act, name, case, rest.strip())

    async def _tap(self, act: _Act, tap: StaffTap) -> None:
        if tap.verb == "home":
            await self._home(act)
        elif tap.verb == "queue":
            await self._queue(act, int(tap.arg) if tap.arg.isdigit() else 1)
        elif tap.verb == "mine":
            await self._mine(act, int(tap.arg) if tap.arg.isdigit() else 1)
        elif tap.verb == "cancel":
            act.worker.pending = {}
            self._say(act, "staff/done", what="cancelled")
        else:
            case = await self._find(act, tap.reference)
            if case is not None:
                await self._on_case(act, tap.verb, case, tap.arg, tapped=True)

    async def _on_case(
        self, act: _Act, verb: str, case: Case, arg: str, *, tapped: bool = False
    ) -> None:
        if verb in ("case", "open"):
            await self._view(act, case)
        elif verb == "claim":
            await self._claim(act, case)
        elif verb == "release":
            await self._release(act, case)
        elif verb == "reopen":
            await self._reopen(act, case)
        elif verb in ("reply", "note"):
            if arg and not tapped:
                await (
                    self._reply(act, case, arg) if verb == "reply" else self._note(act, case, arg)
                )
            else:
                await self._ask_for(act, case, verb)
        elif verb == "refer":
            await (
                self._search(act, case, arg)
                if arg and not tapped
                else self._refer_options(act, case)
            )
        elif verb == "search":
            await self._ask_for(act, case, "search")
        elif verb == "pick":
            await self._pick(act, case, arg)
        elif verb == "close":
            await self._close_command(act, case, arg, tapped=tapped)
        elif verb == "outcome":
            await self._close(act, case, arg, "")
        elif verb == "seen":
            await self._seen(act, case)
        elif verb == "done":
            await (self._alert_action(act, case, arg) if arg else self._ask_for(act, case, "done"))
        else:
            self._say(act, "staff/unknown_command", command=verb)

    async def _text(self, act: _Act, text: str) -> None:
        pending = dict(act.worker.pending or {})
        kind = pending.get("kind")
        asked_at = pending.get("at")
        if not kind:
            await self._home(act)
            return
        act.worker.pending = {k: v for k, v in pending.items() if k == "choices"}
        if asked_at and act.now - datetime.fromisoformat(asked_at) > PENDING_FOR:
            self._say(act, "staff/pending_expired", kind=kind, reference=pending.get("case"))
            return
        case = await self._find(act, pending.get("case", ""))
        if case is None:
            return
        if kind == "reply":
            await self._reply(act, case, text)
        elif kind == "note":
            await self._note(act, case, text)
        elif kind == "search":
            await self._search(act, case, text)
        elif kind == "close_other":
            await self._close(act, case, "other", text)
        elif kind == "done":
            await self._alert_action(act, case, text)

    # --- lists -----------------------------------------------------------------------
    async def _home(self, act: _Act) -> None:
        waiting, urgent = await self._waiting_counts(act.session)
        mine = await act.session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.link_worker_id == act.worker.id, Case.status.in_(case_life.OPEN))
        )
        self._say(act, "staff/home", worker=act.worker, waiting=waiting, urgent=urgent,
                  mine=mine or 0, buttons=self._nav())  # fmt: skip

    async def _waiting_counts(self, session: AsyncSession) -> tuple[int, int]:
        row = (
            await session.execute(
                select(func.count(), func.count().filter(Case.urgent.is_(True))).where(
                    Case.status == "waiting"
                )
            )
        ).one()
        return int(row[0]), int(row[1])

    async def _queue(self, act: _Act, page: int) -> None:
        """Waiting cases: urgent first, then whoever has waited longest."""
        total, urgent = await self._waiting_counts(act.session)
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        cases = (
            await act.session.execute(
                select(Case)
                .where(Case.status == "waiting")
                .order_by(Case.urgent.desc(), Case.opened_at, Case.id)
                .offset((page - 1) * PAGE_SIZE)
                .limit(PAGE_SIZE)
            )
        ).scalars()
        items = [self._line(c, act.now) for c in cases]
        buttons: Keyboard = [
            [self._button("staff_open", "open", item["reference"], reference=item["reference"]),
             self._button("staff_claim", "claim", item["reference"], reference=item["reference"])]
            for item in items
        ]  # fmt: skip
        buttons += self._pager("queue", page, pages)
        text = self.messages.render("staff/queue", items=items, page=page, pages=pages,
                                    total=total, urgent=urgent, first=(page - 1) * PAGE_SIZE)  # fmt: skip
        await self._show_list(act, text, buttons)

    async def _mine(self, act: _Act, page: int) -> None:
        """My open cases, with the last thing that happened on each."""
        query = select(Case).where(
            Case.link_worker_id == act.worker.id, Case.status.in_(case_life.OPEN)
        )
        total = await act.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(max(page, 1), pages)
        cases = (
            await act.session.execute(
                query.order_by(Case.urgent.desc(), Case.claimed_at, Case.id)
                .offset((page - 1) * PAGE_SIZE)
                .limit(PAGE_SIZE)
            )
        ).scalars()
        items = []
        for case in cases:
            last = (
                await act.session.execute(
                    select(CaseEntry)
                    .where(CaseEntry.case_id == case.id)
                    .order_by(CaseEntry.id.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
            items.append({**self._line(case, act.now), "status": case.status, "last": last,
                          "last_by": await worker_name(act.session, last.link_worker_id) if last else None})  # fmt: skip
        buttons: Keyboard = [
            [self._button("staff_open", "open", i["reference"], reference=i["reference"])]
            for i in items
        ]
        buttons += self._pager("mine", page, pages)
        text = self.messages.render("staff/mine", items=items, page=page, pages=pages,
                                    total=total, zone=self.settings.zone, now=act.now)  # fmt: skip
        await self._show_list(act, text, buttons)

    def _line(self, case: Case, now: datetime) -> dict[str, Any]:
        summary = case.summary or {}
        about = summary.get("about_the_person", {})
        return {
            "reference": case.reference,
            "urgent": case.urgent,
            "waited_seconds": (now - case.opened_at).total_seconds(),
            "need_areas": [
                self.messages.label(f"need_{a}")
                for a in summary.get("needs", {}).get("need_areas", [])
            ],
            "district": district(about.get("postcode")),
            "contact_method": about.get("contact_method"),
            "opened_because": summary.get("opened_because"),
        }

    def _pager(self, verb: str, page: int, pages: int) -> Keyboard:
        row = []
        if page > 1:
            row.append(self._button("staff_previous", verb, "", str(page - 1)))
        if page < pages:
            row.append(self._button("staff_next", verb, "", str(page + 1)))
        return [row, self._nav()[0]] if row else self._nav()

    def _nav(self) -> Keyboard:
        return [[self._button("staff_queue", "queue"), self._button("staff_mine", "mine")]]

    async def _show_list(self, act: _Act, text: str, buttons: Keyboard) -> None:
        """A list page: edit the message whose button was tapped, else send a new one."""
        if act.tapped and act.inbound.message_id is not None:
            row = (
                await act.session.execute(
                    select(OutboxMessage).where(
                        OutboxMessage.channel == "telegram",
                        OutboxMessage.chat_id == act.worker.telegram_id,
                        OutboxMessage.message_id == act.inbound.message_id,
                        OutboxMessage.action == "send",
                    )
                )
            ).scalar_one_or_none()
            if row is not None and row.payload.get("list"):
                act.me.edit(row, text, buttons)
                return
        row = act.me.send(text, buttons)
        row.payload = {**row.payload, "list": True}

    # --- one case --------------------------------------------------------------------
    async def _find(self, act: _Act, reference: str) -> Case | None:
        case = await case_by_reference(act.session, reference, lock=self.db.locks_rows)
        if case is None:
            self._say(act, "staff/no_such_case", reference=normalise_reference(reference))
        return case

    async def _view(self, act: _Act, case: Case) -> None:
        """The whole case on one screen (in several messages if it is long)."""
        file = await load_case_file(act.session, case)
        audit(act.session, act.worker, "open", case, act.now)
        text = self.messages.render(
            "staff/case", file=file, case=case, summary=file.summary, zone=self.settings.zone,
            now=act.now, label=self.messages.label, band=band, measures=MEASURES,
            district=district(file.summary.get("about_the_person", {}).get("postcode")),
        )  # fmt: skip
        self._send_long(act.me, text, self._case_buttons(act, case, file.alerts))

    def _case_buttons(
        self, act: _Act, case: Case, alerts: list[SafetyAlert] | None = None
    ) -> Keyboard:
        ref = case.reference

        def allowed(action: case_life.Action) -> bool:
            return case_life.decide(case.status, case.link_worker_id, act.actor, action).allowed

        def b(key: str, verb: str) -> dict[str, str]:
            return self._button(key, verb, ref, reference=ref)

        rows: Keyboard = []
        if allowed("claim"):
            rows.append([b("staff_claim", "claim")])
        if allowed("reply"):
            rows.append([b("staff_reply", "reply"), b("staff_note", "note")])
            rows.append([b("staff_refer", "refer"), b("staff_close", "close")])
        elif allowed("note"):
            rows.append([b("staff_note", "note")])
        if allowed("release"):
            rows.append([b("staff_release", "release")])
        if allowed("reopen"):
            rows.append([b("staff_reopen", "reopen")])
        if alerts and any(a.seen_at is None for a in alerts):
            rows.insert(0, [b("alert_seen", "seen")])
        return rows + self._nav()

    async def _move(self, act: _Act, case: Case, action: case_life.Action) -> case_life.Decision:
        """Decide with flows.case, then apply it only if nobody moved the case since."""
        decision = case_life.decide(case.status, case.link_worker_id, act.actor, action)
        if not decision.allowed:
            await self._refuse(act, case, decision)
            return decision
        if (decision.status, decision.holder_id) == (case.status, case.link_worker_id):
            return decision
        held_by = (
            Case.link_worker_id.is_(None)
            if case.link_worker_id is None
            else Case.link_worker_id == case.link_worker_id
        )
        result = await act.session.execute(
            update(Case)
            .where(Case.id == case.id, Case.status == case.status, held_by)
            .values(status=decision.status, link_worker_id=decision.holder_id)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            # Someone else got there first (only possible without a row lock).
            log.info("case moved by someone else first", extra={"case_id": case.id})
            await act.session.refresh(case)
            refused = case_life.decide(case.status, case.link_worker_id, act.actor, action)
            if refused.allowed:  # moved and back again: still refuse, it changed under us
                refused = case_life.Decision(False, case.status, case.link_worker_id, "taken")
            await self._refuse(act, case, refused)
            return refused
        set_committed_value(case, "status", decision.status)
        set_committed_value(case, "link_worker_id", decision.holder_id)
        return decision

    async def _refuse(self, act: _Act, case: Case, decision: case_life.Decision) -> None:
        holder = await worker_name(act.session, case.link_worker_id)
        log.info("staff action refused", extra={"case_id": case.id, "reason": decision.refusal})
        context: dict[str, Any] = {"reason": decision.refusal, "reference": case.reference, "holder": holder,
                   "mine": case.link_worker_id == act.worker.id}  # fmt: skip
        if act.tapped:
            act.notice = html_to_text(
                self.messages.render("staff/toast", what="refused", **context)
            )
        if act.inbound.private:
            self._say(act, "staff/refused", **context)

    async def _claim(self, act: _Act, case: Case) -> None:
        if not (await self._move(act, case, "claim")).allowed:
            return
        case.claimed_at = act.now
        audit(act.session, act.worker, "claim", case, act.now)
        await self.cards.refresh(act.session, case, act.now)
        told = await self._tell_patient(
            act, case, "referral/picked_up", **self._promise(case, act.now)
        )
        patient = await act.session.get(Patient, case.patient_id)
        if told and patient is not None:
            # They have just been told that what they write goes to the worker: make it so.
            await self._talking_with_worker(act, patient)
        if act.inbound.private:
            self._say(act, "staff/done", what="claimed", reference=case.reference, told=told,
                      buttons=self._case_buttons(act, case))  # fmt: skip
        else:  # from the team chat: the case itself, privately
            await self._view(act, case)
        if act.tapped:
            act.notice = self._toast(
                "claimed", reference=case.reference, private=act.inbound.private
            )

    def _promise(self, case: Case, now: datetime) -> dict[str, Any]:
        """When the patient will hear: RESPONSE_WORKING_DAYS after they referred, and
        never a day already past."""
        by = working_days_after(case.opened_at, self.settings.response_working_days, self.settings)
        today = now.astimezone(self.settings.zone).date()
        by = max(by, today)
        return {"by": by, "today": today, "days_away": (by - today).days,
                "contact_method": (case.summary or {}).get("about_the_person", {}).get("contact_method")}  # fmt: skip

    async def _release(self, act: _Act, case: Case) -> None:
        held_by = case.link_worker_id
        if not (await self._move(act, case, "release")).allowed:
            return
        case.claimed_at = None
        await self._back_in_queue(act.session, case, act.now)
        detail = (
            "" if held_by == act.worker.id else f"held by {await worker_name(act.session, held_by)}"
        )
        audit(act.session, act.worker, "release", case, act.now, detail)
        self._say(act, "staff/done", what="released", reference=case.reference, buttons=self._nav())

    async def _back_in_queue(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """A released case is new to the queue again: its card gets its Claim button
        back, and claim reminders count from now."""
        case.announced_at = now
        await self.cards.refresh(session, case, now)

    async def _reopen(self, act: _Act, case: Case) -> None:
        if not (await self._move(act, case, "reopen")).allowed:
            return
        case.closed_at, case.outcome, case.claimed_at = None, None, act.now
        audit(act.session, act.worker, "reopen", case, act.now)
        await self.cards.refresh(act.session, case, act.now)
        self._say(act, "staff/done", what="reopened", reference=case.reference,
                  buttons=self._case_buttons(act, case))  # fmt: skip

    async def _ask_for(self, act: _Act, case: Case, kind: str) -> None:
        """Ask for the text of a reply, note, search or action; the next message is it."""
        action: case_life.Action = {"reply": "reply", "note": "note", "search": "refer",
                                    "close_other": "close"}.get(kind, "note")  # type: ignore[assignment]  # fmt: skip
        if kind != "done":
            decision = case_life.decide(case.status, case.link_worker_id, act.actor, action)
            if not decision.allowed:
                await self._refuse(act, case, decision)
                return
        act.worker.pending = {**(act.worker.pending or {}), "kind": kind,
                              "case": case.reference, "at": act.now.isoformat()}  # fmt: skip
        name = (case.summary or {}).get("about_the_person", {}).get("name")
        cancel = [[self._button("staff_cancel", "cancel")]]
        self._say(
            act, "staff/prompt", kind=kind, reference=case.reference, name=name, buttons=cancel
        )

    async def _reply(self, act: _Act, case: Case, text: str) -> None:
        if len(text) > REPLY_LIMIT:
            self._say(act, "staff/too_long", limit=REPLY_LIMIT, length=len(text))
            return
        patient = await act.session.get(Patient, case.patient_id)
        if patient is None or patient.blocked_at is not None:
            decision = case_life.decide(case.status, case.link_worker_id, act.actor, "reply")
            if decision.allowed:
                self._say(act, "staff/not_delivered", reference=case.reference)
            else:
                await self._refuse(act, case, decision)
            return
        if not (await self._move(act, case, "reply")).allowed:
            return
        await self._tell_patient(act, case, "referral/from_link_worker", text=text)
        await self._talking_with_worker(act, patient)
        act.session.add(CaseEntry(case_id=case.id, kind="reply", text=text, at=act.now,
                                  link_worker_id=act.worker.id))  # fmt: skip
        audit(act.session, act.worker, "reply", case, act.now)
        self._say(act, "staff/done", what="replied", reference=case.reference,
                  buttons=self._case_buttons(act, case))  # fmt: skip

    async def _talking_with_worker(self, act: _Act, patient: Patient) -> None:
        """Once a link worker is talking with them, whatever the patient writes is for
        the worker, even if the bot's questions were not finished (a case a crisis
        opened mid-referral): their answer must not be taken as the bot's next answer."""
        conversation = await act.session.get(Conversation, patient.id)
        if conversation is None or conversation.state == "handed_off":
            return
        conversation.answers = {**conversation.answers, "paused_at": conversation.state}
        conversation.state = "handed_off"
        conversation.step += 1  # the unanswered question's buttons no longer count

    async def _note(self, act: _Act, case: Case, text: str) -> None:
        if not (await self._move(act, case, "note")).allowed:
            return
        act.session.add(CaseEntry(case_id=case.id, kind="note", text=text, at=act.now,
                                  link_worker_id=act.worker.id))  # fmt: skip
        audit(act.session, act.worker, "note", case, act.now)
        self._say(act, "staff/done", what="noted", reference=case.reference,
                  buttons=self._case_buttons(act, case))  # fmt: skip

    # --- referring ---------------------------------------------------------------------
    async def _refer_options(self, act: _Act, case: Case) -> None:
        """The activities the patient was shown (the one they liked first), or a search."""
        decision = case_life.decide(case.status, case.link_worker_id, act.actor, "refer")
        if not decision.allowed:
            await self._refuse(act, case, decision)
            return
        offered = (case.summary or {}).get("support_offered", {})
        interested = offered.get("interested_in") or {}
        shown = list(offered.get("suggested") or [])
        shown.sort(key=lambda s: s.get("id") != interested.get("id"))
        await self._offer(act, case, shown, "suggested", interested=interested.get("id"))

    async def _search(self, act: _Act, case: Case, words: str) -> None:
        decision = case_life.decide(case.status, case.link_worker_id, act.actor, "refer")
        if not decision.allowed:
            await self._refuse(act, case, decision)
            return
        postcode = (case.summary or {}).get("about_the_person", {}).get("postcode")
        profile = Profile(what_matters=words, postcode=postcode if postcode != "none" else None)
        found = [
            {"id": s.activity_id, "name": s.name, "organisation": s.organisation,
             "distance_miles": s.distance_miles}
            for s in self.directory().suggest(profile, SEARCH_RESULTS, 0)
        ]  # fmt: skip
        await self._offer(act, case, found, "search", words=words)

    async def _offer(
        self, act: _Act, case: Case, choices: list[dict[str, Any]], found_by: str, **context: Any
    ) -> None:
        act.worker.pending = {"choices": {"case": case.reference, "found_by": found_by,
                                          "items": choices[:8]}}  # fmt: skip
        ref = case.reference
        buttons: Keyboard = [
            [self._button("staff_pick", "pick", ref, str(i), n=i + 1, name=c["name"])]
            for i, c in enumerate(choices[:8])
        ]
        buttons.append([self._button("staff_search", "search", ref),
                        self._button("staff_cancel", "cancel")])  # fmt: skip
        self._say(act, "staff/refer_options", reference=ref, choices=choices[:8],
                  found_by=found_by, buttons=buttons, **context)  # fmt: skip

    async def _pick(self, act: _Act, case: Case, arg: str) -> None:
        offer = (act.worker.pending or {}).get("choices") or {}
        items = offer.get("items") or []
        if offer.get("case") != case.reference or not arg.isdigit() or int(arg) >= len(items):
            self._say(act, "staff/pending_expired", kind="refer", reference=case.reference)
            return
        chosen = items[int(arg)]
        if not (await self._move(act, case, "refer")).allowed:
            return
        act.session.add(
            Referral(case_id=case.id, link_worker_id=act.worker.id, activity_id=str(chosen["id"]),
                     activity_name=chosen["name"], organisation=chosen.get("organisation") or "",
                     found_by=offer.get("found_by", "suggested"), made_at=act.now)
        )  # fmt: skip
        act.worker.pending = {}
        audit(act.session, act.worker, "refer", case, act.now, f"activity {chosen['id']}")
        await self.cards.refresh(act.session, case, act.now)
        self._say(act, "staff/done", what="referred", reference=case.reference, activity=chosen,
                  buttons=self._case_buttons(act, case))  # fmt: skip

    # --- closing -----------------------------------------------------------------------
    async def _close_command(self, act: _Act, case: Case, arg: str, *, tapped: bool) -> None:
        outcome, _, note = arg.partition(" ")
        outcome = outcome.lower().replace("-", "_")
        if not tapped and outcome in case_life.OUTCOMES and (outcome != "other" or note.strip()):
            await self._close(act, case, outcome, note.strip())
            return
        decision = case_life.decide(case.status, case.link_worker_id, act.actor, "close")
        if not decision.allowed:
            await self._refuse(act, case, decision)
            return
        ref = case.reference
        buttons: Keyboard = [
            [self._button(f"outcome_{o}", "outcome", ref, o)] for o in case_life.OUTCOMES
        ]
        buttons.append([self._button("staff_cancel", "cancel")])
        self._say(act, "staff/close_options", reference=ref, buttons=buttons)

    async def _close(self, act: _Act, case: Case, outcome: str, note: str) -> None:
        if outcome not in case_life.OUTCOMES:
            self._say(act, "staff/unknown_command", command="close")
            return
        if outcome == "other" and not note:
            await self._ask_for(act, case, "close_other")
            return
        if not (await self._move(act, case, "close")).allowed:
            return
        case.closed_at, case.outcome = act.now, outcome
        if note:
            act.session.add(CaseEntry(case_id=case.id, kind="note", text=note, at=act.now,
                                      link_worker_id=act.worker.id))  # fmt: skip
        audit(act.session, act.worker, "close", case, act.now, f"outcome {outcome}")
        await self.cards.refresh(act.session, case, act.now)
        await self._tell_patient(act, case, "referral/case_closed")
        self._say(act, "staff/done", what="closed", reference=case.reference,
                  outcome_label=self.messages.label(f"outcome_{outcome}"),
                  buttons=self._case_buttons(act, case))  # fmt: skip

    # --- safety alerts -----------------------------------------------------------------
    async def _seen(self, act: _Act, case: Case) -> None:
        """'Seen – I'm on it': who took the alert, shown on its card; then, privately,
        what did you do?"""
        alert = (
            await act.session.execute(
                select(SafetyAlert)
                .where(SafetyAlert.case_id == case.id)
                .order_by(SafetyAlert.seen_at.is_(None).desc(), SafetyAlert.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if alert is None:
            self._say(act, "staff/no_alert", reference=case.reference)
            return
        if alert.seen_at is not None:
            act.notice = self._toast("already_seen", reference=case.reference, by=alert.seen_by)
            if act.inbound.private:
                self._say(act, "staff/toast", what="already_seen",
                          reference=case.reference, by=alert.seen_by)  # fmt: skip
            return
        self._mark_seen(act, case, alert)
        await self._refresh_alert_card(act.session, case, alert, act.now)
        await self._ask_for(act, case, "done")
        act.notice = self._toast("seen", reference=case.reference, private=act.inbound.private)

    def _mark_seen(self, act: _Act, case: Case, alert: SafetyAlert) -> None:
        alert.seen_by, alert.seen_at = act.worker.name, act.now
        audit(act.session, act.worker, "alert_seen", case, act.now, f"alert {alert.id}")

    async def _refresh_alert_card(
        self, session: AsyncSession, case: Case, alert: SafetyAlert, now: datetime
    ) -> None:
        row = await session.get(OutboxMessage, alert.outbox_id) if alert.outbox_id else None
        if row is None:
            return
        card = self.messages.render(
            "staff/safety_alert", case=case, alert=alert, zone=self.settings.zone
        )
        Outbox(session, row.channel, row.chat_id, now).edit(row, card, [])

    async def _alert_action(self, act: _Act, case: Case, text: str) -> None:
        """What was done about a safety alert, kept on the alert and the case."""
        alert = (
            await act.session.execute(
                select(SafetyAlert)
                .where(SafetyAlert.case_id == case.id, SafetyAlert.action_taken.is_(None))
                .order_by(SafetyAlert.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        if alert is None:
            self._say(act, "staff/no_alert", reference=case.reference)
            return
        if alert.seen_at is None:
            self._mark_seen(act, case, alert)
        alert.action_taken = text
        await self._refresh_alert_card(act.session, case, alert, act.now)
        act.session.add(CaseEntry(case_id=case.id, kind="alert_action", text=text, at=act.now,
                                  link_worker_id=act.worker.id))  # fmt: skip
        audit(act.session, act.worker, "alert_action", case, act.now, f"alert {alert.id}")
        self._say(act, "staff/done", what="alert_action", reference=case.reference,
                  buttons=self._case_buttons(act, case))  # fmt: skip

    # --- joining -----------------------------------------------------------------------
    async def _join(
        self, session: AsyncSession, inbound: StaffInbound, code: str, now: datetime
    ) -> StaffHandled | None:
        """`/join CODE`: a valid invitation registers this Telegram account. A wrong or
        used code is not ours to answer: the patient reply says nothing of it."""
        if not code.strip():
            return None
        query = select(StaffInvite).where(
            StaffInvite.code_hash == invite_hash(code),
            StaffInvite.used_at.is_(None),
            StaffInvite.expires_at > now,
        )
        if self.db.locks_rows:
            query = query.with_for_update(skip_locked=True)
        invite = (await session.execute(query)).scalar_one_or_none()
        if invite is None:
            log.info("join refused: no such invitation")
            return None
        if inbound.update_id is not None and not await first_delivery(
            session, self.db, inbound.update_id, now
        ):
            return StaffHandled(duplicate=True)
        worker = (
            await session.execute(
                select(LinkWorker).where(LinkWorker.telegram_id == inbound.user_id)
            )
        ).scalar_one_or_none()
        name = invite.name or inbound.first_name or self.messages.label("staff_default_name")
        if worker is None:
            worker = LinkWorker(telegram_id=inbound.user_id, name=name, role=invite.role,
                                added_at=now, pending={})  # fmt: skip
            session.add(worker)
        else:
            worker.active, worker.removed_at, worker.role = True, None, invite.role
            worker.name = invite.name or worker.name
        await session.flush()
        invite.used_at, invite.used_by = now, worker.id
        audit(session, worker, "join", None, now, f"invite {invite.id}")
        log.info("link worker joined", extra={"link_worker_id": worker.id})
        welcome = self.messages.render("staff/joined", worker=worker, again=False)
        Outbox(session, "telegram", worker.telegram_id, now).send(welcome, self._nav())
        return StaffHandled()

    # --- the team chat's reminders -------------------------------------------------------
    async def remind_unclaimed(self) -> int:
        """Re-announce cases nobody has claimed after CLAIM_REMINDER_HOURS of working
        time. Several bot instances may run this at once: each case is taken with
        SKIP LOCKED, so it is announced once. Returns how many were re-announced."""
        hours = self.settings.claim_reminder_hours
        now = self.clock()
        if (
            self.settings.staff_chat_id is None
            or hours <= 0
            or not self.settings.is_working_time(now)
        ):
            return 0
        due_before = now - timedelta(hours=hours)
        async with self.db.transaction() as session:
            announced = func.coalesce(Case.announced_at, Case.opened_at)
            query = (
                select(Case)
                .where(Case.status == "waiting", announced <= due_before)
                .order_by(Case.urgent.desc(), Case.opened_at)
                .limit(20)
            )
            if self.db.locks_rows:
                query = query.with_for_update(skip_locked=True)
            reminded = 0
            for case in (await session.execute(query)).scalars():
                since = case.announced_at or case.opened_at
                waited = working_seconds_between(since, now, self.settings) / 3600
                if waited < hours:
                    continue
                total = working_seconds_between(case.opened_at, now, self.settings) / 3600
                await self.cards.post(session, case, now, waited_hours=total)
                audit(session, None, "reminder", case, now, actor="claim reminder")
                reminded += 1
            if reminded:
                log.info("unclaimed cases re-announced", extra={"count": reminded})
            return reminded

    # --- saying things -------------------------------------------------------------------
    async def _tell_patient(self, act: _Act, case: Case, template: str, **context: Any) -> bool:
        """A message to the patient, through the outbox. False if they blocked the bot."""
        patient = await act.session.get(Patient, case.patient_id)
        if patient is None or patient.blocked_at is not None:
            return False
        text = self.messages.render(template, worker=act.worker.name, reference=case.reference,
                                    **context)  # fmt: skip
        Outbox(act.session, patient.channel, patient.chat_id, act.now).send(text)
        return True

    def _say(
        self, act: _Act, template: str, *, buttons: Keyboard | None = None, **context: Any
    ) -> None:
        """To the worker, privately."""
        self._send_long(act.me, self.messages.render(template, **context), buttons or [])

    def _send_long(self, outbox: Outbox, text: str, buttons: Keyboard) -> None:
        parts = split_html(text)
        for i, part in enumerate(parts):
            outbox.send(part, buttons if i == len(parts) - 1 else [])

    def _toast(self, what: str, **context: Any) -> str:
        return html_to_text(self.messages.render("staff/toast", what=what, **context))

    def _button(
        self, label: str, verb: str, ref: str = "", arg: str = "", **context: Any
    ) -> dict[str, str]:
        return {"text": self.messages.label(label, **context), "data": tap_data(verb, ref, arg)}


def new_invite_code() -> str:
    """A code to read out or paste: 12 characters from an alphabet with no 0/O or
    1/I, in groups of four (60 bits)."""
    raw = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))
