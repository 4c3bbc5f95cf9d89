"""The real bot as a separate OS process, for tests a crash must not fool.

An in-process bot cannot be SIGKILLed: `BotProcess` runs `python -m bot.cli run`
(what `spbot run` runs) against the Bot API stand-in, and can kill it mid-update,
stop it as a service manager would, and start it again.

    api = PollWatchingStandIn()            # a BotApiStandIn that sees polls arrive
    bot = BotProcess(api, tmp_path, database_url=url)
    try:
        await bot.start()                  # returns once the bot is polling
        bot.kill()                         # SIGKILL: nothing runs after it
        await bot.start()
        code = await bot.terminate()       # SIGTERM, then its exit code
    finally:
        await bot.close()                  # never leaves a process behind

`spbot run --webhook` is started the same way, ready once it answers its health
check: `BotProcess(..., command=("run", "--webhook"), ready=answers_health(port))`.
A database of its own for it: tests/postgres.py (`spbot run` cannot choose a schema).

What the bot writes to stderr is kept in a file (`log_tail()` for failure messages).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.standin.server import BotApiStandIn

PROJECT = Path(__file__).resolve().parents[2]
STAFF_CHAT = -100123
#: Settings a developer's shell may carry that must not reach the bot under test.
_FOREIGN = ("TELEGRAM_", "DATABASE_URL", "STAFF_CHAT_ID", "LOG_LEVEL", "WORKING_HOURS",
            "WEBHOOK_")  # fmt: skip


class PollWatchingStandIn(BotApiStandIn):
    """The stand-in, counting getUpdates requests as they arrive.

    `calls` records a request when it is answered, and a long poll is answered only
    when something happens or it times out; a started bot shows up here at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: getUpdates requests received (a long poll counts when it arrives).
        self.polls_started = 0
        #: getUpdates answers that carried updates, and the ids they carried.
        self.batches = 0
        self.handed_out: set[int] = set()
        #: When each of `calls` was answered (time.monotonic()), index for index.
        self.answered_at: list[float] = []

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polls_started += 1
        batch = await super()._get_updates(params)
        if batch:
            self.batches += 1
            self.handed_out.update(int(update["update_id"]) for update in batch)
        return batch

    def _respond(self, *args: Any, **kwargs: Any) -> Any:
        response = super()._respond(*args, **kwargs)
        self.answered_at.append(time.monotonic())
        return response


def answers_health(port: int) -> Callable[[], Awaitable[bool]]:
    """Whether a webhook bot listening on `port` answers GET /healthz with 200."""
    import aiohttp

    async def ready() -> bool:
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(
                    f"http://127.0.0.1:{port}/healthz", timeout=aiohttp.ClientTimeout(total=2)
                ) as response,
            ):
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    return ready


def webhook_instances(
    api: PollWatchingStandIn,
    workdir: Path,
    *,
    database_url: str,
    ports: Sequence[int],
    settings: Mapping[str, str],
) -> list[BotProcess]:
    """`spbot run --webhook` listening on each of `ports`, all on one database, each
    ready once it answers its health check (start them with `start()`)."""
    return [
        BotProcess(
            api,
            workdir / f"bot{n}",
            database_url=database_url,
            command=("run", "--webhook"),
            ready=answers_health(port),
            env={**settings, "WEBHOOK_LISTEN": f"127.0.0.1:{port}"},
        )
        for n, port in enumerate(ports)
    ]


class BotProcess:
    """One bot, started and stopped as a separate process as often as a test likes."""

    def __init__(
        self,
        api: PollWatchingStandIn,
        workdir: Path,
        *,
        database_url: str,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
        command: Sequence[str] = ("run",),
        ready: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """`command`: what `spbot` runs (("run", "--webhook")); `ready`: whether it
        has started (default: it has polled the stand-in)."""
        self.command = tuple(command)
        self.ready = ready
        self.api = api
        self.workdir = workdir
        self.log_path = workdir / "bot.stderr.log"
        self.startup_timeout = startup_timeout
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
        pythonpath = os.pathsep.join(p for p in (str(PROJECT), os.environ.get("PYTHONPATH")) if p)
        self.env: dict[str, str] = {
            **inherited,
            "PYTHONPATH": pythonpath,
            "PYTHONUNBUFFERED": "1",
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": api.base_url,
            "DATABASE_URL": database_url,
            "STAFF_CHAT_ID": str(STAFF_CHAT),
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.kills = 0

    # -- running ---------------------------------------------------------------------

    async def cli(self, *args: str, timeout: float = 60.0) -> None:
        """Run another `spbot` command (`db upgrade`) to completion; fail on an error."""
        proc = await self._spawn(args)
        try:
            code = await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(f"spbot {' '.join(args)} took over {timeout}s") from None
        if code != 0:
            raise AssertionError(f"spbot {' '.join(args)} exited with {code}:\n{self.log_tail()}")

    async def start(self) -> None:
        """Start `spbot run` and return once it is polling the stand-in (its start-up is
        done by then)."""
        if self.running:
            raise RuntimeError("the bot is already running")
        polls_before = self.api.polls_started
        self.starts += 1
        self.proc = await self._spawn(self.command)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout

        async def started() -> bool:
            if self.ready is not None:
                return await self.ready()
            return self.api.polls_started != polls_before

        while not await started():
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"the bot exited with {self.proc.returncode} while starting "
                    f"(start {self.starts}):\n{self.log_tail()}"
                )
            if loop.time() > deadline:
                raise AssertionError(
                    f"the bot did not poll within {self.startup_timeout}s of start "
                    f"{self.starts}:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: the process ends wherever it was, running nothing more."""
        assert self.proc is not None and self.proc.returncode is None, "not running"
        self.proc.send_signal(signal.SIGKILL)
        self.kills += 1

    async def killed(self) -> None:
        """Kill it and wait until it is gone."""
        self.kill()
        await self.wait(timeout=10)

    async def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM (what systemd and docker send), and its exit code. Raises
        TimeoutError if it is still running after `timeout` (and kills it then)."""
        assert self.proc is not None and self.proc.returncode is None, "not running"
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await self.wait(timeout)
        except TimeoutError:
            await self.close()
            raise

    async def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end; its exit code (negative: killed by a signal)."""
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    async def close(self) -> None:
        """Kill the process if it still runs (for `finally`)."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            await self.proc.wait()

    # -- looking ---------------------------------------------------------------------

    def log_tail(self, lines: int = 30) -> str:
        """The end of what the bot wrote to stderr (its log), for failure messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"

    async def _spawn(self, args: Sequence[str]) -> asyncio.subprocess.Process:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"--- spbot {' '.join(args)} ---\n")
            log.flush()
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", *args,
                cwd=self.workdir, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip
