"""Stopping the work in the lanes (bot/lanes.py `settle`): work under way gets its
time, then is cancelled; cancelled work is waited for as it unwinds, never left
running while the bot closes its database connections under it (it would wait
for ever for an answer, and the process's end with it)."""

from __future__ import annotations

import asyncio

from bot.lanes import settle


async def test_work_that_finishes_in_time_is_not_cancelled() -> None:
    async def quick() -> str:
        await asyncio.sleep(0.05)
        return "done"

    task = asyncio.create_task(quick())
    await settle([task], within=1.0)
    assert task.result() == "done"


async def test_cancelled_work_is_waited_for_while_it_unwinds() -> None:
    """A database session cancelled mid-statement still rolls back and returns its
    connection; that may take a moment longer than the stop's grace."""
    unwound = asyncio.Event()

    async def slow_to_unwind() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(1.5)  # cleaning up (a rollback on a busy machine)
            unwound.set()
            raise

    task = asyncio.create_task(slow_to_unwind())
    await asyncio.sleep(0)
    await settle([task], within=0.1)
    assert unwound.is_set() and task.cancelled(), "cancelled work was left running"
