"""A crash loses nothing (issue 9, docs/architecture.md rules 1 and 2).

The real bot runs as its own process (`spbot run`) against the Bot API stand-in
and is SIGKILLed while patients talk to it. Afterwards the database must show that
every update was handled (`processed_update`), no chat may wait long for what it
is owed, and a SIGTERM must stop the bot promptly, losing nothing.

Kills are aimed: each one lands at a seeded-random moment a few milliseconds after
the bot has fetched a batch of updates, because that is when a crash can lose
something (fetched and confirmed to Telegram, not yet committed).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tests.e2e.process import BotProcess, PollWatchingStandIn
from tests.postgres import POSTGRES_URL, SKIP_REASON, template
from tests.standin.server import ApiError, BotApiStandIn, SentMessage

pytestmark = pytest.mark.e2e

SEED = 20240909
#: The issue's full run is 50 patients and 20 kills (SPBOT_CRASH_PATIENTS=50
#: SPBOT_CRASH_KILLS=20): several minutes on two cores.
PATIENTS = int(os.environ.get("SPBOT_CRASH_PATIENTS", "8"))
KILLS = int(os.environ.get("SPBOT_CRASH_KILLS", "5"))
DONE = "Done ✔"
#: How long a patient waits for the bot to finish answering before acting anyway.
PATIENCE = 3.0
#: How long everything the patients sent may take to be handled after the last
#: restart, and how long it may go without handling anything meanwhile. On
#: PostgreSQL another instance could be alive, so what a killed one held may only
#: be taken back once it has been silent a while.
CATCH_UP = {"sqlite": 20.0, "postgresql": 40.0}
STALLED = {"sqlite": 10.0, "postgresql": 25.0}
#: A message Telegram took this shortly before a kill may be sent again after it:
#: the process died before it could record the send.
IN_FLIGHT = 2.0


# -- the database, as the test sees it ---------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def bot_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The bot's database: a SQLite file, or a migrated PostgreSQL database of its
    own (`spbot run` cannot choose a schema; tests/postgres.py)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    async with (await template()).copy("spbot_crash") as url:
        yield url


class Watch:
    """What the bot has recorded, read from its database ten times a second: the
    updates it has handled, and the chats still owed a message."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(url)
        self.handled: set[int] = set()
        self.owed: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async with self.engine.connect() as conn:
            handled = await conn.execute(text("SELECT update_id FROM processed_update"))
            owed = await conn.execute(
                text(
                    "SELECT DISTINCT chat_id FROM outbox "
                    "WHERE sent_at IS NULL AND failed_reason IS NULL"
                )
            )
            self.handled = {int(row[0]) for row in handled}
            self.owed = {int(row[0]) for row in owed}

    async def handled_in_order(self) -> list[int]:
        """Every update handled, in the order it was (by when, then by id)."""
        async with self.engine.connect() as conn:
            handled = await conn.execute(
                text("SELECT update_id FROM processed_update ORDER BY processed_at, update_id")
            )
            return [int(row[0]) for row in handled]

    async def unsent(self, chat_id: int) -> int:
        """Messages (not edits) still owed to the chat."""
        async with self.engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM outbox WHERE chat_id = :chat AND action = 'send' "
                    "AND sent_at IS NULL AND failed_reason IS NULL"
                ),
                {"chat": chat_id},
            )
        return int(count or 0)

    def answered(self, update_id: int, chat_id: int) -> bool:
        """Whether the update is handled and the chat owed nothing more: its whole
        answer has gone."""
        return update_id in self.handled and chat_id not in self.owed

    async def until_answered(
        self, api: BotApiStandIn, chat_id: int, update_id: int, *, within: float, what: str = ""
    ) -> None:
        """Wait for the chat's whole answer to an update (`what` it was, for a failure),
        or fail saying what the chat last got and what its outbox still holds."""
        deadline = time.monotonic() + within
        while not self.answered(update_id, chat_id):
            if time.monotonic() > deadline:
                said = [m.plain_text[:60] for m in api.messages_to(chat_id)[-3:]]
                raise AssertionError(
                    f"chat {chat_id} got no answer to {what or update_id}: {said}; handled: "
                    f"{update_id in self.handled}; its outbox:\n{await self.outbox(chat_id)}"
                )
            await asyncio.sleep(0.05)

    async def outbox(self, chat_id: int) -> str:
        """The chat's outbox rows, for a failure message: what is still owed, and why."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT id, action, priority, attempts, created_at, next_attempt_at, "
                    "sent_at, failed_reason, leased_by FROM outbox WHERE chat_id = :chat "
                    "ORDER BY id"
                ),
                {"chat": chat_id},
            )
        return "\n".join(f"  {tuple(row)}" for row in rows)

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_reading())

    async def _keep_reading(self) -> None:
        while True:
            with suppress(Exception):  # a database mid-crash: read again next time
                await self.read()
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop reading (then `read()` once more for the final word)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def close(self) -> None:
        await self.stop()
        await self.engine.dispose()


# -- patients --------------------------------------------------------------------------


class Patient:
    """Someone referring themselves, simply: they tap the first button of the newest
    question (a tick-box question: one tick, then Done), or type when no question
    has buttons. They act once the bot has answered them (their update handled and
    their chat owed nothing), or after PATIENCE seconds if it has not."""

    def __init__(
        self, api: PollWatchingStandIn, watch: Watch, chat_id: int, rng: random.Random
    ) -> None:
        self.api = api
        self.watch = watch
        self.chat_id = chat_id
        self.name = f"Pat{chat_id % 100}"
        self.rng = rng
        #: Every update this patient caused, and what it was (for failure messages).
        self.sent: dict[int, str] = {}
        #: When they did each thing (time.monotonic()).
        self.acted_at: list[float] = []
        self._tapped: set[int] = set()

    def act(self) -> int:
        messages = self.api.messages_to(self.chat_id)
        question = next((m for m in reversed(messages) if m.buttons), None)
        if not messages:
            return self._type("/start")
        if question is None:
            return self._type("/status" if self.rng.random() < 0.5 else "Thank you")
        return self._tap(question)

    def _type(self, words: str) -> int:
        update_id = self.api.send_text(self.chat_id, words, first_name=self.name)
        self.sent[update_id] = f"typed {words!r}"
        self.acted_at.append(time.monotonic())
        return update_id

    def _tap(self, question: SentMessage) -> int:
        labels = question.button_labels
        again = question.message_id in self._tapped and DONE in labels
        label = DONE if again else labels[0]
        self._tapped.add(question.message_id)
        update_id = self.api.tap(
            self.chat_id, question.message_id, question.callback_data(label), first_name=self.name
        )
        self.sent[update_id] = f"tapped {label!r}"
        self.acted_at.append(time.monotonic())
        return update_id

    async def talk(self, until: asyncio.Event) -> None:
        await asyncio.sleep(self.rng.uniform(0, 0.5))
        while not until.is_set():
            update_id = self.act()
            deadline = time.monotonic() + PATIENCE
            while not self.watch.answered(update_id, self.chat_id) and time.monotonic() < deadline:
                if until.is_set():
                    return
                await asyncio.sleep(0.05)
            await asyncio.sleep(self.rng.uniform(0.05, 0.3))  # reading it


def describe(update_ids: Iterable[int], patients: list[Patient], api: PollWatchingStandIn) -> str:
    lines = []
    for update_id in sorted(update_ids):
        who = next(p for p in patients if update_id in p.sent)
        if api.is_confirmed(update_id):
            fate = "confirmed to Telegram, never handled"
        elif update_id in api.handed_out:
            fate = "fetched, never confirmed"
        else:
            fate = "never fetched"
        lines.append(f"  update {update_id}: chat {who.chat_id} {who.sent[update_id]} ({fate})")
    return "\n".join(lines)


@dataclass(frozen=True)
class Kill:
    #: How many requests the stand-in had answered: later ones are the next process's.
    calls: int
    at: float  # time.monotonic()


@dataclass(frozen=True)
class Resent:
    """A message sent twice in a row to a chat, once before a kill and once after."""

    chat_id: int
    text: str
    #: How long before the kill the first copy reached Telegram.
    before_kill: float
    #: Whether the patient did something between the two copies (the second may
    #: be the bot's answer to that: "Sorry, I didn't catch that" twice).
    patient_acted: bool
    #: Which kill came between them (its number, from 0).
    kill: int = 0

    @property
    def excused(self) -> bool:
        """In flight as the process died (too late to record: no bot can avoid
        that), or perhaps no duplicate at all."""
        return self.before_kill <= IN_FLIGHT or self.patient_acted

    def __str__(self) -> str:
        return (
            f"  chat {self.chat_id}: {self.text[:60]!r}, first sent "
            f"{self.before_kill:.2f}s before a kill, nothing from the patient since"
        )


def resent_after_kill(
    api: PollWatchingStandIn, kills: list[Kill], patients: list[Patient]
) -> list[Resent]:
    """Messages sent twice in a row to a chat with a kill between the two sends."""
    sends: dict[int, list[int]] = {}
    for index, call in enumerate(api.calls):
        if call.method == "sendMessage" and call.ok:
            sends.setdefault(int(call.params["chat_id"]), []).append(index)
    acted = {p.chat_id: p.acted_at for p in patients}
    resent = []
    for chat_id, indices in sends.items():
        for before, after in itertools.pairwise(indices):
            text = api.calls[before].params["text"]
            kill = next((k for k in kills if before < k.calls <= after), None)
            if kill is None or api.calls[after].params["text"] != text:
                continue
            first, second = api.answered_at[before], api.answered_at[after]
            patient_acted = any(first < t < second for t in acted.get(chat_id, []))
            resent.append(Resent(chat_id, text, kill.at - first, patient_acted, kills.index(kill)))
    return resent


async def until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def caught_up(watch: Watch, sent: set[int], backend: str = "sqlite") -> None:
    """Wait until every update sent has been handled, for at most CATCH_UP seconds,
    or until STALLED seconds go by with none handled (the rest are not coming)."""
    deadline = time.monotonic() + CATCH_UP[backend]
    progress, last_count = time.monotonic(), -1
    while not sent <= watch.handled and time.monotonic() < deadline:
        count = len(sent & watch.handled)
        if count != last_count:
            progress, last_count = time.monotonic(), count
        elif time.monotonic() - progress > STALLED[backend]:
            return
        await asyncio.sleep(0.05)


async def kill_after_a_fetch(api: PollWatchingStandIn, bot: BotProcess, rng: random.Random) -> Kill:
    """SIGKILL the bot a few random milliseconds after it has fetched updates and
    asked for more (which tells Telegram it has them), or now if nothing comes
    within 3 s."""
    batches = api.batches
    with suppress(TimeoutError):
        await api.wait_for(lambda: api.batches > batches, timeout=3.0)
        polls = api.polls_started
        await api.wait_for(lambda: api.polls_started > polls, timeout=1.0)
    await asyncio.sleep(rng.uniform(0.0, 0.02))
    at = time.monotonic()
    await bot.killed()
    return Kill(len(api.calls), at)


# -- the tests -------------------------------------------------------------------------


# The full run (50 patients, 20 kills) takes several minutes.
@pytest.mark.timeout(600 + 10 * PATIENTS * KILLS)
async def test_no_update_is_lost_when_the_bot_is_killed(
    bot_database_url: str, tmp_path: Path
) -> None:
    backend = make_url(bot_database_url).get_backend_name()
    rng = random.Random(SEED)
    async with PollWatchingStandIn() as api:
        bot = BotProcess(api, tmp_path / "bot", database_url=bot_database_url)
        watch: Watch | None = None
        stop_talking = asyncio.Event()
        talking: list[asyncio.Task[None]] = []
        try:
            await bot.start()
            watch = Watch(bot_database_url)
            watch.start()
            patients = [
                Patient(api, watch, 6001 + n, random.Random(rng.random())) for n in range(PATIENTS)
            ]
            talking = [asyncio.create_task(p.talk(stop_talking)) for p in patients]
            kills = []
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.3, 1.2))
                kills.append(await kill_after_a_fetch(api, bot, rng))
                await asyncio.sleep(rng.uniform(0.0, 0.5))  # down a while; patients go on
                await bot.start()
            await asyncio.sleep(1.0)
            stop_talking.set()
            await asyncio.gather(*talking)

            sent = {update_id for p in patients for update_id in p.sent}
            await caught_up(watch, sent, backend)
            exit_code = await bot.terminate(timeout=15)
            await watch.stop()
            await watch.read()
            lost = sent - watch.handled
            resent = resent_after_kill(api, kills, patients)
            unexcused = [r for r in resent if not r.excused]
            # Repeats no bot can avoid: sent just before a kill, nothing from the patient
            # since. Chats are sent to side by side, so a kill may cut several short at
            # once, but never one chat's twice.
            in_flight = Counter(
                (r.chat_id, r.kill)
                for r in resent
                if r.before_kill <= IN_FLIGHT and not r.patient_acted
            )
            print(
                f"\n[{backend}] updates: {len(sent)}, kills: {bot.kills}, lost: {len(lost)}, "
                f"duplicates: {len(resent)} ({len(unexcused)} not excused; "
                f"{sum(in_flight.values())} in flight at a kill)"
            )
            assert all(n <= 1 for n in in_flight.values()), "a chat repeated twice at one kill"
            assert not lost, (
                f"{len(lost)} of {len(sent)} updates were never handled after {bot.kills} "
                f"SIGKILLs and time to catch up:\n{describe(lost, patients, api)}"
            )
            assert not unexcused, (
                f"{len(unexcused)} messages were sent again after a kill although they "
                f"had reached Telegram over {IN_FLIGHT}s before it (time enough to record "
                "them):\n" + "\n".join(map(str, unexcused))
            )
            assert exit_code == 0, f"a clean stop exited with {exit_code}:\n{bot.log_tail()}"
        finally:
            stop_talking.set()
            for task in talking:
                task.cancel()
            await bot.close()
            if watch is not None:
                await watch.close()


class SlowChat:
    """sendMessage to one chat hangs, once, until released; it then fails as if the
    request never reached Telegram. Installed with `api.handle("sendMessage", ...)`."""

    def __init__(self, api: PollWatchingStandIn, chat_id: int) -> None:
        self.original = api._send_message
        self.chat_id = chat_id
        self.in_flight = asyncio.Event()
        self.release = asyncio.Event()
        self.text: str | None = None
        api.handle("sendMessage", self)

    async def __call__(self, params: dict[str, Any]) -> Any:
        if params.get("chat_id") != self.chat_id or self.text is not None:
            return self.original(params)
        self.text = str(params["text"])
        self.in_flight.set()
        await self.release.wait()
        raise ApiError(502, "Bad Gateway")  # its sender is gone: nothing was delivered


async def test_a_chat_is_not_stuck_after_a_kill(tmp_path: Path) -> None:
    chat, other = 5101, 5102
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    async with PollWatchingStandIn() as api:
        slow = SlowChat(api, chat)
        bot = BotProcess(api, tmp_path / "bot", database_url=url)
        watch = Watch(url)
        try:
            await bot.start()
            api.send_text(chat, "/start", first_name="Alex")
            await asyncio.wait_for(slow.in_flight.wait(), 15)
            await bot.killed()  # while its first message to the chat is in flight
            slow.release.set()
            owed = await watch.unsent(chat)
            assert owed >= 1, "the killed bot owed the chat nothing: the test did not work"

            await bot.start()
            restarted = time.monotonic()
            api.send_text(other, "/start", first_name="Sam")  # the bot itself is working

            def arrived() -> bool:
                messages = api.messages_to(chat)
                return len(messages) >= owed and messages[0].text == slow.text

            on_time = await until(arrived, 10.0)
            waited = time.monotonic() - restarted
            others = len(api.messages_to(other))
            assert on_time, (
                f"chat {chat} was stuck after the kill: {len(api.messages_to(chat))} of the "
                f"{owed} messages it was owed arrived within 10s of the restart, while "
                f"chat {other}, new since, got {others} (the killed process's lease on the "
                f"message it was sending still holds the chat's queue?)\n{bot.log_tail(10)}"
            )
            print(f"\nchat {chat}: {owed} owed messages arrived {waited:.1f}s after the restart")
        finally:
            slow.release.set()
            await bot.close()
            await watch.close()


async def test_sigterm_stops_within_ten_seconds(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    rng = random.Random(SEED + 1)
    async with PollWatchingStandIn() as api:
        bot = BotProcess(api, tmp_path / "bot", database_url=url)
        watch: Watch | None = None
        stop_talking = asyncio.Event()
        talking: list[asyncio.Task[None]] = []
        try:
            await bot.start()
            watch = Watch(url)
            watch.start()
            patients = [
                Patient(api, watch, 7001 + n, random.Random(rng.random())) for n in range(4)
            ]
            talking = [asyncio.create_task(p.talk(stop_talking)) for p in patients]
            await asyncio.sleep(2.0)  # a conversation in progress
            stop_talking.set()
            await asyncio.gather(*talking)

            # Each of them says something more; the bot fetches it, and is told to stop.
            batches = api.batches
            for patient in patients:
                patient.act()
            await api.wait_for(lambda: api.batches > batches, timeout=10)
            asked = time.monotonic()
            try:
                exit_code = await bot.terminate(timeout=10)
            except TimeoutError:
                pytest.fail(f"the bot was still running 10s after SIGTERM:\n{bot.log_tail()}")
            took = time.monotonic() - asked
            assert exit_code == 0, (
                f"after SIGTERM the bot exited with {exit_code}:\n{bot.log_tail()}"
            )

            # What it had not handled yet, it handles after the next start.
            sent = {update_id for p in patients for update_id in p.sent}
            await bot.start()
            await caught_up(watch, sent)
            assert await bot.terminate(timeout=10) == 0
            await watch.stop()
            await watch.read()
            lost = sent - watch.handled
            print(f"\nSIGTERM: stopped in {took:.1f}s; updates: {len(sent)}, lost: {len(lost)}")
            assert not lost, (
                f"{len(lost)} of {len(sent)} updates sent before the SIGTERM were never "
                f"handled, before the stop or after the next start:\n"
                f"{describe(lost, patients, api)}"
            )
        finally:
            stop_talking.set()
            for task in talking:
                task.cancel()
            await bot.close()
            if watch is not None:
                await watch.close()
