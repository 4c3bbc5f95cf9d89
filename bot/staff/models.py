"""The staff side of the schema: link workers, invitations to join, the referrals
they make, and the audit of everything they open or do.

Who may do what is read from `LinkWorker` on every action (never cached), so
removing a worker takes effect on their very next tap.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base, utcnow

ROLES = ("link_worker", "admin")


class LinkWorker(Base):
    """Someone on the team, known by their Telegram account."""

    __tablename__ = "link_worker"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    #: As patients read it: "Sam, your link worker: ...".
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default="link_worker")
    active: Mapped[bool] = mapped_column(default=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: What their next typed message is for, after a button asked for text:
    #: {"kind": "reply" | "note" | "search" | "close_other" | "done", "case": "SP-..."}
    #: and the last list of activities offered to /refer ("choices").
    pending: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StaffInvite(Base):
    """A one-time code that registers whoever sends `/join CODE` as a worker. Only
    a hash is kept: the code itself is shown once, to the admin who made it."""

    __tablename__ = "staff_invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    role: Mapped[str] = mapped_column(String(16), default="link_worker")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    used_by: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL"), default=None
    )


class Referral(Base):
    """A link worker referred the patient to an activity. Follow-up check-ins
    ("did you go? how was it?") hang off this record."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    link_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL")
    )
    #: The directory's id for the activity, and its name and organisation as they
    #: were when referred (the directory may change or drop it later).
    activity_id: Mapped[str] = mapped_column(String(200))
    activity_name: Mapped[str] = mapped_column(Text)
    organisation: Mapped[str] = mapped_column(Text, default="")
    #: "suggested" (one the patient was shown) or "search" (found by the worker).
    found_by: Mapped[str] = mapped_column(String(16))
    made_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who opened or did what to which case, when. Never the text of a message:
    that is on the case; the audit says that something was done, and by whom."""

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
