"""The audit: who opened or did what to which case, and when.

Never what was said: message text lives on the case; the audit says that
something was done, and by whom, and outlives the case it names.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.base import Base, utcnow
from bot.store.cases import Case, normalise_reference
from bot.store.staff import LinkWorker


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    link_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL"), index=True
    )
    #: Who, as they were named at the time ("Sam", or "command line").
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case.id", ondelete="SET NULL"), index=True
    )
    #: Kept even if the case is erased, so the audit still reads.
    case_reference: Mapped[str | None] = mapped_column(String(16), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


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


async def audit_trail(session: AsyncSession, reference: str) -> list[AuditEntry]:
    """Everything recorded for a case reference, oldest first."""
    rows = await session.execute(
        select(AuditEntry)
        .where(AuditEntry.case_reference == normalise_reference(reference))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return list(rows.scalars())


async def case_history(session: AsyncSession, case_id: int) -> list[AuditEntry]:
    """What was done to one case (not who opened it to read: that is every view)."""
    rows = await session.execute(
        select(AuditEntry)
        .where(AuditEntry.case_id == case_id, AuditEntry.action != "open")
        .order_by(AuditEntry.id)
    )
    return list(rows.scalars())
