"""`spbot staff ...` and `spbot audit REF`.

    spbot staff add --telegram-id 123456789 --name "Sam" [--role link_worker|admin]
    spbot staff invite [--name "Sam"] [--role link_worker|admin] [--hours 48]
    spbot staff list
    spbot staff remove --telegram-id 123456789
    spbot audit SP-7K3Q

Every command brings the database up to date first; an error is one sentence on
stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from bot.config import SettingsError, load_settings
from bot.staff.admin import (
    StaffError,
    add_worker,
    audit_trail,
    create_invite,
    list_workers,
    remove_worker,
)
from bot.store import Database
from bot.store.base import utcnow
from bot.store.staff import ROLES

Command = Callable[[argparse.Namespace, Database], Awaitable[int]]


def register(subparsers: argparse._SubParsersAction) -> None:
    staff = subparsers.add_parser("staff", help="link workers: add, invite, list, remove")
    commands = staff.add_subparsers(dest="staff_command", required=True)

    add = commands.add_parser("add", help="add a link worker by their Telegram user id")
    add.add_argument("--telegram-id", type=int, required=True)
    add.add_argument("--name", required=True, help='as patients see it: "Sam, your link worker"')
    add.add_argument("--role", choices=ROLES, default="link_worker")
    add.set_defaults(func=_command(_add))

    invite = commands.add_parser(
        "invite", help="print a one-time code; in the bot, /join CODE adds that Telegram account"
    )
    invite.add_argument("--name", help="the name patients will see (default: their Telegram name)")
    invite.add_argument("--role", choices=ROLES, default="link_worker")
    invite.add_argument("--hours", type=float, default=48, help="how long it works (default 48)")
    invite.set_defaults(func=_command(_invite))

    listing = commands.add_parser("list", help="list the team")
    listing.set_defaults(func=_command(_list))

    remove = commands.add_parser(
        "remove", help="take someone off the team; their open cases go back to the queue"
    )
    remove.add_argument("--telegram-id", type=int, required=True)
    remove.set_defaults(func=_command(_remove))

    audit = subparsers.add_parser("audit", help="who opened or did what to a case, and when")
    audit.add_argument("reference", help="the case reference, e.g. SP-7K3Q")
    audit.set_defaults(func=_command(_audit))


def _command(run: Command) -> Callable[[argparse.Namespace], int]:
    def go(args: argparse.Namespace) -> int:
        settings = load_settings()

        async def inner() -> int:
            db = Database(settings.database_url)
            try:
                await db.upgrade()
                return await run(args, db)
            finally:
                await db.close()

        try:
            return asyncio.run(inner())
        except (StaffError, SettingsError) as exc:
            print(f"spbot: {exc}", file=sys.stderr)
            return 2

    return go


async def _add(args: argparse.Namespace, db: Database) -> int:
    worker = await add_worker(db, args.telegram_id, args.name, args.role, utcnow())
    print(f"{worker.name} ({worker.role}) is on the team.")
    # Telegram lets a bot message someone only after they have pressed Start.
    print(f"Ask {worker.name} to open a chat with the bot and press Start now: until they do,")
    print("the bot cannot send them their cases or alerts (the team chat still gets them).")
    return 0


async def _invite(args: argparse.Namespace, db: Database) -> int:
    settings = load_settings()
    invitation = await create_invite(db, args.name, args.role, args.hours, utcnow())
    expires = invitation.expires_at.astimezone(settings.zone).strftime("%H:%M on %a %d %b %Y")
    print(f"Invitation code: {invitation.code}")
    print(f"In a private chat with the bot, send: /join {invitation.code}")
    print(f"It works once, until {expires}. It is not shown again.")
    return 0


async def _list(args: argparse.Namespace, db: Database) -> int:
    rows = await list_workers(db)
    if not rows:
        print("Nobody yet. Add someone with `spbot staff add` or `spbot staff invite`.")
        return 0
    for worker, open_cases in rows:
        state = "active" if worker.active else "removed"
        print(f"{worker.telegram_id:>12}  {worker.name:<24} {worker.role:<12} {state:<8} "
              f"{open_cases} open")  # fmt: skip
    return 0


async def _remove(args: argparse.Namespace, db: Database) -> int:
    from bot.app import messages_for

    settings = load_settings()
    worker, returned = await remove_worker(
        db, messages_for(settings), settings, args.telegram_id, utcnow()
    )
    print(f"{worker.name} is off the team.")
    if returned:
        print(f"Back in the queue: {', '.join(returned)}")
    return 0


async def _audit(args: argparse.Namespace, db: Database) -> int:
    settings = load_settings()
    entries = await audit_trail(db, args.reference)
    if not entries:
        print(f"Nothing recorded for {args.reference}.", file=sys.stderr)
        return 1
    for entry in entries:
        when = entry.at.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{when}  {entry.actor:<20} {entry.action:<14} {entry.detail}".rstrip())
    return 0
