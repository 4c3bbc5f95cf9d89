"""`spbot`: run the bot, chat in a terminal, manage the database and directory."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.config import SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="spbot", description="Social prescribing self-referral bot."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the Telegram bot (long polling, or --webhook)")
    run.add_argument(
        "--webhook", action="store_true",
        help="take updates Telegram posts (WEBHOOK_LISTEN, WEBHOOK_URL, WEBHOOK_SECRET): "
        "several instances can run behind one load balancer on one PostgreSQL",
    )  # fmt: skip
    run.set_defaults(func=_run)
    chat = sub.add_parser("chat", help="try the conversation in this terminal (no token needed)")
    chat.add_argument(
        "--carry-on", default="spbot chat", metavar="COMMAND",
        help="the command the goodbye names for carrying on (make demo passes 'make demo')",
    )  # fmt: skip
    chat.set_defaults(func=_chat)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply pending migrations").set_defaults(func=_db_upgrade)
    revision = db.add_parser("revision", help="(developers) write a migration from model changes")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(func=_db_revision)

    diagram = sub.add_parser("diagram", help="print the conversation as a Mermaid diagram")
    diagram.add_argument("--write", action="store_true", help="update the diagram in README.md")
    diagram.add_argument(
        "--check", action="store_true", help="fail if README.md's diagram is stale"
    )
    diagram.add_argument(
        "--readme", type=Path, default=None,
        help="the README to check or write (default: the project's, next to bot/)",
    )  # fmt: skip
    diagram.set_defaults(func=_diagram)

    report = sub.add_parser("report", help="the outcomes report for commissioners")
    report.add_argument("--format", choices=("html", "csv"), default="html")
    report.add_argument(
        "--now", action="store_true",
        help="work the figures out now, not from those the bot worked out last night",
    )  # fmt: skip
    report.add_argument(
        "--keep", action="store_true",
        help="work out the figures of the report without dates and keep them, as the "
        "running bot does each night",
    )  # fmt: skip
    report.set_defaults(func=_report)
    events = sub.add_parser("export-events", help="social-prescribing events for GP records")
    events.add_argument("--format", choices=("csv",), required=True)
    events.set_defaults(func=_export_events)
    for command in (report, events):
        for option, dest, words in (
            ("--from", "start", "first day, YYYY-MM-DD (default: the last full quarter)"),
            ("--to", "end", "the day after the last, YYYY-MM-DD (2026-10-01: to 30 Sep)"),
        ):
            command.add_argument(option, dest=dest, metavar="DATE", help=words)
        command.add_argument("--output", metavar="PATH", help="the file ('-': standard output)")

    rotate = sub.add_parser(
        "rotate-key", help="encrypt everything stored with the first key in DATA_ENCRYPTION_KEY"
    )
    rotate.add_argument("--new-key", action="store_true", help="print a new key and how to use it")
    rotate.set_defaults(func=_rotate_key)

    for register in _plugins():
        register(sub)

    args = parser.parse_args(argv)
    try:
        _use_encryption_key()
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"spbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _plugins() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Command groups that live with their area (directory, staff...)."""
    from bot.directory.cli import register as directory_commands
    from bot.privacy import register as privacy_commands
    from bot.safety.cli import register as safety_commands
    from bot.staff.cli import register as staff_commands

    return [directory_commands, staff_commands, safety_commands, privacy_commands]


def _use_encryption_key() -> None:
    """Every command that opens the database seals and opens with DATA_ENCRYPTION_KEY
    (bot/store/sealing.py). A command that needs no settings runs even when they are
    wrong; one that does reads them again, and stops on the same mistake."""
    from bot.store.sealing import use_keys

    try:
        keys = load_settings().encryption_keys
    except SettingsError:
        return
    use_keys(keys)


def _rotate_key(args: argparse.Namespace) -> int:
    from bot.encryption import new_key_text, rotate_key

    print(new_key_text() if args.new_key else rotate_key(load_settings()))
    return 0


def _run(args: argparse.Namespace) -> int:
    from bot.app import build_app, configure_logging, keep_secret
    from bot.telegram import WATCHDOG_SECONDS, TelegramBot
    from bot.webhook import WebhookConfig

    settings = load_settings()
    settings.require_token()
    settings.require_staff_chat()
    webhook = WebhookConfig(*settings.require_webhook()) if args.webhook else None
    if webhook is not None:
        keep_secret(webhook.secret)
    configure_logging(settings.log_level, to_file=settings.log_file)

    async def serve() -> None:
        # Built and run in one event loop: connections made while building belong to it.
        app = await build_app(settings)
        try:
            await TelegramBot(app, watchdog_seconds=WATCHDOG_SECONDS, webhook=webhook).run()
        finally:
            await app.close()

    asyncio.run(serve())
    return 0


def _chat(args: argparse.Namespace) -> int:
    from bot.app import build_app, configure_logging
    from bot.console import chat

    settings = load_settings()
    # The person types in this terminal: log lines never appear on it (they would
    # say "crisis language" on their screen). To a file, if LOG_FILE says so.
    configure_logging(settings.log_level, to_file=settings.log_file, quiet=True)

    async def go() -> None:
        app = await build_app(settings)
        try:
            await chat(app, carry_on=args.carry_on)
        finally:
            await app.close()

    try:
        asyncio.run(go())
    except KeyboardInterrupt:  # Ctrl-C: the goodbye has said how to carry on
        return 130
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from bot.store.db import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    print("The database is up to date.")
    return 0


def _db_revision(args: argparse.Namespace) -> int:
    from bot.store.db import make_migration

    make_migration(load_settings().database_url, args.message)
    return 0


def _report(args: argparse.Namespace) -> int:
    from bot.report.command import run_report

    return run_report(args)


def _export_events(args: argparse.Namespace) -> int:
    from bot.report.command import run_export_events

    return run_export_events(args)


def _diagram(args: argparse.Namespace) -> int:
    from flows.diagram import case_diagram, in_readme, referral_diagram

    if args.write or args.check:
        readme = args.readme or project_readme()
        if not readme.is_file():
            print(
                f"There is no README at {readme}: spbot is installed without its source. "
                "Run this from a checkout of the project, or give --readme PATH.",
                file=sys.stderr,
            )
            return 2
        current = readme.read_text(encoding="utf-8")
        fresh = in_readme(current)
        if args.check:
            if fresh != current:
                print("README.md's diagram is stale: run `spbot diagram --write`.", file=sys.stderr)
                return 1
            return 0
        readme.write_text(fresh, encoding="utf-8")
        print("Updated the diagram in README.md.")
        return 0
    print(referral_diagram())
    print()
    print(case_diagram())
    return 0


def project_readme() -> Path:
    """README.md of the project this package is in (a checkout, or an editable
    install), wherever the command is run from."""
    return Path(__file__).resolve().parents[1] / "README.md"


if __name__ == "__main__":
    sys.exit(main())
