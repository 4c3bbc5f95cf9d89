"""Reminders in the team chat, so nothing waits unseen.

- A case nobody has claimed after CLAIM_REMINDER_HOURS of working time is
  announced again (the old card points to the new one).
- A safety alert nobody has taken (tapped Seen) ALERT_RESEND_MINUTES after its
  card went out is posted again, as a new message, and sent to the worker holding
  the case; only in working hours, so one left from the day before is posted
  again as the next working day starts. That day starts with a list of the alerts
  raised while nobody was working.

Several bot instances may run these at once: each case or alert is taken with
SKIP LOCKED, so it is announced once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.config import Settings
from bot.hours import working_seconds_between
from bot.staff.cards import TeamCards
from bot.staff.notices import CaseNotices
from bot.store import Database
from bot.store.audit import audit
from bot.store.cases import unclaimed_since, unseen_alerts_announced_before

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


async def remind_unseen_alerts(
    db: Database, notices: CaseNotices, settings: Settings, now: datetime
) -> int:
    """Post again what nobody has taken. Returns how many alerts were reposted."""
    if not settings.is_working_time(now):
        return 0
    wait = timedelta(minutes=settings.alert_resend_minutes)
    async with db.transaction() as session:
        overnight, waited = [], []
        for alert, case in await unseen_alerts_announced_before(session, now):
            announced = alert.announced_at
            assert announced is not None  # the query asks for a time
            if not settings.is_working_time(announced):
                overnight.append((alert, case))  # the day starts with these, at once
            elif announced <= now - wait:
                waited.append((alert, case))
        await notices.cards.overnight(session, overnight, now)
        due = overnight + waited
        for alert, case in due:
            await notices.alert_reminder(session, case, alert, now)
            audit(
                session,
                None,
                "alert_reminder",
                case,
                now,
                f"alert {alert.id}",
                actor="alert reminder",
            )
        if due:
            log.info("unseen safety alerts posted again", extra={"count": len(due)})
        return len(due)
