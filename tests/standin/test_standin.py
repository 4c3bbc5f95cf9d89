"""The stand-in, proved with the real python-telegram-bot: if PTB can talk to it and
it refuses what Telegram refuses, end-to-end tests built on it mean something."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from tests.standin import BotApiStandIn
from tests.standin.spec import DEFAULT_SPEC_PATH, FALLBACK_SPEC_PATH

pytestmark = pytest.mark.e2e

CHAT = 4242
GROUP = -3131


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data)] for text, data in buttons]
    )


def seconds(retry_after: int | dtm.timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after


# -- PTB's Bot against the stand-in ------------------------------------------------------


async def test_bot_gets_me_and_sends_a_message(api: BotApiStandIn) -> None:
    async with Bot(api.token, base_url=api.base_url) as bot:  # what api.bot() does, by hand
        me = await bot.get_me()
        sent = await bot.send_message(
            CHAT,
            "<b>Welcome</b>, Sam &amp; friends",
            parse_mode="HTML",
            reply_markup=keyboard(("Start", "go")),
        )

    assert (me.id, me.is_bot, me.username) == (123456, True, "spbot_test_bot")
    assert sent.chat.id == CHAT and sent.from_user is not None and sent.from_user.id == me.id
    assert sent.text == "Welcome, Sam & friends"
    assert sent.text_html == "<b>Welcome</b>, Sam &amp; friends"
    assert sent.reply_markup == keyboard(("Start", "go"))
    [shown] = api.messages_to(CHAT)
    assert (shown.message_id, shown.plain_text, shown.parse_mode) == (
        sent.message_id,
        sent.text,
        "HTML",
    )
    assert shown.callback_data("Start") == "go"
    assert api.rejected == []


async def test_message_ids_increase_per_chat(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        first = await bot.send_message(CHAT, "one")
        other = await bot.send_message(CHAT + 1, "elsewhere")
        second = await bot.send_message(CHAT, "two")
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)


async def test_a_message_can_be_deleted_only_within_48_hours_of_being_sent(
    api: BotApiStandIn,
) -> None:
    """The Bot API's deleteMessage: "A message can only be deleted if it was sent
    less than 48 hours ago"; an edit has no such limit."""
    async with api.bot() as bot:
        old = await bot.send_message(CHAT, "two days ago")
        api.move_clock(48 * 3600)
        recent = await bot.send_message(CHAT, "just now")
        with pytest.raises(BadRequest, match="can't be deleted"):
            await bot.delete_message(CHAT, old.message_id)
        await bot.edit_message_text("taken back", CHAT, old.message_id)
        assert await bot.delete_message(CHAT, recent.message_id)
    assert [m.plain_text for m in api.messages_to(CHAT)] == ["taken back"]
    assert recent.date - old.date >= dtm.timedelta(hours=48)
    assert [c.method for c in api.rejected] == ["deleteMessage"]


async def test_wrong_token_is_unauthorized(api: BotApiStandIn) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{api.base_url}654321:WRONG/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


# -- Application with long polling receives what a person does ----------------------------


async def test_application_routes_updates_to_the_right_handlers(api: BotApiStandIn) -> None:
    seen: list[tuple[str, str]] = []

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen.append(("command", " ".join(context.args or [])))
        await update.effective_message.reply_text(
            "Hello!", reply_markup=keyboard(("Yes", "yes"), ("No", "no"))
        )

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        seen.append(("text", update.effective_message.text))
        await update.effective_message.reply_text(f"You said: {update.effective_message.text}")

    async def on_tap(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data and query.message is not None
        seen.append(("tap", query.data))
        await query.answer()
        await query.edit_message_text(f"Thanks, you chose {query.data}")

    async def on_sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.sticker
        seen.append(("sticker", update.effective_message.sticker.emoji or ""))
        await update.effective_message.reply_text("Nice sticker. Shall we carry on?")

    app = api.application_builder().build()
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_tap))
    app.add_handler(MessageHandler(filters.Sticker.ALL, on_sticker))

    async with api.polling(app):
        api.send_text(CHAT, "/start from-leaflet")
        [hello] = await api.wait_for_messages(CHAT, 1)
        assert hello.button_labels == ["Yes", "No"]

        api.tap(CHAT, hello.message_id, hello.callback_data("Yes"))
        await api.wait_for(lambda: api.message(CHAT, hello.message_id).edits == 1)

        replies = await api.say(CHAT, "I feel lonely")
        assert [m.plain_text for m in replies] == ["You said: I feel lonely"]

        api.send_sticker(CHAT, emoji="🙂")
        await api.wait_for_messages(CHAT, 3)

    assert seen == [
        ("command", "from-leaflet"),
        ("tap", "yes"),
        ("text", "I feel lonely"),
        ("sticker", "🙂"),
    ]
    edited = api.message(CHAT, hello.message_id)
    assert edited.plain_text == "Thanks, you chose yes"
    assert edited.reply_markup is None  # editing text without reply_markup drops the keyboard
    assert api.unanswered_callback_queries() == []
    api.assert_clean()


