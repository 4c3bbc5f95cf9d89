"""The container people deploy (issue 16): a Dockerfile that installs the wheel and
runs `spbot run` as a user who is not root, and a compose.yaml with PostgreSQL, two
webhook instances and a proxy. Built and run only where Docker works and the Python
base image can be had; the files themselves are checked everywhere.

The image is built FROM `python:3.11-slim` unless SPBOT_TEST_PYTHON_IMAGE names
another Python 3.11 image (one from your own registry, where Docker Hub cannot be
reached): it is passed as the Dockerfile's PYTHON_IMAGE."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import aiohttp
import pytest
import yaml

from tests.e2e.process import BotProcess, PollWatchingStandIn, answers_health
from tests.e2e.test_webhook import SECRET, free_port
from tests.postgres import POSTGRES_URL, SKIP_REASON, admin, fresh_name, url_of

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = os.environ.get("SPBOT_TEST_PYTHON_IMAGE", "python:3.11-slim")
TAG = "spbot-test:latest"


def docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    """The image built from this checkout (its tag)."""
    if not docker_works():
        pytest.skip("Docker is not available here")
    if docker("image", "inspect", BASE_IMAGE).returncode != 0:
        pulled = docker("pull", BASE_IMAGE, timeout=600)
        if pulled.returncode != 0:
            pytest.skip(f"the base image {BASE_IMAGE} cannot be had here "
                        f"({pulled.stderr.strip()[-200:]}): set SPBOT_TEST_PYTHON_IMAGE "
                        "to a Python 3.11 image you have")  # fmt: skip
    built = docker("build", "--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}", "-t", TAG, str(ROOT),
                   timeout=1800)  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return TAG


def test_the_image_installs_the_wheel_and_runs_the_bot_as_a_user_not_root() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert any(line.startswith("RUN python -m pip wheel") for line in lines)
    assert any("pip install /tmp/spbot-" in line for line in lines)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert lines[[line.startswith("CMD") for line in lines].index(True)] == 'CMD ["spbot", "run"]'


def test_the_image_keeps_few_malloc_arenas() -> None:
    """Each SQLite connection works in a thread of its own (aiosqlite), and glibc gives
    each thread a malloc arena it keeps: after a burst of 2,000 answers that was 25 MB
    more resident memory (tests/benchmarks/test_memory_bench.py: +44 MB over the empty
    bot with the default arenas, +18 MB with two)."""
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    settings = " ".join(line for line in lines if line.startswith("ENV "))
    assert "MALLOC_ARENA_MAX=2" in settings.split()


def test_compose_runs_two_webhook_instances_behind_a_proxy_on_postgresql() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    bots = [s for s in services.values() if s.get("command") == ["spbot", "run", "--webhook"]]
    assert len(bots) == 2
    for bot in bots:
        assert bot["environment"]["DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "migrate" in bot["depends_on"]
    assert services["migrate"]["command"] == ["spbot", "db", "upgrade"]
    assert services["postgres"]["image"].startswith("postgres:")
    upstream = compose["configs"]["nginx"]["content"]
    assert "bot1:8080" in upstream and "bot2:8080" in upstream


def test_the_image_builds_and_its_spbot_runs_as_a_user_not_root(image: str) -> None:
    uid = docker("run", "--rm", image, "id", "-u")
    assert uid.stdout.strip() not in ("", "0")
    helped = docker("run", "--rm", image, "spbot", "run", "--help")
    assert helped.returncode == 0 and "--webhook" in helped.stdout


class ContainerBot(BotProcess):
    """`spbot` run in the image, as compose runs it, on the host's network (so the
    stand-in and the test's PostgreSQL on 127.0.0.1 are where they are for a process).
    Each command is a container of its own, removed when done or closed."""

    def __init__(
        self,
        image: str,
        api: PollWatchingStandIn,
        workdir: Path,
        *,
        database_url: str,
        settings: dict[str, str],
        volume: Path | None = None,
        command: Sequence[str] = ("run",),
        ready: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        super().__init__(api, workdir, database_url=database_url, env=settings,
                         command=command, ready=ready, startup_timeout=120)  # fmt: skip
        self.image = image
        self.volume = volume
        #: Only what spbot reads goes in, not the test runner's own environment.
        self.passed_in = ["TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "DATABASE_URL",
                          "STAFF_CHAT_ID", "LOG_LEVEL", *settings]  # fmt: skip
        self.containers: list[str] = []

    async def _spawn(self, args: Sequence[str]) -> asyncio.subprocess.Process:
        name = f"spbot-test-{uuid.uuid4().hex[:8]}"
        self.containers.append(name)
        mount = ["-v", f"{self.volume}:/data"] if self.volume else []
        given = [flag for key in self.passed_in for flag in ("-e", key)]  # values: self.env
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a", encoding="utf-8") as log:
            log.write(f"--- spbot {' '.join(args)} (container {name}) ---\n")
            log.flush()
            return await asyncio.create_subprocess_exec(
                "docker", "run", "--rm", "--name", name, "--network", "host", *mount, *given,
                self.image, "spbot", *args,
                env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            )  # fmt: skip

    async def close(self) -> None:
        await super().close()
        for name in self.containers:
            docker("rm", "--force", name)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, Path | None]]:
    """A database nothing has been made in (its URL as the container sees it), and
    the directory to mount at /data for it."""
    if request.param == "sqlite":
        data = tmp_path / "data"
        data.mkdir()
        data.chmod(0o777)  # the image's user (uid 10001) writes the database there
        yield "sqlite+aiosqlite:////data/spbot.db", data
        return
    if not POSTGRES_URL:
        pytest.skip(SKIP_REASON)
    name = fresh_name("spbot_container")
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield url_of(name), None
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def healthy(port: int) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        assert response.status == 200
        return dict(await response.json())


@pytest.mark.e2e
@pytest.mark.timeout(900)
async def test_the_image_makes_its_tables_and_answers_a_patient_over_its_webhook(
    image: str, empty_database: tuple[str, Path | None], tmp_path: Path
) -> None:
    """As compose runs it: `spbot db upgrade` on an empty database (the migrate
    service), then `spbot run --webhook` answers what Telegram posts, says it is
    healthy (to compose's own health check too), and stops cleanly on SIGTERM
    (docker stop)."""
    url, volume = empty_database
    port = free_port()
    async with PollWatchingStandIn() as api:
        bot = ContainerBot(
            image, api, tmp_path / "bot", database_url=url, volume=volume,
            command=("run", "--webhook"), ready=answers_health(port),
            settings={"WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
                      "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "WEBHOOK_SECRET": SECRET},
        )  # fmt: skip
        try:
            await bot.cli("db", "upgrade", timeout=180)
            await bot.start()
            api.send_text(7001, "/start", first_name="Alex")
            for _ in range(600):
                if api.messages_to(7001):
                    break
                await asyncio.sleep(0.1)
            said = [m.plain_text for m in api.messages_to(7001)]
            assert said and said[0].startswith("Hello. I can put you in touch"), bot.log_tail()
            health = await healthy(port)
            assert health["database"] == "ok"
            # compose.yaml's own health check, run inside the container as Docker would.
            check = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["bot1"]
            cmd, *argv = check["healthcheck"]["test"]
            assert cmd == "CMD"
            argv = [arg.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for arg in argv]
            checked = docker("exec", bot.containers[-1], *argv)
            assert checked.returncode == 0, checked.stderr[-1000:]
            assert await bot.terminate(timeout=30) == 0, bot.log_tail()
            api.assert_clean()
        finally:
            await bot.close()
