"""The link workers' front door: one staff update, one transaction.

`StaffService.handle` first looks (a read, no write lock) whether the person is
an active link worker, unless the inbox's look for updates read already that they
are not (bot.store.inbox.Due.from_worker). If they are not, it returns None having
written nothing, so the adapter gives them the ordinary patient reply: nothing
reveals that staff commands exist. If they are, it dedupes the update and does what they asked, by
the table of verbs below, writing every message (to the worker, the patient and
the team chat) to the outbox in the same commit.

Read VERBS like a menu: what a worker can type (`/claim SP-7K3Q`) or tap, and
which handler does it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from bot.config import Settings
from bot.messages import Messages, html_to_text
from bot.staff import alerts, away, casework, closing, lists, referring
from bot.staff.act import Act, Conversations, StaffInbound, Team
from bot.staff.cards import TeamCards
from bot.staff.joining import join, joined_already
from bot.staff.notices import CaseNotices
from bot.staff.reminders import flag_overdue, remind_unclaimed, remind_unseen_alerts
from bot.store import Database
from bot.store.base import utcnow
from bot.store.cases import Case, case_by_reference
from bot.store.outbox import Outbox, SentAbout, sent_about
from bot.store.staff import (
    Pending,
    active_worker,
    covering_for,
    everyone,
    worker_by_telegram_id,
)
from bot.store.updates import first_delivery
from bot.taps import StaffTap
from flows.core import Command, Edited, Text
from flows.directory import Directory

log = logging.getLogger(__name__)

ListHandler = Callable[[Act, str], Awaitable[None]]
CaseHandler = Callable[[Act, Case, str], Awaitable[None]]


@dataclass(frozen=True)
class Verb:
    """One thing a worker can do. A verb `on_case` takes a case reference first."""

    run: ListHandler | None = None
    on_case: CaseHandler | None = None
    #: Typed as /<verb>; carried by a button; works from the team chat's buttons.
    typed: bool = True
    tapped: bool = True
    team_chat: bool = False
    #: A list verb that takes all the words typed after it (`/find walking group`).
    whole: bool = False


VERBS: dict[str, Verb] = {
    "home":    Verb(run=lists.home, typed=False),
    "queue":   Verb(run=lists.queue),
    "mine":    Verb(run=lists.mine),
    "team":    Verb(run=lists.team, tapped=False),
    "find":    Verb(run=lists.find, tapped=False, whole=True),
    "cancel":  Verb(run=lists.cancel),
    "join":    Verb(run=joined_already, tapped=False),
    "away":    Verb(run=away.away, tapped=False, whole=True),
    "cover":   Verb(run=away.cover, typed=False),
    "back":    Verb(run=away.back, tapped=False),
    "case":    Verb(on_case=casework.view, tapped=False),
    "open":    Verb(on_case=casework.view, typed=False),
    "claim":   Verb(on_case=casework.claim, team_chat=True),
    "release": Verb(on_case=casework.release),
    "assign":  Verb(on_case=casework.assign),
    "reopen":  Verb(on_case=casework.reopen),
    "reply":   Verb(on_case=casework.reply),
    "note":    Verb(on_case=casework.note),
    "refer":   Verb(on_case=referring.refer),
    "checkin": Verb(on_case=referring.check_in_later, tapped=False),
    "search":  Verb(on_case=referring.search, typed=False),
    "choices": Verb(on_case=referring.choices, typed=False),
    "pick":    Verb(on_case=referring.pick, typed=False),
    "send":    Verb(on_case=referring.send, typed=False),
    "close":   Verb(on_case=closing.close),
    "outcome": Verb(on_case=closing.outcome, typed=False),
    "seen":    Verb(on_case=alerts.seen, typed=False, team_chat=True),
    "done":    Verb(on_case=alerts.done),
}  # fmt: skip
#: The worker's command menu, in this order (labels: buttons.yaml staff_command_*).
MENU = ("queue", "mine", "case", "claim", "reply", "note", "refer", "checkin", "close",
        "assign", "release", "reopen", "done", "find", "team", "away", "back", "cancel", "help")  # fmt: skip
#: Typed commands that mean another verb.
ALIASES = {"start": "home", "help": "home"}
#: Text a button asked for (Pending.kind) is the rest of this verb: "search" words
#: are `/refer REF words`, "close_other" is `/close REF other words`.
#: Prompts that anything else the worker does cancels ("done", an alert's action,
#: waits: the worker may well look at the case before saying what they did).
CANCELLED_BY_MOVING_ON = ("reply", "note", "search", "close_other", "assign", "refer_line")
#: What carries a prompt on rather than leaving it: Send under what a referral
#: will send, or choosing another activity for it.
CARRIES_ON = {"refer_line": ("send", "choices", "pick", "refer", "search")}
ASKED: dict[str, tuple[str, str]] = {
    "reply": ("reply", ""), "note": ("note", ""), "search": ("refer", ""), "refer_line": ("refer", ""),
    "close_other": ("close", "other "), "done": ("done", ""), "assign": ("assign", ""),
}  # fmt: skip


@dataclass
class StaffHandled:
    duplicate: bool = False
    #: Plain text for the tap itself (answerCallbackQuery), if any.
    tap_notice: str | None = None


class StaffService:
    def __init__(
        self,
        db: Database,
        messages: Messages,
        directory: Callable[[], Directory],
        settings: Settings,
        conversations: Conversations,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.messages = messages
        self.settings = settings
        self.clock = clock
        self.cards = TeamCards(messages, settings)
        self.notices = CaseNotices(messages, settings)
        self.team = Team(messages, settings, self.cards, directory, conversations)
        #: The day the morning check for overdue cases last ran (only saves work:
        #: the cases themselves say whether they were flagged today).
        self._overdue_checked_on: date | None = None

    async def handle(
        self, inbound: StaffInbound, *, on_the_team: bool | None = None
    ) -> StaffHandled | None:
        """Handle a link worker's update, or return None (having changed nothing) if
        this is not one: the person is not an active worker, or it is not ours.
        `on_the_team`: whether they were an active worker a moment ago, if known (the
        inbox reads it with its look for updates: bot.store.inbox.Due.from_worker).
        Not on it spares a read, for everything but a staff button; on it is asked
        again (and once more, locked, in the transaction that acts)."""
        event = inbound.event
        was_on_it = False
        if on_the_team is not False or isinstance(event, StaffTap):
            async with self.db.reading() as session:
                on_the_team = await active_worker(session, inbound.user_id) is not None
                was_on_it = (
                    not on_the_team
                    and isinstance(event, StaffTap)
                    and (await worker_by_telegram_id(session, inbound.user_id) is not None)
                )
        if not on_the_team:
            if inbound.private and isinstance(event, Command) and event.name == "join":
                return await self._join(inbound, event.args)
            if was_on_it:  # an old button of a removed worker: it only says so
                return StaffHandled(tap_notice=self._toast("no_longer_on_team"))
            if isinstance(event, StaffTap) and inbound.chat_id == self.settings.staff_chat_id:
                return StaffHandled(tap_notice=self._toast("not_on_team"))
            return None
        if not inbound.private and not (
            isinstance(event, StaffTap)
            and event.verb in VERBS
            and VERBS[event.verb].team_chat
            and inbound.chat_id == self.settings.staff_chat_id
        ):
            return None  # the team chat's own conversation is not for us
        async with self.db.transaction() as session:
            now = self.clock()
            worker = await active_worker(session, inbound.user_id, lock=True)
            if worker is None:  # removed a moment ago
                return None
            if inbound.update_id is not None and not await first_delivery(
                session, inbound.update_id, now
            ):
                return StaffHandled(duplicate=True)
            me = Outbox(session, "telegram", worker.telegram_id, now)
            today = now.astimezone(self.settings.zone).date()
            covers = frozenset(w.id for w in await covering_for(session, worker.id, today))
            act = Act(self.team, session, worker, inbound, now, me, covers=covers)
            if isinstance(event, StaffTap):
                await self._leave_prompt(act, event.verb)
                await self._do(act, event.verb, event.reference, event.arg, typed=False)
            elif isinstance(event, Command):
                name = ALIASES.get(event.name, event.name)
                first, _, rest = event.args.strip().partition(" ")
                await self._leave_prompt(act, name)
                if name in VERBS and VERBS[name].run is not None:
                    arg = event.args.strip() if VERBS[name].whole else first
                    await self._do(act, name, "", arg, typed=True)
                else:
                    await self._do(act, name, first, rest.strip(), typed=True)
            elif isinstance(event, Text):
                await self._asked_for(act, event.text)
            elif isinstance(event, Edited):
                act.say("staff/edited")
            else:
                act.say("staff/only_text")
            log.info("staff action", extra={"link_worker_id": worker.id,
                                            "event": type(event).__name__})  # fmt: skip
            return StaffHandled(tap_notice=act.notice)

    def command_menu(self) -> list[tuple[str, str]]:
        """The commands a link worker's menu lists (setMyCommands, scoped to their
        chat), with what each does."""
        return [(name, self.messages.label(f"staff_command_{name}")) for name in MENU]

    async def menu_chats(self) -> tuple[list[int], list[int]]:
        """Whose private chats should show the worker menu (active workers), and
        whose should not any more (removed ones). A read."""
        async with self.db.reading() as session:
            team = await everyone(session)
        return ([w.telegram_id for w in team if w.active],
                [w.telegram_id for w in team if not w.active])  # fmt: skip

    def _toast(self, what: str) -> str:
        return html_to_text(self.messages.render("staff/toast", what=what))

    async def remind_unclaimed(self) -> int:
        """Re-announce cases nobody has claimed (bot/staff/reminders.py)."""
        return await remind_unclaimed(self.db, self.cards, self.settings, self.clock())

    async def flag_overdue(self) -> int:
        """The morning check for overdue cases (bot/staff/reminders.py): the first
        call in each working day looks; later ones that day do nothing."""
        now = self.clock()
        today = now.astimezone(self.settings.zone).date()
        if self._overdue_checked_on == today or not self.settings.is_working_time(now):
            return 0
        flagged = await flag_overdue(self.db, self.messages, self.settings, now)
        self._overdue_checked_on = today
        return flagged

    async def remind_unseen_alerts(self) -> int:
        """Post again safety alerts nobody has taken (bot/staff/reminders.py)."""
        return await remind_unseen_alerts(self.db, self.notices, self.settings, self.clock())

    async def _do(self, act: Act, name: str, reference: str, arg: str, *, typed: bool) -> None:
        verb = VERBS.get(name)
        if verb is None or not (verb.typed if typed else verb.tapped):
            act.say("staff/unknown_command", command=name)
        elif verb.run is not None:
            await verb.run(act, arg)
        elif not reference:
            act.say("staff/needs_reference", command=name)
        else:
            case = await act.find(reference)
            if case is not None and verb.on_case is not None:
                act.me.about = case.reference  # what this says may quote the patient
                await verb.on_case(act, case, arg)

    async def _leave_prompt(self, act: Act, verb: str) -> None:
        """Anything else the worker does cancels a waiting "Type your message to
        Kofi": what they type next must never go to a case they have moved on from
        (issue 14). They are told, naming whose it was."""
        pending = act.worker.pending
        if pending.kind not in CANCELLED_BY_MOVING_ON:
            return
        if verb in CARRIES_ON.get(pending.kind, ()):
            return  # the handler takes it from here (Send checks it is this prompt's)
        act.worker.pending = Pending(choices=pending.choices, opened=pending.opened)
        if verb == "cancel" or casework.expired(pending, act.now, act.team.settings):
            return
        case = await case_by_reference(act.session, pending.case or "")
        act.say("staff/prompt_cancelled", kind=pending.kind, reference=pending.case,
                name=case.summary.about_the_person.name if case else None)  # fmt: skip

    async def _asked_for(self, act: Act, text: str) -> None:
        """Typed text: an answer to the patient's relayed message (Telegram's
        reply-to), or what a button asked for (a reply, a note...); else it goes
        nowhere, and the worker is told how to send it."""
        pending = act.worker.pending
        about = await self._replying_to(act)
        if about is not None:
            if about.relayed:  # their own words, answered: the reply goes to them
                act.worker.pending = Pending(choices=pending.choices, opened=pending.opened)
                await self._do(act, "reply", about.reference, text, typed=True)
                return
            if pending.kind is not None and about.reference != pending.case:
                await self._nowhere(act)  # a reply to a message about another case
                return
        if pending.kind is None or pending.kind not in ASKED:
            await self._nowhere(act)
            return
        act.worker.pending = Pending(choices=pending.choices, opened=pending.opened)
        if casework.expired(pending, act.now, act.team.settings):
            act.say("staff/pending_expired", kind=pending.kind, reference=pending.case)
            return
        verb, prefix = ASKED[pending.kind]
        if pending.arg:
            prefix += pending.arg + " "
        await self._do(act, verb, pending.case or "", prefix + text, typed=True)

    async def _replying_to(self, act: Act) -> SentAbout | None:
        if act.inbound.reply_to is None:
            return None
        return await sent_about(act.session, act.me.channel, act.worker.telegram_id,
                                act.inbound.reply_to)  # fmt: skip

    async def _nowhere(self, act: Act) -> None:
        """Text with nowhere to go is sent nowhere: say so, and offer the case they
        last opened (with its name, so they can see whose it is)."""
        opened = act.worker.pending.opened
        case = await case_by_reference(act.session, opened) if opened else None
        buttons = act.nav()
        if case is not None and act.may(case, "reply").allowed:
            name = case.summary.about_the_person.name
            buttons = [[act.button("staff_reply_to", "reply", case.reference,
                                   reference=case.reference, name=name or case.reference)]]  # fmt: skip
            buttons += act.nav()
        else:
            case = None
        act.say("staff/not_sent", case=case,
                name=case.summary.about_the_person.name if case else None, buttons=buttons)  # fmt: skip

    async def _join(self, inbound: StaffInbound, code: str) -> StaffHandled | None:
        async with self.db.transaction() as session:
            joined = await join(session, self.messages, inbound.user_id, inbound.first_name,
                                code, inbound.update_id, self.clock())  # fmt: skip
        if joined is None:
            return None
        return StaffHandled(duplicate=not joined)
