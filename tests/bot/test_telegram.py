"""The Telegram adapter's one decision-free job: what did the person do?"""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.taps import StaffTap
from bot.telegram import translate
from flows.core import Button, Command, Edited, Text, Unsupported

PERSON = {"id": 5, "is_bot": False, "first_name": "Alex"}
CHAT = {"id": 5, "type": "private"}


def message(**fields: Any) -> Update:
    body = {"message_id": 1, "date": 0, "chat": CHAT, "from": PERSON, **fields}
    return Update.de_json({"update_id": 1, "message": body}, None)  # type: ignore[arg-type]


def tap(data: str) -> Update:
    query = {"id": "q1", "from": PERSON, "chat_instance": "c", "data": data,
             "message": {"message_id": 9, "date": 0, "chat": CHAT, "text": "?"}}  # fmt: skip
    return Update.de_json({"update_id": 2, "callback_query": query}, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("update", "event"),
    [
        (message(text="I'd like to meet people"), Text("I'd like to meet people")),
        (message(text="/start"), Command("start")),
        (message(text="/RESTART"), Command("restart")),
        (message(text="/start@SeftonHelpBot  hello "), Command("start", "hello")),
        (message(text="/reply SP-7K3Q See you at 10"), Command("reply", "SP-7K3Q See you at 10")),
        (
            message(
                sticker={
                    "file_id": "f",
                    "file_unique_id": "u",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                }
            ),
            Unsupported("sticker"),
        ),
        (message(location={"latitude": 53.4, "longitude": -3.0}), Unsupported("location")),
        (tap("3:agree"), Button(3, "agree")),
        (tap("12:pick_0"), Button(12, "pick_0")),
        (tap("s:claim:SP-7K3Q:"), StaffTap("claim", "SP-7K3Q", "")),
        (tap("s:queue::2"), StaffTap("queue", "", "2")),
        (tap("nonsense"), Button(-1, "")),
        (tap("²:x"), Button(-1, "x")),
    ],
    ids=lambda v: type(v).__name__,
)
def test_what_the_person_did(update: Update, event: object) -> None:
    assert translate(update) == event


def test_an_edited_message_is_an_edit_not_a_new_answer() -> None:
    body = {"message_id": 1, "date": 0, "edit_date": 1, "chat": CHAT, "from": PERSON,
            "text": "L20 3AB"}  # fmt: skip
    update = Update.de_json({"update_id": 3, "edited_message": body}, None)  # type: ignore[arg-type]
    assert translate(update) == Edited("L20 3AB")


def test_updates_that_are_not_a_person_writing_to_us_are_ignored() -> None:
    member = {"chat": CHAT, "from": PERSON, "date": 0,
              "old_chat_member": {"status": "member", "user": PERSON},
              "new_chat_member": {"status": "kicked", "user": PERSON, "until_date": 0}}  # fmt: skip
    update = Update.de_json({"update_id": 4, "my_chat_member": member}, None)  # type: ignore[arg-type]
    assert translate(update) is None


def test_the_watchdog_exits_for_a_restart_when_a_loop_stalls(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Something hung (a frozen connection, a stuck call): better to exit and be
    restarted by the supervisor than to sit silent."""
    import time
    from types import SimpleNamespace

    from bot import telegram

    exits: list[int] = []

    def exit_now(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(telegram.os, "_exit", exit_now)
    fresh = time.monotonic()
    stalled = SimpleNamespace(
        last_receive=fresh,
        inbox=SimpleNamespace(last_pass=fresh - 100),
        delivery=SimpleNamespace(last_pass=fresh),
    )
    watchdog = telegram.Watchdog(stalled, seconds=0.6)  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        watchdog.run()
    assert exits == [70]
    assert any("no progress" in r.getMessage() for r in caplog.records)
