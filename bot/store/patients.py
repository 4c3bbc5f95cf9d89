"""Patients and their conversations: who is talking to us, where they are in a
flow and what they answered, their consent, and their wellbeing scores.

A conversation's state only ever changes in `save_conversation`, from what a flow
returned (docs/architecture.md rule 7): every move is a row of a flow's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    insert,
    inspect,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Mapped,
    aliased,
    contains_eager,
    make_transient,
    make_transient_to_detached,
    mapped_column,
    relationship,
)
from sqlalchemy.orm.attributes import set_committed_value

from bot.store.base import Base, is_sqlite, locks_rows, utcnow
from bot.store.cases import Case
from bot.store.milestones import new_journey
from bot.store.outbox import OutboxMessage
from bot.store.sealing import SealedJSON, SealedModel
from flows.core import FlowResult
from flows.referral import ReferralControl


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
    #: They asked us to delete their data while a safety alert of theirs was not yet
    #: seen: it is deleted as soon as a link worker has seen it (vital interests).
    erase_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    #: A random token that ties their milestones together (bot/store/milestones.py)
    #: and names nobody: once this row is gone, nothing leads back to them.
    journey: Mapped[str] = mapped_column(String(24), default=new_journey)

    conversation: Mapped[Conversation] = relationship(
        back_populates="patient", cascade="all, delete-orphan", uselist=False
    )


class Conversation(Base):
    """Where the patient is in a flow, every answer so far (word for word), and the
    flow's typed control fields (kept apart from the answers)."""

    __tablename__ = "conversation"

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[str] = mapped_column(String(32), default="referral")
    state: Mapped[str] = mapped_column(String(64))
    #: Increases every time a question is asked; buttons carry it, so a tap on an
    #: earlier question's button is recognised and has no effect.
    step: Mapped[int] = mapped_column(Integer, default=0)
    #: Sealed at rest (bot/store/sealing.py): their name, words, phone and postcode.
    answers: Mapped[dict[str, Any]] = mapped_column(SealedJSON(), default=dict)
    #: Sealed too: it holds their last typed words.
    control: Mapped[ReferralControl] = mapped_column(
        SealedModel(ReferralControl), default=ReferralControl
    )
    #: The outbox row of the last question asked, so its buttons can be closed.
    prompt_outbox_id: Mapped[int | None] = mapped_column(default=None)
    #: When someone who stopped halfway was nudged (once per stall: a message from
    #: them since makes `updated_at` later than this).
    nudged_at: Mapped[datetime | None] = mapped_column(default=None)
    #: When the conversation last moved (set by `save_conversation`, by the clock the
    #: service runs on): when they last wrote, for hold-offs and nudges.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship(back_populates="conversation")


class Consent(Base):
    """Explicit consent to keep special-category data: when, and to which wording."""

    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    notice_version: Mapped[str] = mapped_column(String(32))
    given_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)


class WellbeingScore(Base):
    """ONS4 answers (0-10; None = skipped) at one moment."""

    __tablename__ = "wellbeing_score"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("case.id", ondelete="SET NULL"), index=True
    )
    context: Mapped[str] = mapped_column(String(16))  # "baseline" | "check_in"
    measured_at: Mapped[datetime] = mapped_column(default=utcnow)
    life_satisfaction: Mapped[int | None]
    worthwhile: Mapped[int | None]
    happiness: Mapped[int | None]
    anxiety: Mapped[int | None]


# --- Finding them ----------------------------------------------------------------------


@dataclass
class Writing:
    """The patient writing now, with what handling their message always needs, read
    in one statement (`patient_for_update`)."""

    patient: Patient
    #: Their first message: their row was just created, so nothing else of theirs
    #: (a case, a consent, a check-in) can exist yet.
    first_message: bool
    #: The consent notice they last agreed to (None: none).
    agreed_notice: str | None = None
    #: The question they are on (the conversation's `prompt_outbox_id`), if any.
    prompt: OutboxMessage | None = None
    #: Their newest case (open or closed), if any: `bot.store.cases.latest_case`.
    case: Case | None = None

    @property
    def conversation(self) -> Conversation:
        return self.patient.conversation


