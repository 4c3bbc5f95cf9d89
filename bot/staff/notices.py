"""What the link worker side hears from the patient side, inside the patient's
transaction (`PatientService(listener=CaseNotices(...))`):

- a case opened: its card goes to the team chat;
- the patient wrote after the handoff: their words go to the worker holding the
  case, privately; while nobody holds it, the team chat hears only that there is a
  new message on the case, never what it says;
- a safety alert: the holder is told privately, and the case card shows it urgent
  (with no team chat and nobody holding the case, every active worker is told).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import Messages
from bot.service import Outbox
from bot.staff.cards import Keyboard, TeamCards, tap_data
from bot.staff.models import LinkWorker
from bot.staff.split import split_html
from bot.store.models import Case, SafetyAlert


class CaseNotices:
    def __init__(self, messages: Messages, settings: Settings) -> None:
        self.messages = messages
        self.settings = settings
        self.cards = TeamCards(messages, settings)

    async def case_opened(self, session: AsyncSession, case: Case, now: datetime) -> None:
        await self.cards.post(session, case, now)

    async def case_updated(self, session: AsyncSession, case: Case, now: datetime) -> None:
        await self.cards.refresh(session, case, now)

    async def patient_wrote(
        self, session: AsyncSession, case: Case, text: str, edited: bool, now: datetime
    ) -> None:
        holder = await self._holder(session, case)
        if holder is not None:
            name = (case.summary or {}).get("about_the_person", {}).get("name")
            message = self.messages.render("staff/patient_wrote", case=case, name=name,
                                           text=text, edited=edited)  # fmt: skip
            buttons = self._buttons(case, "staff_reply", "reply")
            parts = split_html(message)
            me = Outbox(session, "telegram", holder.telegram_id, now)
            for i, part in enumerate(parts):
                me.send(part, buttons if i == len(parts) - 1 else [])
        elif self.settings.staff_chat_id is not None:
            team = Outbox(session, "telegram", self.settings.staff_chat_id, now)
            notice = self.messages.render("staff/team_new_message", case=case)
            team.send(notice)

    async def alert_raised(
        self, session: AsyncSession, case: Case, alert: SafetyAlert, now: datetime
    ) -> None:
        await self.cards.refresh(session, case, now)
        holder = await self._holder(session, case)
        if holder is not None:
            told = [holder]
        elif self.settings.staff_chat_id is None:
            # No team chat to post the alert in: nobody may be left not knowing.
            told = list(
                (
                    await session.execute(select(LinkWorker).where(LinkWorker.active.is_(True)))
                ).scalars()
            )
        else:
            return  # the team chat has the alert card
        text = self.messages.render(
            "staff/holder_alert", case=case, alert=alert, yours=holder is not None
        )
        buttons = self.alert_buttons(case) + self._buttons(case, "staff_open", "open")
        for worker in told:
            Outbox(session, "telegram", worker.telegram_id, now).send(text, buttons)

    def alert_buttons(self, case: Case) -> Keyboard:
        """The "Seen – I'm on it" button on a safety alert card."""
        data = tap_data("seen", case.reference)
        return [[{"text": self.messages.label("alert_seen"), "data": data}]]

    def _buttons(self, case: Case, label: str, verb: str) -> Keyboard:
        ref = case.reference
        first = {"text": self.messages.label(label, reference=ref), "data": tap_data(verb, ref)}
        if verb == "open":
            return [[first]]
        open_case = {"text": self.messages.label("staff_open", reference=ref),
                     "data": tap_data("open", ref)}  # fmt: skip
        return [[first, open_case]]

    async def _holder(self, session: AsyncSession, case: Case) -> LinkWorker | None:
        if case.link_worker_id is None:
            return None
        return (
            await session.execute(
                select(LinkWorker).where(
                    LinkWorker.id == case.link_worker_id, LinkWorker.active.is_(True)
                )
            )
        ).scalar_one_or_none()
