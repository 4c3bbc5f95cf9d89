"""Managing the team from the command line (`spbot staff ...`, `spbot audit`).

Whoever can run the command line on the server is trusted: these functions do not
check roles. Each is one transaction, and each is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.messages import Messages
from bot.staff.cards import TeamCards
from bot.staff.joining import new_invite_code
from bot.store import Database
from bot.store import audit as audit_log
from bot.store.audit import AuditEntry, audit
from bot.store.cases import add_entry, open_cases_by_worker, open_cases_held_by
from bot.store.outbox import Outbox, case_messages_to
from bot.store.patients import patient_by_id
from bot.store.staff import (
    ROLES,
    LinkWorker,
    Pending,
    StaffInvite,
    everyone,
    invite_hash,
    worker_by_telegram_id,
)
from flows import case as case_life

COMMAND_LINE = "command line"
#: Telegram lets a bot delete its own messages for 48 hours (a little less, to be safe).
DELETABLE_FOR = timedelta(hours=47)
#: The command line acts as an admin would (it may release anyone's case).
CLI_ACTOR = case_life.Actor(worker_id=0, role="admin")


class StaffError(Exception):
    """Something the person at the command line can fix; the message says how."""


@dataclass(frozen=True)
class Invitation:
    code: str
    expires_at: datetime


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise StaffError(f"--role must be one of {', '.join(ROLES)}")


async def add_worker(
    db: Database, telegram_id: int, name: str, role: str, now: datetime
) -> LinkWorker:
    """Add someone by their Telegram user id (or bring back someone removed)."""
    _check_role(role)
    if not name.strip():
        raise StaffError('--name is needed: patients see it ("Sam, your link worker")')
    async with db.transaction() as session:
        worker = await worker_by_telegram_id(session, telegram_id)
        if worker is None:
            worker = LinkWorker(telegram_id=telegram_id, name=name.strip(), role=role,
                                added_at=now, pending=Pending())  # fmt: skip
            session.add(worker)
        else:
            worker.name, worker.role, worker.active, worker.removed_at = (
                name.strip(),
                role,
                True,
                None,
            )
        await session.flush()
        audit(session, None, "staff_add", None, now, f"worker {worker.id} as {role}",
              actor=COMMAND_LINE)  # fmt: skip
        return worker


async def create_invite(
    db: Database, name: str | None, role: str, hours: float, now: datetime
) -> Invitation:
    """A one-time code for `/join CODE`; only its hash is kept."""
    _check_role(role)
    if hours <= 0:
        raise StaffError("--hours must be more than 0")
    code = new_invite_code()
    expires_at = now + timedelta(hours=hours)
    async with db.transaction() as session:
        invite = StaffInvite(code_hash=invite_hash(code), name=(name or "").strip() or None,
                             role=role, created_at=now, expires_at=expires_at)  # fmt: skip
        session.add(invite)
        await session.flush()
        audit(session, None, "staff_invite", None, now, f"invite {invite.id} as {role}",
              actor=COMMAND_LINE)  # fmt: skip
    return Invitation(code, expires_at)


async def list_workers(db: Database) -> list[tuple[LinkWorker, int]]:
    """Everyone, active first, with how many open cases each holds."""
    async with db.reading() as session:
        held = await open_cases_by_worker(session)
        return [(w, held.get(w.id, 0)) for w in await everyone(session)]


async def remove_worker(
    db: Database, messages: Messages, settings: Settings, telegram_id: int, now: datetime
) -> tuple[LinkWorker, list[str]]:
    """Take someone off the team at once. Their open cases go back to the queue,
    each with a note saying why; the patients are told a new link worker will pick
    them up; an urgent case is posted anew in the team chat (the others' cards are
    edited to waiting). The worker is told, and the messages about cases in their
    private chat are deleted where Telegram allows (edited to say so where not)."""
    cards = TeamCards(messages, settings)
    async with db.transaction() as session:
        worker = await worker_by_telegram_id(session, telegram_id, lock=True)
        if worker is None:
            raise StaffError(f"nobody with Telegram id {telegram_id} is on the team")
        was_active = worker.active
        worker.active, worker.removed_at, worker.pending = False, now, Pending()
        returned = []
        for case in await open_cases_held_by(session, worker.id):
            decision = case_life.decide(case.status, case.link_worker_id, CLI_ACTOR, "release")
            case.status, case.link_worker_id = decision.status, decision.holder_id
            case.claimed_at, case.announced_at, case.promised_by = None, now, None
            case.overdue_told_at = case.overdue_team_told_at = None
            note = messages.render("staff/notes/worker_removed", name=worker.name)
            add_entry(session, case.id, "note", note, now)
            audit(session, None, "returned", case, now, f"worker {worker.id} removed",
                  actor=COMMAND_LINE)  # fmt: skip
            if case.urgent:
                await cards.post(session, case, now)  # a new card: an edit notifies nobody
            else:
                await cards.refresh(session, case, now)
            patient = await patient_by_id(session, case.patient_id)
            if patient is not None and patient.blocked_at is None:
                told = messages.render("referral/released", previous=worker.name,
                                       reference=case.reference)  # fmt: skip
                Outbox(session, patient.channel, patient.chat_id, now).send(told)
            returned.append(case.reference)
        if was_active:
            await take_back_case_messages(session, messages, worker, now)
            Outbox(session, "telegram", worker.telegram_id, now).send(
                messages.render("staff/removed", returned=len(returned))
            )
        audit(session, None, "staff_remove", None, now, f"worker {worker.id}", actor=COMMAND_LINE)
        return worker, returned


async def take_back_case_messages(
    session: AsyncSession, messages: Messages, worker: LinkWorker, now: datetime
) -> None:
    """What the bot sent a removed worker about cases leaves their chat: deleted if
    Telegram still allows it (48 hours), else edited to say it was taken back.
    What had not gone yet never goes."""
    stub = messages.render("staff/taken_back")
    team = Outbox(session, "telegram", worker.telegram_id, now)
    for row in await case_messages_to(session, "telegram", worker.telegram_id):
        if row.sent_at is None:
            row.failed_reason = "not sent: the worker was taken off the team"
        elif row.message_id is None:
            continue
        elif now - row.sent_at < DELETABLE_FOR:
            team.delete(row)
        else:
            team.edit(row, stub, [])


async def audit_trail(db: Database, reference: str) -> list[AuditEntry]:
    async with db.reading() as session:
        return await audit_log.audit_trail(session, reference)
