"""Flooding (issue 12), end to end: the real bot, long polling the Bot API stand-in,
with its real delivery limits and its real flood limit (bot/inbox.py `FloodLimit`).

A patient who sends 300 messages in a burst, and a link worker who sends 120
commands, are each told once that they are sending very fast; everyone else who
writes meanwhile is answered without waiting behind the flood; and every one
of the 420 is handled, in order, and kept on the case. Crisis words in the middle of
a flood do not wait their turn behind the rest of it.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.delivery import DEFAULT_LIMITS
from bot.inbox import FloodLimit, InboxDrain
from bot.staff.admin import add_worker
from bot.store import Database
from bot.store import inbox as kept
from bot.store.base import utcnow
from bot.store.cases import Case, CaseEntry
from bot.store.outbox import OutboxMessage
from tests.e2e.conftest import FAST, Running
from tests.e2e.test_delivery_under_load import refer, start_with
from tests.standin.server import BotApiStandIn

pytestmark = pytest.mark.e2e

TEAM = -1009876
SAM = 7001
ALEX = 5101  # referred, then floods
FLOOD, STAFF_FLOOD = 300, 120
OTHERS = [7100 + i for i in range(8)]  # people who start a referral during the floods
TOLD = "sending messages very fast"  # messages/en/{referral,staff}/flooding.html.j2
WELCOME = "Hello"  # messages/en/referral/_welcome, above the consent question
CRISIS_REPLY = "116 123"  # Samaritans, in every suicide/self-harm reply
ALERT = "wrote words about"  # messages/en/staff/safety_alert.html.j2
#: The most of the flood's backlog (what was still waiting when someone else sent
#: /start) that may be handled before they are answered. Waiting behind the flood
#: would be all of it; lanes side by side answer them after a few. (Counted, not
#: timed: a busy machine slows everyone alike.)
SHARE_OF_BACKLOG_MEANWHILE = 0.25


def now() -> float:
    return asyncio.get_running_loop().time()


async def entries(bot: Running, reference: str, kind: str) -> list[str]:
    """What is written on the case, of one kind, oldest first."""
    assert bot.app is not None
    async with bot.app.db.sessions() as s:
        case_id = (await s.execute(select(Case.id).where(Case.reference == reference))).scalar_one()
        rows = await s.execute(
            select(CaseEntry.text)
            .where(CaseEntry.case_id == case_id, CaseEntry.kind == kind)
            .order_by(CaseEntry.id)
        )
        return list(rows.scalars())


async def notices_owed(bot: Running, chat: int) -> int:
    """Flood notices to a chat, sent or still to send."""
    assert bot.app is not None
    async with bot.app.db.sessions() as s:
        rows = (
            await s.execute(select(OutboxMessage).where(OutboxMessage.chat_id == chat))
        ).scalars()
        return sum(TOLD in row.payload["text"] for row in rows)


def told(api: BotApiStandIn, chat: int) -> int:
    return sum(TOLD in m.plain_text for m in api.messages_to(chat))


async def until(
    condition: Callable[[], object], progress: Callable[[], object], *, stalled: float = 10.0
) -> None:
    """Wait while `progress()` keeps changing (a busy machine is slower, not stuck)."""
    seen, moved_at = None, now()
    while not await _value(condition):
        value = await _value(progress)
        if value != seen:
            seen, moved_at = value, now()
        if now() - moved_at > stalled:
            raise TimeoutError(f"no progress for {stalled}s (at {seen})")
        await asyncio.sleep(0.1)


async def _value(function: Callable[[], object]) -> object:
    value = function()
    return await value if asyncio.iscoroutine(value) else value


# Floods, minutes long; the inbox's flood rule runs on both databases below.
@pytest.mark.sqlite_only
async def test_floods_are_told_once_handled_whole_and_hold_up_nobody_else(
    running: Running, api: BotApiStandIn
) -> None:
    # Set-up (FAST limits): a team, and Alex's referral waiting in the queue.
    await start_with(running, FAST, staff_chat_id=TEAM)
    assert running.app is not None
    await add_worker(running.app.db, SAM, "Sam", "link_worker", utcnow())
    reference = await refer(running, api, ALEX)
    assert told(api, ALEX) == 0  # quick, but never more than one waiting: no flood

    # Measured: the bot's real delivery limits and flood limit.
    await start_with(running, DEFAULT_LIMITS)
    alex_start = len(api.messages_to(ALEX))
    started = now()
    for i in range(FLOOD):
        api.send_text(ALEX, f"One more thing, number {i + 1}.", first_name="Alex")
    for i in range(STAFF_FLOOD):
        last = api.send_text(SAM, f"/note {reference} Tried to phone, attempt {i + 1}",
                             first_name="Sam")  # fmt: skip
    # Telegram hands out updates in order, a hundred at a time: whatever anyone else
    # sends now comes after the floods. Once the bot has them all, the inbox decides.
    await api.wait_confirmed(last, timeout=30)
    received_in = now() - started

    async def seconds_until_told() -> float:
        await api.wait_for(lambda: told(api, ALEX) and told(api, SAM), 20.0, what="the notices")
        return now() - started

    notices = asyncio.create_task(seconds_until_told())

    # Meanwhile, other people start a referral, one after another, spread over the
    # flood by how far it has got (half a second apart, a quiet machine had worked
    # through all of it before the last of them wrote).
    async def alex_handled() -> int:
        return await running.entries_on(reference, "patient_message")

    waits: list[float] = []
    kept_when_asked, kept_when_answered = [], []
    for turn, chat in enumerate(OTHERS, start=1):
        point = turn * FLOOD // (len(OTHERS) + 2)

        async def reached(point: int = point) -> bool:
            return await alex_handled() >= point

        await until(reached, alex_handled)
        kept_when_asked.append(await alex_handled())
        asked = now()
        api.send_text(chat, "/start", first_name="Bea")
        await api.wait_for(lambda c=chat: bool(api.messages_to(c)), 10.0, what=f"a reply to {chat}")
        waits.append(now() - asked)
        kept_when_answered.append(await alex_handled())
        assert api.messages_to(chat)[0].plain_text.startswith(WELCOME)

    # Both are told, once, and early: ahead of the replies still owed to them.
    told_after = await notices
    since_flood = [m.plain_text for m in api.messages_to(ALEX)[alex_start:]]
    position = next(i for i, text in enumerate(since_flood) if TOLD in text)

    # Every message is handled, in order: Alex's kept on the case, Sam's notes on it.
    async def all_handled() -> bool:
        return (
            len(await entries(running, reference, "patient_message")) == FLOOD
            and len(await entries(running, reference, "note")) == STAFF_FLOOD
        )

    async def handled_so_far() -> tuple[int, int]:
        return (
            len(await entries(running, reference, "patient_message")),
            len(await entries(running, reference, "note")),
        )

    await until(all_handled, handled_so_far)
    handled_in = now() - started
    alex = await entries(running, reference, "patient_message")
    notes = await entries(running, reference, "note")
    print(
        f"\nfloods of {FLOOD} (patient) and {STAFF_FLOOD} (link worker) received in "
        f"{received_in:.1f}s, handled in {handled_in:.1f}s; both told after "
        f"{told_after:.1f}s (the notice was Alex's message {position + 1} since the flood "
        "began); others answered after "
        + ", ".join(f"{w:.2f}" for w in waits)
        + f"s (median {statistics.median(waits):.2f}s), with {kept_when_answered} of Alex's "
        f"messages handled by then"
    )
    assert alex == [f"One more thing, number {i + 1}." for i in range(FLOOD)]
    assert notes == [f"Tried to phone, attempt {i + 1}" for i in range(STAFF_FLOOD)]
    # The others were answered while the flood was still being worked through.
    assert kept_when_answered[-1] < FLOOD
    for asked_at, answered_at, wait in zip(kept_when_asked, kept_when_answered, waits, strict=True):
        backlog = FLOOD - asked_at
        assert answered_at - asked_at <= SHARE_OF_BACKLOG_MEANWHILE * backlog, (
            f"someone else's /start waited {wait:.2f}s, while {answered_at - asked_at} of the "
            f"{backlog} messages Alex still had waiting were handled first"
        )
    # Told once, each (what is sent or still to send, and what arrived).
    assert (await notices_owed(running, ALEX), await notices_owed(running, SAM)) == (1, 1)
    assert (told(api, ALEX), told(api, SAM)) == (1, 1)
    assert "If you need help now" in next(
        m.plain_text for m in api.messages_to(ALEX) if TOLD in m.plain_text
    )
    # It went ahead of the replies owed to them: not after hundreds of "I've added that".
    assert position < FLOOD // 10
    assert not [m for m in api.messages_to(TEAM) if TOLD in m.plain_text]  # not in the team chat


# Floods, minutes long; the inbox's flood rule runs on both databases below.
@pytest.mark.sqlite_only
async def test_crisis_words_in_a_flood_do_not_wait_their_turn(
    running: Running, api: BotApiStandIn
) -> None:
    await start_with(running, FAST, staff_chat_id=TEAM)
    reference = await refer(running, api, ALEX)
    await start_with(running, DEFAULT_LIMITS)
    team_before, alex_before = len(api.messages_to(TEAM)), len(api.messages_to(ALEX))
    crisis_at = 300
    for i in range(FLOOD):
        text = "I want to kill myself" if i + 1 == crisis_at else f"One more thing, number {i + 1}."
        api.send_text(ALEX, text, first_name="Alex")
    sent = now()

    def contacts() -> int:
        return sum(CRISIS_REPLY in m.plain_text for m in api.messages_to(ALEX)[alex_before:])

    await api.wait_for(contacts, 10.0, what="the crisis contacts")
    contacts_after = now() - sent
    handled = len(await entries(running, reference, "patient_message"))

    def alerted() -> bool:
        return any(ALERT in m.plain_text for m in api.messages_to(TEAM)[team_before:])

    await api.wait_for(alerted, 60.0, what="the team's alert")
    alert_after = now() - sent
    print(
        f"\ncrisis words as message {crisis_at} of {FLOOD}: the contacts reached them after "
        f"{contacts_after:.1f}s ({handled} of the flood handled by then), the team's alert "
        f"after {alert_after:.1f}s"
    )
    assert handled < crisis_at - 1, "the contacts waited for the flood to be handled"
    assert contacts() == 1  # not again when the message's turn came
    assert contacts_after < 5.0


# --- The rule itself, on the inbox alone --------------------------------------------------

FLOODER = 1
PACE = FloodLimit(burst=2, per_second=0.5)
FLOODED = 50


@pytest.mark.parametrize("hurried", [False, True], ids=["paced", "hurried"])
async def test_past_its_burst_a_chat_waits_for_everyone_else_and_is_told_once(
    database: Database, hurried: bool
) -> None:
    """A flooding chat, while other chats keep the inbox busy for two seconds: it
    goes at the flood limit's pace while they have work (told once), and at full
    speed once nobody else is waiting, or all along if it was hurried (crisis words
    in it)."""
    handled: list[tuple[float, int]] = []
    told: list[int] = []
    everything = asyncio.Event()

    async def handle(update: dict[str, Any], from_worker: bool) -> None:
        handled.append((time.monotonic(), update["chat"]))
        # A little work; others' a little more, so that one is always under way.
        await asyncio.sleep(0.005 if update["chat"] == FLOODER else 0.06)
        if len(handled) == FLOODED + 100:
            everything.set()

    async def flooding(update: dict[str, Any]) -> None:
        told.append(update["chat"])

    ids = itertools.count(1)
    now = utcnow() - timedelta(seconds=1)

    async def keep(*chats: int) -> None:
        async with database.transaction() as s:
            await kept.keep(s, [kept.Received(u, c, {"update_id": u, "chat": c})
                                for u, c in ((next(ids), c) for c in chats)], now)  # fmt: skip
        drain.wake.set()

    drain = InboxDrain(database, handle, instance="test", flooding=flooding, flood_limit=PACE)
    if hurried:
        drain.hurry(FLOODER)
    await keep(*[FLOODER] * FLOODED, 100)
    running = asyncio.create_task(drain.run(idle_seconds=0.05))
    started = time.monotonic()
    for chat in range(101, 200):  # someone new every 20 ms, for two seconds
        await asyncio.sleep(0.02)
        await keep(chat)
    others_done = time.monotonic()
    await asyncio.wait_for(everything.wait(), 30)
    drain.stopping = True
    drain.wake.set()
    await running
    await drain.finish(5)  # the last update's lane takes it out of the inbox

    flood_meanwhile = sum(1 for at, chat in handled if chat == FLOODER and at <= others_done)
    at_pace = PACE.burst + PACE.per_second * (others_done - started)
    print(f"\n{'hurried' if hurried else 'paced'}: {flood_meanwhile} of the flood handled in "
          f"the {others_done - started:.1f}s others were writing (the pace allows {at_pace:.0f})")  # fmt: skip
    assert len(handled) == FLOODED + 100  # nothing lost
    assert sorted(chat for _, chat in handled) == [FLOODER] * FLOODED + list(range(100, 200))
    if hurried:
        assert flood_meanwhile >= 2 * at_pace and told == []
    else:
        assert flood_meanwhile <= at_pace + 3
        assert told == [FLOODER]  # once, however long it went on