async def test_generated_updates_match_ptb_filters(api: BotApiStandIn) -> None:
    checks: dict[str, filters.BaseFilter] = {
        "TEXT": filters.TEXT,
        "COMMAND": filters.COMMAND,
        "STICKER": filters.Sticker.ALL,
        "PHOTO": filters.PHOTO,
        "VOICE": filters.VOICE,
        "LOCATION": filters.LOCATION,
        "CONTACT": filters.CONTACT,
        "DOCUMENT": filters.Document.ALL,
        "EDITED": filters.UpdateType.EDITED_MESSAGE,
        "PRIVATE": filters.ChatType.PRIVATE,
        "GROUPS": filters.ChatType.GROUPS,
    }
    matched: dict[int, set[str]] = {}
    app = api.application_builder().build()

    def recorder(name: str) -> Callable[[Update, Any], Any]:
        async def record(update: Update, context: Any) -> None:
            matched.setdefault(update.update_id, set()).add(name)

        return record

    for group, (name, check) in enumerate(checks.items()):
        app.add_handler(MessageHandler(check, recorder(name)), group=group)
    app.add_handler(TypeHandler(Update, recorder("ANY")), group=len(checks))

    async with api.polling(app):
        expected = {
            api.send_text(CHAT, "hello"): {"TEXT", "PRIVATE"},
            api.send_text(CHAT, "/help me"): {"TEXT", "COMMAND", "PRIVATE"},
            api.send_text(CHAT, "see /help"): {"TEXT", "PRIVATE"},  # only a leading /command is one
            api.send_sticker(CHAT): {"STICKER", "PRIVATE"},
            api.send_photo(CHAT, caption="my leaflet"): {"PHOTO", "PRIVATE"},
            api.send_voice(CHAT): {"VOICE", "PRIVATE"},
            api.send_location(CHAT, 51.5072, -0.1276): {"LOCATION", "PRIVATE"},
            api.send_contact(CHAT, "+447700900123"): {"CONTACT", "PRIVATE"},
            api.send_document(CHAT): {"DOCUMENT", "PRIVATE"},
            api.send_text(GROUP, "/claim 12", first_name="Priya"): {"TEXT", "COMMAND", "GROUPS"},
        }
        first_text = min(expected)
        expected[api.edit_text(CHAT, 1, "hello again")] = {"TEXT", "EDITED", "PRIVATE"}
        last = max(expected)
        await api.wait_for(lambda: last in matched and "ANY" in matched[last])

    assert {uid: names - {"ANY"} for uid, names in matched.items()} == expected
    assert first_text in matched


