"""Each periodic job (check-ins, reminders, the privacy sweep) runs in one instance
at a time (issue 16): on PostgreSQL an advisory lock held for the job's length and
let go with it, on SQLite always (one process runs the bot)."""

from __future__ import annotations

import asyncio

from bot.store import Database


async def test_a_job_runs_in_one_instance_at_a_time(database: Database) -> None:
    other = Database(database.url, schema=database.schema)  # a second instance
    try:
        async with database.exclusively("check-ins") as mine:
            assert mine
            async with other.exclusively("check-ins") as theirs:
                assert theirs is (not database.locks_rows)  # SQLite: one process anyway
            async with other.exclusively("privacy sweep") as another_job:
                assert another_job  # a different job is not held up
        async with other.exclusively("check-ins") as theirs:
            assert theirs  # let go when the job ended
    finally:
        await other.close()


async def test_a_job_that_fails_lets_go(database: Database) -> None:
    class Broke(Exception):
        pass

    try:
        async with database.exclusively("check-ins") as mine:
            assert mine
            raise Broke
    except Broke:
        pass
    other = Database(database.url, schema=database.schema)
    try:
        async with asyncio.timeout(5), other.exclusively("check-ins") as theirs:
            assert theirs
    finally:
        await other.close()
