"""Delivers the outbox: in order within each chat, within Telegram's limits, retried.

Delivery is separate from handling (docs/architecture.md rule 2): a message written to
the outbox is sent even if the process restarts in between. The most urgent go
first (crisis replies and alerts), chats are sent to side by side so one slow call
holds up only its own chat, and a message the channel refuses for good is reported
(without its content) rather than dropped in silence. Several instances can drain
one outbox: on PostgreSQL each row is taken with FOR UPDATE SKIP LOCKED, and a
lease dies with the instance that held it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aiolimiter import AsyncLimiter
from sqlalchemy.ext.asyncio import AsyncSession

from bot import lanes
from bot.lanes import Lanes, settle
from bot.store import Database
from bot.store.base import utcnow
from bot.store.db import trouble
from bot.store.outbox import (
    URGENT,
    Attempt,
    Claimed,
    Keyboard,
    OutboxMessage,
    OutboxPayload,
    claim,
    digest,
    due,
    record_attempts,
    recorded_in_one_statement,
    try_turn,
)
from bot.store.patients import mark_blocked

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(seconds=60)
#: A chat's rows taken in one claim, at most (a reply's few messages go together;
#: what is claimed must go well within the lease).
MAX_PER_CHAT = 5
TEAM_CHAT_RETRY = timedelta(minutes=5)
BLOCKED = "blocked by the person"


class RetryLater(Exception):
    """Telegram asked us to wait (429) or the network failed: try again later."""

    def __init__(self, seconds: float | None, reason: str) -> None:
        """seconds: as Telegram asked, or None to back off by the number of attempts."""
        super().__init__(reason)
        self.seconds = seconds
        self.reason = reason


class Blocked(Exception):
    """The person blocked the bot (403): stop sending to them."""


class Undeliverable(Exception):
    """Telegram refused this message for good (400): retrying will not help."""


@dataclass(frozen=True)
class Sent:
    """What the channel says of a message it sent: its id (to edit it later) and
    when it appeared in the chat, by the channel's own clock."""

    message_id: int | None
    shown_at: datetime | None = None


