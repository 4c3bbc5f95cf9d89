"""A case with everything that happened on it: what the case view shows a link
worker, read in one transaction so that it is consistent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.audit import AuditEntry, case_history
from bot.store.cases import Case, CaseEntry, Referral, SafetyAlert
from bot.store.checkins import CheckIn, check_ins_of_case
from bot.store.patients import Patient, WellbeingScore
from bot.store.staff import worker_names
from flows.summary import CaseSummary
from flows.wellbeing import MEASURES


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
    holder: str | None
    patient_blocked: bool
    entries: list[EntryView] = field(default_factory=list)
    scores: list[WellbeingScore] = field(default_factory=list)
    referrals: list[tuple[Referral, str | None]] = field(default_factory=list)
    alerts: list[SafetyAlert] = field(default_factory=list)
    history: list[AuditEntry] = field(default_factory=list)
    check_ins: list[CheckIn] = field(default_factory=list)

    @property
    def summary(self) -> CaseSummary:
        return self.case.summary

    @property
    def baseline(self) -> WellbeingScore | None:
        return next((s for s in self.scores if s.context == "baseline"), None)

    @property
    def baseline_scores(self) -> dict[str, int | None]:
        """The four ONS4 answers at the handoff (None: skipped)."""
        measured = self.baseline
        if measured is not None:
            return {m: getattr(measured, m) for m in MEASURES}
        stored = self.summary.outcomes.wellbeing_baseline
        return {m: stored.get(m) for m in MEASURES}

    @property
    def follow_ups(self) -> list[WellbeingScore]:
        """Wellbeing measured again at check-ins, oldest first."""
        return [s for s in self.scores if s.context == "check_in"]

    @property
    def conversation(self) -> list[EntryView]:
        """What the patient and the link worker said, and what was done, in order."""
        return [e for e in self.entries if e.kind not in ("note", "event", "safety_screening")]

    @property
    def notes(self) -> list[EntryView]:
        return [e for e in self.entries if e.kind == "note"]


async def load_case_file(session: AsyncSession, case: Case) -> CaseFile:
    """The case with everything that happened on it, named as the team knows it."""
    names = await worker_names(session)
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
    return CaseFile(
        case=case,
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
        history=list(await case_history(session, case.id)),
        check_ins=await check_ins_of_case(session, case.id),
    )
