"""The outbox: every message we owe someone, written in the same transaction as the
change that caused it, and the queries delivery drains it with.

Nothing is sent while a transaction is open (docs/architecture.md rule 1): a
handler only writes rows here, and `bot.delivery` sends them afterwards, retrying
until each is sent or cannot be. So a crash after the commit loses no message,
and a crash before it sends none that should not exist.

Each message has a priority. Within a chat, messages go in the order they were
written, except that a more urgent one overtakes less urgent ones: a crisis alert
never waits in the team chat behind notices (docs/architecture.md rule 2).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NotRequired, TypedDict, cast

from sqlalchemy import (
    BigInteger,
    SmallInteger,
    String,
    Table,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.split import TELEGRAM_LIMIT, shorten_html, split_html
from bot.store.base import Base, locks_rows, utcnow
from bot.store.sealing import SealedJSON
from flows.questions import telegram_length

#: Priorities, most urgent first.
URGENT = 0  # crisis replies and safety alerts: never given up on
CONVERSATION = 1  # replies to someone talking with us now
NOTICE = 2  # the team chat's cards and notices
CHECK_IN = 3  # messages nobody is waiting for


class ButtonSpec(TypedDict):
    """One button: its label, and the callback data a tap sends back (bot/taps.py)."""

    text: str
    data: str


Keyboard = list[list[ButtonSpec]]


class DocumentSpec(TypedDict):
    """A file sent with the message (the message's text is its caption)."""

    filename: str
    #: What the file holds; emptied once it is sent (it is all of someone's data).
    content: str


class OutboxPayload(TypedDict):
    """What a message shows, and how delivery should treat it."""

    text: str  # Telegram HTML
    buttons: Keyboard
    #: A crisis reply or alert: delivery never gives up on it.
    urgent: NotRequired[bool]
    #: A question whose buttons were taken off once it was answered.
    closed: NotRequired[bool]
    #: A list page (queue, my cases) that taps on its buttons edit in place.
    list: NotRequired[bool]
    #: A notice that later ones of the same key add to while it is unsent
    #: ("3 new messages on SP-7K3Q"), and how many it stands for.
    coalesce: NotRequired[str]
    count: NotRequired[int]
    #: A file (sendDocument), with `text` as its caption.
    document: NotRequired[DocumentSpec]
    #: A patient's own words passed to their link worker: answering it (Telegram's
    #: reply-to) is a reply to them.
    relayed: NotRequired[bool]
    #: A question that takes the place of the one just answered (`target_id`), in
    #: the same Telegram message: sent as an edit of it (a new message if it
    #: cannot be edited).
    in_place: NotRequired[bool]


class OutboxMessage(Base):
    """A message we owe someone, and how its delivery went."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    #: "send" a new message, or "edit" or "delete" the message sent for `target_id`.
    action: Mapped[str] = mapped_column(String(8), default="send")
    target_id: Mapped[int | None] = mapped_column(default=None)
    #: Sealed at rest (bot/store/sealing.py): messages quote names and words.
    payload: Mapped[OutboxPayload] = mapped_column(SealedJSON(), default=dict)
    priority: Mapped[int] = mapped_column(SmallInteger, default=CONVERSATION)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    #: Telegram's message_id once sent, so later edits can find it.
    message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: When Telegram says it appeared in the chat (Telegram's clock, as the date of
    #: the person's messages): a typed answer written before a question appeared
    #: is not an answer to it.
    shown_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The bot instance sending it now (its lease ends with the instance).
    leased_by: Mapped[str | None] = mapped_column(String(32), default=None)
    failed_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    #: What the message shows now in the chat (a digest of text and buttons), so an
    #: edit that would change nothing is skipped instead of refused by Telegram.
    delivered_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    #: For a message to a link worker about a case: its reference (it may quote the
    #: patient, so it goes when they are erased).
    case_reference: Mapped[str | None] = mapped_column(String(16), index=True, default=None)


def digest(text: str, buttons: Keyboard) -> str:
    """What a message shows, in 64 characters: to tell whether an edit changes it."""
    shown = json.dumps({"text": text, "buttons": buttons}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(shown.encode()).hexdigest()


# --- Writing ---------------------------------------------------------------------------


class Outbox:
    """Writes outgoing messages for one chat within the current transaction."""

    def __init__(
        self,
        session: AsyncSession,
        channel: str,
        chat_id: int,
        now: datetime,
        *,
        about: str | None = None,
    ) -> None:
        """`about`: the case reference a message to a link worker is about (it may
        quote the patient): erasing the patient erases it too."""
        self.session = session
        self.channel = channel
        self.chat_id = chat_id
        self.now = now
        self.about = about
        self.rows: list[OutboxMessage] = []

    def send(
        self,
        text: str,
        buttons: Keyboard | None = None,
        *,
        urgent: bool = False,
        priority: int = CONVERSATION,
        as_list: bool = False,
        coalesce: str | None = None,
    ) -> OutboxMessage:
        """A new message; one longer than Telegram allows becomes several, with the
        buttons on the last (which is returned). `urgent`: a crisis reply or alert,
        sent first and never given up on. `as_list`: a list page that later taps edit
        in place. `coalesce`: see `add_to_notice`."""
        parts = split_html(text) if telegram_length(text) > TELEGRAM_LIMIT else [text]
        row = None
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            payload: OutboxPayload = {"text": part, "buttons": (buttons or []) if last else []}
            if urgent:
                payload["urgent"] = True
            if as_list and last:
                payload["list"] = True
            if coalesce:
                payload["coalesce"], payload["count"] = coalesce, 1
            row = self._add("send", payload, priority=URGENT if urgent else priority)
        assert row is not None
        return row

    def send_document(self, filename: str, content: str, caption: str) -> OutboxMessage:
        """A file, with a short caption (Telegram allows 1,024 characters)."""
        payload: OutboxPayload = {"text": caption, "buttons": [],
                                  "document": {"filename": filename, "content": content}}  # fmt: skip
        return self._add("send", payload)

    def edit(self, target: OutboxMessage, text: str, buttons: Keyboard) -> None:
        """Change a message already sent (or still to send) to show this instead.
        An edit cannot become several messages: a text too long is cut short."""
        if telegram_length(text) > TELEGRAM_LIMIT:
            text = shorten_html(text)
        target.payload = {**target.payload, "text": text, "buttons": buttons}
        self._add("edit", {"text": text, "buttons": buttons}, target_id=target.id,
                  priority=target.priority)  # fmt: skip

    def delete(self, target: OutboxMessage) -> None:
        """Take a message we sent out of the chat (Telegram allows it for 48 hours)."""
        self._add("delete", {"text": "", "buttons": []}, target_id=target.id,
                  priority=target.priority)  # fmt: skip

    def replace(self, prompt: OutboxMessage, text: str, buttons: Keyboard) -> OutboxMessage:
        """A new question in the place of `prompt`, the one just answered: one edit of
        the same Telegram message where two calls (close it, ask anew) would do.
        A message of its own here (its own id, when it appeared), so the question
        they are on is always a row of its own."""
        prompt.payload = {**prompt.payload, "closed": True}
        if telegram_length(text) > TELEGRAM_LIMIT:
            text = shorten_html(text)
        payload: OutboxPayload = {"text": text, "buttons": buttons, "in_place": True}
        return self._add("send", payload, target_id=prompt.id, priority=prompt.priority)

    def close_prompt(self, prompt: OutboxMessage, chosen: str | None = None) -> None:
        """Take the buttons off a question (once), showing what was chosen."""
        if prompt.payload.get("closed") or not prompt.payload.get("buttons"):
            return
        text = prompt.payload["text"] + (f"\n\n{chosen}" if chosen else "")
        prompt.payload = {**prompt.payload, "closed": True}
        self._add("edit", {"text": text, "buttons": []}, target_id=prompt.id,
                  priority=prompt.priority)  # fmt: skip

    def _add(
        self,
        action: str,
        payload: OutboxPayload,
        target_id: int | None = None,
        priority: int = CONVERSATION,
    ) -> OutboxMessage:
        row = OutboxMessage(channel=self.channel, chat_id=self.chat_id, action=action,
                            target_id=target_id, payload=payload, priority=priority,
                            created_at=self.now, next_attempt_at=self.now,
                            case_reference=self.about)  # fmt: skip
        self.session.add(row)
        self.rows.append(row)
        return row


async def add_to_notice(
    session: AsyncSession, channel: str, chat_id: int, key: str, text_for: Callable[[int], str]
) -> bool:
    """Add one to a notice with this key that has not been sent yet ("3 new messages
    on SP-7K3Q" instead of three notices), rewriting its text with `text_for(count)`.
    False when there is none to add to (send a new one, with `coalesce=key`)."""
    rows = await session.execute(
        select(OutboxMessage).where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.action == "send",
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_reason.is_(None),
            OutboxMessage.leased_by.is_(None),
        )
    )
    for row in rows.scalars():
        if row.payload.get("coalesce") == key:
            count = row.payload.get("count", 1) + 1
            row.payload = {**row.payload, "text": text_for(count), "count": count}
            return True
    return False


async def outbox_row(session: AsyncSession, row_id: int | None) -> OutboxMessage | None:
    """A message we wrote earlier (a question, a card), to edit it."""
    return await session.get(OutboxMessage, row_id) if row_id is not None else None


async def list_page_shown(
    session: AsyncSession, channel: str, chat_id: int, message_id: int
) -> OutboxMessage | None:
    """The list page a tapped button is on, if it is one of ours (to page in place)."""
    row = (
        await session.execute(
            select(OutboxMessage).where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.message_id == message_id,
                OutboxMessage.action == "send",
            )
        )
    ).scalar_one_or_none()
    return row if row is not None and row.payload.get("list") else None


@dataclass(frozen=True)
class SentAbout:
    """What a message we sent to a link worker was about."""

    reference: str
    #: It was the patient's own words, relayed.
    relayed: bool


async def sent_about(
    session: AsyncSession, channel: str, chat_id: int, message_id: int
) -> SentAbout | None:
    """The case a message we sent to this chat was about (None if it was about no
    case, or is not ours), to answer it with Telegram's reply-to."""
    rows = await session.execute(
        select(OutboxMessage).where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.message_id == message_id,
            OutboxMessage.action == "send",
        )
    )
    row = rows.scalars().first()
    if row is None or row.case_reference is None:
        return None
    return SentAbout(row.case_reference, bool(row.payload.get("relayed")))


async def case_messages_to(
    session: AsyncSession, channel: str, chat_id: int
) -> list[OutboxMessage]:
    """Every message to this chat about a case (sent or not), oldest first."""
    rows = await session.execute(
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.action == "send",
            OutboxMessage.case_reference.is_not(None),
            OutboxMessage.failed_reason.is_(None),
        )
        .order_by(OutboxMessage.id)
    )
    return list(rows.scalars())


