"""Reminders in the team chat, so nothing waits unseen.

- A case nobody has claimed after CLAIM_REMINDER_HOURS of working time is
  announced again (the old card points to the new one).
- A safety alert nobody has taken (tapped Seen) ALERT_RESEND_MINUTES after its
  card went out is posted again, as a new message, and sent to the worker holding
  the case; only in working hours, so one left from the day before is posted
  again as the next working day starts. That day starts with a list of the alerts
  raised while nobody was working.
- Each working morning, a case with no contact by the day its patient was
  promised, or whose patient's message has waited a working day for an answer,
  is flagged to the worker holding it; still so a day later, to the team chat too
  (references and who holds them: no names).

Several bot instances may run these at once: each case or alert is taken with
SKIP LOCKED, so it is announced once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings, parse_working_hours
from bot.hours import working_seconds_between
from bot.messages import Messages
from bot.staff.cards import TeamCards
from bot.staff.notices import CaseNotices
from bot.store import Database
from bot.store.audit import audit
from bot.store.cases import (
    Case,
    held_open_cases,
    last_times,
    unclaimed_since,
    unseen_alerts_announced_before,
)
from bot.store.outbox import NOTICE, Outbox
from bot.store.staff import LinkWorker, cover_for, worker_names
from bot.taps import StaffTap, button

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


async def flag_overdue(db: Database, messages: Messages, settings: Settings, now: datetime) -> int:
    """The morning check: overdue cases to their holders (once a day each), and to
    the team those flagged on an earlier day and overdue still. Returns how many."""
    if not settings.is_working_time(now):
        return 0
    zone = settings.zone
    today = now.astimezone(zone).date()
    _, opens, closes = parse_working_hours(settings.working_hours)
    a_working_day = (closes.hour * 60 + closes.minute - opens.hour * 60 - opens.minute) * 60
    async with db.transaction() as session:
        by_holder: dict[int, list[dict[str, Any]]] = {}
        for_team: list[dict[str, Any]] = []
        names = await worker_names(session)
        for case in await held_open_cases(session):
            told = case.overdue_told_at
            if told is not None and told.astimezone(zone).date() == today:
                continue  # flagged this morning already
            why = await _overdue(session, case, settings, now, today, a_working_day)
            if why is None:
                if told is not None or case.overdue_team_told_at is not None:
                    case.overdue_told_at = case.overdue_team_told_at = None
                continue
            item = {"case": case, "name": case.summary.about_the_person.name,
                    "holder": names.get(case.link_worker_id or 0), **why}  # fmt: skip
            assert case.link_worker_id is not None
            by_holder.setdefault(case.link_worker_id, []).append(item)
            if told is not None:  # flagged on an earlier day, and overdue still
                for_team.append(item)
                case.overdue_team_told_at = now
            case.overdue_told_at = now
            audit(session, None, "overdue", case, now, str(why["why"]), actor="overdue check")
        for worker_id, items in by_holder.items():
            worker = await session.get(LinkWorker, worker_id)
            if worker is None or not worker.active:
                continue
            covering_for = None
            if worker.away_on(today):  # away: no reminders; the one covering hears
                covering_for, worker = worker.name, await cover_for(session, worker, today)
                if worker is None:
                    continue
            buttons = [
                [button(messages.label("staff_open", reference=i["case"].reference),
                        StaffTap("open", i["case"].reference))]
                for i in items[:10]
            ]  # fmt: skip
            text = messages.render("staff/overdue", items=items, zone=zone, team=False,
                                   covering_for=covering_for)  # fmt: skip
            Outbox(session, "telegram", worker.telegram_id, now).send(text, buttons)
        if for_team and settings.staff_chat_id is not None:
            text = messages.render("staff/overdue", items=for_team, zone=zone, team=True)
            Outbox(session, "telegram", settings.staff_chat_id, now).send(text, priority=NOTICE)
        flagged = sum(len(items) for items in by_holder.values())
        if flagged:
            log.info("overdue cases flagged", extra={"count": flagged, "team": len(for_team)})
        return flagged


async def _overdue(
    session: AsyncSession,
    case: Case,
    settings: Settings,
    now: datetime,
    today: date,
    a_working_day: float,
) -> dict[str, Any] | None:
    """Why this case is overdue, or None: no contact by the promised day, or the
    patient's last message unanswered for a working day."""
    times = await last_times(session, case.id)
    since_claim = case.claimed_at
    contacted = times.worker is not None and (since_claim is None or times.worker >= since_claim)
    if case.promised_by is not None and today > case.promised_by and not contacted:
        return {"why": "no_contact", "promised_by": case.promised_by}
    wrote = times.patient
    if (
        wrote is not None
        and (times.reply is None or times.reply < wrote)
        and working_seconds_between(wrote, now, settings) >= a_working_day
    ):
        return {"why": "unanswered", "wrote_at": wrote}
    return None
