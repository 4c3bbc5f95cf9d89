"""The check-in dispatcher at scale (issue 11): 10,000 check-ins fall due at once,
for 10,000 patients, and two bot instances' dispatchers take them while one
delivery sends them through python-telegram-bot to the Bot API stand-in.

Targets: the achieved send rate, from the first tick until the stand-in has every
check-in, at least 0.95 of Telegram's 30 messages a second; and no check-in sent
twice (0 duplicates), by the two dispatchers together.

- Two dispatchers: two `CheckIns` on the same database, each with its own
  engine and connection pool, each ticking in its own loop as `spbot run`'s
  housekeeping does while check-ins are being written (every HEARTBEAT, `tick()`
  with its default BATCH; idle, it looks only every CHECK_INS_EVERY). On
  PostgreSQL each takes due rows with FOR UPDATE SKIP LOCKED, which is what this
  measures; on SQLite one writer at a time is the lock.
- One delivery: the real `Delivery` with DEFAULT_LIMITS and the real
  `TelegramSender` over python-telegram-bot's `Bot`, wired as bot/telegram.py
  does. Telegram's 30 messages a second is a limit on the bot, not on a process:
  one delivery paces it here, and several instances sharing one rate limit is
  issue 16's.
- The clock: a Wednesday at 11:00 UTC (inside sending hours, out of QUIET_HOURS)
  plus the real time since the run began, for the dispatchers and the delivery.
- The rows are made directly, in a few transactions, in the shape a real referral
  leaves them (tests/factories.py, then a link worker's /refer a week ago): a
  patient whose conversation is "handed_off", a case with its summary and
  baseline, a referral, and its CHECKIN_SCHEDULE check-ins: the first due an
  hour ago, the other two weeks away. On PostgreSQL they are then ANALYZEd, as
  autovacuum would have done in a database that has been running.

Speed is reported, never asserted: the rate is a ratio measured in one run, with
what limited it (the dispatchers, when the delivery had nothing to send; else the
delivery). Correctness is asserted: every chat got exactly one check-in, and every
due check-in is "sent" exactly once in the database. A run that has not delivered
everything in twice the time 30 a second takes, and a minute, stops there and
reports what arrived.

Run with `make bench` (about 6 minutes: 10,000 messages at 30 a second); on
PostgreSQL when SPBOT_TEST_POSTGRES_URL is set, else SQLite. For a quick run:
SPBOT_BENCH_CHECKINS=1000.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot as TelegramApi
from telegram.request import HTTPXRequest

from bot.app import messages_for
from bot.config import Settings
from bot.delivery import DEFAULT_LIMITS, Delivery
from bot.patients.checkins import BATCH, CheckIns
from bot.patients.listener import NobodyListening
from bot.patients.replies import ReplyWriter
from bot.staff.admin import add_worker
from bot.store import Database
from bot.store.cases import REFERENCE_ALPHABET, REFERENCE_PREFIX, Case, CaseEntry, Referral
from bot.store.checkins import CheckIn
from bot.store.db import trouble
from bot.store.milestones import Milestone, new_journey
from bot.store.outbox import CHECK_IN, OutboxMessage
from bot.store.patients import Consent, Conversation, Patient, WellbeingScore
from bot.telegram import HEARTBEAT, TelegramSender
from flows.wellbeing import MEASURES
from tests import factories
from tests.fakes import FakeDirectory
from tests.standin.server import BotApiStandIn, Call

COUNT = int(os.environ.get("SPBOT_BENCH_CHECKINS", "10000"))
POSTGRES_URL = os.environ.get("SPBOT_TEST_POSTGRES_URL")
TELEGRAM_PER_SECOND = DEFAULT_LIMITS.overall_per_second
TARGET = 0.95
#: Wednesday 25 November 2026, 11:00 in London (GMT): sending hours, a working day.
START = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
#: They finished the referral conversation eight days ago; Sam referred them to
#: Bootle Walking Football a week and an hour ago, so the first check-in (7 days,
#: at 10:00, the mornings they said suit them) has been due for an hour.
HANDED_OFF = START - timedelta(days=8)
REFERRED = START - timedelta(days=7, hours=1)
SCHEDULE = (timedelta(days=7), timedelta(days=28), timedelta(days=84))
FIRST_CHAT = 1_000_000
SAM = 9001
#: Rows per transaction while seeding.
CHUNK = 2_000

SETTINGS = Settings(organisation_name="Sefton Social Prescribing",
                    response_time_text="within 2 working days")  # fmt: skip


class RunningClock:
    """START plus the real time since the clock was made: the delivery's limits
    and the outbox's times move with real time, and every tick is in sending hours."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.began = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


