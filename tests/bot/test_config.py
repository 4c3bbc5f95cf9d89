"""A wrong or missing setting stops start-up with one sentence that names it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings, SettingsError, load_settings


def test_defaults_run_with_no_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.telegram_api_url == "https://api.telegram.org/bot"
    assert settings.timezone == "Europe/London"


def test_the_env_example_copied_as_it_is_starts(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    example = Path(__file__).resolve().parents[2] / ".env.example"
    (tmp_path / ".env").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()  # STAFF_CHAT_ID= and TELEGRAM_BOT_TOKEN= mean "not set"
    assert settings.staff_chat_id is None and settings.telegram_bot_token is None
    assert settings.claim_reminder_hours == 4 and settings.response_working_days == 2


@pytest.mark.parametrize(("name", "value", "words"), [
    ("TIMEZONE", "Mars/Olympus", "TIMEZONE"),
    ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
    ("DATABASE_URL", "not a url", "DATABASE_URL"),
    ("TELEGRAM_API_URL", "api.telegram.org", "TELEGRAM_API_URL"),
    ("STAFF_CHAT_ID", "the team", "STAFF_CHAT_ID"),
    ("CLAIM_REMINDER_HOURS", "-1", "CLAIM_REMINDER_HOURS"),
    ("RESPONSE_WORKING_DAYS", "two", "RESPONSE_WORKING_DAYS"),
])  # fmt: skip
def test_a_wrong_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_run_without_a_token_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN" in err and "@BotFather" in err and "spbot chat" in err


def test_a_malformed_token_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "abc")
    assert main(["run"]) == 2
    assert "does not look like a bot token" in capsys.readouterr().err


def test_run_without_a_team_chat_says_why_it_is_needed(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    monkeypatch.delenv("STAFF_CHAT_ID", raising=False)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "STAFF_CHAT_ID" in err and "crisis alerts" in err


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("checkin_schedule", "weekly", "CHECKIN_SCHEDULE='weekly' should be a number and a unit"),
    ("quiet_hours", "9pm-9am", "QUIET_HOURS='9pm-9am' should look like 21:00-09:00"),
    ("checkin_hold_off", "2 hours", "CHECKIN_HOLD_OFF='2 hours' should be a number and a unit"),
    ("nudge_after", "", "NUDGE_AFTER"),
])  # fmt: skip
def test_a_wrong_check_in_setting_is_named_with_how_to_write_it(
    setting: str, value: str, says: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(says)):
        load_settings(**{setting: value})


def test_the_check_in_settings_are_read_as_durations() -> None:
    from datetime import timedelta

    settings = load_settings(checkin_schedule="2w, 1d", checkin_hold_off="90m")
    assert settings.checkin_offsets == [timedelta(days=1), timedelta(weeks=2)]
    assert settings.hold_off == timedelta(minutes=90)


def test_webhook_settings_say_what_is_missing_and_how_to_fix_it() -> None:
    with pytest.raises(SettingsError, match="WEBHOOK_URL"):
        Settings(webhook_secret="x" * 32).require_webhook()
    with pytest.raises(SettingsError, match=r"WEBHOOK_SECRET.*secrets\.token_urlsafe"):
        Settings(
            webhook_url="https://bot.example.org/telegram", webhook_secret="short"
        ).require_webhook()
    with pytest.raises(SettingsError, match="WEBHOOK_LISTEN"):
        Settings(webhook_url="https://bot.example.org/telegram", webhook_secret="x" * 32,
                 webhook_listen="8080").require_webhook()  # fmt: skip
    assert Settings(
        webhook_url="https://bot.example.org/telegram", webhook_secret="x" * 32
    ).require_webhook() == ("0.0.0.0", 8080, "https://bot.example.org/telegram", "x" * 32)
