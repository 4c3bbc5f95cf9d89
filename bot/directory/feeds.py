"""Feeds re-imported on a schedule, so a directory never silently goes stale.

`spbot directory import URL --every 1d` imports now and keeps the schedule in the
database (`directory_feed_schedule`); the running bot's housekeeping calls
`import_due_feeds`, which imports each feed that has fallen due. The database is
the truth: the next time is moved on (compare-and-set) before importing, so with
several instances running each due import happens once, and a failed one (the
council's server is down) is tried again at the next time, its reason kept for
`spbot directory feeds`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.directory.importer import import_directory
from bot.directory.records import DirectoryImportError
from bot.store import Database
from bot.store import directory as store

log = logging.getLogger(__name__)


async def schedule_feed(
    db: Database,
    feed: str,
    source: str,
    every: timedelta,
    *,
    deactivate_missing: bool,
    now: datetime,
) -> datetime:
    """Keep a feed's schedule; when it is next due."""
    next_due = now + every
    async with db.transaction() as session:
        await store.schedule_feed(
            session, feed, source, int(every.total_seconds()), deactivate_missing, next_due
        )
    return next_due


async def import_due_feeds(db: Database, now: datetime) -> int:
    """Import every feed that is due (each once, whichever instance gets there
    first); how many were imported."""
    async with db.reading() as session:
        due = [
            (f.feed, f.source, f.every_seconds, f.deactivate_missing, f.next_due_at)
            for f in await store.due_feeds(session, now)
        ]
    imported = 0
    for feed, source, every_seconds, deactivate_missing, due_at in due:
        async with db.transaction() as session:
            ours = await store.claim_feed(
                session, feed, due_at, now + timedelta(seconds=every_seconds)
            )
        if not ours:
            continue
        try:
            summary = await import_directory(
                db, source, feed=feed, deactivate_missing=deactivate_missing
            )
            result = summary.describe().splitlines()[0]
            if summary.warnings:
                result += f" {len(summary.warnings)} warnings: see spbot directory check."
            imported += 1
            log.info("scheduled directory import done", extra={"feed": feed})
        except DirectoryImportError as exc:
            result = f"Failed: {exc}"
            log.warning("scheduled directory import failed", extra={"feed": feed})
        async with db.transaction() as session:
            await store.record_feed_result(session, feed, now, result)
    return imported
