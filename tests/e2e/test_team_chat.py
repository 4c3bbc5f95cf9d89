"""The team chat is checked at start-up (issue 12): STAFF_CHAT_ID must be a group
the bot is in and may post in, because crisis alerts and new cases go there. If it
is not, the bot does not start, and says in one sentence what is wrong and how to
put it right; it never starts half-working, with alerts going nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import build_app
from bot.config import SettingsError
from bot.store.instances import BotInstance
from bot.telegram import TelegramBot
from tests.e2e.conftest import FAST, Running
from tests.e2e.process import STAFF_CHAT, BotProcess, PollWatchingStandIn
from tests.fakes import FakeDirectory
from tests.standin.server import BotApiStandIn

#: Start-up's checks of the team chat ask Telegram, not the database: SQLite alone.
pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

GROUP, SUPERGROUP, UPGRADED = -4001, -1004002, -1004003


def nothing(api: BotApiStandIn, chat: int) -> None:
    """As things are when the bot has been added to the group (the stand-in's default)."""


def kicked(api: BotApiStandIn, chat: int) -> None:
    api.set_member(chat, status="kicked")


def left(api: BotApiStandIn, chat: int) -> None:
    api.set_member(chat, status="left")


def muted(api: BotApiStandIn, chat: int) -> None:
    api.set_member(chat, status="restricted", can_send_messages=False)


def only_admins_post(api: BotApiStandIn, chat: int) -> None:
    api.set_permissions(chat, can_send_messages=False)


def only_admins_post_and_the_bot_is_one(api: BotApiStandIn, chat: int) -> None:
    api.set_permissions(chat, can_send_messages=False)
    api.set_member(chat, status="administrator")


def mistyped(api: BotApiStandIn, chat: int) -> None:
    api.no_such_chat(chat)


def upgraded(api: BotApiStandIn, chat: int) -> None:
    api.upgrade_to_supergroup(chat, UPGRADED)


def a_channel(api: BotApiStandIn, chat: int) -> None:
    api.add_chat(chat, "channel", title="Announcements")


async def start(running: Running, chat: int) -> None:
    running.settings = running.settings.model_copy(update={"staff_chat_id": chat})
    running.app = await build_app(running.settings, directory=FakeDirectory())
    running.bot = TelegramBot(running.app, limits=FAST)
    try:
        await running.bot.start()
    except BaseException:
        await running.app.close()
        running.bot = running.app = None
        raise


@pytest.mark.parametrize(
    ("chat", "arrange"),
    [(SUPERGROUP, nothing), (GROUP, nothing), (GROUP, only_admins_post_and_the_bot_is_one)],
)
async def test_a_group_the_bot_is_in_and_may_post_in_is_fine(
    running: Running, api: BotApiStandIn, chat: int, arrange: object
) -> None:
    await running.stop()
    assert callable(arrange)
    arrange(api, chat)
    await start(running, chat)
    assert [c.ok for c in api.calls_to("getChat")] == [True]
    assert [c.ok for c in api.calls_to("getChatMember")] == [True]
    assert api.calls_to("getChatMember")[0].params["user_id"] == api.bot_user["id"]


@pytest.mark.parametrize(
    ("chat", "arrange", "said"),
    [
        (4242, nothing, "STAFF_CHAT_ID=4242 is a private chat, not your link worker team's group"),
        (-1004044, a_channel, 'STAFF_CHAT_ID=-1004044 is a channel ("Announcements")'),
        (GROUP, mistyped, f"Telegram has no chat STAFF_CHAT_ID={GROUP} that the bot can see"),
        (GROUP, kicked, f"The bot is not in the team chat STAFF_CHAT_ID={GROUP}: add it"),
        (SUPERGROUP, left, f"The bot is not in the team chat STAFF_CHAT_ID={SUPERGROUP}: add"),
        (GROUP, muted, f'The bot may not post in the team chat STAFF_CHAT_ID={GROUP} ("Link'),
        (GROUP, only_admins_post, "let members send messages, or make the bot an admin"),
        (GROUP, upgraded, f"put STAFF_CHAT_ID={UPGRADED} in .env"),
    ],
    ids=["private", "channel", "mistyped", "kicked", "left", "muted", "admins_only", "upgraded"],
)
async def test_a_wrong_team_chat_stops_start_up_with_one_sentence(
    running: Running, api: BotApiStandIn, chat: int, arrange: object, said: str
) -> None:
    await running.stop()
    assert callable(arrange)
    arrange(api, chat)
    polls_before = len(api.calls_to("getUpdates"))
    with pytest.raises(SettingsError) as stopped:
        await start(running, chat)
    sentence = str(stopped.value)
    print(f"\n{sentence}")
    assert said in sentence
    assert "\n" not in sentence and ". " not in sentence  # one sentence
    # No Telegram error trails after it (its traceback would be all anyone read).
    error = stopped.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    # Nothing started: no polling, and no running instance left in the database.
    assert len(api.calls_to("getUpdates")) == polls_before
    app = await build_app(running.settings, directory=FakeDirectory())
    async with app.db.sessions() as s:
        registered = await s.scalar(select(func.count()).select_from(BotInstance))
    await app.close()
    assert registered == 0


async def test_telegram_not_answering_the_check_does_not_stop_the_bot(
    running: Running, api: BotApiStandIn
) -> None:
    """The check is for a wrong setting; a Telegram that is down for a moment is
    something the bot rides out, as it does later."""
    await running.stop()
    api.fail_next("getChat", error_code=502)
    await start(running, GROUP)
    update = api.send_text(4242, "/start", first_name="Alex")
    await running.handled(update)
    assert api.messages_to(4242)


async def test_spbot_run_says_what_is_wrong_and_exits(tmp_path: Path) -> None:
    async with PollWatchingStandIn() as api:
        api.set_member(STAFF_CHAT, status="kicked")
        bot = BotProcess(api, tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
        try:
            with pytest.raises(AssertionError, match="exited with 2 while starting"):
                await bot.start()
        finally:
            await bot.close()
    printed = bot.log_path.read_text("utf-8")
    said = [line for line in printed.splitlines() if line.startswith("spbot: ")]
    assert said == [
        f"spbot: The bot is not in the team chat STAFF_CHAT_ID={STAFF_CHAT}: add it to your "
        "team's group again (the group's name, Add members, @spbot_test_bot), then start the "
        "bot again."
    ]
    assert "Traceback" not in printed and api.calls_to("getUpdates") == []
