"""`spbot report` and `spbot export-events`, as the app's parser runs them, on a
SQLite database holding the hand-written milestones."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import Database
from bot.store.milestones import record
from tests.report import hand


@pytest.fixture
def database_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'report.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("TIMEZONE", "Europe/London")
    monkeypatch.setenv("ORGANISATION_NAME", "Sefton Social Prescribing")

    async def seed() -> None:
        db = Database(url)
        await db.upgrade()
        async with db.transaction() as session:
            for m in hand.milestones():
                if m.at < hand.AS_OF:  # the report runs now, after the December answer
                    await record(
                        session, m.journey, m.step, m.at, reference=m.reference, **m.detail
                    )
        await db.close()

    asyncio.run(seed())
    monkeypatch.chdir(tmp_path)
    return url


def test_report_writes_html_and_says_so(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["report", "--from", "2026-07-01", "--to", "2026-08-01"]) == 0
    out = capsys.readouterr().out
    written = tmp_path / "outcomes-report-2026-07-01-to-2026-07-31.html"
    assert out.startswith(f"Wrote {written.name} (1 to 31 July 2026): 12 people started")
    html = written.read_text("utf-8")
    assert "Sefton Social Prescribing" in html and "1 to 31 July 2026" in html


def test_report_as_csv_to_a_path(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "july.csv"
    argv = ["report", "--from", "2026-07-01", "--to", "2026-08-01", "--format", "csv"]
    assert main([*argv, "--output", str(target)]) == 0
    assert f"Wrote {target}" in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(target.read_text("utf-8"))))
    started = [
        r for r in rows if r["group"] == "Started a conversation" and r["measure"] == "people"
    ]
    assert started[0]["value"] == "12"


def test_report_to_standard_output(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", "--from", "2026-07-01", "--to", "2026-08-01", "--format", "csv"]
    assert main([*argv, "--output", "-"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("section,measure,group,value,n\n")
    assert "Wrote standard output" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2026-13-01"], "spbot: --from 2026-13-01 is not a date: use YYYY-MM-DD\n"),
        (["--to", "1/7/2026"], "spbot: --to 1/7/2026 is not a date: use YYYY-MM-DD\n"),
        (
            ["--from", "2026-10-01", "--to", "2026-07-01"],
            "spbot: --from 2026-10-01 is after --to 2026-07-01: the period starts on --from and "
            "ends the day before --to\n",
        ),
        (
            ["--from", "2026-07-01", "--to", "2026-07-01"],
            "spbot: --from 2026-07-01 is the same day as --to 2026-07-01: the period starts on "
            "--from and ends the day before --to\n",
        ),
        (
            ["--output", "no/such/folder/report.html"],
            "spbot: cannot write no/such/folder/report.html: the folder no/such/folder does not "
            "exist\n",
        ),
    ],
)
def test_mistakes_are_one_kind_sentence_and_exit_2(
    database_url: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    for command in (["report"], ["export-events", "--format", "csv"]):
        assert main([*command, *argv]) == 2
        captured = capsys.readouterr()
        assert captured.err == message
        assert captured.out == ""


def test_a_wrong_format_is_refused_by_the_parser(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--format", "pdf"])
    assert exit_.value.code == 2
    assert "invalid choice: 'pdf'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export-events"])  # --format csv is required
    assert "--format" in capsys.readouterr().err


def test_export_events_for_gp_records(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # July: 8 handoffs (offered) and 6 referrals. j06 declined in August.
    assert (
        main(["export-events", "--from", "2026-07-01", "--to", "2026-08-01", "--format", "csv"])
        == 0
    )
    assert "Wrote 14 events (1 to 31 July 2026)" in capsys.readouterr().out
    written = tmp_path / "gp-events-2026-07-01-to-2026-07-31.csv"
    assert written.stat().st_mode & 0o077 == 0  # case references: its owner's only
    rows = list(csv.reader(io.StringIO(written.read_text("utf-8"))))
    assert rows[0] == ["date", "reference", "event", "snomed_code"]
    events = rows[1:]
    assert sorted({e[2] for e in events}) == ["offered", "referred"]
    assert [e for e in events if e[1] == hand.ref(1)] == [
        ["2026-07-06", hand.ref(1), "offered", "871691000000100"],
        ["2026-07-09", hand.ref(1), "referred", "871731000000106"],
    ]
    assert len([e for e in events if e[2] == "offered"]) == 8
    assert len([e for e in events if e[2] == "referred"]) == 6


def test_export_events_names_nobody(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    # July to September: j06's case closed as declined in August, and June's SP-PREV is out.
    assert (
        main(
            [
                "export-events",
                "--from",
                "2026-07-01",
                "--to",
                "2026-10-01",
                "--format",
                "csv",
                "--output",
                "-",
            ]
        )
        == 0
    )
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]
    codes = {
        "offered": "871691000000100",
        "referred": "871731000000106",
        "declined": "871711000000103",
    }
    assert [r for r in rows if r[2] == "declined"] == [
        ["2026-08-08", hand.ref(6), "declined", codes["declined"]]
    ]
    for date, reference, event, code in rows:
        # A date, a case reference, an event and its code: nothing else, nobody's name.
        assert re.fullmatch(r"2026-0[789]-\d\d", date)
        assert re.fullmatch(r"SP-H\d\dQ", reference)
        assert codes[event] == code
    assert "SP-PREV" not in {r[1] for r in rows}


def test_a_report_on_nobody(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new service, or a quiet quarter: zeros, said plainly, and no chart trouble."""
    import warnings

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}")
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["report", "--from", "2026-07-01", "--to", "2026-10-01"]) == 0
    out = capsys.readouterr().out
    assert "0 people started, 0 were handed to a link worker, 0 referred" in out
    html = (tmp_path / "outcomes-report-2026-07-01-to-2026-09-30.html").read_text("utf-8")
    assert "too few to show" in html