# --- The database ----------------------------------------------------------------------


@dataclass
class Where:
    """The database the run uses: a schema of its own on PostgreSQL, or a file."""

    url: str
    schema: str | None
    name: str

    @classmethod
    def choose(cls, tmp_path: Path) -> Where:
        if POSTGRES_URL:
            return cls(POSTGRES_URL, f"bench_{uuid.uuid4().hex[:12]}", "PostgreSQL")
        return cls(f"sqlite+aiosqlite:///{tmp_path / 'bench.sqlite3'}", None, "SQLite")

    def open(self) -> Database:
        """A database object of its own: each bot instance has its own pool."""
        return Database(self.url, schema=self.schema)

    async def create(self) -> None:
        if self.schema is not None:
            admin = Database(self.url)
            async with admin.engine.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            await admin.close()
        db = self.open()
        await db.upgrade()
        await db.close()

    async def drop(self) -> None:
        if self.schema is not None:
            admin = Database(self.url)
            async with admin.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            await admin.close()


def chat_of(i: int) -> int:
    return FIRST_CHAT + i


def reference_of(i: int) -> str:
    """SP- and four characters, different for each of the first 32**4 patients."""
    base = len(REFERENCE_ALPHABET)
    return REFERENCE_PREFIX + "".join(
        REFERENCE_ALPHABET[(i // base**k) % base] for k in (3, 2, 1, 0)
    )


async def seed(db: Database, count: int) -> None:
    """`count` patients, each referred a week ago with its first check-in due now.

    One patient goes through tests/factories.py (the real referral flow's effects,
    recorded by the patient side's own code); its conversation, summary and
    baseline are then copied, in bulk, to everyone, and it is removed."""
    sam = await add_worker(db, SAM, "Sam", "link_worker", HANDED_OFF)
    template = await factories.referred_patient(
        db, SETTINGS, NobodyListening(), HANDED_OFF, chat_id=chat_of(-1)
    )
    async with db.transaction() as session:
        patient = await session.get(Patient, template.patient_id)
        conversation = await session.get(Conversation, template.patient_id)
        baseline = await session.scalar(
            select(WellbeingScore).where(WellbeingScore.patient_id == template.patient_id)
        )
        consent = await session.scalar(
            select(Consent).where(Consent.patient_id == template.patient_id)
        )
        assert patient is not None and conversation is not None
        assert baseline is not None and consent is not None
        assert conversation.state == "handed_off"
        picked = conversation.control.shown[0]  # "1. Bootle Walking Football"
        await session.execute(delete(Milestone).where(Milestone.journey == patient.journey))
        await session.execute(delete(Patient).where(Patient.id == patient.id))

    scores = {m: getattr(baseline, m) for m in MEASURES}
    for first in range(0, count, CHUNK):
        block = range(first, min(first + CHUNK, count))
        async with db.transaction() as session:
            patients = [
                {"channel": "telegram", "chat_id": chat_of(i), "created_at": HANDED_OFF,
                 "journey": new_journey()}
                for i in block
            ]  # fmt: skip
            patient_ids = await inserted(session, Patient, patients)
            conversations = [
                {"patient_id": p, "flow": "referral", "state": "handed_off",
                 "step": conversation.step, "answers": conversation.answers,
                 "control": conversation.control.model_copy(
                     update={"case_reference": reference_of(i)}),
                 "updated_at": HANDED_OFF}
                for i, p in zip(block, patient_ids, strict=True)
            ]  # fmt: skip
            await session.execute(insert(Conversation), conversations)
            consents = [
                {"patient_id": p, "notice_version": consent.notice_version, "given_at": HANDED_OFF}
                for p in patient_ids
            ]  # fmt: skip
            await session.execute(insert(Consent), consents)
            cases = [
                {"reference": reference_of(i), "patient_id": p, "status": "referred",
                 "opened_at": HANDED_OFF, "summary": template.summary, "link_worker_id": sam.id,
                 "claimed_at": HANDED_OFF + timedelta(hours=1), "announced_at": HANDED_OFF}
                for i, p in zip(block, patient_ids, strict=True)
            ]  # fmt: skip
            case_ids = await inserted(session, Case, cases)
            baselines = [
                {"patient_id": p, "case_id": c, "context": "baseline",
                 "measured_at": HANDED_OFF, **scores}
                for p, c in zip(patient_ids, case_ids, strict=True)
            ]  # fmt: skip
            await session.execute(insert(WellbeingScore), baselines)
            entries = [
                entry
                for c in case_ids
                for entry in (
                    {"case_id": c, "at": HANDED_OFF, "kind": "event", "text": "opened"},
                    {"case_id": c, "at": REFERRED, "kind": "reply", "link_worker_id": sam.id,
                     "text": "I've put you in touch with Bootle Walking Football."},
                )
            ]  # fmt: skip
            await session.execute(insert(CaseEntry), entries)
            referrals = [
                {"case_id": c, "link_worker_id": sam.id, "activity_id": picked.id,
                 "activity_name": picked.name, "organisation": picked.organisation,
                 "found_by": "suggested", "made_at": REFERRED}
                for c in case_ids
            ]  # fmt: skip
            referral_ids = await inserted(session, Referral, referrals)
            check_ins = [
                {"case_id": c, "patient_id": p, "referral_id": r, "kind": "scheduled",
                 "due_at": REFERRED + offset, "status": "due"}
                for p, c, r in zip(patient_ids, case_ids, referral_ids, strict=True)
                for offset in SCHEDULE
            ]  # fmt: skip
            await session.execute(insert(CheckIn), check_ins)


async def inserted(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert many rows at once; their ids, in the order of `rows`."""
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(await session.scalars(statement, rows))


# --- The run ---------------------------------------------------------------------------


@dataclass
class Dispatcher:
    """One bot instance's dispatcher, and what its ticks did."""

    name: str
    checkins: CheckIns
    ticks: list[tuple[float, float, int]] = field(default_factory=list)  # start, took, written
    #: Ticks that raised (what went wrong, in the words `trouble` gives the log).
    failed: Counter[str] = field(default_factory=Counter)

    @property
    def written(self) -> int:
        return sum(w for _, _, w in self.ticks)


@dataclass
class Run:
    """What the stand-in received, and when (perf_counter seconds)."""

    count: int
    #: Every chat's check-in arrived before the deadline (else the figures are of
    #: what arrived by then).
    complete: bool = False
    began: float = 0.0
    first_at: float | None = None
    last_at: float | None = None
    received: Counter[int] = field(default_factory=Counter)
    arrivals: list[float] = field(default_factory=list)
    seen_calls: int = 0
    dispatchers: list[Dispatcher] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    #: (seconds since the first tick, outbox rows waiting, check-ins received), each second.
    backlog: list[tuple[float, int, int]] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        assert self.last_at is not None
        return self.last_at - self.began

    @property
    def rate(self) -> float:
        return len(self.received) / self.elapsed

    @property
    def steady_rate(self) -> float:
        """Messages a second from the first arrival to the last: delivery's own pace."""
        if self.first_at is None or self.last_at is None or len(self.arrivals) < 2:
            return 0.0
        return (len(self.arrivals) - 1) / max(self.arrivals[-1] - self.first_at, 1e-9)

    @property
    def starved(self) -> int:
        """Seconds, after the first arrival, in which delivery had nothing to send
        although check-ins were still to come: the dispatchers were behind."""
        return sum(
            1 for _, waiting, got in self.backlog if got and not waiting and got < self.count
        )

    @property
    def busiest_second(self) -> int:
        """The most check-ins that arrived within any one second."""
        most, start = 0, 0
        for end, at in enumerate(self.arrivals):
            while at - self.arrivals[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most

    @property
    def duplicates(self) -> int:
        """Chats that received more than one check-in."""
        return sum(1 for n in self.received.values() if n > 1)

    def look(self, calls: list[Call]) -> bool:
        """Take in the calls made since the last look; True once every chat has one."""
        for call in calls[self.seen_calls :]:
            if call.method == "sendMessage" and call.ok:
                chat = int(call.params["chat_id"])
                if FIRST_CHAT <= chat < FIRST_CHAT + self.count:
                    self.received[chat] += 1
                    self.arrivals.append(time.perf_counter())
                    self.first_at = self.first_at or self.arrivals[-1]
        self.seen_calls = len(calls)
        if self.last_at is None and len(self.received) >= self.count:
            self.last_at = time.perf_counter()
            self.complete = True
        return self.complete


class Warnings(logging.Handler):
    """What the bot logged at WARNING or above during the run, counted by message
    (a delivery lane or pass that failed, say)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        error = getattr(record, "error", None)  # the exception's type, where one says
        self.seen[f"{record.name}: {record.getMessage()}" + (f" ({error})" if error else "")] += 1


async def watch_backlog(run: Run, db: Database, stop: asyncio.Event) -> None:
    """How many messages wait in the outbox, each second: none while check-ins are
    still to come means the delivery waits for the dispatchers."""
    while not stop.is_set():
        waiting = await unsent(db)
        run.backlog.append((time.perf_counter() - run.began, waiting, len(run.received)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def tick_like_housekeeping(
    dispatcher: Dispatcher, delivery: Delivery, stop: asyncio.Event
) -> None:
    """`TelegramBot._keep_house`'s check-in part: tick, wake the delivery if anything
    was written, wait a HEARTBEAT; a tick that fails is tried again at the next."""
    while not stop.is_set():
        started = time.perf_counter()
        try:
            written = await dispatcher.checkins.tick()
        except Exception as exc:
            dispatcher.failed[trouble(exc)] += 1
            written = 0
        dispatcher.ticks.append((started, time.perf_counter() - started, written))
        if written:
            delivery.wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT.total_seconds())


def make_checkins(db: Database, clock: Callable[[], datetime]) -> CheckIns:
    """A bot instance's dispatcher, as PatientService makes it."""
    messages = messages_for(SETTINGS)
    return CheckIns(db, messages, FakeDirectory, SETTINGS, ReplyWriter(messages),
                    NobodyListening(), clock)  # fmt: skip


async def dispatch(where: Where, count: int) -> Run:
    """Two dispatchers and one delivery, until the stand-in has every check-in and
    the outbox is empty."""
    clock = RunningClock(START)
    first, second = where.open(), where.open()
    run = Run(count)
    run.dispatchers = [Dispatcher("instance 1", make_checkins(first, clock)),
                       Dispatcher("instance 2", make_checkins(second, clock))]  # fmt: skip
    timeout = SETTINGS.telegram_timeout
    limits = DEFAULT_LIMITS
    warnings = Warnings()
    logging.getLogger("bot").addHandler(warnings)
    try:
        async with BotApiStandIn() as api:
            # As TelegramBot builds it (bot/telegram.py).
            bot = TelegramApi(
                api.token, base_url=api.base_url,
                request=HTTPXRequest(
                    connection_pool_size=limits.chats_at_once + 8, connect_timeout=timeout,
                    read_timeout=timeout, write_timeout=timeout, pool_timeout=timeout,
                ),
            )  # fmt: skip
            await bot.initialize()
            delivery = Delivery(first, TelegramSender(bot), "telegram", instance="instance-1",
                                limits=limits, clock=clock)  # fmt: skip
            stop = asyncio.Event()
            run.began = time.perf_counter()
            tasks = [asyncio.create_task(tick_like_housekeeping(d, delivery, stop))
                     for d in run.dispatchers]  # fmt: skip
            tasks.append(asyncio.create_task(delivery.run()))
            tasks.append(asyncio.create_task(watch_backlog(run, first, stop)))
            try:
                with contextlib.suppress(TimeoutError):
                    await api.wait_for(lambda: run.look(api.calls), timeout=deadline(count))
                if not run.complete:  # report what arrived by the deadline
                    run.last_at = time.perf_counter()
                else:
                    # A tick or two more, and whatever is still in the outbox (a
                    # duplicate would be) goes too, before the chats are counted.
                    await asyncio.sleep(2 * HEARTBEAT.total_seconds())
                    for _ in range(150):
                        if not delivery.lanes.busy and not await unsent(first):
                            break
                        await asyncio.sleep(0.2)
                    run.look(api.calls)
            finally:
                stop.set()
                delivery.stopping = True
                delivery.wake.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                await delivery.finish(5)
                await bot.shutdown()
            run.refused = [str(call) for call in api.rejected]  # what Telegram would refuse
    finally:
        logging.getLogger("bot").removeHandler(warnings)
        run.warnings = warnings.seen
        await first.close()
        await second.close()
    return run


def deadline(count: int) -> float:
    """How long to wait for every check-in: twice what 30 a second takes, and a minute."""
    return 2 * count / TELEGRAM_PER_SECOND + 60


async def unsent(db: Database) -> int:
    async with db.reading() as session:
        query = select(func.count()).where(
            OutboxMessage.sent_at.is_(None), OutboxMessage.failed_reason.is_(None)
        )
        return int(await session.scalar(query) or 0)


@dataclass(frozen=True)
class Recorded:
    """What the database says was done."""

    statuses: dict[str, int]
    first_sent: int  # first check-ins (due now) "sent"
    later_due: int  # later check-ins still "due"
    outbox_sends: int
    outbox_chats: int
    outbox_unsent: int
    milestones: int


async def recorded(where: Where) -> Recorded:
    db = where.open()
    try:
        async with db.reading() as s:
            by_status = select(CheckIn.status, func.count()).group_by(CheckIn.status)
            statuses = {status: n for status, n in (await s.execute(by_status)).all()}
            first_sent = await s.scalar(
                select(func.count()).where(CheckIn.due_at <= START, CheckIn.status == "sent",
                                           CheckIn.sent_at.is_not(None))
            )  # fmt: skip
            later_due = await s.scalar(
                select(func.count()).where(CheckIn.due_at > START, CheckIn.status == "due")
            )
            sends = select(OutboxMessage).where(
                OutboxMessage.action == "send", OutboxMessage.priority == CHECK_IN
            )
            outbox_sends = await s.scalar(select(func.count()).select_from(sends.subquery()))
            outbox_chats = await s.scalar(
                select(func.count(func.distinct(OutboxMessage.chat_id))).where(
                    OutboxMessage.action == "send", OutboxMessage.priority == CHECK_IN
                )
            )
            milestones = await s.scalar(
                select(func.count()).where(Milestone.step == "checkin_sent")
            )
        return Recorded(statuses, int(first_sent or 0), int(later_due or 0),
                        int(outbox_sends or 0), int(outbox_chats or 0), await unsent(db),
                        int(milestones or 0))  # fmt: skip
    finally:
        await db.close()


# --- The report ------------------------------------------------------------------------


def limited_by(run: Run, first_latency: float, tick: float, sqlite: bool) -> str:
    """What held the rate back, from what was measured."""
    if run.starved or (not run.complete and not run.backlog[-1][1]):
        return (f"the dispatchers: delivery had nothing to send for {run.starved} s while "
                f"check-ins were still to come (a tick of up to {BATCH} took {tick:.1f} s)")  # fmt: skip
    if run.steady_rate < TELEGRAM_PER_SECOND * TARGET:
        if sqlite and tick > 1:
            return (f"the delivery, waiting for SQLite's one write lock, which each "
                    f"dispatcher's tick holds throughout ({tick:.1f} s on average)")  # fmt: skip
        return "the delivery: under 30/s although messages were waiting in the outbox"
    return (f"the delivery's 30/s pacing, as it should be, and {first_latency:.1f} s before "
            f"the first message (the first tick's transaction commits its whole batch)")  # fmt: skip


def report(where: Where, run: Run, db: Recorded, seeded_in: float) -> dict[str, Any]:
    ticks = [t for d in run.dispatchers for t in d.ticks if t[2]]
    took = [t[1] for t in ticks] or [0.0]
    written = sum(d.written for d in run.dispatchers)
    all_written = max((t[0] + t[1] for t in ticks), default=run.began) - run.began
    dispatch_rate = written / all_written if all_written else 0.0
    first_latency = (run.first_at or run.began) - run.began
    waiting = [w for at, w, got in run.backlog if got and got < run.count] or [0]
    ratio = run.rate / TELEGRAM_PER_SECOND
    why = limited_by(run, first_latency, statistics.fmean(took), where.schema is None)
    figures: dict[str, Any] = {
        "database": where.name,
        "check_ins": run.count,
        "arrived": len(run.received),
        "complete": run.complete,
        "elapsed_s": round(run.elapsed, 2),
        "rate_per_s": round(run.rate, 2),
        "ratio_of_30_per_s": round(ratio, 3),
        "target_ratio": TARGET,
        "duplicates": run.duplicates,
        "first_message_s": round(first_latency, 2),
        "delivery_rate_per_s": round(run.steady_rate, 2),
        "busiest_second": run.busiest_second,
        "outbox_waiting_min": min(waiting),
        "outbox_waiting_max": max(waiting),
        "delivery_starved_s": run.starved,
        "dispatch_done_s": round(all_written, 1),
        "dispatch_rate_per_s": round(dispatch_rate, 1),
        "tick_batch": BATCH,
        "tick_mean_s": round(statistics.fmean(took), 2),
        "tick_max_s": round(max(took), 2),
        "written_by": [d.written for d in run.dispatchers],
        "ticks_failed": [sum(d.failed.values()) for d in run.dispatchers],
        "warnings": dict(run.warnings),
        "limited_by": why,
        "seeded_in_s": round(seeded_in, 1),
    }
    ideal = (run.count - TELEGRAM_PER_SECOND) / TELEGRAM_PER_SECOND
    rows = [
        ("database", where.name, ""),
        ("check-ins due, one each to", f"{run.count:,}", "patients"),
        *([] if run.complete else [
            ("ARRIVED BEFORE THE DEADLINE", f"{len(run.received):,}",
             f"gave up after {deadline(run.count):.0f} s: the figures are of these")]),
        ("first tick to last arrival" if run.complete else "first tick to giving up",
         f"{run.elapsed:.1f} s", f"at 30/s: {ideal:.1f} s"),
        ("achieved send rate", f"{run.rate:.2f} /s", ""),
        ("  as a ratio of 30 /s", f"{ratio:.3f}",
         f"target >= {TARGET}" + ("" if ratio >= TARGET else "  BELOW TARGET")),
        ("duplicates (chats sent two or more)", f"{run.duplicates}", "target 0"),
        ("  of which written twice to the outbox", f"{db.outbox_sends - db.outbox_chats}",
         "the rest: one outbox row sent again by the delivery"),
        ("requests the Bot API would refuse", f"{len(run.refused)}", ""),
        ("check-ins 'sent' in the database", f"{db.first_sent:,}", f"of {run.count:,}"),
        ("later check-ins still 'due'", f"{db.later_due:,}", f"of {2 * run.count:,}"),
        ("check-in messages in the outbox", f"{db.outbox_sends:,}",
         f"to {db.outbox_chats:,} chats, {db.outbox_unsent} unsent"),
        ("first message arrived after", f"{first_latency:.2f} s", ""),
        ("delivery, first to last arrival", f"{run.steady_rate:.2f} /s", ""),
        ("most arrivals in any one second", f"{run.busiest_second}", ""),
        ("outbox waiting meanwhile, min/max", f"{min(waiting):,} / {max(waiting):,}",
         f"delivery had nothing to send for {run.starved} s"),
        ("dispatchers had written all after", f"{all_written:.1f} s",
         f"{dispatch_rate:.1f} check-ins/s"),
        ("a tick with work, mean / max", f"{statistics.fmean(took):.2f} / {max(took):.2f} s",
         f"{len(ticks)} ticks of up to {BATCH}, every {HEARTBEAT.total_seconds():g} s"),
        *[(f"  written by {d.name}", f"{d.written:,}",
           ", ".join(f"{n} ticks failed: {why}" for why, n in d.failed.items()))
          for d in run.dispatchers],
        *[("logged", f"{n:,}", what) for what, n in run.warnings.most_common(6)],
        ("limited by", "", why),
    ]  # fmt: skip
    width = max(len(label) for label, _, _ in rows)
    print(f"\nCheck-in dispatch: two dispatchers, one delivery, the Bot API stand-in "
          f"(seeded in {seeded_in:.1f} s)")  # fmt: skip
    for label, value, note in rows:
        print(f"  {label:<{width}}  {value:>14}  {note}".rstrip())
    return figures


def test_dispatching_due_check_ins_at_telegrams_rate(
    benchmark: BenchmarkFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = Where.choose(tmp_path)
    asyncio.run(where.create())
    try:
        began = time.perf_counter()
        asyncio.run(seed_database(where, COUNT))
        seeded_in = time.perf_counter() - began
        run: Run = benchmark.pedantic(
            lambda: asyncio.run(dispatch(where, COUNT)), rounds=1, iterations=1
        )
        db = asyncio.run(recorded(where))
    finally:
        asyncio.run(where.drop())
    with capsys.disabled():  # shown by `make bench` too, which does not pass -s
        benchmark.extra_info.update(report(where, run, db, seeded_in))

    assert run.duplicates == 0, f"{run.duplicates} chats got a check-in twice"
    assert run.complete, f"{len(run.received)} of {COUNT} check-ins arrived: see the report"
    assert len(run.received) == COUNT and sum(run.received.values()) == COUNT
    assert run.refused == []
    assert db.first_sent == COUNT and db.statuses.get("sent") == COUNT
    assert db.later_due == 2 * COUNT
    assert db.outbox_sends == db.outbox_chats == COUNT and db.outbox_unsent == 0
    assert db.milestones == COUNT


async def seed_database(where: Where, count: int) -> None:
    db = where.open()
    try:
        await seed(db, count)
        if not db.is_sqlite:
            # The statistics a running database has (autovacuum's ANALYZE; the test
            # server runs without autovacuum). The outbox is empty now and fills
            # during the run, as it would in a burst between two autovacuum runs.
            async with db.engine.connect() as conn:
                await conn.execute(text("ANALYZE"))
    finally:
        await db.close()
