"""The team chat (STAFF_CHAT_ID): one card per case and one per safety alert, edited
in place as they move.

A card carries only what a group may see: the reference, how long it has waited,
the areas of need, the postcode district, whether it is urgent and how the person
would like to be contacted. Never a name, a phone number or anything they wrote
(special-category data does not belong in a group).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import Messages
from bot.store.cases import Case, SafetyAlert, alert_cards_of
from bot.store.outbox import NOTICE, Keyboard, Outbox, outbox_row
from bot.store.staff import worker_name
from bot.taps import StaffTap, button


class TeamCards:
    def __init__(self, messages: Messages, settings: Settings) -> None:
        self.messages = messages
        self.settings = settings

    @property
    def chat_id(self) -> int | None:
        return self.settings.staff_chat_id

    # --- case cards -----------------------------------------------------------------------
    async def render(
        self,
        session: AsyncSession,
        case: Case,
        *,
        waited_hours: float | None = None,
        superseded: bool = False,
    ) -> tuple[str, Keyboard]:
        about, needs = case.summary.about_the_person, case.summary.needs
        text = self.messages.render(
            "staff/case_card",
            case=case,
            holder=await worker_name(session, case.link_worker_id),
            need_areas=[self.messages.label(f"need_{a}") for a in needs.need_areas],
            district=about.district,
            contact_method=about.contact_method,
            contact_wanted=about.contact_wanted,
            waited_hours=waited_hours,
            superseded=superseded,
            zone=self.settings.zone,
        )
        buttons: Keyboard = []
        if case.status == "waiting" and not superseded:
            label = self.messages.label("staff_claim", reference=case.reference)
            buttons = [[button(label, StaffTap("claim", case.reference))]]
        return text, buttons

    async def post(
        self, session: AsyncSession, case: Case, now: datetime, *, waited_hours: float | None = None
    ) -> None:
        """Announce the case (again, for a reminder: the old card loses its button)."""
        if self.chat_id is None:
            return
        team = Outbox(session, "telegram", self.chat_id, now)
        old = await outbox_row(session, case.team_card_id)
        if old is not None:
            # The old card points to the new one, and loses its Claim button.
            superseded, _ = await self.render(session, case, superseded=True)
            team.edit(old, superseded, [])
        text, buttons = await self.render(session, case, waited_hours=waited_hours)
        row = team.send(text, buttons, priority=NOTICE)
        await session.flush()
        case.team_card_id = row.id
        case.announced_at = now

    async def refresh(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """Bring the card up to date (claimed, released, closed, urgent)."""
        if self.chat_id is None:
            return
        row = await outbox_row(session, case.team_card_id)
        if row is None:
            return
        text, buttons = await self.render(session, case)
        if row.payload.get("text") == text and row.payload.get("buttons") == buttons:
            return
        Outbox(session, row.channel, row.chat_id, now).edit(row, text, buttons)

    async def withdrawn(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """The person withdrew consent: the case's card and its alert cards say only
        that, with no buttons (the case is about to be erased)."""
        text = self.messages.render("staff/withdrawn_card", case=case)
        rows = [await outbox_row(session, case.team_card_id)]
        for alert_row in await alert_cards_of(session, case.id):
            rows.append(await outbox_row(session, alert_row))
        for row in rows:
            if row is not None:
                Outbox(session, row.channel, row.chat_id, now).edit(row, text, [])

    # --- safety alert cards ---------------------------------------------------------------
    def seen_button(self, case: Case) -> Keyboard:
        """The "Seen – I'm on it" button on a safety alert."""
        return [[button(self.messages.label("alert_seen"), StaffTap("seen", case.reference))]]

    async def alert(
        self, session: AsyncSession, case: Case, alert: SafetyAlert, escalated: bool, now: datetime
    ) -> None:
        """Post the alert. A repeat, or a reminder, goes out as a new card (Telegram
        notifies nobody of an edit) and the old card points on to it, so an alert
        nobody has taken can never sit silent at the top of the chat."""
        if self.chat_id is None:
            return
        team = Outbox(session, "telegram", self.chat_id, now)
        previous = await outbox_row(session, alert.outbox_id)
        if previous is not None:
            pointer = self.messages.render(
                "staff/safety_alert_superseded", case=case, more_serious=escalated
            )
            team.edit(previous, pointer, [])
        row = team.send(self._alert_text(alert, case), self.seen_button(case), urgent=True)
        await session.flush()
        alert.outbox_id = row.id

    async def overnight(
        self, session: AsyncSession, alerts: list[tuple[SafetyAlert, Case]], now: datetime
    ) -> None:
        """The day starts with the alerts raised while nobody was working."""
        if self.chat_id is None or not alerts:
            return
        text = self.messages.render(
            "staff/overnight_alerts", alerts=alerts, zone=self.settings.zone
        )
        Outbox(session, "telegram", self.chat_id, now).send(text, urgent=True)

    async def refresh_alert(
        self, session: AsyncSession, case: Case, alert: SafetyAlert, now: datetime
    ) -> None:
        """Show on the alert's card who is on it (and take its button off)."""
        row = await outbox_row(session, alert.outbox_id)
        if row is None:
            return
        Outbox(session, row.channel, row.chat_id, now).edit(row, self._alert_text(alert, case), [])

    def _alert_text(self, alert: SafetyAlert, case: Case) -> str:
        return self.messages.render(
            "staff/safety_alert", case=case, alert=alert, zone=self.settings.zone
        )