async def sent_since(session: AsyncSession, row: OutboxMessage) -> bool:
    """Whether anything was written to this row's chat after it (then it is not the
    last message there, and a new question must not take its place)."""
    later = select(OutboxMessage.id).where(
        OutboxMessage.channel == row.channel,
        OutboxMessage.chat_id == row.chat_id,
        OutboxMessage.id > row.id,
        OutboxMessage.action == "send",
    )
    return (await session.execute(later.limit(1))).first() is not None


async def forget_about_cases(session: AsyncSession, references: list[str]) -> None:
    """Forget messages to link workers about these cases (they may quote the patient)."""
    if references:
        await session.execute(
            delete(OutboxMessage).where(OutboxMessage.case_reference.in_(references))
        )


async def forget_sent(session: AsyncSession, channel: str, chat_id: int) -> None:
    """Forget what was already sent to a chat: it quotes the person's name and
    words. Unsent rows stay, so a goodbye still reaches them."""
    await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.sent_at.is_not(None),
        )
    )


# --- Delivering ------------------------------------------------------------------------


def _in_line(*, held_back_by_due: bool) -> Any:
    """The unsent rows that are due, with no earlier unsent row of their chat at least
    as urgent in front of them (a chat's order kept; an alert overtakes notices), as
    a subquery of (id, chat_id, priority), for the channel and time bound as
    `channel` and `now`. `held_back_by_due`: every such earlier row holds a row
    back; otherwise only those not due yet (the due ones are taken with it, in
    order, by `claim`).

    Worked out with one window over each chat's unsent rows (the most urgent of the
    rows before each one), never a correlated look per row: a backlog of thousands
    arriving at once is read in one sorted pass, whatever the planner's statistics
    (on PostgreSQL, a burst before its statistics catch up made the per-row look
    quadratic: 3 s a claim at 10,000 rows)."""
    me = OutboxMessage
    now = bindparam("now", type_=me.next_attempt_at.type)
    holding = me.priority if held_back_by_due else case((me.next_attempt_at > now, me.priority))
    in_front = func.min(holding).over(partition_by=me.chat_id, order_by=me.id, rows=(None, -1))
    unsent = (
        select(me.id, me.chat_id, me.priority, me.next_attempt_at, in_front.label("in_front"))
        .where(
            me.channel == bindparam("on_channel"), me.sent_at.is_(None), me.failed_reason.is_(None)
        )
        .subquery()
    )
    return (
        select(unsent.c.id, unsent.c.chat_id, unsent.c.priority)
        .where(
            unsent.c.next_attempt_at <= now,
            or_(unsent.c.in_front.is_(None), unsent.c.in_front > unsent.c.priority),
        )
        .subquery()
    )


