"""spbot installs the way Python services are deployed: a wheel, into a fresh
virtual environment, run from any directory. Its words (messages/), migrations
and data files travel inside the wheel.

The wheel is built and installed without the network: it is installed with
`--no-deps` into a new venv that borrows the test environment's packages
through a .pth file (a plain path line, so this project's own editable install is
not borrowed). What is tested is exactly what broke before: our own files in the
wheel, found from another directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the spbot wheel in it; returns its bin directory."""
    where = tmp_path_factory.mktemp("wheel")
    # From a clean copy: a build/ folder left in the checkout would smuggle files in.
    source = where / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "*.sqlite3*", "models"))  # fmt: skip
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(where / "dist"), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if built.returncode != 0:
        pytest.skip(f"could not build the wheel here: {built.stderr.strip()[-300:]}")
    [wheel] = (where / "dist").glob("spbot-*.whl")
    venv.create(where / "venv", with_pip=False)
    python = where / "venv" / "bin" / "python"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "_spbot_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return where / "venv" / "bin"


def run(
    bin_dir: Path, args: list[str], cwd: Path, stdin: str = "", **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'installed.sqlite3'}",
        "HOME": str(cwd),
        "SPBOT_NO_MODEL_FETCH": "1",
        **env_vars,
    }
    return subprocess.run(
        [str(bin_dir / "spbot"), *args], input=stdin, capture_output=True, text=True,
        env=env, cwd=cwd, timeout=120,
    )  # fmt: skip


def test_the_installed_wheel_chats_from_another_directory(installed: Path, tmp_path: Path) -> None:
    result = run(installed, ["chat"], tmp_path, stdin="yes\n1\nAlex\n")
    assert result.returncode == 0, result.stderr
    assert "Are you happy for us to keep your answers?" in result.stdout
    assert "Are you 18 or over?" in result.stdout
    assert "what matters to you" in result.stdout.lower()
    where = subprocess.run(
        [str(installed / "python"), "-c", "import bot, messages; print(bot.__file__, messages.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout  # fmt: skip
    assert str(ROOT) not in where  # the wheel's copy, not this checkout


def test_the_installed_wheel_says_where_the_readme_is_missing(
    installed: Path, tmp_path: Path
) -> None:
    result = run(installed, ["diagram", "--check"], tmp_path)
    assert result.returncode == 2
    assert "--readme" in result.stderr and "Traceback" not in result.stderr
    checked = run(installed, ["diagram", "--check", "--readme", str(ROOT / "README.md")], tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_the_diagram_check_finds_the_projects_readme_from_anywhere(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "diagram", "--check"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_installed_wheel_carries_the_crisis_screens_trained_head(
    installed: Path, tmp_path: Path, model_dir: Path
) -> None:
    checked = run(
        installed, ["safety", "check-model"], tmp_path, EMBEDDING_MODEL_DIR=str(model_dir)
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "meaning screen ready" in checked.stdout
    screened = run(installed, ["safety", "screen", "I've sorted my affairs and said my goodbyes"],
                   tmp_path, EMBEDDING_MODEL_DIR=str(model_dir))  # fmt: skip
    assert screened.stdout.startswith("crisis: suicide"), screened.stdout


def test_without_the_model_the_installed_bot_says_it_runs_on_the_rules(
    installed: Path, tmp_path: Path
) -> None:
    checked = run(installed, ["safety", "check-model"], tmp_path)  # HOME is empty: no model
    assert checked.returncode == 1
    assert "rules" in checked.stdout and "spbot safety fetch-model" in checked.stdout
    screened = run(installed, ["safety", "screen", "I want to kill myself"], tmp_path)
    assert "crisis: suicide" in screened.stdout  # the rules still screen
