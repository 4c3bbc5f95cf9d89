"""Telegram updates as link worker actions: who did it, where, and what.

The adapter asks `staff_inbound` first; the staff service decides from the database
whether the person is a link worker. Patients' updates pass through untouched.
"""

from __future__ import annotations

from telegram import Chat, Update

from bot.staff.service import StaffInbound, StaffTap
from flows.core import Event


def staff_inbound(update: Update, event: Event) -> StaffInbound | None:
    """The update as a possible staff action (a staff button tap becomes a
    `StaffTap`), or None when no person sent it."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    query = update.callback_query
    action: Event | StaffTap = event
    message_id = None
    if query is not None:
        tap = StaffTap.parse(query.data or "")
        if tap is not None:
            action = tap
        message_id = query.message.message_id if query.message else None
    return StaffInbound(
        user_id=user.id,
        chat_id=chat.id,
        private=chat.type == Chat.PRIVATE,
        event=action,
        update_id=update.update_id,
        first_name=user.first_name,
        message_id=message_id,
    )
