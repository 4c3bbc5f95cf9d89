"""The link workers' front door: the queue, the case view, claiming and closing
cases, talking to patients through the bot, the team chat, and the audit.

    staff = StaffService(db, messages, directory, settings, conversations=patients)
    await staff.handle(StaffInbound(...))   # one staff update, one transaction

It stands on `bot.store` and never imports `bot.patients`: it moves a patient's
conversation only through the `Conversations` interface (bot/staff/act.py), and
hears about cases through `CaseNotices`, which the patient side calls.
"""

from bot.staff.act import Conversations, StaffInbound
from bot.staff.notices import CaseNotices
from bot.staff.service import VERBS, StaffHandled, StaffService

__all__ = ["VERBS", "CaseNotices", "Conversations", "StaffHandled", "StaffInbound", "StaffService"]