async def patient_for_update(
    session: AsyncSession, channel: str, chat_id: int, now: datetime
) -> Writing:
    """The patient writing from this chat, with their conversation, the notice they
    agreed to, the question they are on and their newest case, locked for this transaction on
    PostgreSQL (their next message waits its turn). Created on their first message;
    ON CONFLICT because their second message may be racing it.

    A first message's patient is the row just inserted (RETURNING: not read back),
    locked by that insert until the commit, and nothing else of theirs can exist
    yet. Its conversation is kept out of the session until `save_conversation`, so
    it is written once, with where the message left them, and not at all if they
    are forgotten."""
    which = {"channel": channel, "chat_id": chat_id}

    async def lock() -> bool:
        # The lock first, then the read. PostgreSQL re-reads a row it had to wait
        # for, but not the rows joined to it: locked and read in one statement, the
        # conversation would be as it was before the message that held the lock.
        # (SQLite locks the whole database at BEGIN: one statement does both.)
        if not locks_rows(session):
            return True
        found = await session.execute(_LOCK_PATIENT, which)
        return found.first() is not None

    row = (await session.execute(_WRITING, which)).one_or_none() if await lock() else None
    if row is None:
        create = _CREATE_PATIENT_SQLITE if is_sqlite(session) else _CREATE_PATIENT_POSTGRESQL
        journey = new_journey()
        created = await session.execute(create, {**which, "now": now, "journey": journey})
        patient_id = created.scalar_one_or_none()
        if patient_id is not None:
            patient = _as_read(session, Patient(id=patient_id, **which, created_at=now,
                                                blocked_at=None, erase_requested_at=None,
                                                journey=journey))  # fmt: skip
            _new_conversation(patient, now)
            return Writing(patient, first_message=True)
        await lock()  # their other message created it first (and has committed)
        row = (await session.execute(_WRITING, which)).one()
    patient, agreed, prompt, case = row
    if patient.conversation is None:
        _new_conversation(patient, now)
    return Writing(patient, first_message=False, agreed_notice=agreed, prompt=prompt, case=case)


def _as_read(session: AsyncSession, patient: Patient) -> Patient:
    """A patient just inserted, with every column as inserted, held by the session as
    if read back: the ORM's INSERT .. RETURNING of the whole row built it at twice the
    cost of a Core INSERT that returns the id."""
    make_transient_to_detached(patient)
    session.add(patient)
    return patient


def _new_conversation(patient: Patient, now: datetime) -> None:
    conversation = Conversation(
        patient_id=patient.id, flow="referral", state="new", step=0, answers={},
        control=ReferralControl(), prompt_outbox_id=None, nudged_at=None, updated_at=now,
    )  # fmt: skip
    # As if read: the patient holds it, but nothing writes it before it is saved.
    set_committed_value(patient, "conversation", conversation)


async def find_patient(session: AsyncSession, channel: str, chat_id: int) -> Patient | None:
    """Who writes from this chat, if anyone we know."""
    query = select(Patient).where(Patient.channel == channel, Patient.chat_id == chat_id)
    return (await session.execute(query)).scalar_one_or_none()


