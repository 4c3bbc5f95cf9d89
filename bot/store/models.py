"""The patient side of the schema: who is talking to us, where their conversation
is, their consent, their wellbeing scores, their case, and what we owe them (the
outbox). Directory and staff tables live in their own modules on the same `Base`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.store.base import Base, UTCDateTime, utcnow

__all__ = ["Base", "UTCDateTime", "utcnow"]


class Patient(Base):
    """Someone who messaged the bot. `channel` + `chat_id` say how to reach them."""

    __tablename__ = "patient"
    __table_args__ = (UniqueConstraint("channel", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # "telegram" | "console"
    chat_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Set when Telegram says the patient blocked the bot (403): we stop sending.
    blocked_at: Mapped[datetime | None] = mapped_column(default=None)

    conversation: Mapped[Conversation] = relationship(
        back_populates="patient", cascade="all, delete-orphan", uselist=False
    )


class Conversation(Base):
    """Where the patient is in a flow, and every answer so far (word for word)."""

    __tablename__ = "conversation"

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str] = mapped_column(String(32), default="referral")
    state: Mapped[str] = mapped_column(String(64))
    #: Increases every time a question is asked; buttons carry it, so a tap on an
    #: earlier question's button is recognised and has no effect.
    step: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The outbox row of the last question asked, so its buttons can be closed.
    prompt_outbox_id: Mapped[int | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="conversation")


class Consent(Base):
    """Explicit consent to keep special-category data: when, and to which wording."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    notice_version: Mapped[str] = mapped_column(String(32))
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)


class WellbeingScore(Base):
    """ONS4 answers (0-10; None = skipped) at one moment."""

    __tablename__ = "wellbeing_score"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id", ondelete="SET NULL"))
    context: Mapped[str] = mapped_column(String(16))  # "baseline" | "check_in"
    measured_at: Mapped[datetime] = mapped_column(default=utcnow)
    life_satisfaction: Mapped[int | None]
    worthwhile: Mapped[int | None]
    happiness: Mapped[int | None]
    anxiety: Mapped[int | None]


class Case(Base):
    """A referral in the link worker queue. `summary` follows the PRSB headings."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)  # "SP-7K3Q"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    urgent: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The link worker side (bot/staff): who holds it, how it ended, its team card.
    link_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL"), index=True, default=None
    )
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    #: The card in the team chat (an outbox row), edited as the case moves.
    team_card_id: Mapped[int | None] = mapped_column(default=None)
    #: When the team chat was last told it is waiting (claim reminders count from it).
    announced_at: Mapped[datetime | None] = mapped_column(default=None)

    entries: Mapped[list[CaseEntry]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseEntry.id"
    )


class CaseEntry(Base):
    """Something that happened on a case: a patient's message, a note, an event."""

    __tablename__ = "case_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # "patient_message" | "reply" | "note" | "event"
    text: Mapped[str] = mapped_column(Text, default="")
    #: The link worker who wrote it (a reply or a note), if one did.
    link_worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("link_worker.id", ondelete="SET NULL"), default=None
    )

    case: Mapped[Case] = relationship(back_populates="entries")


class ProcessedUpdate(Base):
    """Telegram update ids already handled: a redelivered update has no second effect."""

    __tablename__ = "processed_update"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message we owe someone, written in the same transaction as the change that
    caused it, and delivered (with retries) by the sender."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    #: "send" a new message, or "edit" the message sent for `target_id`.
    action: Mapped[str] = mapped_column(String(8), default="send")
    target_id: Mapped[int | None] = mapped_column(default=None)
    #: {"text": html, "buttons": [[{"text", "data"}]]}
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    #: Telegram's message_id once sent, so later edits can find it.
    message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    failed_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    #: What the message shows now in the chat (a digest of text and buttons), so an
    #: edit that would change nothing is skipped instead of refused by Telegram.
    delivered_digest: Mapped[str | None] = mapped_column(String(64), default=None)


class SafetyAlert(Base):
    """Crisis language on a case, as the team sees it. Repeated messages add to the
    same open alert (count, last_at) instead of flooding the team chat."""

    __tablename__ = "safety_alert"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow)
    count: Mapped[int] = mapped_column(default=1)
    out_of_hours: Mapped[bool] = mapped_column(default=False)
    #: The team chat message, so that repeats edit it in place.
    outbox_id: Mapped[int | None] = mapped_column(default=None)
    seen_by: Mapped[str | None] = mapped_column(String(100), default=None)
    seen_at: Mapped[datetime | None] = mapped_column(default=None)
    action_taken: Mapped[str | None] = mapped_column(Text, default=None)
