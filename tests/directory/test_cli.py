"""`spbot directory ...` and `spbot postcodes import`, as the app's parser runs them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.directory.cli import register
from tests.directory.conftest import FIXTURES


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="spbot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture(autouse=True)
def database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}")


def test_import_search_list_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("directory", "import", "--sample") == 0
    assert "43 added" in capsys.readouterr().out

    assert run("directory", "search", "walking", "--near", "l203ab", "-n", "2") == 0
    out = capsys.readouterr().out
    assert out.startswith("1. Walking Football at North Park – Bootle Community Sport Trust\n")
    assert "It's 0.6 miles from you, and you mentioned “walking”." in out
    assert "\n2. " in out and "\n3. " not in out

    assert run("directory", "list") == 0
    assert "42 activities." in capsys.readouterr().out

    assert run("directory", "check") == 0
    out = capsys.readouterr().out
    assert "Living Well with Pain Course" in out and "last confirmed 10 March 2025" in out


def test_import_a_file_and_postcodes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert (
        run("directory", "import", str(FIXTURES / "messy_feed.json"), "--deactivate-missing") == 0
    )
    assert "5 added" in capsys.readouterr().out
    postcodes = tmp_path / "postcodes.csv"
    postcodes.write_text("postcode,latitude,longitude\nL22 5PE,53.4753,-3.0247\n", encoding="utf-8")
    assert run("postcodes", "import", str(postcodes)) == 0
    assert "Imported 1 postcodes" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("directory", "import", "/no/such/file.json"),
            "There is no file or folder at /no/such/file.json.",
        ),
        (("directory", "import"), "Say what to import"),
        (("directory", "search", "tea", "--near", "nowhere"), "“nowhere” is not a UK postcode"),
        (("postcodes", "import", "/no/such.csv"), "Cannot open /no/such.csv"),
    ],
)
def test_errors_are_one_sentence_and_exit_non_zero(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    assert run(*argv) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and captured.err.count("\n") == 1


def test_a_rejected_file_lists_its_problems(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": "1", "status": "active"}]', encoding="utf-8")
    assert run("directory", "import", str(bad)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Nothing was imported from {bad}: 1 problem to fix first")
    assert "service 1 (id '1'): name is missing" in err
