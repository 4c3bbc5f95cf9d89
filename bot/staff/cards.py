"""The team chat (STAFF_CHAT_ID): one card per case, edited in place as it moves.

A card carries only what a group may see: the reference, how long it has waited,
the areas of need, the postcode district, whether it is urgent and how the person
would like to be contacted. Never a name, a phone number or anything they wrote
(special-category data does not belong in a group).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import Messages
from bot.service import Outbox
from bot.staff.records import district, worker_name
from bot.store.models import Case, OutboxMessage

Keyboard = list[list[dict[str, str]]]


def tap_data(verb: str, reference: str = "", arg: str = "") -> str:
    """A staff button's callback data: "s:<verb>:<reference>:<arg>" (under 64 bytes)."""
    return f"s:{verb}:{reference}:{arg}"


class TeamCards:
    def __init__(self, messages: Messages, settings: Settings) -> None:
        self.messages = messages
        self.settings = settings

    @property
    def chat_id(self) -> int | None:
        return self.settings.staff_chat_id

    async def render(
        self,
        session: AsyncSession,
        case: Case,
        *,
        waited_hours: float | None = None,
        superseded: bool = False,
    ) -> tuple[str, Keyboard]:
        about: dict[str, Any] = (case.summary or {}).get("about_the_person", {})
        needs: dict[str, Any] = (case.summary or {}).get("needs", {})
        text = self.messages.render(
            "staff/case_card",
            case=case,
            holder=await worker_name(session, case.link_worker_id),
            need_areas=[self.messages.label(f"need_{a}") for a in needs.get("need_areas", [])],
            district=district(about.get("postcode")),
            contact_method=about.get("contact_method"),
            waited_hours=waited_hours,
            superseded=superseded,
            zone=self.settings.zone,
        )
        buttons: Keyboard = []
        if case.status == "waiting" and not superseded:
            label = self.messages.label("staff_claim", reference=case.reference)
            buttons = [[{"text": label, "data": tap_data("claim", case.reference)}]]
        return text, buttons

    async def post(
        self, session: AsyncSession, case: Case, now: datetime, *, waited_hours: float | None = None
    ) -> None:
        """Announce the case (again, for a reminder: the old card loses its button)."""
        if self.chat_id is None:
            return
        team = Outbox(session, "telegram", self.chat_id, now)
        old = await session.get(OutboxMessage, case.team_card_id) if case.team_card_id else None
        if old is not None:
            # The old card points to the new one, and loses its Claim button.
            superseded, _ = await self.render(session, case, superseded=True)
            team.edit(old, superseded, [])
        text, buttons = await self.render(session, case, waited_hours=waited_hours)
        row = team.send(text, buttons)
        await session.flush()
        case.team_card_id = row.id
        case.announced_at = now

    async def refresh(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """Bring the card up to date (claimed, released, closed, urgent)."""
        if self.chat_id is None or case.team_card_id is None:
            return
        row = await session.get(OutboxMessage, case.team_card_id)
        if row is None:
            return
        text, buttons = await self.render(session, case)
        if row.payload.get("text") == text and row.payload.get("buttons") == buttons:
            return
        Outbox(session, row.channel, row.chat_id, now).edit(row, text, buttons)