async def test_generated_updates_carry_what_telegram_sends(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        api.send_text(CHAT, "/start", first_name="Sam")
        api.send_contact(CHAT, "447700900123")
        api.send_text(GROUP, "hi all", user_id=77, first_name="Priya")
        updates = await bot.get_updates(timeout=0)
        photo_update_id = api.send_photo(CHAT)
        [photo] = await bot.get_updates(offset=updates[-1].update_id + 1)
        assert photo.update_id == photo_update_id and photo.message is not None
        file = await bot.get_file(photo.message.photo[-1].file_id)
        content = await file.download_as_bytearray()

    start, contact, group = (u.message for u in updates)
    assert start is not None and contact is not None and group is not None
    assert (
        start.from_user is not None
        and start.from_user.first_name == "Sam"
        and not start.from_user.is_bot
    )
    assert start.chat.type == "private" and start.chat.id == CHAT
    assert [(e.type, e.offset, e.length) for e in start.entities] == [("bot_command", 0, 6)]
    assert (
        contact.contact is not None and contact.contact.user_id == CHAT
    )  # shared their own number
    assert group.chat.type == "group" and group.chat.id == GROUP
    assert group.from_user is not None and group.from_user.id == 77
    assert [p.width for p in photo.message.photo] == [90, 320, 800, 1280]
    assert bytes(content).startswith(b"\xff\xd8")


# -- requests Telegram would refuse are refused, in Telegram's words ----------------------


@pytest.mark.filterwarnings("ignore:Please use 'Bot.sendMessage'")
async def test_refuses_what_telegram_refuses(api: BotApiStandIn) -> None:
    refusals: list[tuple[str, type[Exception]]] = []
    async with api.bot() as bot:
        attempts: list[Any] = [
            bot.send_message(CHAT, "x" * 4097),
            bot.send_message(CHAT, "pick", reply_markup=keyboard(("Too long", "d" * 65))),
            bot.send_message(
                CHAT,
                "many",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton(str(i), callback_data=str(i))] for i in range(101)]
                ),
            ),
            bot.send_message(
                CHAT,
                "label",
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("No action")]]),
            ),
            bot.do_api_request("sendMessage", api_kwargs={"text": "where to?"}),
            bot.send_message(CHAT, ""),
            bot.send_message(CHAT, "<b></b>", parse_mode="HTML"),
            bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": CHAT}),
            bot.send_message(CHAT, "<b>unclosed", parse_mode="HTML"),
            bot.send_message(CHAT, "You wrote: I'm <3 today", parse_mode="HTML"),
            bot.send_message(CHAT, "<script>alert(1)</script>", parse_mode="HTML"),
            bot.send_message(CHAT, "Fish & chips", parse_mode="HTML"),
            bot.send_message(CHAT, "hi", parse_mode="BBCode"),
            bot.send_chat_action(CHAT, "dancing"),
        ]
        for attempt in attempts:
            with pytest.raises((BadRequest, EndPointNotFound)) as refused:
                await attempt
            refusals.append((str(refused.value), refused.type))

    assert [c.description for c in api.rejected] == [
        "Bad Request: message is too long",
        "Bad Request: BUTTON_DATA_INVALID",
        "Bad Request: reply markup is too long",
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        "Bad Request: chat_id is empty",
        "Bad Request: message text is empty",
        "Bad Request: text must be non-empty",
        "Not Found",
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        'Bad Request: can\'t parse entities: Unsupported start tag "3" at byte offset 15',
        'Bad Request: can\'t parse entities: Unsupported start tag "script" at byte offset 0',
        'Bad Request: can\'t parse entities: Unescaped "&" at byte offset 5 '
        "(stand-in strict mode: write &amp;, and end entities with ;)",
        "Bad Request: unsupported parse_mode",
        "Bad Request: wrong parameter action in request",
    ]
    assert [c.status for c in api.rejected] == [400] * 7 + [404] + [400] * 6
    assert refusals[7][1] is EndPointNotFound
    assert api.rejected[4].params == {"text": "where to?"}  # what was sent is kept for the report
    assert api.messages_to(CHAT) == []


async def test_accepts_good_html_and_escaped_patient_text(api: BotApiStandIn) -> None:
    patient_text = 'I\'m <3 & "fine" > ok'
    good = [
        "Tom &amp; Jerry &lt;3 &gt; &quot;quoted&quot; &#39;single&#39; &#x1F600;",
        '<b>Bold</b>, <i>it</i>, <a href="https://example.org/a?x=1&amp;y=2">a link</a>',
        "<u>u</u> <s>s</s> <tg-spoiler>secret</tg-spoiler> <code>c</code> <pre>p</pre>",
        "<blockquote>quote</blockquote> <strong>strong</strong> <em>em</em> <ins>ins</ins>",
        f"You said: <i>{html.escape(patient_text)}</i>",
        "x" * 4096,
        "<b>" + "x" * 4096 + "</b>",  # the limit counts the text after the tags are gone
    ]
    async with api.bot() as bot:
        for text in good:
            await bot.send_message(CHAT, text, parse_mode="HTML")
        link_message = await bot.send_message(CHAT, good[1], parse_mode="HTML")
    assert api.rejected == []
    assert api.messages_to(CHAT)[4].plain_text == f"You said: {patient_text}"
    [link] = [e for e in link_message.entities if e.type == "text_link"]
    assert link.url == "https://example.org/a?x=1&y=2"


