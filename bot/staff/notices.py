"""What the link worker side hears from the patient side, inside the patient's
transaction. Implements `bot.patients.CaseListener` (structurally: neither side
imports the other; `bot.app` wires them):

- a case opened: its card goes to the team chat;
- the patient wrote after the handoff: their words go to the worker holding the
  case, privately; while nobody holds it, the team chat hears only that there is a
  new message on the case, never what it says;
- a safety alert: an alert card in the team chat, the holder told privately, and
  the case card shown urgent (with no team chat and nobody holding the case, every
  active worker is told);
- the patient asked at a check-in to talk to someone: the holder told privately,
  or, with nobody holding the case, a fresh card in the team chat.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import Messages
from bot.staff.cards import TeamCards
from bot.store.cases import Case, SafetyAlert, earlier_cases, latest_case
from bot.store.outbox import NOTICE, Keyboard, Outbox, OutboxMessage, add_to_notice
from bot.store.patients import find_patient
from bot.store.staff import (
    LinkWorker,
    active_holder,
    active_workers,
    cover_for,
    worker_by_telegram_id,
    worker_name,
)
from bot.taps import StaffTap, button


class CaseNotices:
    def __init__(self, messages: Messages, settings: Settings) -> None:
        self.messages = messages
        self.settings = settings
        self.cards = TeamCards(messages, settings)

    async def case_opened(self, session: AsyncSession, case: Case, now: datetime) -> None:
        await self.cards.post(session, case, now)
        await self._offer_to_who_knew_them(session, case, now)

    async def _offer_to_who_knew_them(
        self, session: AsyncSession, case: Case, now: datetime
    ) -> None:
        """Someone coming back: the worker who had their last case (if still on the
        team) is told privately, and may claim it first."""
        earlier = await earlier_cases(session, case)
        if not earlier:
            return
        holder = await active_holder(session, earlier[0].link_worker_id)
        if holder is None or holder.away_on(self._today(now)):
            return  # nobody to offer it to (away: no new cases)
        text = self.messages.render("staff/returning", case=case, earlier=earlier[0],
                                    name=case.summary.about_the_person.name)  # fmt: skip
        ref = case.reference
        buttons = [[button(self.messages.label("staff_claim", reference=ref), StaffTap("claim", ref)),
                    button(self.messages.label("staff_open", reference=ref), StaffTap("open", ref))]]  # fmt: skip
        Outbox(session, "telegram", holder.telegram_id, now, about=ref).send(text, buttons)

    async def case_updated(self, session: AsyncSession, case: Case, now: datetime) -> None:
        await self.cards.refresh(session, case, now)

    async def patient_wrote(
        self,
        session: AsyncSession,
        case: Case,
        text: str,
        edited: bool,
        now: datetime,
        *,
        crisis: bool = False,
    ) -> None:
        holder = await self._reader(session, case, now)
        if holder is not None:
            message = self.messages.render("staff/patient_wrote", case=case,
                                           name=case.summary.about_the_person.name,
                                           text=text, edited=edited,
                                           covering_for=await self._covered(session, case, holder))  # fmt: skip
            me = Outbox(session, "telegram", holder.telegram_id, now, about=case.reference)
            me.send(message, self._buttons(case, "staff_reply", "reply"))
            for row in me.rows:  # answering any part of it (reply-to) answers them
                row.payload = {**row.payload, "relayed": True}
        elif crisis:
            return  # the alert card in the team chat says it (and more)
        elif (team := self.settings.staff_chat_id) is not None:
            # One notice for a burst of messages: "3 new messages on SP-7K3Q".
            away = await active_holder(session, case.link_worker_id)

            def notice(count: int) -> str:
                return self.messages.render("staff/team_new_message", case=case, count=count,
                                            away=away.name if away else None)  # fmt: skip

            key = f"new_message:{case.reference}"
            if not await add_to_notice(session, "telegram", team, key, notice):
                Outbox(session, "telegram", team, now).send(
                    notice(1), priority=NOTICE, coalesce=key
                )

    def _today(self, now: datetime) -> date:
        return now.astimezone(self.settings.zone).date()

    async def _reader(self, session: AsyncSession, case: Case, now: datetime) -> LinkWorker | None:
        """Who reads what the case's patient writes: its holder, or while they are
        away, the colleague covering for them (None: nobody, or nobody covers)."""
        holder = await active_holder(session, case.link_worker_id)
        if holder is None or not holder.away_on(self._today(now)):
            return holder
        return await cover_for(session, holder, self._today(now))

    async def _covered(self, session: AsyncSession, case: Case, reader: LinkWorker) -> str | None:
        """The away holder's name, when `reader` covers for them."""
        if case.link_worker_id in (None, reader.id):
            return None
        return await worker_name(session, case.link_worker_id)

    async def alert_raised(
        self,
        session: AsyncSession,
        case: Case,
        alert: SafetyAlert,
        escalated: bool,
        now: datetime,
    ) -> None:
        await self.cards.refresh(session, case, now)
        await self._tell_of_alert(session, case, alert, now)
        await self.cards.alert(session, case, alert, escalated, now)
        alert.announced_at = now  # the wait before a reminder starts again

    async def _tell_of_alert(
        self,
        session: AsyncSession,
        case: Case,
        alert: SafetyAlert,
        now: datetime,
        *,
        reminder: bool = False,
    ) -> None:
        holder = await self._reader(session, case, now)
        if holder is not None:
            told = [holder]
        elif self.settings.staff_chat_id is None:
            # No team chat to post the alert in: nobody may be left not knowing.
            told = await active_workers(session)
        else:
            told = []  # the team chat has the alert card
        text = self.messages.render(
            "staff/holder_alert",
            case=case,
            alert=alert,
            yours=holder is not None,
            reminder=reminder,
        )
        buttons = self.cards.seen_button(case) + self._buttons(case, "staff_open", "open")
        for worker in told:
            Outbox(session, "telegram", worker.telegram_id, now, about=case.reference).send(
                text, buttons, urgent=True
            )

    async def alert_reminder(
        self, session: AsyncSession, case: Case, alert: SafetyAlert, now: datetime
    ) -> None:
        """Nobody has taken the alert yet: a new card, and the worker holding the
        case (or, with no team chat and nobody holding it, every worker) told."""
        await self._tell_of_alert(session, case, alert, now, reminder=True)
        await self.cards.alert(session, case, alert, False, now)
        alert.announced_at = now

    async def asked_for_contact(
        self, session: AsyncSession, case: Case, reopened: bool, now: datetime
    ) -> None:
        """The worker holding the case hears privately; with nobody holding it, the
        team chat gets a fresh card (an edited one would notify nobody), as it does
        when the holder is away with nobody covering."""
        holder = await self._reader(session, case, now)
        if holder is not None:
            text = self.messages.render("staff/asked_for_contact", case=case, reopened=reopened,
                                        name=case.summary.about_the_person.name)  # fmt: skip
            Outbox(session, "telegram", holder.telegram_id, now, about=case.reference).send(
                text, self._buttons(case, "staff_reply", "reply")
            )
            await self.cards.refresh(session, case, now)
        elif case.status == "waiting" or case.link_worker_id is not None:
            await self.cards.post(session, case, now)
        else:
            await self.cards.refresh(session, case, now)

    async def case_withdrawn(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """The worker holding it is told, privately, to delete what they have of it;
        the team chat's cards say it was withdrawn (edited: nothing to act on)."""
        holder = await active_holder(session, case.link_worker_id)
        if holder is not None:
            text = self.messages.render("staff/withdrawn", case=case)
            Outbox(session, "telegram", holder.telegram_id, now).send(text)
        await self.cards.withdrawn(session, case, now)

    async def message_not_handled(
        self, session: AsyncSession, case: Case | None, now: datetime
    ) -> None:
        self._tell_team(session, "staff/not_handled", now, case=case)

    async def patient_blocked(
        self, session: AsyncSession, channel: str, chat_id: int, now: datetime
    ) -> None:
        """Telegram says a patient blocked the bot (delivery calls this, once): the
        worker holding their case hears privately; with nobody holding an open case,
        the team chat hears. Before a case exists, or once it is closed, there is
        nobody to tell."""
        patient = await find_patient(session, channel, chat_id)
        case = await latest_case(session, patient.id) if patient is not None else None
        if case is None or case.status == "closed":
            return
        holder = await active_holder(session, case.link_worker_id)
        if holder is not None:
            text = self.messages.render("staff/patient_blocked", case=case, yours=True)
            Outbox(session, "telegram", holder.telegram_id, now, about=case.reference).send(
                text, self._buttons(case, "staff_open", "open")
            )
        else:
            self._tell_team(session, "staff/patient_blocked", now, case=case, yours=False)

    async def reachable_again(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """A patient who had blocked the bot wrote again: whoever heard they could not
        be reached (the worker holding the case, else the team chat) hears they can."""
        holder = await active_holder(session, case.link_worker_id)
        if holder is not None:
            text = self.messages.render("staff/patient_unblocked", case=case)
            Outbox(session, "telegram", holder.telegram_id, now, about=case.reference).send(
                text, self._buttons(case, "staff_open", "open")
            )
        else:
            self._tell_team(session, "staff/patient_unblocked", now, case=case)

    async def message_refused(
        self, session: AsyncSession, row: OutboxMessage, reason: str, now: datetime
    ) -> None:
        """A message Telegram refused for good (delivery calls this): never dropped in
        silence. The team hears whose it was and why, not what it said."""
        if row.channel != "telegram" or row.chat_id == self.settings.staff_chat_id:
            return  # the team chat itself: only the log can say it
        patient = await find_patient(session, row.channel, row.chat_id)
        case = await latest_case(session, patient.id) if patient is not None else None
        worker = await worker_by_telegram_id(session, row.chat_id) if patient is None else None
        self._tell_team(session, "staff/undelivered", now, case=case,
                        worker=worker.name if worker else None, reason=reason)  # fmt: skip

    def _tell_team(
        self, session: AsyncSession, template: str, now: datetime, **context: Any
    ) -> None:
        if self.settings.staff_chat_id is None:
            return
        text = self.messages.render(template, **context)
        Outbox(session, "telegram", self.settings.staff_chat_id, now).send(text, priority=NOTICE)

    def _buttons(self, case: Case, label: str, verb: str) -> Keyboard:
        ref = case.reference
        first = button(self.messages.label(label, reference=ref), StaffTap(verb, ref))
        if verb == "open":
            return [[first]]
        open_case = button(self.messages.label("staff_open", reference=ref), StaffTap("open", ref))
        return [[first, open_case]]
