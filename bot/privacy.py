"""`spbot subject-access`, `spbot erase` and `spbot purge`: a person's rights, for
requests that come by letter or phone, and retention on demand.

    spbot subject-access SP-7K3Q --output their-data.json
    spbot erase SP-7K3Q [--yes]
    spbot purge [--dry-run]

They go through the same code as /mydata, /delete and the bot's own daily sweep
(bot/patients/privacy.py), wired by `bot.app` so a link worker holding the case is
told, as when the person asks in the chat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.app import App, build_app
from bot.config import load_settings
from bot.patients.privacy import data_file, erase_patient, sweep
from bot.store.cases import normalise_reference
from bot.store.subject import everything_about, has_unseen_alert, patient_by_reference


def register(subparsers: argparse._SubParsersAction) -> None:
    access = subparsers.add_parser(
        "subject-access", help="everything held about the person with this case, as JSON"
    )
    access.add_argument("reference", help="their case reference, e.g. SP-7K3Q")
    access.add_argument("--output", required=True, metavar="PATH",
                        help="where to write it (readable by you only)")  # fmt: skip
    access.set_defaults(func=lambda args: _run(_subject_access, args))

    erase = subparsers.add_parser(
        "erase", help="delete everything held about the person with this case"
    )
    erase.add_argument("reference", help="their case reference, e.g. SP-7K3Q")
    erase.add_argument("--yes", action="store_true", help="do not ask to confirm")
    erase.set_defaults(func=lambda args: _run(_erase, args))

    purge = subparsers.add_parser(
        "purge", help="erase what is past RETENTION_DAYS / ABANDONED_RETENTION_DAYS now"
    )
    purge.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
    purge.set_defaults(func=lambda args: _run(_purge, args))


def _run(
    command: Callable[[App, argparse.Namespace], Awaitable[int]], args: argparse.Namespace
) -> int:
    async def inner() -> int:
        app = await build_app(load_settings())
        try:
            return await command(app, args)
        finally:
            await app.close()

    return asyncio.run(inner())


async def _subject_access(app: App, args: argparse.Namespace) -> int:
    reference = normalise_reference(args.reference)
    async with app.db.reading() as session:
        patient = await patient_by_reference(session, reference)
        if patient is None:
            print(f"spbot: nobody is held under {reference} (it may have been erased).",
                  file=sys.stderr)  # fmt: skip
            return 1
        everything = await everything_about(session, patient)
    path = Path(args.output)
    await asyncio.to_thread(_write_private, path, data_file(everything))
    cases = ", ".join(c["reference"] for c in everything["cases"])
    print(f"Wrote everything held about the person with {cases} to {path} (readable by you "
          "only). Send it to them securely, then delete your copy.")  # fmt: skip
    return 0


async def _erase(app: App, args: argparse.Namespace) -> int:
    reference = normalise_reference(args.reference)
    async with app.db.transaction() as session:
        patient = await patient_by_reference(session, reference)
        if patient is None:
            print(f"spbot: nobody is held under {reference} (it may have been erased).",
                  file=sys.stderr)  # fmt: skip
            return 1
        if await has_unseen_alert(session, patient.id):
            print(f"spbot: {reference} has a safety alert nobody has seen yet. A link worker "
                  "must see it first (Seen – I'm on it); then run this again.", file=sys.stderr)  # fmt: skip
            return 1
        if not args.yes:
            typed = await asyncio.to_thread(
                input, f"This deletes everything about the person with {reference}, for good. "
                       "Type the reference again to confirm: ",
            )  # fmt: skip
            if normalise_reference(typed) != reference:
                print("Not the same reference: nothing was deleted.")
                return 1
        erased = await erase_patient(session, patient, app.notices, app.clock(),
                                     actor="command line", why="asked by letter or phone")  # fmt: skip
    await app.db.checkpoint()
    print(f"Erased: {erased.cases} case(s) and {erased.messages} message(s) and notes. The "
          "audit records that it happened, with no content.")  # fmt: skip
    return 0


async def _purge(app: App, args: argparse.Namespace) -> int:
    settings = app.settings
    due = await sweep(app.db, settings, app.notices, app.clock(), dry_run=args.dry_run)
    if not due:
        print("Nothing is due to be erased.")
        return 0
    reasons = Counter(d.reason for d in due)
    words = {"retention": f"{settings.retention_days} days after their last case closed",
             "abandoned": f"left before the handoff over {settings.abandoned_retention_days} "
                          "days ago",
             "asked": "asked to be deleted, and their safety alert has now been seen"}  # fmt: skip
    verb = "Would erase" if args.dry_run else "Erased"
    print(f"{verb} {len(due)} person(s):")
    for reason, count in reasons.items():
        references = [r for d in due if d.reason == reason for r in d.references]
        shown = ", ".join(references[:20]) + (" …" if len(references) > 20 else "")
        print(f"  {count} {words[reason]}{': ' + shown if shown else ''}")
    if args.dry_run:
        print("Nothing was changed (--dry-run).")
    else:
        await app.db.vacuum()
    return 0


def _write_private(path: Path, text: str) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
              encoding="utf-8") as file:  # fmt: skip
        file.write(text)
