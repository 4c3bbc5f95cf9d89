"""Work for many chats side by side, each chat's in order.

Handling updates and delivering messages both run one lane per chat: a chat's work
goes one piece at a time, in order, and a chat whose work is slow (a Bot API call
that takes seconds) holds up nobody else. The loop that finds work never waits
for a lane; a lane that finishes wakes it to look for more, when there may be more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)


#: Seconds between the idle passes that look for work nobody said was there: with
#: several instances running on one database (PostgreSQL), what the others left or
#: let go.
IDLE = 1.0
#: One process alone (on SQLite always; on PostgreSQL while no other instance is
#: running) is told of nearly everything as it happens (what it receives, writes,
#: postpones or lets go); its idle pass is a safety net, and finds what another
#: process wrote (a command run beside the bot) within seconds. Each pass is a
#: statement: at one a second they were a tenth of what a quiet bot spends.
IDLE_ALONE = 5.0


def idle_seconds(sharing: bool) -> float:
    """How long a loop that finds work waits, with nothing to wake it, before it
    looks again (`IDLE` while other instances share the database, `IDLE_ALONE`)."""
    return IDLE if sharing else IDLE_ALONE


class Lanes:
    def __init__(self, at_once: int, finished: Callable[[int], None]) -> None:
        """`at_once`: lanes working at the same time. `finished(chat)` is called when
        a chat's lane ends (to look for more work, if there may be some)."""
        self.at_once = asyncio.Semaphore(at_once)
        self.finished = finished
        self.busy: dict[int, asyncio.Task[None]] = {}

    def is_busy(self, chat: int) -> bool:
        return chat in self.busy

    def start(self, chat: int, work: Coroutine[Any, Any, object]) -> None:
        """Start `work` in the chat's lane (the chat must not be busy)."""

        async def lane() -> None:
            try:
                async with self.at_once:
                    await work
            except Exception as exc:  # the work says what went wrong; never stop the loop
                log.warning("a lane failed", extra={"error": type(exc).__name__})

        task = asyncio.create_task(lane())
        self.busy[chat] = task
        task.add_done_callback(lambda _: self._done(chat))

    def _done(self, chat: int) -> None:
        self.busy.pop(chat, None)
        self.finished(chat)

    async def finish(self, within: float) -> None:
        """Let work under way finish, for up to `within` seconds; cancel the rest."""
        await settle(self.busy.values(), within)


async def settle(tasks: Iterable[asyncio.Task[Any]], within: float) -> None:
    """Let `tasks` finish for up to `within` seconds, then cancel the rest and wait
    for them to unwind. Cancelled, a database call gives up at once (a frozen
    connection included), so a stop takes seconds, not the database's timeout; but
    the unwinding itself is waited for: work left running while its connections are
    closed under it would wait for an answer that never comes, and hold up the end
    of the process."""
    tasks = [task for task in tasks if not task.done()]
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=within)
    for task in pending:
        task.cancel()
    if pending:
        log.info("work cancelled at stop", extra={"tasks": len(pending)})
        await asyncio.gather(*pending, return_exceptions=True)
