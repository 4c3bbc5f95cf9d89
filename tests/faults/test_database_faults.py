"""The real bot (python-telegram-bot polling the Bot API stand-in) while its PostgreSQL
database refuses connections, hangs, or drops a connection mid-statement.

Faults go through `PgProxy`, a TCP proxy each test owns: the shared server is never
stopped or reconfigured. Settings cannot name a schema, so each test gets a fresh
DATABASE, created and migrated through a direct connection and dropped after. The
bot reaches it only through the proxy; the tests' own checks read it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import make_url

from bot.app import CHATTY_LIBRARIES, configure_logging
from bot.store import Database
from bot.store.patients import Conversation, Patient
from bot.store.updates import ProcessedUpdate
from tests.e2e.conftest import Running
from tests.faults.pgproxy import PgProxy
from tests.postgres import POSTGRES_URL, template
from tests.standin.server import BotApiStandIn

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL,
        reason="database fault tests need PostgreSQL: set SPBOT_TEST_POSTGRES_URL "
        "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)",
    ),
]

#: A patient's way to "What matters to you right now?" (the what_matters question).
TO_WHAT_MATTERS = [("type", "/start"), ("tap", "I agree, and I'm 18 or over"),
                   ("tap", "Call me Alex")]  # fmt: skip
REFUSE_SECONDS = 10
FREEZE_SECONDS = 15
#: How long after the database is back the patients may wait for their answers.
RECOVERY_SECONDS = {"refused": 15, "frozen": 30}

#: A log message saying the database could not be reached or answered too slowly
#: (searched in the logger's name and the message).
DATABASE_TROUBLE = re.compile(
    r"(database|postgres|\bdb\b).*(unreachable|unavailable|slow|timed? ?out|timeout|"
    r"not respond|no answer|not answer|down|lost|refus)|(unreachable|unavailable|slow|"
    r"timed? ?out|timeout|lost).*(database|postgres)",
    re.IGNORECASE,
)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
async def direct() -> AsyncIterator[Database]:
    """A fresh, migrated database of its own, reached directly (not through the proxy)."""
    async with (await template()).copy("spbot_fault") as url:
        db = Database(url)
        yield db
        await db.close()


@pytest.fixture
async def proxy() -> AsyncIterator[PgProxy]:
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL)
    async with PgProxy(url.host or "127.0.0.1", url.port or 5432) as p:
        yield p


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
async def bot(api: BotApiStandIn, proxy: PgProxy, direct: Database) -> AsyncIterator[Running]:
    """The real bot, its database behind the proxy."""
    running = Running(api, proxy.url(make_url(direct.url).database or ""))
    await running.start()
    yield running
    proxy.forward()
    proxy.cut()  # a handler stuck on a frozen connection would keep PTB from stopping
    if running.bot is not None:
        await asyncio.wait_for(running.stop(), 30)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record, logged as an operator chasing a fault would: LOG_LEVEL=DEBUG
    through `configure_logging` (which keeps chatty libraries at WARNING, rule 6)."""
    levels = {name: logging.getLogger(name).level for name in CHATTY_LIBRARIES}
    configure_logging("DEBUG")
    caplog.set_level(logging.DEBUG)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


# -- helpers ----------------------------------------------------------------------------


async def act(bot: Running, api: BotApiStandIn, chat: int, how: str, what: str) -> None:
    update_id = api.send_text(chat, what) if how == "type" else api.press(chat, what)
    await bot.handled(update_id)