class Sender(Protocol):
    """What a channel must do to deliver. Raises the exceptions above."""

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> Sent: ...

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> None: ...

    async def replace(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> Sent:
        """Show a new question in the place of message `message_id` (Telegram: an
        edit of it; when it appeared is when it was edited)."""
        ...

    async def delete(self, chat_id: int, message_id: int) -> None: ...

    async def send_document(
        self, chat_id: int, filename: str, content: bytes, caption: str
    ) -> Sent: ...


#: Told of a message the channel refused for good, in the transaction that records it.
Refused = Callable[[AsyncSession, OutboxMessage, str, datetime], Awaitable[None]]


#: Told that a patient blocked the bot (the first time it is seen), in the
#: transaction that marks them: their link worker hears of it.
BlockedBy = Callable[[AsyncSession, str, int, datetime], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    """Telegram's limits: about 30 messages a second overall; in one chat a short
    burst, then about one a second; in a group at most 20 a minute."""

    overall_per_second: float = 30
    #: A short burst per chat (a two- or three-message reply arrives at once), and a
    #: whole burst earned back over `per_chat_seconds`: one message a second.
    per_chat_burst: int = 3
    per_chat_seconds: float = 3.0
    #: Chats sent to at the same time: one slow call holds up only its own chat.
    chats_at_once: int = 16
    #: A group (the team chat): a burst, and never more than `group_per_minute` in
    #: any minute (the burst and what is earned back in a minute together).
    group_burst: int = 3
    group_per_minute: float = 20

    def bucket(self, chat_id: int) -> tuple[float, float]:
        """(burst, messages earned back per second) for a chat."""
        if chat_id < 0:  # a group or supergroup
            per_minute = max(self.group_per_minute - self.group_burst, 1.0)
            return float(self.group_burst), per_minute / 60.0
        return float(self.per_chat_burst), self.per_chat_burst / self.per_chat_seconds


DEFAULT_LIMITS = Limits()
#: Of a group's burst, what only urgent messages (safety alerts) may spend.
GROUP_KEPT_FOR_URGENT = 1.0


class ChatBuckets:
    """A token bucket per chat: a burst at once, then messages as they are earned
    back. A chat is remembered only while its bucket is not full again, so a bot
    that has written to a million people keeps in memory only those written to in
    the last few seconds (a minute for a group)."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.used: dict[int, tuple[float, float]] = {}  # chat -> (tokens left, as of when)

    def left(self, chat_id: int) -> float:
        burst, rate = self.limits.bucket(chat_id)
        if chat_id not in self.used:
            return burst
        tokens, at = self.used[chat_id]
        now = self.clock()
        tokens = min(burst, tokens + (now - at) * rate)
        if tokens >= burst:
            del self.used[chat_id]  # full again: nothing to remember
        else:
            self.used[chat_id] = (tokens, now)
        return tokens

    def wait(self, chat_id: int, *, keep: float = 0.0) -> float:
        """Seconds until the chat may have its next message (0: now), leaving `keep`
        messages of its burst unspent."""
        _, rate = self.limits.bucket(chat_id)
        short = 1.0 + keep - self.left(chat_id)
        return short / rate if short > 1e-9 else 0.0

    def spend(self, chat_id: int) -> None:
        self.used[chat_id] = (max(self.left(chat_id) - 1.0, 0.0), self.clock())

    def forget_idle(self) -> None:
        """Drop every chat whose bucket is full again (each is dropped when next
        looked at too; this sweeps the ones nobody looks at)."""
        for chat_id in list(self.used):
            self.left(chat_id)


class Marks:
    """Attempts written down in batches: each lane adds what it did, and one writer
    writes everything added since its last write in one transaction (a group
    commit), so under load many messages cost one transaction, and alone one costs
    no wait. If a batch cannot be written, each is tried on its own (one bad row
    must not leave the others leased, to be sent again)."""

    def __init__(self, write: Callable[[list[tuple[OutboxMessage, Attempt]],
                                        list[OutboxMessage]], Awaitable[None]]) -> None:  # fmt: skip
        self.write = write
        self.attempts: list[tuple[OutboxMessage, Attempt]] = []
        self.released: list[OutboxMessage] = []
        self.waiting: list[asyncio.Future[None]] = []
        self.writer: asyncio.Task[None] | None = None

    def add(self, row: OutboxMessage, attempt: Attempt) -> asyncio.Future[None]:
        """Write this attempt down soon; the future is done once it is (or failed)."""
        self.attempts.append((row, attempt))
        return self._soon()

    def release(self, rows: list[OutboxMessage]) -> asyncio.Future[None]:
        """Let go of rows claimed but not tried."""
        self.released.extend(rows)
        return self._soon()

    def _soon(self) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiting.append(done)
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._write_all())
        return done

    async def _write_all(self) -> None:
        while self.waiting:
            attempts, released, waiting = self.attempts, self.released, self.waiting
            self.attempts, self.released, self.waiting = [], [], []
            try:
                await self.write(attempts, released)
            except Exception as exc:
                log.warning("recording a batch of sends failed (%s); one at a time",
                            trouble(exc))  # fmt: skip
                singles: list[tuple[list[tuple[OutboxMessage, Attempt]], list[OutboxMessage]]]
                singles = [([a], []) for a in attempts] + ([([], released)] if released else [])
                for one in singles:
                    try:
                        await self.write(*one)
                    except Exception as again:  # its lease runs out: it is tried again
                        log.error("could not record a send", extra={"error": type(again).__name__})
            for done in waiting:
                if not done.done():
                    done.set_result(None)


@dataclass(frozen=True)
class Claim:
    """Rows claimed in someone else's transaction (`Delivery.claim_in`), by chat, to
    send once it is committed; `chats`: as many chats as the claim could take."""

    by_chat: dict[int, list[Claimed]]
    chats: int


class Delivery:
    def __init__(
        self,
        db: Database,
        sender: Sender,
        channel: str,
        *,
        instance: str = "local",
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], datetime] = utcnow,
        on_refused: Refused | None = None,
        on_blocked: BlockedBy | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        """`on_error(kind)`: told of each failed call, by its kind (for /metrics)."""
        self.db = db
        self.sender = sender
        self.channel = channel
        self.instance = instance
        self.clock = clock
        self.limits = limits
        self.on_refused = on_refused
        self.on_blocked = on_blocked
        self.on_error = on_error
        self.overall = AsyncLimiter(limits.overall_per_second, 1)
        self.per_chat = ChatBuckets(limits)
        self.wake = asyncio.Event()
        #: Rows were committed just now (`written`): the next pass claims them
        #: without a look first.
        self.fresh = False
        #: Chats whose lane's end must look again: rows of theirs may be left (their
        #: claim took as many as it may, or rows were written while they were busy).
        self.behind: set[int] = set()
        self.lanes = Lanes(limits.chats_at_once, self._lane_ended)
        #: Attempts written down together, whichever lanes made them.
        self.marks = Marks(self._write_marks)
        #: When a pass last finished (the watchdog reads it).
        self.last_pass = time.monotonic()
        #: Set to stop after the pass under way.
        self.stopping = False
        #: Other instances are running on this database (PostgreSQL), as the
        #: heartbeat last saw (bot/telegram.py); taken to be until it says.
        self.sharing = db.locks_rows

    def written(self) -> None:
        """Rows were just committed to the outbox: deliver them now."""
        self.fresh = True
        self.wake.set()

    def _lane_ended(self, chat: int) -> None:
        # Another instance may have written rows for this chat meanwhile, which wait
        # for this lane's: look at once, not at the next idle pass.
        if chat in self.behind or self.sharing:
            self.behind.discard(chat)
            self.wake.set()

    async def run(self, idle_seconds: float | None = None) -> None:
        """Deliver until `stopping`, a lane per chat; `wake` is set after each update
        (`written`), when a chat's lane ends with rows perhaps left behind, and when
        a postponed row is due. An idle pass each `idle_seconds` (by default
        `bot.lanes.idle_seconds`) finds the rest (a lease let go, another process's
        rows)."""
        while not self.stopping:
            idle = idle_seconds if idle_seconds is not None else lanes.idle_seconds(self.sharing)
            # Cleared before looking, never after: a row committed while this pass
            # looks sets it again, and the next pass starts at once.
            self.wake.clear()
            fresh, self.fresh = self.fresh, False
            try:
                busy = set(self.lanes.busy)
                # What is written for a chat being sent to waits for its lane's end.
                self.behind |= busy
                chats = self.limits.chats_at_once - len(busy)
                # Rows just written, and no chat busy: they are there to claim, so no
                # look first (the look is for passes that may find nothing).
                by_chat = await self._claim(chats, busy, look=not fresh or bool(busy))
                self._start(by_chat, chats)
            except Exception as exc:
                # The outbox is safe in the database: wait a little and look again.
                log.warning("delivery pass failed (%s); retrying", trouble(exc))
            self.per_chat.forget_idle()
            self.last_pass = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), idle)

    def _start(self, by_chat: dict[int, list[Claimed]], chats: int) -> None:
        """A lane for each chat's claimed rows (`chats`: as many as the claim could take)."""
        for chat_id, rows in by_chat.items():
            if len(rows) >= self._per_chat or len(by_chat) >= chats:
                self.behind.add(chat_id)  # as many as a claim takes: more may wait
            self.lanes.start(chat_id, self._deliver_chat(rows))

    async def claim_in(self, session: AsyncSession) -> Claim | None:
        """What is due now, claimed in the transaction that wrote it (a patient's
        reply: bot.patients.service `handle`'s `then`), instead of in one of its own
        a moment later; `send_claimed` sends it once that transaction is committed.
        None when it is left to delivery's own pass: delivery is stopping, or
        (PostgreSQL) another claim is under way (bot.store.outbox `try_turn`)."""
        if self.stopping:
            return None
        busy = set(self.lanes.busy)
        chats = self.limits.chats_at_once - len(busy)
        if chats <= 0:
            self.behind |= busy
            return Claim({}, chats)
        if not await try_turn(session):
            return None
        claimed = await claim(session, self.channel, self.instance, self.clock(), LEASE,
                              chats=chats, per_chat=self._per_chat, skip_chats=busy,
                              take_turn=False)  # fmt: skip
        self.behind |= busy  # what it wrote for a chat being sent to waits for its lane
        return Claim(_by_chat(claimed), chats)

    def send_claimed(self, claimed: Claim) -> None:
        """Send what `claim_in` took, its transaction committed. A chat whose lane
        began meanwhile (delivery's pass took an alert for it, written since: an
        alert overtakes what is less urgent) has them let go, to go after it."""
        starting = {c: rows for c, rows in claimed.by_chat.items() if not self.lanes.is_busy(c)}
        for chat_id in claimed.by_chat.keys() - starting.keys():
            self.marks.release([c.row for c in claimed.by_chat[chat_id]])
            self.behind.add(chat_id)
        self._start(starting, claimed.chats)

    async def finish(self, within: float) -> None:
        """Let sends under way finish (after `stopping`), for up to `within` seconds."""
        await self.lanes.finish(within)
        if self.marks.writer is not None:  # sends not written down are sent again later
            await settle([self.marks.writer], within)

    async def deliver_due(self, batch: int = 100) -> int:
        """One pass over due rows, waiting for it to end (for the terminal and tests).
        Returns how many were dealt with (sent, postponed or given up): 0 means idle."""
        by_chat = await self._claim(batch, ())
        done = await asyncio.gather(*(self._deliver_chat(rows) for rows in by_chat.values()))
        return sum(done)

    @property
    def _per_chat(self) -> int:
        """A chat's rows taken in one claim."""
        return max(1, min(self.limits.per_chat_burst, MAX_PER_CHAT))

    async def _claim(
        self, chats: int, busy: Collection[int], *, look: bool = True
    ) -> dict[int, list[Claimed]]:
        """The next rows of up to `chats` chats not in `busy`, leased to this instance
        in one statement (bot.store.outbox.claim), by chat, in the order they go.
        `look`: look first whether there is anything to claim."""
        if chats <= 0:
            return {}
        if look:
            # A look first, that takes no lock: on SQLite a claim takes the write lock,
            # which the handling of updates needs, so it is taken only when a chat not
            # being sent to now has a row to go (each chat's next row, as `due` says).
            async with self.db.reading() as session:
                heads = await due(session, self.channel, self.clock(), chats + len(busy))
            if all(chat_id in busy for _, chat_id in heads):
                return {}
        async with self.db.transaction() as session:
            claimed = await claim(session, self.channel, self.instance, self.clock(), LEASE,
                                  chats=chats, per_chat=self._per_chat,
                                  skip_chats=busy)  # fmt: skip
        return _by_chat(claimed)

    async def _deliver_chat(self, rows: list[Claimed]) -> int:
        """A chat's claimed rows, one after another, in order; each attempt is written
        down with other lanes' (`Marks`), and the lane ends once they are. A row put
        off (Telegram said wait) stops the chat: the rest are let go, to follow it."""
        handled = 0
        #: What this lane has sent: an edit of a message sent a moment ago finds it.
        shown: dict[int, tuple[int | None, str | None]] = {}
        marks: list[asyncio.Future[None]] = []
        try:
            for i, claimed in enumerate(rows):
                row = claimed.row
                if row.target_id is not None and row.target_id in shown:
                    claimed = Claimed(row, *shown[row.target_id])
                attempt = await self._settle_or_send(claimed)
                handled += 1
                marks.append(self.marks.add(row, attempt))
                if attempt.sent_at is not None:
                    if row.action == "send":
                        shown[row.id] = (attempt.message_id, attempt.delivered_digest)
                    elif row.action == "edit" and row.target_id is not None:
                        message_id = claimed.target_message_id
                        shown[row.target_id] = (message_id, attempt.delivered_digest)
                if attempt.next_attempt_at is not None:  # postponed: look again when due
                    seconds = (attempt.next_attempt_at - self.clock()).total_seconds()
                    asyncio.get_running_loop().call_later(max(seconds, 0.0), self.wake.set)
                    if rest := [c.row for c in rows[i + 1 :]]:
                        marks.append(self.marks.release(rest))
                    break
        finally:
            if marks:
                await asyncio.gather(*marks, return_exceptions=True)
        return handled

    async def _settle_or_send(self, claimed: Claimed) -> Attempt:
        """Nothing to do (settled at once), or throttle, then send once."""
        row, now = claimed.row, self.clock()
        if row.action == "send" and row.attempts and row.payload.get("closed"):
            # A question answered before a retry could send it (Telegram may have
            # shown it already): it is not sent a second time.
            return Attempt(failed_reason="answered before it was sent again")
        if row.action in ("edit", "delete"):  # (a question in place is a send: it goes)
            if claimed.target_message_id is None:
                return Attempt(sent_at=now)  # the original never arrived: nothing to change
            if row.action == "edit" and claimed.target_digest == digest(
                row.payload["text"], row.payload["buttons"]
            ):
                return Attempt(sent_at=now)  # it already shows exactly this
        await self._throttle(row.chat_id, edit=row.action == "edit", urgent=row.priority == URGENT)
        return await self._attempt(claimed)

    async def _write_marks(
        self, attempts: list[tuple[OutboxMessage, Attempt]], released: list[OutboxMessage]
    ) -> None:
        """One transaction for a batch of attempts (`Marks`): what was sent, put off
        or refused; patients who blocked the bot marked, and their link worker told.
        A message sent alone is one statement, with no transaction around it."""
        alone = recorded_in_one_statement(attempts, released)
        async with (self.db.one_statement if alone else self.db.transaction)() as session:
            now = self.clock()
            await record_attempts(session, attempts, released, now)
            for row, attempt in attempts:
                if attempt.failed_reason == BLOCKED:
                    newly = await mark_blocked(session, row.channel, row.chat_id, now)
                    if newly and self.on_blocked is not None:
                        await self.on_blocked(session, row.channel, row.chat_id, now)
                elif attempt.failed_reason is not None and self.on_refused is not None:
                    await self.on_refused(session, row, attempt.failed_reason, now)

    async def _attempt(self, leased: Claimed) -> Attempt:
        """Send or edit once, and say how it went."""
        row, chat_id = leased.row, leased.row.chat_id
        text, buttons = row.payload["text"], row.payload["buttons"]
        try:
            if row.action == "delete" and leased.target_message_id is not None:
                try:
                    await self.sender.delete(chat_id, leased.target_message_id)
                except Undeliverable:  # too old, or gone already: nothing more to do
                    log.info("message not deleted", extra={"outbox_id": row.id})
                return Attempt(sent_at=self.clock())
            if row.payload.get("in_place") and leased.target_message_id is not None:
                # A question in the place of the one just answered: the same message.
                try:
                    sent = await self.sender.replace(chat_id, leased.target_message_id, text,
                                                     buttons)  # fmt: skip
                    return Attempt(sent_at=self.clock(), message_id=sent.message_id,
                                   shown_at=sent.shown_at, delivered_digest=digest(text, buttons))  # fmt: skip
                except Undeliverable:  # it cannot be edited now: a new message instead
                    log.info("question sent anew", extra={"outbox_id": row.id})
            elif leased.target_message_id is not None:  # an edit
                await self.sender.edit(chat_id, leased.target_message_id, text, buttons)
                return Attempt(sent_at=self.clock(), delivered_digest=digest(text, buttons))
            if (document := row.payload.get("document")) is not None:
                sent = await self.sender.send_document(
                    chat_id, document["filename"], document["content"].encode(), text
                )
                # Sent: the copy of their data in the outbox goes.
                emptied: OutboxPayload = {**row.payload,
                                          "document": {**document, "content": ""}}  # fmt: skip
                return Attempt(sent_at=self.clock(), message_id=sent.message_id,
                               shown_at=sent.shown_at, payload=emptied)  # fmt: skip
            sent = await self.sender.send(chat_id, text, buttons)
            return Attempt(sent_at=self.clock(), message_id=sent.message_id,
                           shown_at=sent.shown_at, delivered_digest=digest(text, buttons))  # fmt: skip
        except RetryLater as exc:
            self._count("retry_after" if exc.seconds is not None else "network")
            tries = row.attempts + 1
            if tries >= MAX_ATTEMPTS and not row.payload.get("urgent"):
                log.error("message undelivered", extra={"outbox_id": row.id})
                return Attempt(failed_reason=f"gave up after {tries} attempts: {exc.reason}"[:200])
            wait = exc.seconds if exc.seconds is not None else min(2.0**tries, 300.0)
            log.warning("delivery postponed", extra={"outbox_id": row.id, "seconds": exc.seconds})
            return Attempt(next_attempt_at=self.clock() + timedelta(seconds=wait))
        except Blocked:
            self._count("blocked")
            if chat_id < 0:
                # A group (the team chat): the bot was removed or muted. This is an
                # alert that must not be dropped: keep trying, loudly.
                log.error(
                    "cannot post to the team chat: re-add the bot", extra={"chat_id": chat_id}
                )
                return Attempt(next_attempt_at=self.clock() + TEAM_CHAT_RETRY)
            log.warning("patient blocked the bot", extra={"chat_id": chat_id})
            return Attempt(failed_reason=BLOCKED)
        except Undeliverable as exc:
            self._count("refused")
            log.error("message refused", extra={"outbox_id": row.id})
            return Attempt(failed_reason=str(exc)[:200])

    def _count(self, kind: str) -> None:
        if self.on_error is not None:
            self.on_error(kind)

    async def _throttle(self, chat_id: int, *, edit: bool = False, urgent: bool = False) -> None:
        """Wait for the chat's bucket (a chat's lane sends one message at a time, so
        nothing else spends it meanwhile), then for the overall limit. A group's 20
        a minute counts messages, not edits: a card brought up to date does not keep
        the next alert waiting. In a group, the last of its burst is kept for what is
        urgent: a safety alert never waits for the minute's notices to earn one back."""
        if edit and chat_id < 0:
            async with self.overall:
                return
        keep = 0.0 if urgent or chat_id > 0 else GROUP_KEPT_FOR_URGENT
        for _ in range(3):  # one wait is enough: a float's rounding may want another
            if (seconds := self.per_chat.wait(chat_id, keep=keep)) <= 0:
                break
            await asyncio.sleep(seconds)
        self.per_chat.spend(chat_id)
        async with self.overall:
            return


def _by_chat(claimed: list[Claimed]) -> dict[int, list[Claimed]]:
    """Claimed rows by chat, each chat's in the order they go (as claimed)."""
    by_chat: dict[int, list[Claimed]] = {}
    for one in claimed:
        by_chat.setdefault(one.row.chat_id, []).append(one)
    return by_chat
