"""`spbot chat`: the same conversation in a terminal, scriptable line by line."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
from pathlib import Path

from bot.app import build_app
from bot.config import Settings
from bot.console import chat
from tests.fakes import FakeDirectory

# ("meet people" ticks Feeling lonely for them: Done is all the need areas take.)
# (The wellbeing questions come after the handoff, while they wait. A number is a
# tap in the terminal: "1" ticks a box, then "7" is Done.)
ANSWERS = ["1", "Alex", "I'd like to meet people", "12", "L20 3AB", "1",
           "1", "7", "1", "2", "07911 123456", "6", "5", "skip", "4"]  # fmt: skip


async def test_a_scripted_referral_reaches_the_handoff(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}")
    app = await build_app(settings, directory=FakeDirectory())
    out = io.StringIO()
    await chat(app, io.StringIO("\n".join(ANSWERS) + "\n"), out)
    await app.close()
    text = out.getvalue()
    assert "Are you happy for us to keep your answers?" in text
    assert "  1. I agree" in text
    assert "Bootle Walking Football" in text
    assert "0  1  2  3  4  5  6  7  8  9  10  Skip" in text  # scales are typed as numbers
    assert "Your reference is SP-" in text
    assert "Your referral is with our link workers" in text  # the goodbye says what is true


async def test_coming_back_resumes_at_the_same_question(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.sqlite3'}")
    app = await build_app(settings, directory=FakeDirectory())
    await chat(app, io.StringIO("1\n1\nAlex\n"), io.StringIO())
    await app.close()
    app = await build_app(settings, directory=FakeDirectory())
    out = io.StringIO()
    await chat(app, io.StringIO(""), out)
    await app.close()
    assert "We were talking about what matters to you" in out.getvalue()


def test_spbot_chat_runs_as_a_command_with_piped_input(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}", "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat"], input="yes\n2\n", capture_output=True, text=True,
        env=env, timeout=60, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Are you 18 or over?" in result.stdout
    assert "How would you like to take part?" not in result.stdout


def test_no_log_line_reaches_the_screen_the_person_types_on(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'q.sqlite3'}", "PATH": "",
           "LOG_LEVEL": "DEBUG"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat"], input="1\ni want to kill myself\n",
        capture_output=True, text=True, env=env, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "116 123" in result.stdout  # the crisis reply, on their screen
    screen = result.stdout + result.stderr
    assert "crisis language" not in screen and "safety alert" not in screen and "INFO" not in screen


async def goodbye_after(tmp_path: Path, lines: list[str], carry_on: str = "spbot chat") -> str:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'g.sqlite3'}")
    app = await build_app(settings, directory=FakeDirectory())
    out = io.StringIO()
    await chat(app, io.StringIO("\n".join(lines) + "\n"), out, carry_on=carry_on)
    await app.close()
    return out.getvalue().rsplit(">", 1)[-1]


async def test_the_goodbye_after_declining_does_not_say_answers_were_saved(tmp_path: Path) -> None:
    """(Issue 13: "We have not kept anything you told us", then "Your answers are saved".)"""
    goodbye = await goodbye_after(tmp_path, ["4"])  # No thanks
    assert "saved" not in goodbye and "Goodbye" in goodbye
    goodbye = await goodbye_after(tmp_path, ["16"])  # under 18
    assert "saved" not in goodbye


async def test_the_goodbye_names_the_command_that_carries_on(tmp_path: Path) -> None:
    """(Issue 13: the demo's goodbye said `spbot chat`, which opens another database.)"""
    goodbye = await goodbye_after(tmp_path, ["1", "1"], carry_on="make demo")
    assert "Your answers so far are saved" in goodbye and "make demo" in goodbye
    assert "spbot chat" not in goodbye


def test_make_demo_carries_on_in_the_same_database_it_started() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "rm -f demo.sqlite3" not in demo  # the answers they were told are saved stay
    assert "demo.sqlite3 $(BIN)/spbot chat --carry-on 'make demo'" in demo


def test_ctrl_c_leaves_at_once_saying_how_to_carry_on(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'i.sqlite3'}", "PATH": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write("yes\n")
    process.stdin.flush()
    seen = ""
    while "Are you 18 or over?" not in seen:
        seen += process.stdout.readline()
    process.send_signal(signal.SIGINT)  # stdin stays open: it must not wait for a line
    out, err = process.communicate(timeout=20)
    assert "Traceback" not in err, err
    assert "Your answers so far are saved" in out and "spbot chat" in out