async def conversation_state(session: AsyncSession, channel: str, chat_id: int) -> str | None:
    """Where this chat's conversation is, if we hold one."""
    query = (
        select(Conversation.state)
        .join(Patient, Patient.id == Conversation.patient_id)
        .where(Patient.channel == channel, Patient.chat_id == chat_id)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def patient_by_id(session: AsyncSession, patient_id: int) -> Patient | None:
    return await session.get(Patient, patient_id)


async def conversation_for_update(session: AsyncSession, patient_id: int) -> Conversation | None:
    """A patient's conversation, locked on PostgreSQL, to move it from the staff side.
    The patient's row is locked first, as their own messages lock it
    (`patient_for_update`): a message of theirs handled meanwhile in another instance
    waits, and then sees the move, rather than undoing it."""
    query = select(Conversation).where(Conversation.patient_id == patient_id)
    if locks_rows(session):
        await session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


# --- Changing them ---------------------------------------------------------------------


async def save_conversation(
    session: AsyncSession,
    conversation: Conversation,
    result: FlowResult[ReferralControl],
    now: datetime,
) -> None:
    """Keep what a flow returned. The only place a conversation's state changes.

    Written at once by one plain statement, with every column (what else changed
    since it was read, the question asked, is written too): an INSERT for a first
    message's conversation, kept out of the session until now (`patient_for_update`),
    or an UPDATE. It is then held by the session as if read back, with nothing left
    for the ORM's flush to write: its flush compared each column's old and new
    value, the sealed answers among them, and cost more than the statement (2% of
    a whole referral's instructions)."""
    conversation.state = result.state
    conversation.step = result.step
    conversation.answers = result.answers
    conversation.control = result.control
    conversation.updated_at = now
    values = {f"b_{column}": getattr(conversation, column) for column in _CONVERSATION_COLUMNS}
    new = inspect(conversation).transient
    # Not flushed first, as any statement is: this one writes what the flush would.
    with session.no_autoflush:
        await session.execute(_INSERT_CONVERSATION if new else _UPDATE_CONVERSATION, values)
    if not new:
        make_transient(conversation)  # (out of the session, keeping what it holds)
    make_transient_to_detached(conversation)
    session.add(conversation)


async def record_consent(
    session: AsyncSession, patient_id: int, notice_version: str, now: datetime
) -> None:
    """Written as it is recorded, by a plain INSERT (nothing reads the row back; see
    `bot.store.milestones.record`)."""
    values = {"patient_id": patient_id, "notice_version": notice_version, "given_at": now}
    await session.execute(_RECORD_CONSENT, values)


async def record_wellbeing(
    session: AsyncSession,
    patient_id: int,
    context: str,
    scores: dict[str, int | None],
    now: datetime,
    case_id: int | None = None,
) -> None:
    """A plain INSERT, as `record_consent`."""
    values = {"patient_id": patient_id, "context": context, "measured_at": now,
              "case_id": case_id, **scores}  # fmt: skip
    await session.execute(_RECORD_WELLBEING, values)


# `save_conversation`'s statements, built once.
_CONVERSATION = cast(Table, Conversation.__table__)
_CONVERSATION_COLUMNS = tuple(_CONVERSATION.c.keys())
_CONVERSATION_VALUES = {c: bindparam(f"b_{c}", type_=_CONVERSATION.c[c].type)
                        for c in _CONVERSATION_COLUMNS}  # fmt: skip
_INSERT_CONVERSATION = insert(_CONVERSATION).values(_CONVERSATION_VALUES)
_UPDATE_CONVERSATION = (
    sql_update(_CONVERSATION)
    .where(_CONVERSATION.c.patient_id == _CONVERSATION_VALUES["patient_id"])
    .values({c: v for c, v in _CONVERSATION_VALUES.items() if c != "patient_id"})
)

# The two records' statements, built once.
_RECORD_CONSENT = insert(cast(Table, Consent.__table__))
_RECORD_WELLBEING = insert(cast(Table, WellbeingScore.__table__))


def _agreed_notice(patient_id: Any) -> Any:
    """The consent notice they last agreed to (None: none), as a column of a query."""
    return (
        select(Consent.notice_version)
        .where(Consent.patient_id == patient_id, Consent.withdrawn_at.is_(None))
        .order_by(Consent.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _newest_case(patient_id: Any) -> Any:
    """The id of their newest case, as a column of a query (which may join `Case`)."""
    theirs = aliased(Case)
    return select(func.max(theirs.id)).where(theirs.patient_id == patient_id).scalar_subquery()


# `patient_for_update`'s statements, built once (building them cost more than running
# them); the chat is bound at each call.
_WHICH = (Patient.channel == bindparam("channel"), Patient.chat_id == bindparam("chat_id"))
_WRITING = (
    select(Patient, _agreed_notice(Patient.id), OutboxMessage, Case)
    .outerjoin(Patient.conversation)
    .outerjoin(OutboxMessage, OutboxMessage.id == Conversation.prompt_outbox_id)
    .outerjoin(Case, Case.id == _newest_case(Patient.id))
    .where(*_WHICH)
    .options(contains_eager(Patient.conversation))
)
_LOCK_PATIENT = select(Patient.id).where(*_WHICH).with_for_update()


def _create_patient(insert: Any) -> Any:
    table = cast(Table, Patient.__table__)
    return (
        insert(table)
        .values(channel=bindparam("channel"), chat_id=bindparam("chat_id"),
                created_at=bindparam("now", type_=table.c.created_at.type),
                journey=bindparam("journey"))
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )  # fmt: skip


_CREATE_PATIENT_SQLITE = _create_patient(sqlite_insert)
_CREATE_PATIENT_POSTGRESQL = _create_patient(postgresql_insert)


async def baseline_of_case(session: AsyncSession, case_id: int) -> WellbeingScore | None:
    """The wellbeing answers given at the referral, filed on its case."""
    query = (
        select(WellbeingScore)
        .where(WellbeingScore.case_id == case_id, WellbeingScore.context == "baseline")
        .order_by(WellbeingScore.id.desc())
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def stalled_conversations(
    session: AsyncSession, states: list[str], quiet_since: datetime, limit: int
) -> list[tuple[Patient, Conversation]]:
    """Conversations left halfway (in one of `states`) with nothing since
    `quiet_since`, not yet nudged since their last message; locked (SKIP LOCKED),
    the patient's row too: one whose message is being handled now is passed over
    (their update holds it), and their message waits for a nudge under way."""
    query = (
        select(Patient, Conversation)
        .join(Conversation, Conversation.patient_id == Patient.id)
        .where(
            Conversation.state.in_(states),
            Conversation.updated_at < quiet_since,
            (Conversation.nudged_at.is_(None)) | (Conversation.nudged_at < Conversation.updated_at),
            Patient.blocked_at.is_(None),
        )
        .order_by(Conversation.updated_at)
        .limit(limit)
    )
    if locks_rows(session):
        query = query.with_for_update(of=(Patient, Conversation), skip_locked=True)
    return [(p, c) for p, c in (await session.execute(query)).all()]


async def attach_unfiled_scores(session: AsyncSession, patient_id: int, case_id: int) -> None:
    """The baseline was measured just before the handoff: it belongs to the case."""
    await session.execute(
        sql_update(WellbeingScore)
        .where(WellbeingScore.patient_id == patient_id, WellbeingScore.case_id.is_(None))
        .values(case_id=case_id)
    )


async def forget_consent_and_scores(session: AsyncSession, patient_id: int) -> None:
    """Starting again before the handoff: what they agreed to and scored goes."""
    await session.execute(delete(Consent).where(Consent.patient_id == patient_id))
    await session.execute(delete(WellbeingScore).where(WellbeingScore.patient_id == patient_id))


async def delete_patient(session: AsyncSession, patient: Patient) -> None:
    """Everything about them goes (their conversation, consent, scores and cases
    cascade): not even that they talked to us is kept."""
    await session.delete(patient)


def reachable_again(patient: Patient) -> bool:
    """They wrote to us: whatever a 403 said before, they have unblocked the bot.
    True if they had been marked as having blocked it (their link worker was told)."""
    if patient.blocked_at is None:
        return False
    patient.blocked_at = None
    return True


async def mark_blocked(session: AsyncSession, channel: str, chat_id: int, now: datetime) -> bool:
    """Telegram said they blocked the bot: stop writing to them. True the first time
    (they were not marked already), to tell their link worker once."""
    result = await session.execute(
        sql_update(Patient)
        .where(Patient.channel == channel, Patient.chat_id == chat_id,
               Patient.blocked_at.is_(None))
        .values(blocked_at=now)
    )  # fmt: skip
    return bool(result.rowcount)  # type: ignore[attr-defined]
