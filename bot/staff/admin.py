"""Managing the team from the command line (`spbot staff ...`, `spbot audit`).

Whoever can run the command line on the server is trusted: these functions do not
check roles. Each is one transaction, and each is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.config import Settings
from bot.messages import Messages
from bot.staff.cards import TeamCards
from bot.staff.models import ROLES, AuditEntry, LinkWorker, StaffInvite
from bot.staff.records import audit, invite_hash, normalise_reference
from bot.staff.service import new_invite_code
from bot.store import Database
from bot.store.models import Case, CaseEntry
from flows import case as case_life

COMMAND_LINE = "command line"
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
        worker = (
            await session.execute(select(LinkWorker).where(LinkWorker.telegram_id == telegram_id))
        ).scalar_one_or_none()
        if worker is None:
            worker = LinkWorker(telegram_id=telegram_id, name=name.strip(), role=role,
                                added_at=now, pending={})  # fmt: skip
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
    async with db.sessions() as session:
        workers = list(
            (
                await session.execute(
                    select(LinkWorker).order_by(LinkWorker.active.desc(), LinkWorker.name)
                )
            ).scalars()
        )
        held: dict[int, int] = {}
        rows = await session.execute(
            select(Case.link_worker_id).where(Case.status.in_(case_life.OPEN))
        )
        for (worker_id,) in rows:
            if worker_id is not None:
                held[worker_id] = held.get(worker_id, 0) + 1
        return [(w, held.get(w.id, 0)) for w in workers]


async def remove_worker(
    db: Database, messages: Messages, settings: Settings, telegram_id: int, now: datetime
) -> tuple[LinkWorker, list[str]]:
    """Take someone off the team at once. Their open cases go back to the queue,
    each with a note saying why, and the team chat's cards show them waiting."""
    cards = TeamCards(messages, settings)
    async with db.transaction() as session:
        query = select(LinkWorker).where(LinkWorker.telegram_id == telegram_id)
        if db.locks_rows:
            query = query.with_for_update()
        worker = (await session.execute(query)).scalar_one_or_none()
        if worker is None:
            raise StaffError(f"nobody with Telegram id {telegram_id} is on the team")
        worker.active, worker.removed_at, worker.pending = False, now, {}
        cases_query = select(Case).where(
            Case.link_worker_id == worker.id, Case.status.in_(case_life.OPEN)
        )
        if db.locks_rows:
            cases_query = cases_query.with_for_update()
        returned = []
        for case in (await session.execute(cases_query)).scalars():
            decision = case_life.decide(case.status, case.link_worker_id, CLI_ACTOR, "release")
            case.status, case.link_worker_id = decision.status, decision.holder_id
            case.claimed_at, case.announced_at = None, now
            note = messages.render("staff/notes/worker_removed", name=worker.name)
            session.add(CaseEntry(case_id=case.id, kind="note", text=note, at=now))
            audit(session, None, "returned", case, now, f"worker {worker.id} removed",
                  actor=COMMAND_LINE)  # fmt: skip
            await cards.refresh(session, case, now)
            returned.append(case.reference)
        audit(session, None, "staff_remove", None, now, f"worker {worker.id}", actor=COMMAND_LINE)
        return worker, returned


async def audit_trail(db: Database, reference: str) -> list[AuditEntry]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(AuditEntry)
            .where(AuditEntry.case_reference == normalise_reference(reference))
            .order_by(AuditEntry.at, AuditEntry.id)
        )
        return list(rows.scalars())
