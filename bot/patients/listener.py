"""What the patient side tells the link worker side, inside the patient's own
transaction, so the team hears of a case exactly when it is committed.

The staff side implements this (bot/staff/notices.py); `bot.app` wires it in. The
patient side never imports the staff side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.cases import Case, SafetyAlert


class CaseListener(Protocol):
    async def case_opened(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """A referral reached the queue."""

    async def case_updated(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """A case has more to show (the referral completed a case a crisis opened)."""

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
        """The patient wrote after the handoff: their words are for their link worker.
        `crisis`: the words raised a safety alert too (whose card already tells the team)."""

    async def alert_raised(
        self,
        session: AsyncSession,
        case: Case,
        alert: SafetyAlert,
        escalated: bool,
        now: datetime,
    ) -> None:
        """Crisis language: the case is urgent; `escalated` when more serious than
        the alert the team already has."""

    async def message_not_handled(
        self, session: AsyncSession, case: Case | None, now: datetime
    ) -> None:
        """A message from the patient (whose latest case this is, if any) could not
        be handled however often it was tried: someone should reach them."""

    async def asked_for_contact(
        self, session: AsyncSession, case: Case, reopened: bool, now: datetime
    ) -> None:
        """At a check-in the patient asked for a link worker (the case is marked so;
        `reopened`: it had been closed)."""

    async def case_withdrawn(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """The patient withdrew consent: the case is about to be erased."""

    async def reachable_again(self, session: AsyncSession, case: Case, now: datetime) -> None:
        """The patient, marked as having blocked the bot, wrote again: messages reach
        them once more (whoever was told they could not be reached is told)."""


class NobodyListening:
    """For a patient side with no team behind it (tests of the conversation alone)."""

    async def case_opened(self, session: AsyncSession, case: Case, now: datetime) -> None:
        return None

    async def case_updated(self, session: AsyncSession, case: Case, now: datetime) -> None:
        return None

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
        return None

    async def alert_raised(
        self,
        session: AsyncSession,
        case: Case,
        alert: SafetyAlert,
        escalated: bool,
        now: datetime,
    ) -> None:
        return None

    async def message_not_handled(
        self, session: AsyncSession, case: Case | None, now: datetime
    ) -> None:
        return None

    async def asked_for_contact(
        self, session: AsyncSession, case: Case, reopened: bool, now: datetime
    ) -> None:
        return None

    async def case_withdrawn(self, session: AsyncSession, case: Case, now: datetime) -> None:
        return None

    async def reachable_again(self, session: AsyncSession, case: Case, now: datetime) -> None:
        return None
