"""Two checkouts' CPU per update, side by side: is a change a saving in the running bot?

    git worktree add ../before HEAD~1
    .venv/bin/python -m tests.benchmarks.compare ../before [--rate 5] [--rounds 4]

Runs `spbot run` from the other checkout (A) and from this one (B), each on its
own SQLite file and its own Bot API stand-in, and offers both new patients' /starts
at the same rate at the same moment, for `--rounds` rounds of `--seconds`. Each
round reports both processes' CPU per update and B/A. Side by side, the machine's
drift (a third of the CPU per update, from one minute to the next, on a shared
machine) hits both alike; one after the other it swamps a change of a few
percent. A tight loop of one piece in one process is no substitute: the bot is
idle between updates, and what it then costs is not what a warm loop costs
(2026-12-05: Bot API requests over aiohttp were half httpx's CPU in a loop, and
nothing in the running bot).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from tests.benchmarks.test_replies_bench import Timed, offer
from tests.e2e.process import PROJECT, BotProcess


async def compare(other: Path, rate: float, rounds: int, seconds: float) -> list[float]:
    """B/A for each round (B: this checkout; A: `other`)."""
    scratch = Path(tempfile.mkdtemp(prefix="spbot-compare-"))
    async with Timed() as api_a, Timed() as api_b:
        bots: list[BotProcess] = []
        try:
            for name, code, api in (("a", other, api_a), ("b", PROJECT, api_b)):
                bot = BotProcess(
                    api, scratch / name, database_url=f"sqlite+aiosqlite:///{scratch}/{name}.db",
                    env={"LOG_LEVEL": "WARNING", "MEANING_SCREEN": "false",
                         "PYTHONPATH": str(code.resolve())},
                    startup_timeout=120,
                )  # fmt: skip
                await bot.start()
                bots.append(bot)
            pids = [bot.proc.pid if bot.proc is not None else None for bot in bots]
            # Warmed up first, as the replies benchmark warms each bot.
            await asyncio.gather(offer(api_a, 10, 3, 500_000, 1), offer(api_b, 10, 3, 500_000, 1))
            ratios = []
            for r in range(rounds):
                first = 5_000_000 + r * 100_000
                lines = await asyncio.gather(offer(api_a, rate, seconds, first, 1, pids[0]),
                                             offer(api_b, rate, seconds, first, 1, pids[1]))  # fmt: skip
                a, b = (float(line.split("CPU ")[1].split(" ms")[0]) for line in lines)
                ratios.append(b / a)
                print(f"round {r + 1}: A {a:.2f} ms, B {b:.2f} ms an update; B/A {b / a:.3f}",
                      flush=True)  # fmt: skip
            return ratios
        finally:
            for bot in bots:
                await bot.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("other", type=Path, help="the checkout to compare with (A)")
    parser.add_argument("--rate", type=float, default=5.0, help="/starts a second to each bot")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=12.0, help="each round's length")
    args = parser.parse_args()
    if not (args.other / "bot" / "cli.py").exists():
        parser.error(f"{args.other} is not a checkout of this project (no bot/cli.py)")
    ratios = asyncio.run(compare(args.other, args.rate, args.rounds, args.seconds))
    print(f"B/A median {statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main()
