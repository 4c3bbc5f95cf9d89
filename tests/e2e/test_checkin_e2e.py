"""A check-in through python-telegram-bot and the Bot API stand-in: a referral, a
link worker's /refer, the bot's own clock moved on a week, the check-in arrives,
and "I haven't been yet", "Getting there", "Talk to a link worker" puts the case
back with a link worker, with the team card showing it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.patients.checkins import CheckIns
from bot.staff.admin import add_worker
from tests.e2e.conftest import MovableClock, Running
from tests.e2e.test_queue_e2e import SAM, TEAM, refer, sam, sam_presses, until
from tests.e2e.test_referral_e2e import CHAT, act
from tests.standin.server import BotApiStandIn

#: Monday 23 November 2026, 10:00 in London: working hours, not quiet hours.
MONDAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
async def team(running: Running, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    await running.stop()
    monkeypatch.setattr("bot.telegram.HEARTBEAT", timedelta(milliseconds=50))
    running.settings = running.settings.model_copy(update={"staff_chat_id": TEAM})
    running.clock = MovableClock(MONDAY)
    await running.start()
    assert running.app is not None
    await add_worker(running.app.db, SAM, "Sam", "link_worker", running.clock())
    yield running


async def test_a_week_after_referral_the_check_in_brings_them_back_to_a_link_worker(
    team: Running, api: BotApiStandIn
) -> None:
    reference = await refer(team, api)
    [card] = api.messages_to(TEAM)
    await team.handled(api.tap(TEAM, card.message_id, card.callback_data(f"✋ Claim {reference}"),
                               user_id=SAM, first_name="Sam"))  # fmt: skip
    preview = await sam(team, api, f"/refer {reference}")  # the one Alex chose
    assert "Bootle Walking Football" in preview[-1]
    done = await sam_presses(team, api, "📨 Send to Alex")
    assert "I'll check in with them on Mon 30 Nov" in done[-1]
    await sam(team, api, f"/close {reference}")
    await sam_presses(team, api, "Referred to an activity")
    before = len(api.messages_to(CHAT))

    team.clock.move_on(days=7)  # the bot's own housekeeping finds it due
    await until(lambda: len(api.messages_to(CHAT)) > before)
    check_in = api.messages_to(CHAT)[-1]
    assert check_in.plain_text.startswith(
        "Hi Alex, it's a week since you were put in touch with Bootle Walking Football."
    )
    assert check_in.button_labels[:3] == [
        "I went and liked it", "I went, but it's not for me", "I haven't been yet"]  # fmt: skip

    await act(team, api, "tap", "I haven't been yet")
    assert "What got in the way?" in api.messages_to(CHAT)[-1].plain_text
    await act(team, api, "tap", "Getting there")
    await act(team, api, "tap", "Talk to a link worker")
    told = api.messages_to(CHAT)[-1].plain_text
    assert "I've asked a link worker to get in touch" in told and "by Wednesday" in told

    # Sam closed the case: it opens again, with Sam, who hears of it privately; the
    # team card shows it.
    assert "asked at a check-in to talk to someone" in api.messages_to(SAM)[-1].plain_text
    card = api.message(TEAM, card.message_id)
    assert "Asked at a check-in to talk to someone" in card.plain_text
    assert "Sam has it" in card.plain_text
    view = "\n".join(await sam(team, api, f"/case {reference}"))
    assert "What got in the way: getting there" in view and "Did they go: not been yet" in view
    # Nothing else arrives: no second check-in, however long the housekeeping ticks.
    count = len(api.messages_to(CHAT))
    team.clock.move_on(hours=3)
    await sam(team, api, "/mine")
    assert len(api.messages_to(CHAT)) == count
    api.assert_clean()


async def test_a_backlog_of_check_ins_is_worked_through_at_each_heartbeat(
    team: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle, due check-ins are looked for now and then (each look costs write
    transactions); after a look that wrote some, at the next heartbeat, so a
    backlog (after downtime, a busy Monday) goes at the delivery's pace."""
    await team.stop()
    monkeypatch.setattr("bot.telegram.CHECK_INS_EVERY", 10**6)  # idle: no look after the first
    looks: list[int] = []
    backlog = [200, 200, 37]  # written by each look (a tick writes at most 200)

    async def tick(_: CheckIns) -> int:
        looks.append(backlog.pop(0) if backlog else 0)
        return looks[-1]

    monkeypatch.setattr(CheckIns, "tick", tick)
    await team.start()
    await until(lambda: len(looks) >= 4)  # the backlog, then one look that found nothing
    await asyncio.sleep(0.5)  # ten heartbeats
    assert looks == [200, 200, 37, 0]
