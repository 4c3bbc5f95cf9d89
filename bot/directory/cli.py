"""`spbot directory ...` and `spbot postcodes ...`.

    spbot directory import PATH|URL [--deactivate-missing] [--feed NAME] [--report CSV]
    spbot directory import URL --every 1d   (the running bot imports it again daily)
    spbot directory import --sample
    spbot directory feeds
    spbot directory list [--all]
    spbot directory search "walking" --near "L20 3AB" [--need loneliness] [--online]
    spbot directory check
    spbot directory serve [--host 127.0.0.1] [--port 8080]
    spbot postcodes import FILE

`search` prints what the patient would see: the same ranking (`DirectoryIndex`)
and the same reason sentences (messages/en/directory/). Every command brings the
database up to date first, and any error is one sentence on stderr with a
non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from bot.config import SettingsError, load_settings, parse_duration
from bot.directory.check import Entry, check_directory
from bot.directory.feeds import schedule_feed
from bot.directory.importer import import_directory, import_sample, write_report
from bot.directory.index import load_directory
from bot.directory.postcodes import PostcodeFileError, import_postcodes, normalise_postcode
from bot.directory.records import DirectoryImportError
from bot.messages import Messages, html_to_text
from bot.store import Database
from bot.store.base import utcnow
from bot.store.directory import feed_schedules, listed_activities, unschedule_feed
from flows.directory import FREE_TIMES, MODES, NEED_AREAS, Profile


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `directory` and `postcodes` commands to the app's parser."""
    directory = subparsers.add_parser("directory", help="the activity directory")
    commands = directory.add_subparsers(dest="directory_command", required=True)

    imports = commands.add_parser(
        "import",
        help="import activities from an ORUK JSON file or API, an HSDS data package or a CSV",
    )
    imports.add_argument("source", nargs="?", help="a file, a folder, a .zip or an http(s) URL")
    imports.add_argument(
        "--deactivate-missing",
        action="store_true",
        help="hide this feed's activities that are no longer in it",
    )
    imports.add_argument("--feed", help="name of the feed (default: the file name or URL)")
    imports.add_argument(
        "--report", type=Path, help="write every warning (what was left out or mended) to this CSV"
    )
    imports.add_argument(
        "--sample", action="store_true", help="import the fictional Sefton sample directory"
    )
    imports.add_argument(
        "--every",
        help="and import it again this often while the bot runs (e.g. 1d, 12h; 'never' stops)",
    )
    imports.set_defaults(func=_command(_import))

    feeds = commands.add_parser("feeds", help="list the feeds imported on a schedule")
    feeds.set_defaults(func=_command(_feeds))

    listing = commands.add_parser("list", help="list the activities")
    listing.add_argument("--all", action="store_true", help="include inactive activities")
    listing.set_defaults(func=_command(_list))

    search = commands.add_parser(
        "search", help="show the suggestions a patient would get, with their reasons"
    )
    search.add_argument("words", nargs="?", default="", help="what matters to them, in words")
    search.add_argument("--near", help="their postcode or district, e.g. 'L20 3AB' or L20")
    search.add_argument("--need", action="append", choices=NEED_AREAS, default=[])
    search.add_argument("--online", action="store_true", help="online only")
    search.add_argument("--phone", action="store_true", help="by phone only")
    search.add_argument("--miles", type=float, help="how far they can travel")
    search.add_argument("--free", action="store_true", help="free activities only")
    search.add_argument("--group", choices=("group", "one_to_one", "either"), default="either")
    search.add_argument("--when", action="append", choices=FREE_TIMES, default=[])
    search.add_argument("--age", type=int)
    search.add_argument("-n", type=int, default=5, help="how many (default 5)")
    search.set_defaults(func=_command(_search))

    serve = commands.add_parser(
        "serve", help="serve the directory as a read-only Open Referral UK 3.0 API"
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.set_defaults(func=_command(_serve))

    check = commands.add_parser("check", help="list entries that need checking")
    check.set_defaults(func=_command(_check))

    postcodes = subparsers.add_parser("postcodes", help="postcode locations")
    postcode_commands = postcodes.add_subparsers(dest="postcodes_command", required=True)
    postcode_import = postcode_commands.add_parser(
        "import", help="import a postcode,latitude,longitude CSV (e.g. the ONS Postcode Directory)"
    )
    postcode_import.add_argument("file", type=Path)
    postcode_import.set_defaults(func=_command(_import_postcodes))


Command = Callable[[argparse.Namespace, Database], Awaitable[int]]


def _command(run: Command) -> Callable[[argparse.Namespace], int]:
    """Wrap a command: open and upgrade the database, turn known errors into one
    sentence on stderr and exit code 1."""

    def main(args: argparse.Namespace) -> int:
        async def go() -> int:
            db = Database(load_settings().database_url)
            try:
                await db.upgrade()
                return await run(args, db)
            finally:
                await db.close()

        try:
            return asyncio.run(go())
        except (DirectoryImportError, PostcodeFileError, SettingsError, UsageError) as exc:
            print(str(exc), file=sys.stderr)
            return 1

    return main


class UsageError(Exception):
    """The command was given something it can't use."""


async def _import(args: argparse.Namespace, db: Database) -> int:
    if args.sample:
        summary = await import_sample(db, progress=True)
    elif not args.source:
        raise UsageError("Say what to import: a file, a folder or a URL (or --sample).")
    else:
        summary = await import_directory(
            db,
            args.source,
            feed=args.feed,
            deactivate_missing=args.deactivate_missing,
            progress=True,
        )
    print(summary.describe())
    if args.every and not args.sample:
        await _schedule(args, db, summary.feed)
    if args.report:
        rows = write_report(summary, args.report)
        print(f"All {rows} warning{'s' if rows != 1 else ''} are listed in {args.report}.")
    return 0


async def _schedule(args: argparse.Namespace, db: Database, feed: str) -> None:
    if args.every.strip().lower() in ("never", "off", "0"):
        async with db.transaction() as session:
            await unschedule_feed(session, feed)
        print(f"{feed} will no longer be imported on a schedule.")
        return
    try:
        every = parse_duration(args.every, "--every")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if every < timedelta(minutes=5):
        raise UsageError("--every should be at least 5m: feeds are not changed that often.")
    next_due = await schedule_feed(
        db, feed, args.source, every, deactivate_missing=args.deactivate_missing, now=utcnow()
    )
    print(
        f"The running bot will import {feed} again every {args.every} "
        f"(next at {next_due:%d %b %Y %H:%M} UTC). spbot directory feeds lists the schedules."
    )


async def _feeds(args: argparse.Namespace, db: Database) -> int:
    async with db.reading() as session:
        schedules = await feed_schedules(session)
    if not schedules:
        print("No feeds are imported on a schedule (spbot directory import URL --every 1d).")
    for f in schedules:
        last = (
            f"last {f.last_run_at:%d %b %H:%M}: {f.last_result}" if f.last_run_at else "not run yet"
        )
        print(f"{f.feed}: {f.source} every {timedelta(seconds=f.every_seconds)}, "
              f"next {f.next_due_at:%d %b %Y %H:%M} UTC; {last}")  # fmt: skip
    return 0


async def _list(args: argparse.Namespace, db: Database) -> int:
    async with db.reading() as session:
        activities = await listed_activities(session, include_inactive=args.all)
    for a in activities:
        checked = f"checked {a.checked_on:%d %b %Y}" if a.checked_on else "never checked"
        state = "" if a.active else " [inactive]"
        print(f"[{a.id}] {a.name} – {a.organisation.name} ({checked}){state}")
    print(f"{len(activities)} activities.")
    return 0


async def _search(args: argparse.Namespace, db: Database) -> int:
    postcode = None
    if args.near:
        postcode = normalise_postcode(args.near)
        if postcode is None:
            raise UsageError(
                f"“{args.near}” is not a UK postcode or district (like L20 3AB or L20)."
            )
    modes = tuple(
        mode for mode, wanted in (("online", args.online), ("phone", args.phone)) if wanted
    )
    profile = Profile(
        need_areas=tuple(args.need),
        what_matters=args.words,
        postcode=postcode,
        modes=modes or MODES,
        max_miles=args.miles,
        group=args.group,
        free_times=tuple(args.when) or FREE_TIMES,
        free_only=args.free,
        age=args.age,
    )
    index = await load_directory(db)
    suggestions = index.suggest(profile, n=args.n)
    if not suggestions:
        print("Nothing in the directory fits. Try fewer limits, or other words.")
        return 0
    messages = Messages()
    for number, suggestion in enumerate(suggestions, start=1):
        card = messages.render("directory/suggestion", suggestion=suggestion, number=number)
        print(html_to_text(card), end="\n\n")
    return 0


async def _check(args: argparse.Namespace, db: Database) -> int:
    report = await check_directory(db, stale_after_days=load_settings().stale_after_days)
    sections: tuple[tuple[str, list[Entry] | list[str]], ...] = (
        ("Warnings from the last import (fix them in the source)", report.warnings),
        (f"Not confirmed for {report.stale_after_days} days", report.not_checked),
        ("No way to join", report.no_contact),
        ("No times and not by appointment", report.no_schedule),
        ("Closed, or gone from their feed (hidden from patients)", report.closed),
        ("Places without coordinates", report.unplaced),
    )
    print(f"{report.active} active activities.")
    for title, entries in sections:
        if entries:
            print(f"\n{title} ({len(entries)}):")
            for entry in entries:
                print(f"  {entry if isinstance(entry, str) else entry.line()}")
    if report.all_well:
        print("Everything looks up to date.")
    return 0


async def _serve(args: argparse.Namespace, db: Database) -> int:
    """Serve until stopped (Ctrl-C or SIGTERM)."""
    from aiohttp import web

    from bot.directory.serve import DirectoryAPI

    runner = web.AppRunner(DirectoryAPI(db).app())
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    print(
        f"Serving the directory as Open Referral UK 3.0 at http://{args.host}:{args.port}/services"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


async def _import_postcodes(args: argparse.Namespace, db: Database) -> int:
    summary = await import_postcodes(db, args.file, progress=True)
    print(summary.describe())
    return 0
