"""Claim reminders: a case nobody has claimed after CLAIM_REMINDER_HOURS of working
time is announced again in the team chat (the old card points to the new one).

Several bot instances may run this at once: each case is taken with SKIP LOCKED,
so it is announced once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.config import Settings
from bot.staff.cards import TeamCards
from bot.staff.hours import working_seconds_between
from bot.store import Database
from bot.store.audit import audit
from bot.store.cases import unclaimed_since

log = logging.getLogger(__name__)


async def remind_unclaimed(
    db: Database, cards: TeamCards, settings: Settings, now: datetime
) -> int:
    """Re-announce what has waited too long. Returns how many were re-announced."""
    hours = settings.claim_reminder_hours
    if settings.staff_chat_id is None or hours <= 0 or not settings.is_working_time(now):
        return 0
    async with db.transaction() as session:
        reminded = 0
        for case in await unclaimed_since(session, now - timedelta(hours=hours), limit=20):
            since = case.announced_at or case.opened_at
            waited = working_seconds_between(since, now, settings) / 3600
            if waited < hours:
                continue
            total = working_seconds_between(case.opened_at, now, settings) / 3600
            await cards.post(session, case, now, waited_hours=total)
            audit(session, None, "reminder", case, now, actor="claim reminder")
            reminded += 1
        if reminded:
            log.info("unclaimed cases re-announced", extra={"count": reminded})
        return reminded
