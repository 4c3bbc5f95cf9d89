"""Joining the team with a one-time invitation: `/join CODE`.

A wrong or used code is not ours to answer: the patient reply says nothing of
it, so nobody learns that staff commands exist by guessing.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Messages
from bot.staff.act import Act
from bot.store.audit import audit
from bot.store.cases import readable_code
from bot.store.outbox import Outbox
from bot.store.staff import LinkWorker, Pending, usable_invite, worker_by_telegram_id
from bot.store.updates import first_delivery
from bot.taps import StaffTap, button

log = logging.getLogger(__name__)


def new_invite_code() -> str:
    """A code to read out or paste: 12 characters with no 0/O or 1/I, in groups of
    four (60 bits)."""
    raw = readable_code(12)
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


async def join(
    session: AsyncSession,
    messages: Messages,
    user_id: int,
    first_name: str | None,
    code: str,
    update_id: int | None,
    now: datetime,
) -> bool | None:
    """Register this Telegram account from a valid invitation. None when the code
    is not one (the update is a patient's); False for a redelivered update."""
    if not code.strip():
        return None
    invite = await usable_invite(session, code, now)
    if invite is None:
        log.info("join refused: no such invitation")
        return None
    if update_id is not None and not await first_delivery(session, update_id, now):
        return False
    worker = await worker_by_telegram_id(session, user_id)
    name = invite.name or first_name or messages.label("staff_default_name")
    if worker is None:
        worker = LinkWorker(telegram_id=user_id, name=name, role=invite.role, added_at=now,
                            pending=Pending())  # fmt: skip
        session.add(worker)
    else:
        worker.active, worker.removed_at, worker.role = True, None, invite.role
        worker.name = invite.name or worker.name
    await session.flush()
    invite.used_at, invite.used_by = now, worker.id
    audit(session, worker, "join", None, now, f"invite {invite.id}")
    log.info("link worker joined", extra={"link_worker_id": worker.id})
    welcome = messages.render("staff/joined", worker=worker, again=False)
    nav = [[button(messages.label("staff_queue"), StaffTap("queue")),
            button(messages.label("staff_mine"), StaffTap("mine"))]]  # fmt: skip
    Outbox(session, "telegram", worker.telegram_id, now).send(welcome, nav)
    return True


async def joined_already(act: Act, arg: str = "") -> None:
    """`/join` from someone already on the team."""
    act.say("staff/joined", worker=act.worker, again=True)