async def test_edits_change_what_the_person_sees(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        sent = await bot.send_message(
            CHAT, "Question 1 of 3", reply_markup=keyboard(("Yes", "q1:y"))
        )
        await bot.edit_message_text(
            "Question 1 of 3 — <b>answered</b>",
            CHAT,
            sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard(("Change", "q1:change")),
        )
        first_edit = api.message(CHAT, sent.message_id)
        await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text(
                "Question 1 of 3 — <b>answered</b>", CHAT, sent.message_id, parse_mode="HTML"
            )
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("nope", CHAT, 999)
        api.send_text(CHAT, "a person's message")
        with pytest.raises(BadRequest, match="can't be edited"):
            await bot.edit_message_text("mine now", CHAT, sent.message_id + 1)

    assert (first_edit.plain_text, first_edit.callback_data("Change"), first_edit.edits) == (
        "Question 1 of 3 — answered",
        "q1:change",
        1,
    )
    now = api.message(CHAT, sent.message_id)
    assert (now.text, now.parse_mode, now.reply_markup, now.edits) == (
        "Question 1 of 3 — <b>answered</b>",
        "HTML",
        None,
        2,
    )
    assert now.edit_date is not None
    assert [c.description for c in api.rejected] == [
        "Bad Request: message is not modified: specified new message content and reply markup are "
        "exactly the same as a current content and reply markup of the message",
    ] * 2 + ["Bad Request: message to edit not found", "Bad Request: message can't be edited"]


async def test_reply_keyboards_are_kept_but_not_echoed(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        sent = await bot.send_message(
            CHAT,
            "Share your number?",
            reply_markup=ReplyKeyboardMarkup([["Share"], ["Skip"]], one_time_keyboard=True),
        )
    assert sent.reply_markup is None  # Message.reply_markup is only ever an inline keyboard
    [shown] = api.messages_to(CHAT)
    assert shown.reply_markup == {
        "keyboard": [[{"text": "Share"}], [{"text": "Skip"}]],
        "one_time_keyboard": True,
    }


async def test_callback_queries_must_be_answered_once(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        sent = await bot.send_message(CHAT, "Ready?", reply_markup=keyboard(("Yes", "yes")))
        api.tap(CHAT, sent.message_id, "yes")
        api.press(CHAT, "Yes")
        first, second = await bot.get_updates()
        assert first.callback_query is not None and second.callback_query is not None
        tapped = first.callback_query.message
        assert isinstance(tapped, Message)  # the message as it is now, keyboard included
        assert tapped.reply_markup == keyboard(("Yes", "yes"))
        assert api.unanswered_callback_queries() == [
            first.callback_query.id,
            second.callback_query.id,
        ]

        await first.callback_query.answer("Noted")
        with pytest.raises(BadRequest, match="Query is too old"):
            await first.callback_query.answer()
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query("123")

    assert api.unanswered_callback_queries() == [second.callback_query.id]
    assert api.callback_answer(first.callback_query.id) == {
        "callback_query_id": first.callback_query.id,
        "text": "Noted",
    }
    with pytest.raises(ValueError, match="no button"):
        api.tap(CHAT, sent.message_id, "not-on-the-message")
    with pytest.raises(AssertionError, match="unanswered callback query"):
        api.assert_clean()


# -- getUpdates: long polling, offsets, redelivery -----------------------------------------


async def test_long_poll_returns_as_soon_as_an_update_arrives(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        loop = asyncio.get_running_loop()
        started = loop.time()
        loop.call_later(0.2, api.send_text, CHAT, "hello")
        [update] = await bot.get_updates(timeout=5)
        assert 0.15 < loop.time() - started < 2
        empty_started, cpu_started = loop.time(), time.process_time()
        assert await bot.get_updates(offset=update.update_id + 1, timeout=1) == ()
        assert loop.time() - empty_started >= 0.9
        assert time.process_time() - cpu_started < 0.5  # a held poll sleeps, it does not spin
    assert api.is_confirmed(update.update_id)


async def test_offset_confirms_and_redeliver_repeats(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        ids = [api.send_text(CHAT, f"m{i}") for i in range(3)]
        assert [u.update_id for u in await bot.get_updates(limit=2)] == ids[:2]
        assert [u.update_id for u in await bot.get_updates()] == ids  # nothing confirmed yet
        assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
        assert not api.is_confirmed(ids[1]) and api.is_confirmed(ids[0])
        assert await bot.get_updates(offset=ids[2] + 1) == ()

        api.redeliver(ids[1])
        again = await bot.get_updates(offset=ids[2] + 1)
        assert [(u.update_id, u.message.text if u.message else None) for u in again] == [
            (ids[1], "m1")
        ]
        assert await bot.get_updates(offset=ids[2] + 1) == ()


async def test_a_second_poller_terminates_the_first(api: BotApiStandIn) -> None:
    async with (
        api.bot() as first,
        api.bot() as second,
    ):
        held = asyncio.create_task(first.get_updates(timeout=5))
        await api.wait_for(lambda: api.held_polls == 1)
        await second.get_updates(timeout=0)
        with pytest.raises(Conflict, match="terminated by other getUpdates"):
            await held
    assert api.rejected == []  # a conflict is about bot instances, not a malformed request


# -- fault injection -----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_faults_raise_what_ptb_raises_for_telegram(api: BotApiStandIn) -> None:
    api.fail_next("sendMessage", error_code=429, retry_after=1)
    api.fail_next(
        "sendMessage", error_code=403, description="Forbidden: bot was blocked by the user"
    )
    api.fail_next("sendMessage", error_code=502, times=2)
    async with api.bot() as bot:
        with pytest.raises(RetryAfter) as limited:
            await bot.send_message(CHAT, "one")
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "two")
        for _ in range(2):
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.send_message(CHAT, "three")
        await bot.send_message(CHAT, "four")

        api.block(CHAT)
        with pytest.raises(Forbidden):
            await bot.send_message(CHAT, "five")
        await bot.send_message(CHAT + 1, "someone else is fine")

    assert seconds(limited.value.retry_after) == 1
    limited_call = api.calls_to("sendMessage")[0]
    assert limited_call.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert limited_call.status == 429 and limited_call.injected
    assert [m.plain_text for m in api.messages_to(CHAT)] == ["four"]
    assert api.rejected == []  # injected faults are not the bot's mistakes


async def test_faults_can_target_one_chat(api: BotApiStandIn) -> None:
    api.fail_next("sendMessage", error_code=500, chat_id=CHAT + 1)
    async with api.bot() as bot:
        await bot.send_message(CHAT, "unaffected")
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(CHAT + 1, "affected")
        await bot.send_message(CHAT + 1, "fine again")
    assert len(api.messages_to(CHAT)) == len(api.messages_to(CHAT + 1)) == 1


async def test_telegram_can_go_away_and_come_back(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        await bot.send_message(CHAT, "before")
        await api.stop()
        with pytest.raises(NetworkError):
            await bot.send_message(CHAT, "during")
        await api.start()
        await bot.send_message(CHAT, "after")
    assert [m.plain_text for m in api.messages_to(CHAT)] == ["before", "after"]


async def test_a_failing_custom_handler_is_a_recorded_500(api: BotApiStandIn) -> None:
    def broken(params: dict[str, Any]) -> Any:
        raise KeyError("oops")

    api.handle("sendPhoto", broken)
    async with api.bot() as bot:
        with pytest.raises(NetworkError, match="stand-in failed"):
            await bot.send_photo(CHAT, "AgADfileid")
    [call] = api.rejected
    assert (call.method, call.status) == ("sendPhoto", 500)


# -- groups: getChat, getChatMember, and posting where the bot may not -----------------


async def test_get_chat_and_get_chat_member_parse_in_ptb(api: BotApiStandIn) -> None:
    """Any group is one the bot is in, until a test says otherwise (so a bot started
    with any team chat id finds it), and PTB reads the answers as Telegram's."""
    api.send_text(GROUP, "/start", user_id=77, first_name="Sam")  # Sam speaks in the group
    async with api.bot() as bot:
        group = await bot.get_chat(GROUP)
        supergroup = await bot.get_chat(-1001234567)
        private = await bot.get_chat(CHAT)
        me = await bot.get_chat_member(GROUP, bot.id)
        sam = await bot.get_chat_member(GROUP, 77)
        api.set_member(GROUP, 77, "restricted", can_send_messages=False)
        muted = await bot.get_chat_member(GROUP, 77)
        api.set_member(GROUP, status="administrator")
        promoted = await bot.get_chat_member(GROUP, bot.id)
        with pytest.raises(BadRequest, match=r"(?i)user not found"):
            await bot.get_chat_member(GROUP, 999_999)
    assert (group.type, group.title, supergroup.type, private.type) == (
        "group",
        "Link workers",
        "supergroup",
        "private",
    )
    assert group.permissions is not None and group.permissions.can_send_messages
    assert (me.status, me.user.id, me.user.is_bot) == ("member", 123456, True)
    assert (sam.status, sam.user.first_name) == ("member", "Sam")
    assert muted.status == "restricted" and muted.can_send_messages is False  # type: ignore[attr-defined]
    assert promoted.status == "administrator" and promoted.can_delete_messages  # type: ignore[attr-defined]
    assert [c.description for c in api.rejected] == ["Bad Request: user not found"]


async def test_a_group_the_bot_is_not_in_is_closed_to_it(api: BotApiStandIn) -> None:
    kicked, left, muted, quiet, gone, old, new = -301, -1002002, -303, -304, -305, -306, -1003006
    api.set_member(kicked, status="kicked")
    api.set_member(left, status="left")
    api.set_member(muted, status="restricted", can_send_messages=False)
    api.set_permissions(quiet, can_send_messages=False)  # only admins post there
    api.no_such_chat(gone)
    api.upgrade_to_supergroup(old, new)
    async with api.bot() as bot:
        with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
            await bot.get_chat(kicked)
        with pytest.raises(Forbidden, match="bot is not a member of the supergroup chat"):
            await bot.get_chat_member(left, bot.id)
        with pytest.raises(Forbidden, match="bot was kicked"):
            await bot.send_message(kicked, "hello?")
        for chat in (muted, quiet):
            assert (await bot.get_chat(chat)).type == "group"  # it can see, not post
            with pytest.raises(BadRequest, match=r"(?i)not enough rights to send text messages"):
                await bot.send_message(chat, "hello?")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.get_chat(gone)
        with pytest.raises(ChatMigrated) as moved:
            await bot.get_chat(old)
        api.set_member(quiet, status="administrator")
        await bot.send_message(quiet, "admins may")
    assert moved.value.new_chat_id == new
    assert [m.plain_text for m in api.messages_to(quiet)] == ["admins may"]


# -- the wire formats and the spec -----------------------------------------------------------


async def test_reads_json_form_multipart_and_query_string_requests(api: BotApiStandIn) -> None:
    url = f"{api.base_url}{api.token}"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    async with httpx.AsyncClient() as client:
        as_json = await client.post(
            f"{url}/sendMessage", json={"chat_id": CHAT, "text": "json", "reply_markup": markup}
        )
        as_form = await client.post(
            f"{url}/sendmessage",
            data={"chat_id": str(CHAT), "text": "42", "reply_markup": json.dumps(markup)},
        )
        as_multipart = await client.post(
            f"{url}/SENDMESSAGE",
            data={"chat_id": str(CHAT), "text": "multipart"},
            files={"f": ("a.txt", b"hi")},
        )
        as_query = await client.get(f"{url}/sendMessage", params={"chat_id": CHAT, "text": "query"})
    assert [r.status_code for r in (as_json, as_form, as_multipart, as_query)] == [200] * 4
    assert [m.plain_text for m in api.messages_to(CHAT)] == ["json", "42", "multipart", "query"]
    assert api.messages_to(CHAT)[1].reply_markup == markup  # JSON inside a form field is decoded
    assert api.calls[1].params["text"] == "42"  # ...but a String field stays a string
    assert api.calls[2].files["f"].data == b"hi"
    assert {c.method for c in api.calls} == {"sendMessage"}


async def test_commands_are_checked_and_kept(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        await bot.set_my_commands([("start", "Begin a self-referral"), ("help", "What I can do")])
        assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
            ("start", "Begin a self-referral"),
            ("help", "What I can do"),
        ]
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([("Start-Now", "Begin")])
        await bot.delete_my_commands()
        assert await bot.get_my_commands() == ()


@pytest.mark.skipif(
    not DEFAULT_SPEC_PATH.exists(),
    reason=f"api.json-driven checks need the shared Bot API spec at {DEFAULT_SPEC_PATH}",
)
async def test_api_json_drives_required_fields_and_types(api: BotApiStandIn) -> None:
    assert api.spec.complete
    async with httpx.AsyncClient() as client:
        url = f"{api.base_url}{api.token}"
        no_photo = await client.post(f"{url}/sendPhoto", data={"chat_id": CHAT})
        not_served = await client.post(f"{url}/sendPhoto", data={"chat_id": CHAT, "photo": "AgAD"})
        bad_type = await client.post(f"{url}/getUpdates", data={"limit": "lots"})
        no_user = await client.post(f"{url}/banChatMember", data={"chat_id": GROUP})
    assert (no_photo.status_code, no_photo.json()["description"]) == (
        400,
        'Bad Request: parameter "photo" is required',
    )
    assert not_served.status_code == 501
    assert (
        bad_type.json()["description"]
        == "Bad Request: parameter \"limit\" must be Integer, got 'lots'"
    )
    assert no_user.json()["description"] == 'Bad Request: parameter "user_id" is required'
    assert [c.method for c in api.rejected] == [
        "sendPhoto",
        "sendPhoto",
        "getUpdates",
        "banChatMember",
    ]


async def test_built_in_spec_checks_implemented_methods_without_api_json() -> None:
    async with BotApiStandIn(spec_path=None) as api, httpx.AsyncClient() as client:
        assert not api.spec.complete
        url = f"{api.base_url}{api.token}"
        missing = await client.post(f"{url}/answerCallbackQuery", data={"text": "hi"})
        unknown = await client.post(f"{url}/sendPhoto", data={"chat_id": CHAT, "photo": "AgAD"})
    assert missing.json()["description"] == 'Bad Request: parameter "callback_query_id" is required'
    assert unknown.status_code == 404


async def test_wait_for_explains_a_timeout(api: BotApiStandIn) -> None:
    async with api.bot() as bot:
        await bot.send_message(CHAT, "only one")
    with pytest.raises(TimeoutError, match=r"(?s)2 bot message\(s\) in chat 4242.*sendMessage"):
        await api.wait_for_messages(CHAT, 2, timeout=0.2)


async def test_a_bot_hanging_up_mid_request_is_not_a_refusal(api: BotApiStandIn) -> None:
    """A bot stopping can close a poll it has only half sent. Telegram never got a request
    to refuse, so nothing is recorded against the bot (this once failed a whole CI run)."""
    url = urllib.parse.urlsplit(api.base_url)
    host, port = url.hostname or "", url.port
    body = b"timeout=10&offset=0"
    _, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"POST /bot{api.token}/getUpdates HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body) * 2}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the stand-in is waiting for the rest of the body
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)

    async with api.bot() as bot:  # the stand-in still serves the next request
        await bot.get_me()
    api.assert_clean()


@pytest.mark.skipif(
    not DEFAULT_SPEC_PATH.exists(),
    reason=f"comparing with api.json needs the shared Bot API spec at {DEFAULT_SPEC_PATH}",
)
def test_the_fallback_spec_has_every_method_served_as_api_json_has_it() -> None:
    """Without api.json (a fresh clone) the stand-in reads requests by the fallback:
    a method served but missing there had its ids read as text (sendDocument's
    chat_id was "5001", a chat not found)."""
    served = {name for name, _ in BotApiStandIn()._handlers.values()}
    fallback = json.loads(FALLBACK_SPEC_PATH.read_text("utf-8"))["methods"]
    published = json.loads(DEFAULT_SPEC_PATH.read_text("utf-8"))["methods"]
    assert served <= set(fallback)
    for name, method in fallback.items():
        assert method["fields"] == [
            {k: field[k] for k in ("name", "types", "required")}
            for field in published[name].get("fields", [])
        ], name
