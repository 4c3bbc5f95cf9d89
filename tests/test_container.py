"""The container people deploy (issue 16): a Dockerfile that installs the wheel and
runs `spbot run` as a user who is not root, and a compose.yaml with PostgreSQL, two
webhook instances and a proxy. Built and run only where Docker works; the files
themselves are checked everywhere."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


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


@pytest.mark.skipif(not docker_works(), reason="Docker is not available here")
def test_the_image_builds_and_its_spbot_runs_as_a_user_not_root(tmp_path: Path) -> None:
    tag = "spbot-test:latest"
    built = subprocess.run(["docker", "build", "-t", tag, str(ROOT)], capture_output=True,
                           text=True, timeout=1800)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    uid = subprocess.run(["docker", "run", "--rm", tag, "id", "-u"], capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert uid.stdout.strip() not in ("", "0")
    helped = subprocess.run(["docker", "run", "--rm", tag, "spbot", "run", "--help"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert helped.returncode == 0 and "--webhook" in helped.stdout