def _due() -> Any:
    """`due`'s statement, built once: building these windows costs more than
    running them on a small outbox, and delivery looks often."""
    ready = _in_line(held_back_by_due=True)
    return (
        select(ready.c.id, ready.c.chat_id)
        .order_by(ready.c.priority, ready.c.id)
        .limit(bindparam("limit"))
    )


_DUE = _due()


async def due(
    session: AsyncSession, channel: str, now: datetime, limit: int
) -> list[tuple[int, int]]:
    """(id, chat) of rows ready to go, most urgent first, then oldest. In a chat a row waits for
    every earlier unsent row as urgent as it or more (so a chat's messages arrive in
    the order they were written, and an edit after what it edits), but not for less
    urgent ones: an alert overtakes notices."""
    rows = await session.execute(_DUE, {"on_channel": channel, "now": now, "limit": limit})
    return [(row_id, chat_id) for row_id, chat_id in rows.all()]


@dataclass(frozen=True)
class Attempt:
    """How one delivery attempt went: sent, postponed, or given up."""

    sent_at: datetime | None = None
    message_id: int | None = None
    shown_at: datetime | None = None
    delivered_digest: str | None = None
    next_attempt_at: datetime | None = None
    failed_reason: str | None = None
    #: What the row holds from now on (a sent file's content is not kept).
    payload: OutboxPayload | None = None

    def values(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


# --- Delivering in batches -------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A row taken for delivery in a batch (`claim`), and what the message an edit or
    delete changes shows now (when that message was sent before this batch)."""

    row: OutboxMessage
    target_message_id: int | None = None
    target_digest: str | None = None


async def claim(
    session: AsyncSession,
    channel: str,
    instance: str,
    now: datetime,
    lease_for: timedelta,
    *,
    chats: int,
    per_chat: int,
    skip_chats: Collection[int] = (),
    take_turn: bool = True,
) -> list[Claimed]:
    """Take the next rows to deliver, in one statement: for up to `chats` chats (most
    urgent first, then oldest), each chat's next `per_chat` rows in the order they go
    (most urgent, then oldest), leased to `instance` for `lease_for`. A row goes only
    after every earlier row of its chat at least as urgent has gone (or failed): an
    earlier one not due yet (postponed, or leased by an instance sending it now) holds
    it back, so a chat's messages arrive in the order they were written, and an edit
    after what it edits; an alert still overtakes notices. `skip_chats`: chats this
    instance is sending to now. On PostgreSQL claims are taken one at a time (a
    transaction-level advisory lock, waited for): two instances never split one
    chat's rows. `take_turn=False`: this transaction has it already (`try_turn`).
    Returned in the order they go, chat by chat."""
    if chats <= 0:
        return []
    if take_turn and locks_rows(session):
        await session.execute(_WAIT_FOR_TURN, {"key": _claim_key(session)})
    params = {"on_channel": channel, "now": now, "chats": chats, "per_chat": per_chat,
              "skip": list(skip_chats), "instance": instance, "until": now + lease_for}  # fmt: skip
    claimed = sorted((await session.execute(_CLAIM, params)).all(),
                     key=lambda c: (c[0].chat_id, c[0].priority, c[0].id))  # fmt: skip
    in_batch = {row.id for row, _, _ in claimed}
    # A target claimed in this batch is not sent yet: what it shows is known once it is.
    return [
        Claimed(row, message_id, digest) if row.target_id not in in_batch else Claimed(row)
        for row, message_id, digest in claimed
    ]


async def try_turn(session: AsyncSession) -> bool:
    """Take the claims' turn (`claim`) for this transaction, unless another claim is
    under way: on PostgreSQL the lock is tried, never waited for, as fits a
    transaction that holds row locks a claim under way may be waiting for (a
    patient's). Held until this transaction ends: claims elsewhere wait for its
    commit. Always True on SQLite (one writer at a time)."""
    if not locks_rows(session):
        return True
    tried = await session.execute(_TRY_FOR_TURN, {"key": _claim_key(session)})
    return bool(tried.scalar_one())


# The claims' turn, waited for (`claim`) or tried (`try_turn`): built once.
_WAIT_FOR_TURN = text("SELECT pg_advisory_xact_lock(:key)")
_TRY_FOR_TURN = text("SELECT pg_try_advisory_xact_lock(:key)")


def _claim_key(session: AsyncSession) -> int:
    """The advisory lock claims take one at a time (one per schema: tests share a server)."""
    return _claim_key_of(getattr(session.info.get("database"), "schema", None) or "")


@functools.cache
def _claim_key_of(schema: str) -> int:
    named = f"spbot:{schema}:outbox claim".encode()
    return int.from_bytes(hashlib.sha256(named).digest()[:8], "big", signed=True)


def _claim() -> Any:
    """`claim`'s statement, built once (see `_due`)."""
    me = OutboxMessage
    ready = _in_line(held_back_by_due=False)
    # Each chat's rows in the order they go, and the chats in the order of their
    # first row: windows again, not a join (see `_in_line`).
    going = (ready.c.priority, ready.c.id)
    ranked = (
        select(
            ready.c.id,
            ready.c.chat_id,
            func.row_number().over(partition_by=ready.c.chat_id, order_by=going).label("place"),
            func.first_value(ready.c.priority)
            .over(partition_by=ready.c.chat_id, order_by=going)
            .label("first_priority"),
            func.first_value(ready.c.id)
            .over(partition_by=ready.c.chat_id, order_by=going)
            .label("first_id"),
        )
        .where(ready.c.chat_id.not_in(bindparam("skip", expanding=True)))
        .subquery()
    )
    chosen = select(
        ranked.c.id,
        ranked.c.place,
        func.dense_rank().over(order_by=(ranked.c.first_priority, ranked.c.first_id)).label("turn"),
    ).subquery()
    ids = select(chosen.c.id).where(
        chosen.c.turn <= bindparam("chats"), chosen.c.place <= bindparam("per_chat")
    )
    # A Core UPDATE ... RETURNING read as rows of the model (not the ORM's UPDATE,
    # whose bulk machinery cost more than the statement): the same rows, leased.
    table = cast(Table, me.__table__)
    # What the message an edit or delete changes shows now, read in the same
    # statement: a look of its own was one more trip on most answers (the question
    # answered is closed, or replaced in place). Written out, because SQLAlchemy's
    # SQLite compiler drops table names throughout RETURNING, subqueries included,
    # which would match the target to itself.
    showing = [
        literal_column(
            f"(SELECT target.{name} FROM {table.name} AS target "
            f"WHERE target.id = {table.name}.target_id)", type_=table.c[name].type,
        ).label(f"target_{name}")
        for name in ("message_id", "delivered_digest")
    ]  # fmt: skip
    leasing = (
        update(table)
        .where(table.c.id.in_(ids))
        .values(
            leased_by=bindparam("instance", type_=table.c.leased_by.type),
            next_attempt_at=bindparam("until", type_=table.c.next_attempt_at.type),
        )
        .returning(*table.c, *showing)
    )
    return select(me, *showing).from_statement(leasing).execution_options(populate_existing=True)


_CLAIM = _claim()


async def record_attempts(
    session: AsyncSession,
    attempts: Sequence[tuple[OutboxMessage, Attempt]],
    released: Sequence[OutboxMessage] = (),
    now: datetime | None = None,
) -> None:
    """Write down a batch of attempts in as few statements as their kinds allow (one
    per kind: sent, edited, postponed, failed), in the order they were made; a sent
    edit also changes what its original shows. `released`: rows claimed but not
    tried (their chat waits for an earlier one): free for the next claim at `now`."""
    changes: dict[int, dict[str, Any]] = {}
    for row, attempt in attempts:
        values = changes.setdefault(row.id, {"id": row.id})
        values.update(attempts=row.attempts + 1, leased_by=None, **attempt.values())
        if row.action == "edit" and attempt.sent_at is not None and row.target_id is not None:
            target = changes.setdefault(row.target_id, {"id": row.target_id})
            target["delivered_digest"] = attempt.delivered_digest
    for row in released:
        changes.setdefault(row.id, {"id": row.id}).update(leased_by=None, next_attempt_at=now)
    by_kind: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values in changes.values():
        columns = tuple(sorted(column for column in values if column != "id"))
        by_kind.setdefault(columns, []).append({f"b_{k}": v for k, v in values.items()})
    for columns, rows in by_kind.items():
        await session.execute(_recording(columns), rows)


def recorded_in_one_statement(
    attempts: Sequence[tuple[OutboxMessage, Attempt]], released: Sequence[OutboxMessage] = ()
) -> bool:
    """Whether `record_attempts` writes these in one statement: one attempt, let
    alone nothing, that changes no other row (as a sent edit changes its original)
    and calls for nothing more (a refusal: bot.delivery `_write_marks`)."""
    if released or len(attempts) != 1:
        return False
    row, attempt = attempts[0]
    sent_edit = row.action == "edit" and attempt.sent_at is not None and row.target_id is not None
    return not sent_edit and attempt.failed_reason is None


@functools.cache
def _recording(columns: tuple[str, ...]) -> Any:
    """The UPDATE of these columns of a row found by its id, built once for each kind
    of attempt (a handful): the ORM's bulk update built it anew each time, which
    cost more than running it."""
    table = cast(Table, OutboxMessage.__table__)
    values = {c: bindparam(f"b_{c}", type_=table.c[c].type) for c in columns}
    return update(table).where(table.c.id == bindparam("b_id")).values(values)