async def eventually(check: Callable[[], Any], timeout: float) -> bool:
    """Whether `check()` (awaited if need be) turned true within `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.1)


async def handled_ids(db: Database, update_ids: list[int]) -> set[int]:
    async with db.sessions() as s:
        query = select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id.in_(update_ids))
        return set(await s.scalars(query))


async def conversation_of(db: Database, chat: int) -> Conversation | None:
    async with db.sessions() as s:
        query = select(Conversation).join(Patient).where(Patient.chat_id == chat)
        return await s.scalar(query)


_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def everything_in(record: logging.LogRecord) -> str:
    """All a record carries: message, arguments, extras, exception and stack text."""
    parts = [str(record.msg), repr(record.args), record.exc_text or "", record.stack_info or ""]
    parts += [repr(value) for key, value in vars(record).items() if key not in _STANDARD]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    with contextlib.suppress(TypeError, ValueError):  # a record whose args do not fit
        parts.append(record.getMessage())
    return "\n".join(parts)


def leaks(records: list[logging.LogRecord], words: list[str]) -> list[str]:
    """'logger LEVEL: message -> the words' for each record holding any of `words`."""
    found = []
    for record in records:
        held = [word for word in words if word in everything_in(record)]
        if held:
            found.append(f"{record.name} {record.levelname}: {record.msg!s:.80} -> {held}")
    return found


def summary(records: list[logging.LogRecord]) -> str:
    """The last records at WARNING or above, for a failure message."""
    shown = [f"  {r.name} {r.levelname}: {r.getMessage():.120}" for r in records
             if r.levelno >= logging.WARNING]  # fmt: skip
    return "\n".join(shown[-12:]) or "  (nothing)"


# -- the tests ---------------------------------------------------------------------------


async def test_messages_sent_while_the_database_refuses_connections_are_kept(
    bot: Running, api: BotApiStandIn, proxy: PgProxy, direct: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    chat = 7001
    for how, what in [*TO_WHAT_MATTERS, ("type", "I would like to try something new nearby")]:
        await act(bot, api, chat, how, what)  # now at "Which of these are part of it?"

    # While the database refuses, the patient taps the tick boxes they can see (typed
    # words would be for questions they cannot see yet: "our messages crossed").
    loop = asyncio.get_running_loop()
    proxy.refuse()
    refused_at = loop.time()
    taps = ["Feeling lonely", "Getting active", "Confidence, getting out", "Done ✔"]
    ticks = ["activity", "confidence", "loneliness"]  # what those taps tick
    update_ids = []
    for label in taps:
        update_ids.append(api.press(chat, label))
        await asyncio.sleep(0.5)
    await asyncio.sleep(max(0.0, REFUSE_SECONDS - (loop.time() - refused_at)))
    assert proxy.refused, "the bot never tried the database while it refused connections"
    proxy.forward()

    async def all_handled() -> bool:
        return len(await handled_ids(direct, update_ids)) == len(update_ids)

    await eventually(all_handled, RECOVERY_SECONDS["refused"])
    handled = await handled_ids(direct, update_ids)
    missing = [label for label, u in zip(taps, update_ids, strict=True) if u not in handled]
    confirmed = sum(api.is_confirmed(u) for u in update_ids)
    conversation = await conversation_of(direct, chat)
    assert conversation is not None
    assert not missing, (
        f"{len(missing)} of the {len(taps)} taps made while the database refused "
        f"connections were lost: not handled {RECOVERY_SECONDS['refused']} s after it came "
        f"back, though the bot had confirmed {confirmed} of them to Telegram: {missing}. "
        f"The conversation is still at {conversation.state!r}."
        f"\nLogged at WARNING or above:\n{summary(caplog.records)}"
    )
    # Each applied once, in order: a box ticked twice would be unticked again.
    ticked = sorted(conversation.answers.get("need_areas", []))
    assert conversation.state == "postcode" and ticked == ticks, (
        f"the taps were handled, but not each once and in order: the conversation is at "
        f"{conversation.state!r} (expected 'postcode') with {ticked} ticked (expected "
        f"activity, confidence and loneliness)"
    )

    def asked() -> int:
        return sum("What's your postcode" in m.plain_text for m in api.messages_to(chat))

    await eventually(lambda: asked() and not api.unanswered_callback_queries(), 10)
    assert asked() == 1, f"the question after the tick boxes was sent {asked()} times"
    assert not api.unanswered_callback_queries(), "a tap was never answered (it keeps spinning)"


async def test_a_frozen_database_connection_does_not_hang_the_bot(
    bot: Running, api: BotApiStandIn, proxy: PgProxy, direct: Database,
    logs: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    names = {7101: "Ottoline", 7102: "Barnabus", 7103: "Perpetua"}
    for chat in names:
        for how, what in TO_WHAT_MATTERS[:2]:  # up to "what should we call you?"
            await act(bot, api, chat, how, what)
    before = {chat: len(api.messages_to(chat)) for chat in names}

    loop = asyncio.get_running_loop()
    proxy.freeze()  # the bot's open connections stay silent for good: see PgProxy
    frozen_at = loop.time()
    update_ids = []
    for chat, name in names.items():
        update_ids.append(api.send_text(chat, name))
        await asyncio.sleep(1)
    await asyncio.sleep(max(0.0, FREEZE_SECONDS - (loop.time() - frozen_at)))
    proxy.forward()
    back_at = loop.time()

    def unanswered() -> list[int]:
        return [chat for chat in names if len(api.messages_to(chat)) <= before[chat]]

    await eventually(lambda: not unanswered(), RECOVERY_SECONDS["frozen"])
    assert not unanswered(), (
        f"{loop.time() - back_at:.0f} s after the database came back (it was frozen for "
        f"{FREEZE_SECONDS} s), patients {unanswered()} of {list(names)} still had no reply "
        f"to what they sent meanwhile; updates handled: "
        f"{sorted(await handled_ids(direct, update_ids))} of {update_ids}."
        f"\nLogged at WARNING or above:\n{summary(logs.records)}"
    )
    for chat in names:
        conversation = await conversation_of(direct, chat)
        assert conversation is not None and conversation.state == "what_matters", (
            f"patient {chat}'s name was not recorded once: "
            f"{conversation and (conversation.state, conversation.answers.get('name'))}"
        )
    warned = [r for r in logs.records if r.levelno >= logging.WARNING
              and DATABASE_TROUBLE.search(f"{r.name} {r.getMessage()}")]  # fmt: skip
    assert warned, (
        f"nothing at WARNING or above said the database was unreachable or slow while it "
        f"was frozen for {FREEZE_SECONDS} s.\nLogged at WARNING or above:\n{summary(logs.records)}"
    )
    found = leaks(logs.records, list(names.values()))
    assert not found, "patients' names reached the logs:\n  " + "\n  ".join(found)


async def test_no_patient_words_in_the_logs_when_a_connection_drops_mid_statement(
    bot: Running, api: BotApiStandIn, proxy: PgProxy, direct: Database,
    logs: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    chat = 7201
    for how, what in TO_WHAT_MATTERS:
        await act(bot, api, chat, how, what)

    # Cut every connection the moment the bot sends a statement carrying the story.
    cut_during: list[str] = []

    def cut_while_writing(_c: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if not cut_during and "Zebedee" in repr(params):
            cut_during.append(" ".join(statement.split()[:3]))
            proxy.cut()

    assert bot.app is not None
    engine = bot.app.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", cut_while_writing)
    try:
        update_id = api.send_text(chat, "my neighbour Zebedee Quill keeps my cat Marmaduke")
        assert await eventually(lambda: cut_during, 10), "the bot never wrote the story"
        cut_at = asyncio.get_running_loop().time()

        async def settled() -> bool:
            """A moment has passed, and the failure was logged or the update handled."""
            if asyncio.get_running_loop().time() - cut_at < 2:
                return False
            failed = any(r.levelno >= logging.WARNING for r in logs.records)
            return failed or bool(await handled_ids(direct, [update_id]))

        await eventually(settled, 10)
    finally:
        event.remove(engine, "before_cursor_execute", cut_while_writing)

    found = leaks(logs.records, ["Zebedee", "Quill", "Marmaduke"])
    assert not found, (
        f"the patient's words reached the logs when the connection dropped during "
        f"{cut_during[0]} ...:\n  " + "\n  ".join(found)
    )


NOT_HANDLED = "could not read your last message"


async def test_ten_seconds_without_the_database_mid_conversation_go_as_the_readme_says(
    bot: Running, api: BotApiStandIn, proxy: PgProxy, direct: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """README "When things fail", the database unreachable: nothing at first (their
    message waits); crisis words still get the crisis contacts at once; when it is
    back every message is handled in order and answered; nobody is asked to send
    anything again; and the conversation carries on from there."""
    chat = 7301
    for how, what in TO_WHAT_MATTERS:
        await act(bot, api, chat, how, what)  # now at "What matters to you right now?"
    before = len(api.messages_to(chat))

    loop = asyncio.get_running_loop()
    proxy.refuse()
    refused_at = loop.time()
    crisis = api.send_text(chat, "honestly I want to end my life")
    assert await eventually(
        lambda: any("Samaritans" in m.plain_text for m in api.messages_to(chat)[before:]),
        REFUSE_SECONDS / 2,
    ), "crisis words got no crisis contacts while the database was unreachable"
    during = [m.plain_text for m in api.messages_to(chat)[before:]]
    await asyncio.sleep(max(0.0, REFUSE_SECONDS - (loop.time() - refused_at)))
    assert proxy.refused, "the bot never tried the database while it refused connections"
    assert len(during) == 1, f"while the database was down the patient was sent {during}"
    proxy.forward()

    assert await eventually(lambda: handled_ids(direct, [crisis]), RECOVERY_SECONDS["refused"]), (
        f"not handled after the database came back:\n{summary(caplog.records)}"
    )

    def asked_what_next() -> bool:
        return any("What would you like to do now?" in m.plain_text
                   for m in api.messages_to(chat)[before:])  # fmt: skip

    assert await eventually(asked_what_next, 10), [
        m.plain_text[:60] for m in api.messages_to(chat)[before:]
    ]
    # The conversation carries on: back to the question, answered, and the next one.
    await act(bot, api, chat, "tap", "Carry on")
    await act(bot, api, chat, "type", "I would like to get out more and meet people")
    assert "Which of these are part of it?" in api.messages_to(chat)[-1].plain_text
    said = [m.plain_text for m in api.messages_to(chat)[before:]]
    assert sum("Samaritans" in s for s in said) == 1, "the crisis contacts were sent twice"
    assert not [s for s in said if NOT_HANDLED in s], "they were asked to send it again"
    conversation = await conversation_of(direct, chat)
    assert conversation is not None and conversation.state == "need_areas"
    assert not api.unanswered_callback_queries()


async def test_a_stop_asked_for_while_the_database_is_frozen_ends_within_seconds(
    bot: Running, api: BotApiStandIn, proxy: PgProxy,
) -> None:  # fmt: skip
    """README: SIGTERM stops `spbot run` "within a few seconds" (a supervisor kills
    it outright soon after: Docker after 10 s). A database that stopped answering
    mid-statement must not make the stop wait for its timeouts."""
    chat = 7401
    for how, what in TO_WHAT_MATTERS[:2]:
        await act(bot, api, chat, how, what)
    proxy.freeze()  # every open connection silent for good
    api.send_text(chat, "Ottoline")  # handled on a frozen connection: it hangs
    await asyncio.sleep(2)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(bot.stop(), 60)
    took = loop.time() - began
    assert took < 10, f"the bot took {took:.1f} s to stop while its database was frozen"


async def test_closing_while_the_database_is_frozen_takes_seconds(
    direct: Database, proxy: PgProxy
) -> None:
    """The last step of a stop: connections sitting idle in the pool are closed. A
    server that stopped answering must not hold each close for the driver's timeout."""
    db = Database(proxy.url(make_url(direct.url).database or ""))
    async with asyncio.TaskGroup() as group:  # several connections, all idle after
        for _ in range(3):
            group.create_task(db_said_hello(db))
    proxy.freeze()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(db.close(), 60)
    took = loop.time() - began
    assert took < 5, f"closing took {took:.1f} s while the database was frozen"


async def db_said_hello(db: Database) -> None:
    async with db.transaction() as session:
        await session.execute(select(Patient.id).limit(1))
        await asyncio.sleep(0.2)  # held a moment: each task has a connection of its own
