"""`spbot safety ...`: the crisis screen's model, and a way to see what it reads.

    spbot safety fetch-model [--dir D] [--wheel W] [--force]
    spbot safety check-model
    spbot safety screen "some words"

`screen` prints what the screen would do with a message and why (the rule, or
the nearest written example): for a clinical safety officer checking a phrase.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bot import safety
from bot.config import load_settings
from bot.safety import model_files
from bot.safety.embedding import ModelUnavailable
from bot.safety.meaning import MeaningScreen


def register(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("safety", help="the crisis-language screen")
    commands = group.add_subparsers(dest="safety_command", required=True)
    fetch = commands.add_parser(
        "fetch-model", help="fetch and check the sentence-embedding model (once, at install)"
    )
    model_files.add_arguments(fetch)
    fetch.set_defaults(func=_fetch)
    commands.add_parser(
        "check-model", help="check the model's files and that the meaning screen loads"
    ).set_defaults(func=_check)
    try_it = commands.add_parser("screen", help="what the screen does with a message, and why")
    try_it.add_argument("text")
    try_it.set_defaults(func=_screen)


def _folder(given: Path | None = None) -> Path:
    if given is not None:
        return given
    configured = load_settings().embedding_model_dir
    return Path(configured) if configured else model_files.default_model_dir()


def _fetch(args: argparse.Namespace) -> int:
    args.dir = _folder(args.dir)
    return model_files.run(args)


def _load() -> MeaningScreen | None:
    try:
        return MeaningScreen.load(_folder())
    except ModelUnavailable as exc:
        print(f"meaning screen off: {exc}")
        print("The bot still screens every message with the rules; "
              "`spbot safety fetch-model` fetches the model.")  # fmt: skip
        return None


def _check(args: argparse.Namespace) -> int:
    screen = _load()
    if screen is None:
        return 1
    print(f"meaning screen ready: model in {_folder()}, crisis at {screen.threshold:.0%}, "
          f"direct question at {screen.weak_threshold:.0%}")  # fmt: skip
    return 0


def _screen(args: argparse.Namespace) -> int:
    screen = _load()
    meaning = screen.read(args.text) if screen is not None else None
    result = safety.screen(args.text, meaning=meaning)
    if result.is_crisis:
        print(f"crisis: {', '.join(result.categories)} (reply: {result.template})")
    elif result.concern:
        print(f"no crisis; a sign short of one: {result.concern}")
    else:
        print("no crisis")
    for reason in result.reasons:
        print(f"  {reason}")
    return 0
