"""Reading and writing the staff side's rows: workers, the audit, case files.

Small functions that take the session of the transaction they belong to, shared by
the staff service, the team chat notices and the command line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.staff.models import AuditEntry, LinkWorker, Referral
from bot.store import Database
from bot.store.models import Case, CaseEntry, Patient, ProcessedUpdate, SafetyAlert, WellbeingScore
from flows.wellbeing import MEASURES

REFERENCE_PREFIX = "SP-"


def normalise_reference(text: str) -> str:
    """'sp-7k3q', '7K3Q' and 'SP-7K3Q' are the same case."""
    ref = text.strip().upper().replace(" ", "")
    if ref and not ref.startswith(REFERENCE_PREFIX):
        ref = REFERENCE_PREFIX + ref.removeprefix("SP").lstrip("-")
    return ref


def invite_hash(code: str) -> str:
    """Invite codes are kept hashed. They are random (60 bits), one-time and
    short-lived, so a fast hash is enough; spaces, dashes and case don't matter."""
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()


async def active_worker(
    session: AsyncSession, telegram_id: int, *, lock: bool = False
) -> LinkWorker | None:
    """The worker with this Telegram account, if they are on the team now."""
    query = select(LinkWorker).where(
        LinkWorker.telegram_id == telegram_id, LinkWorker.active.is_(True)
    )
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def first_delivery(
    session: AsyncSession, db: Database, update_id: int, now: datetime
) -> bool:
    """Record a Telegram update as handled; False if it already was (a redelivery)."""
    insert = sqlite_insert if db.is_sqlite else pg_insert
    stmt = insert(ProcessedUpdate).values(update_id=update_id, processed_at=now)
    result = await session.execute(stmt.on_conflict_do_nothing())
    return bool(result.rowcount)  # type: ignore[attr-defined]


def audit(
    session: AsyncSession,
    worker: LinkWorker | None,
    action: str,
    case: Case | None,
    now: datetime,
    detail: str = "",
    *,
    actor: str | None = None,
) -> None:
    """Record who did what to which case. Never the text of a message."""
    session.add(
        AuditEntry(
            at=now, link_worker_id=worker.id if worker else None,
            actor=actor or (worker.name if worker else "system"), action=action,
            case_id=case.id if case else None,
            case_reference=case.reference if case else None, detail=detail,
        )
    )  # fmt: skip


async def case_by_reference(
    session: AsyncSession, reference: str, *, lock: bool = False
) -> Case | None:
    query = select(Case).where(Case.reference == normalise_reference(reference))
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def worker_name(session: AsyncSession, worker_id: int | None) -> str | None:
    if worker_id is None:
        return None
    worker = await session.get(LinkWorker, worker_id)
    return worker.name if worker else None


@dataclass
class EntryView:
    at: datetime
    kind: str
    text: str
    by: str | None


@dataclass
class CaseFile:
    """Everything the case view shows, read in one transaction."""

    case: Case
    summary: dict[str, Any]
    holder: str | None
    patient_blocked: bool
    entries: list[EntryView] = field(default_factory=list)
    scores: list[WellbeingScore] = field(default_factory=list)
    referrals: list[tuple[Referral, str | None]] = field(default_factory=list)
    alerts: list[SafetyAlert] = field(default_factory=list)
    history: list[AuditEntry] = field(default_factory=list)

    @property
    def baseline(self) -> WellbeingScore | None:
        return next((s for s in self.scores if s.context == "baseline"), None)

    @property
    def baseline_scores(self) -> dict[str, int | None]:
        """The four ONS4 answers at the handoff (None: skipped)."""
        measured = self.baseline
        if measured is not None:
            return {m: getattr(measured, m) for m in MEASURES}
        stored = self.summary.get("outcomes", {}).get("wellbeing_baseline") or {}
        return {m: stored.get(m) for m in MEASURES}

    @property
    def conversation(self) -> list[EntryView]:
        """What the patient and the link worker said, and what was done, in order."""
        return [e for e in self.entries if e.kind not in ("note", "event", "safety_screening")]

    @property
    def notes(self) -> list[EntryView]:
        return [e for e in self.entries if e.kind == "note"]


async def load_case_file(session: AsyncSession, case: Case) -> CaseFile:
    names = {w.id: w.name for w in (await session.execute(select(LinkWorker))).scalars()}
    patient = await session.get(Patient, case.patient_id)
    entries = await session.execute(
        select(CaseEntry).where(CaseEntry.case_id == case.id).order_by(CaseEntry.id)
    )
    scores = await session.execute(
        select(WellbeingScore)
        .where(WellbeingScore.case_id == case.id)
        .order_by(WellbeingScore.measured_at, WellbeingScore.id)
    )
    referrals = await session.execute(
        select(Referral).where(Referral.case_id == case.id).order_by(Referral.id)
    )
    alerts = await session.execute(
        select(SafetyAlert).where(SafetyAlert.case_id == case.id).order_by(SafetyAlert.id)
    )
    history = await session.execute(
        select(AuditEntry)
        .where(AuditEntry.case_id == case.id, AuditEntry.action != "open")
        .order_by(AuditEntry.id)
    )
    return CaseFile(
        case=case,
        summary=case.summary or {},
        holder=names.get(case.link_worker_id) if case.link_worker_id else None,
        patient_blocked=bool(patient and patient.blocked_at),
        entries=[
            EntryView(
                e.at, e.kind, e.text, names.get(e.link_worker_id) if e.link_worker_id else None
            )
            for e in entries.scalars()
        ],
        scores=list(scores.scalars()),
        referrals=[
            (r, names.get(r.link_worker_id) if r.link_worker_id else None)
            for r in referrals.scalars()
        ],
        alerts=list(alerts.scalars()),
        history=list(history.scalars()),
    )


def district(postcode: str | None) -> str | None:
    """The postcode district ("L20 3AB" -> "L20"): enough to know the area, not the street."""
    if not postcode or postcode == "none":
        return None
    return postcode.split()[0].upper()
