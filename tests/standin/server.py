"""A local Telegram Bot API for end-to-end tests.

End-to-end tests run the real python-telegram-bot `Application` against this server
over 127.0.0.1 (through `base_url`), so the bot's own code, PTB's request encoding
and PTB's update parsing are all exercised, and nothing ever reaches Telegram.

It behaves like api.telegram.org where our bot can tell the difference:
- requests are read the way the Bot API reads them (form-encoded, multipart or JSON
  bodies, query strings; JSON-encoded nested values; case-insensitive method names);
- requests the Bot API would refuse are refused with its status code and wording
  (`{"ok": false, "error_code": 400, "description": "Bad Request: ..."}`) and kept in
  `rejected`, so a test can assert that the bot never sent one;
- `parse_mode=HTML` is parsed as tdlib parses it, and strictly (see `entities.py`),
  because an unescaped `<` from a patient is a message that never arrives;
- updates it makes up for a person look like Telegram's, so PTB's filters classify
  them as they would in production;
- getUpdates long-polls, confirms by offset, and terminates an older poll with 409.

Faults are injected per method (`fail_next`) or per chat (`block`), for delivery tests.

Chaos (`chaos(rate)`): a share of the bot's writing calls answered 429 (with
`retry_after`), 502, or with the connection reset before the request is processed
(nothing happened) or after (it happened, but the bot never hears so): what
Telegram and the network between do on a bad day. `chaos_counts` says how many of each.

Webhooks: after `setWebhook` the stand-in posts each update to the URL, with the
`X-Telegram-Bot-Api-Secret-Token` header, as Telegram's server does: a chat's
updates one at a time and in order (the next only after a 2xx for the one before),
chats side by side (up to `max_connections`), and an update that is not answered
2xx posted again. `getUpdates` is refused while a webhook is set. A test may set
`webhook_targets` (several URLs, as behind a load balancer): each chat's updates
then go to them in turn, alternately.

Chats: any chat id is a chat that exists (a positive one private, a negative one a
group, "-100..." a supergroup), and the bot is a member of every group, as
`sendMessage` has always assumed, unless a test says otherwise (`set_member`,
`set_permissions`, `no_such_chat`, `upgrade_to_supergroup`). `getChat` and
`getChatMember` answer from that, and a bot that is not in a group, or may not post
there, is refused as Telegram refuses it.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import random
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web
from telegram import Bot
from telegram.ext import Application, ApplicationBuilder

from .entities import EntityParseError, FormattedText, parse_html, plain, utf16_len
from .spec import DEFAULT_SPEC_PATH, ApiSpec, SpecViolation, check_params, decode_params

DEFAULT_TOKEN = "123456:TEST-TOKEN"
MAX_TEXT_LENGTH = 4096  # Unicode code points, after entity parsing and trimming
MAX_TEXT_BYTES = 1 << 15  # raw text, before parsing ("Text is too long")
MAX_CALLBACK_DATA_BYTES = 64
MAX_BUTTONS = 100
GROUP_MEMBER_ID = 5_000_001  # who speaks in a group chat when a test does not say

Params = dict[str, Any]
Handler = Callable[[Params], Awaitable[Any] | Any]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
BLOCKED = "Forbidden: bot was blocked by the user"
_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: BLOCKED,
    404: "Not Found",
    409: CONFLICT,
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_CHAT_ACTIONS = frozenset(
    {
        "cancel",
        "typing",
        "record_video",
        "upload_video",
        "record_audio",
        "record_voice",
        "upload_audio",
        "upload_voice",
        "upload_photo",
        "upload_document",
        "choose_sticker",
        "pick_up_location",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "callback_game",
    "pay",
    "switch_inline_query",
    "switch_inline_query_chosen_chat",
    "switch_inline_query_current_chat",
    "login_url",
    "web_app",
    "copy_text",
)
# ChatMember statuses, and the rights of each kind (Bot API ChatMember* types).
_MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
_PERMISSIONS = (
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews", "can_react_to_messages",
    "can_edit_tag", "can_change_info", "can_invite_users", "can_pin_messages",
    "can_manage_topics",
)  # fmt: skip
_ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
    "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users",
    "can_post_stories", "can_edit_stories", "can_delete_stories",
)  # fmt: skip
# What a person who blocked the bot refuses: anything that writes to their chat.
_WRITING_METHODS = ("send", "edit", "copy", "forward", "stop")
# Update types getUpdates leaves out unless asked for them by name.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_BOT_COMMAND = re.compile(
    r"(?<![^\s])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,32})?(?![A-Za-z0-9_@/])"
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]+")


class ApiError(Exception):
    """A Bot API error response. Raise it from a custom handler (see `handle`)."""

    def __init__(
        self, error_code: int, description: str, parameters: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = dict(parameters) if parameters else None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part of a request."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    """One request the bot made, and what the stand-in answered."""

    method: str  # as the spec spells it ("sendMessage"), or as requested when unknown
    params: Params  # decoded: ints are ints, reply_markup is a dict
    status: int
    response: dict[str, Any]
    files: Mapping[str, UploadedFile] = field(default_factory=dict)
    injected: bool = False  # an answer from fail_next/block, not a verdict on the request

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def description(self) -> str | None:
        return self.response.get("description")

    @property
    def result(self) -> Any:
        return self.response.get("result")

    def __str__(self) -> str:
        outcome = "ok" if self.ok else f"{self.status} {self.description}"
        return f"{self.method}({_brief(self.params)}) -> {outcome}"


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent, as it is now (after any edits)."""

    chat_id: int
    message_id: int
    text: str  # as the bot sent it: the HTML source when parse_mode is HTML
    plain_text: str  # what the person reads: tags gone, entities decoded, trimmed
    parse_mode: str | None
    entities: tuple[dict[str, Any], ...]
    reply_markup: dict[str, Any] | None  # the inline keyboard now, or the keyboard sent
    date: int
    edit_date: int | None = None
    edits: int = 0

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        """Rows of inline keyboard buttons (empty without an inline keyboard)."""
        if not self.reply_markup:
            return []
        return [list(row) for row in self.reply_markup.get("inline_keyboard", [])]

    @property
    def button_labels(self) -> list[str]:
        return [button["text"] for row in self.buttons for button in row]

    def callback_data(self, label: str) -> str:
        """The callback_data of the inline button with this label."""
        for row in self.buttons:
            for button in row:
                if button.get("text") == label and "callback_data" in button:
                    return str(button["callback_data"])
        raise KeyError(f"no button {label!r} on message {self.message_id}: {self.button_labels}")


@dataclass
class _Fault:
    error_code: int
    description: str
    retry_after: int | None
    times: int
    chat_id: int | None


@dataclass
class _Pending:
    update_id: int
    update: dict[str, Any]
    forced: bool = False  # a redelivery: handed out once even if the offset has passed it


@dataclass
class _CallbackQuery:
    query_id: str
    chat_id: int
    message_id: int
    data: str
    answer: Params | None = None


async def _wait_event(event: asyncio.Event, seconds: float) -> None:
    """Wait for `event` at most `seconds`; the caller re-checks its condition."""
    with suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _now() -> int:
    return int(time.time())


#: Telegram lets a bot delete a message for 48 hours after it was sent.
DELETABLE_FOR_SECONDS = 48 * 3600


def _brief(params: Mapping[str, Any]) -> str:
    shown = []
    for key, value in params.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        shown.append(f"{key}={text[:60]!r}" if isinstance(value, str) else f"{key}={text[:60]}")
    return ", ".join(shown)


def _reset(request: web.Request) -> web.Response:
    """Drop the connection without an answer (the bot sees a network error)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=502)  # never reaches anyone


def _queue_key(update: Mapping[str, Any]) -> Any:
    """Whose updates go one at a time (Telegram's server queues them per chat)."""
    for kind in ("message", "edited_message", "callback_query"):
        if kind in update:
            body = update[kind]
            chat = (body.get("message") or {}).get("chat") if kind == "callback_query" else None
            chat = chat or body.get("chat") or {}
            return chat.get("id") or (body.get("from") or {}).get("id")
    return ("update", update.get("update_id"))


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


class BotApiStandIn:
    """A Telegram Bot API on 127.0.0.1 for one bot token.

    Use as `async with BotApiStandIn() as api:` and point PTB at `api.base_url`.
    A person's actions (`send_text`, `tap`, ...) queue updates for getUpdates; what
    the bot did is in `calls` and `messages_to(chat_id)`.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        spec_path: Path | None = DEFAULT_SPEC_PATH,
        strict_html: bool = True,
        bot_username: str = "spbot_test_bot",
        bot_name: str = "Social Prescribing (test)",
    ) -> None:
        """`spec_path`: api.json to check requests against. The default (the shared
        copy) falls back to the built-in subset when absent; None always uses the
        subset; any other missing path is an error."""
        if spec_path is not None and not spec_path.exists():
            if spec_path != DEFAULT_SPEC_PATH:
                raise FileNotFoundError(spec_path)
            spec_path = None
        self.spec = ApiSpec.load(spec_path)
        self.token = token
        self.strict_html = strict_html
        self.bot_user: dict[str, Any] = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[Call] = []
        self.rejected: list[Call] = []

        self._handlers: dict[str, tuple[str, Handler]] = {}
        for name, handler in {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setWebhook": self._set_webhook,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "close": self._ok,
            "logOut": self._ok,
        }.items():
            self.handle(name, handler)

        self._runner: web.AppRunner | None = None
        self._port = 0
        self._changed = asyncio.Event()
        self._closing = False

        self._update_ids = itertools.count(10_001)
        self._last_update_id = 10_000
        self._queue: list[_Pending] = []
        self._all_updates: dict[int, dict[str, Any]] = {}
        self._confirmed_before = 0  # every update_id below this one has been confirmed
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._held_polls = 0

        #: Seconds the stand-in's clock runs ahead of the real one (`move_clock`):
        #: message dates, and Telegram's 48 hours for deleting a message, follow it.
        self._clock_ahead = 0.0
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._bot_messages: dict[tuple[int, int], SentMessage] = {}
        self._user_messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._callback_queries: dict[str, _CallbackQuery] = {}
        self._callback_ids = itertools.count(4_242_000_000_000_000_001)
        self._files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self._file_ids = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._blocked: set[int] = set()
        # Groups: who is in them, as what (the bot is a member of any group it has
        # not been told otherwise about), and what members may do there.
        self._memberships: dict[tuple[int, int], dict[str, Any]] = {}
        self._permissions: dict[int, dict[str, bool]] = {}
        self._no_such_chats: set[int] = set()
        self._spoke_in: set[tuple[int, int]] = set()
        self._upgraded: dict[int, int] = {}
        # Webhooks: where to post (None: getUpdates), and what was posted.
        self._webhook: Params | None = None
        #: Several URLs to post to in turn, per chat (a load balancer); None: the
        #: webhook's own URL.
        self.webhook_targets: list[str] | None = None
        #: Every post: (update_id, URL, HTTP status, or 0 for a connection error).
        self.webhook_posts: list[tuple[int, str, int]] = []
        self._pushed: set[int] = set()  # updates answered 2xx
        self._pusher: asyncio.Task[None] | None = None
        # Chaos: the share of calls that fail, to which methods, and how many of each kind.
        self._chaos_rate = 0.0
        self._chaos_methods: frozenset[str] = frozenset()
        self._chaos_rng = random.Random(0)
        self.chaos_counts: dict[str, int] = {}
        #: (method, chat) of calls done but reset before the bot heard.
        self.reset_after_processing: list[tuple[str, Any]] = []

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1, or, after `stop()`, on the same port
        again with all state kept: stop/start is how a test takes Telegram away."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._serve_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._serve_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        self._port = sock.getsockname()[1]
        self._closing = False
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        """Answer any held long poll and close the server. Connections are refused
        until `start()`: PTB sees a NetworkError, as when Telegram is unreachable."""
        self._closing = True
        self._notify()
        if self._pusher is not None:
            self._pusher.cancel()
            with suppress(asyncio.CancelledError):
                await self._pusher
            self._pusher = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """For `ApplicationBuilder().base_url(...)` / `Bot(base_url=...)`: PTB appends the token."""
        return f"http://127.0.0.1:{self._started_port()}/bot"

    @property
    def base_file_url(self) -> str:
        """For `base_file_url(...)`: without it PTB downloads files from api.telegram.org."""
        return f"http://127.0.0.1:{self._started_port()}/file/bot"

    def _started_port(self) -> int:
        if not self._port:
            raise RuntimeError("start the stand-in first (async with BotApiStandIn() as api:)")
        return self._port

    def bot(self) -> Bot:
        """A PTB Bot pointed at this stand-in, for `async with api.bot() as bot:`.

        Both URLs matter: with only `base_url`, PTB still downloads files from
        api.telegram.org (its default `base_file_url`)."""
        return Bot(self.token, base_url=self.base_url, base_file_url=self.base_file_url)

    def application_builder(self) -> ApplicationBuilder:
        """An ApplicationBuilder already pointed at this stand-in."""
        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
        )

    @asynccontextmanager
    async def polling(self, app: Application) -> AsyncIterator[Application]:
        """Run `app` with long polling for the duration of the block, then stop it the
        way `run_polling` would (which a test cannot use: it owns the event loop)."""
        if app.updater is None:
            raise ValueError("build the Application with an Updater to poll")
        async with app:
            await app.start()
            try:
                await app.updater.start_polling(poll_interval=0)
                try:
                    yield app
                finally:
                    await app.updater.stop()
            finally:
                await app.stop()

    # -- a person's actions --------------------------------------------------------------

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str | None = None,
        chat_type: str | None = None,
        reply_to: int | None = None,
    ) -> int:
        """The person types `text`. A /command gets its bot_command entity, as from Telegram."""
        content: dict[str, Any] = {"text": text}
        entities = _command_entities(text)
        if entities:
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = self._message_json(chat_id, reply_to)
        return self._incoming(chat_id, content, user_id, first_name, chat_type)

    def send_sticker(
        self, chat_id: int, *, emoji: str = "👍", set_name: str | None = "HotCherry", **sender: Any
    ) -> int:
        file_id, unique_id = self._new_file("stickers", b"RIFF....WEBPVP8 ", "webp")
        sticker: dict[str, Any] = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
            "file_size": 16,
        }
        if set_name:
            sticker["set_name"] = set_name
        return self._incoming(chat_id, {"sticker": sticker}, **sender)

    def send_photo(
        self,
        chat_id: int,
        *,
        caption: str | None = None,
        data: bytes = b"\xff\xd8\xff\xe0 not really a jpeg",
        **sender: Any,
    ) -> int:
        """A photo arrives as several sizes, smallest first, as Telegram sends it."""
        sizes = []
        for width, height in ((90, 67), (320, 240), (800, 600), (1280, 960)):
            file_id, unique_id = self._new_file("photos", data, "jpg")
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(data),
                }
            )
        return self._incoming(chat_id, {"photo": sizes, **_caption(caption)}, **sender)

    def send_voice(
        self, chat_id: int, *, duration: int = 3, data: bytes = b"OggS voice", **sender: Any
    ) -> int:
        file_id, unique_id = self._new_file("voice", data, "oga")
        voice = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        return self._incoming(chat_id, {"voice": voice}, **sender)

    def send_location(self, chat_id: int, latitude: float, longitude: float, **sender: Any) -> int:
        return self._incoming(
            chat_id, {"location": {"latitude": latitude, "longitude": longitude}}, **sender
        )

    def send_contact(
        self,
        chat_id: int,
        phone_number: str,
        *,
        own: bool = True,
        contact_first_name: str | None = None,
        **sender: Any,
    ) -> int:
        """A shared contact. `own=True` is a person sharing their own number (the
        request_contact button): Telegram then sets contact.user_id to the sender."""
        user = self._sender(chat_id, sender.get("user_id"), sender.get("first_name"))
        contact: dict[str, Any] = {
            "phone_number": phone_number,
            "first_name": contact_first_name or user["first_name"],
        }
        if own:
            contact["user_id"] = user["id"]
        return self._incoming(chat_id, {"contact": contact}, **sender)

    def send_document(
        self,
        chat_id: int,
        *,
        file_name: str = "letter.pdf",
        mime_type: str = "application/pdf",
        data: bytes = b"%PDF-1.4 not really a pdf",
        caption: str | None = None,
        **sender: Any,
    ) -> int:
        file_id, unique_id = self._new_file("documents", data, file_name.rsplit(".", 1)[-1])
        document = {
            "file_id": file_id,
            "file_unique_id": unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        return self._incoming(chat_id, {"document": document, **_caption(caption)}, **sender)

    def edit_text(self, chat_id: int, message_id: int, new_text: str) -> int:
        """The person edits a text message they sent: an edited_message update."""
        original = self._user_messages.get((chat_id, message_id))
        if original is None or "text" not in original:
            raise ValueError(f"no text message {message_id} from a person in chat {chat_id}")
        edited = {k: v for k, v in original.items() if k != "entities"}
        edited["text"] = new_text
        edited["edit_date"] = max(self._now(), original["date"])
        entities = _command_entities(new_text)
        if entities:
            edited["entities"] = entities
        self._user_messages[(chat_id, message_id)] = edited
        return self.push_raw({"edited_message": copy.deepcopy(edited)})

    def tap(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str | None = None,
        require_button: bool = True,
    ) -> int:
        """The person taps the inline button with callback `data` on a bot message.

        The update carries the message as it is now (edits included), as Telegram's
        does. With `require_button` the button must be on the message now: a person
        cannot tap a button that is no longer there.
        """
        sent = self._bot_messages.get((chat_id, message_id))
        if sent is None:
            raise ValueError(f"the bot sent no message {message_id} in chat {chat_id}")
        if require_button and not any(
            button.get("callback_data") == data for row in sent.buttons for button in row
        ):
            raise ValueError(
                f"message {message_id} has no button with callback_data {data!r}; "
                f"its buttons: {sent.buttons}"
            )
        user = self._sender(chat_id, user_id, first_name)
        query_id = str(next(self._callback_ids))
        self._callback_queries[query_id] = _CallbackQuery(query_id, chat_id, message_id, data)
        return self.push_raw(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user,
                    "message": self._message_json(chat_id, message_id),
                    "chat_instance": str(-(abs(chat_id) * 7_919 + 104_729)),
                    "data": data,
                }
            }
        )

    def press(self, chat_id: int, label: str, **sender: Any) -> int:
        """Tap the button labelled `label` on the newest bot message that has one."""
        for sent in reversed(self.messages_to(chat_id)):
            if label in sent.button_labels:
                return self.tap(chat_id, sent.message_id, sent.callback_data(label), **sender)
        raise ValueError(f"no bot message in chat {chat_id} has a button {label!r}")

    async def say(
        self,
        chat_id: int,
        text: str,
        *,
        expect: int = 1,
        timeout: float = 10.0,
        **sender: Any,
    ) -> list[SentMessage]:
        """Send `text` and wait for `expect` new bot messages in the chat; return them."""
        update_id = self.send_text(chat_id, text, **sender)
        said = self._all_updates[update_id]["message"]["message_id"]

        def new_messages() -> list[SentMessage]:
            return [m for m in self.messages_to(chat_id) if m.message_id > said]

        await self.wait_for(
            lambda: len(new_messages()) >= expect,
            timeout=timeout,
            what=f"{expect} bot message(s) in chat {chat_id} after {text!r}",
        )
        return new_messages()

    def push_raw(self, update: Mapping[str, Any]) -> int:
        """Queue any update as given; an update_id is assigned when it has none."""
        body = copy.deepcopy(dict(update))
        if "update_id" not in body:
            body = {"update_id": next(self._update_ids), **body}
        update_id = int(body["update_id"])
        if update_id > self._last_update_id:
            self._last_update_id = update_id
            self._update_ids = itertools.count(update_id + 1)
        self._all_updates[update_id] = body
        self._queue.append(_Pending(update_id, body))
        self._notify()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Deliver an update again, even if the bot has confirmed it: what Telegram
        does when a bot stops before confirming, and what dedupe must survive."""
        self._queue.append(_Pending(update_id, self._all_updates[update_id], forced=True))
        self._notify()

    # -- what the bot did ------------------------------------------------------------

    def update(self, update_id: int) -> dict[str, Any]:
        """An update as the stand-in made it (what getUpdates hands out), to give
        to a bot directly."""
        return copy.deepcopy(self._all_updates[update_id])

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """The bot's messages in the chat, oldest first, as they are now."""
        return sorted(
            (m for (chat, _), m in self._bot_messages.items() if chat == chat_id),
            key=lambda m: m.message_id,
        )

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        return self._bot_messages[(chat_id, message_id)]

    def unanswered_callback_queries(self) -> list[str]:
        """Ids of callback queries the bot has not answered (the person's spinner is
        still turning)."""
        return [q.query_id for q in self._callback_queries.values() if q.answer is None]

    def callback_answer(self, query_id: str) -> Params | None:
        """The answerCallbackQuery parameters for a query, or None if unanswered."""
        return self._callback_queries[query_id].answer

    def commands(
        self, *, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The command list set with setMyCommands for that scope and language."""
        return list(self._commands.get(_commands_key(scope, language_code), []))

    @property
    def held_polls(self) -> int:
        """getUpdates requests being held open right now: 1 while a polling bot waits
        for something to happen, so `wait_for(lambda: api.held_polls)` waits until the
        bot has fetched everything queued and is idle on the network."""
        return self._held_polls

    def is_confirmed(self, update_id: int) -> bool:
        """Whether the bot has fetched and confirmed the update (offset moved past it),
        or answered its webhook post with 2xx."""
        if update_id in self._pushed:
            return True
        return update_id < self._confirmed_before and not any(
            p.update_id == update_id for p in self._queue
        )

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,
        *,
        what: str = "",
    ) -> None:
        """Wait until `predicate()` is true. It is checked after every request and every
        queued update, so there is no polling delay; on timeout the error lists the
        last requests, which is usually what explains the failure."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            if predicate():
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n  ".join(str(c) for c in self.calls[-12:] if c.method != "getUpdates")
                raise TimeoutError(
                    f"waited {timeout}s for {what or 'a condition'}; "
                    f"recent requests:\n  {recent or '(none)'}"
                )
            await _wait_event(changed, remaining)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 10.0,
    ) -> list[SentMessage]:
        """Wait until the bot has at least `count` messages in the chat; return them all."""
        await self.wait_for(
            lambda: len(self.messages_to(chat_id)) >= count,
            timeout,
            what=f"{count} bot message(s) in chat {chat_id}",
        )
        return self.messages_to(chat_id)

    async def wait_confirmed(self, update_id: int, timeout: float = 10.0) -> None:
        """Wait until the bot has fetched the update and confirmed it."""
        await self.wait_for(
            lambda: self.is_confirmed(update_id), timeout, what=f"update {update_id} confirmed"
        )

    def _now(self) -> int:
        return int(time.time() + self._clock_ahead)

    def move_clock(self, seconds: float) -> None:
        """Move the stand-in's clock on (a test's fake clock moves the bot's too)."""
        self._clock_ahead += seconds

    def assert_clean(self) -> None:
        """Fail if any request was refused or any callback query left unanswered:
        a good last line for an end-to-end test."""
        problems = [f"refused: {c}" for c in self.rejected]
        problems += [f"unanswered callback query {q}" for q in self.unanswered_callback_queries()]
        if problems:
            raise AssertionError("\n".join(problems))

    # -- fault injection ----------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next `times` valid calls of `method` (to `chat_id`, if given) with
        this error instead of doing them. 429 gets `parameters.retry_after` (1 if not
        given) and Telegram's "Too Many Requests: retry after N" wording."""
        if error_code == 429:
            retry_after = retry_after or 1
            description = description or f"Too Many Requests: retry after {retry_after}"
        description = description or _DEFAULT_DESCRIPTIONS.get(error_code, "Bad Request")
        self._faults.setdefault(method.lower(), []).append(
            _Fault(error_code, description, retry_after, times, chat_id)
        )

    def chaos(
        self,
        rate: float,
        *,
        seed: int = 16,
        methods: tuple[str, ...] = ("sendMessage", "editMessageText", "sendDocument"),
    ) -> None:
        """From now on, `rate` of the calls to `methods` fail, a quarter each way: 429
        (retry_after 1), 502, connection reset before processing, reset after."""
        self._chaos_rate = rate
        self._chaos_methods = frozenset(m.lower() for m in methods)
        self._chaos_rng = random.Random(seed)

    def _roll_chaos(self, method: str) -> str | None:
        if (
            method.lower() not in self._chaos_methods
            or self._chaos_rng.random() >= self._chaos_rate
        ):
            return None
        kind = self._chaos_rng.choice(("429", "502", "reset_before", "reset_after"))
        self.chaos_counts[kind] = self.chaos_counts.get(kind, 0) + 1
        return kind

    def block(self, chat_id: int) -> None:
        """The person blocks the bot: from now on every send or edit to them gets 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    # -- groups --------------------------------------------------------------------------

    def set_member(
        self, chat_id: int, user_id: int | None = None, status: str = "member", **rights: bool
    ) -> None:
        """Someone's place in a group (`user_id` None: the bot's own): "creator",
        "administrator", "member", "restricted" (with `can_send_messages=...`),
        "left" or "kicked". A bot that has left or was removed cannot see the group,
        post in it or ask about it; a restricted one may not post without
        `can_send_messages=True`."""
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"unknown status {status!r}: one of {sorted(_MEMBER_STATUSES)}")
        user = int(self.bot_user["id"]) if user_id is None else user_id
        self._memberships[(chat_id, user)] = {"status": status, **rights}

    def set_permissions(self, chat_id: int, **permissions: bool) -> None:
        """What members of a group may do (ChatPermissions), e.g. `can_send_messages=False`:
        then only its administrators post there."""
        self._permissions[chat_id] = {**self._permissions.get(chat_id, {}), **permissions}

    def add_chat(self, chat_id: int, chat_type: str, title: str = "Link workers") -> None:
        """A chat of this type ("group", "supergroup", "channel") and title."""
        self._chats[chat_id] = {"id": chat_id, "type": chat_type, "title": title}

    def no_such_chat(self, chat_id: int) -> None:
        """Telegram knows no chat with this id (a mistyped id): "chat not found"."""
        self._no_such_chats.add(chat_id)

    def upgrade_to_supergroup(self, chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup with a new id: requests to the old id are
        refused with `parameters.migrate_to_chat_id`, as Telegram does."""
        self._upgraded[chat_id] = new_chat_id
        self._chats[new_chat_id] = self._chat_json(new_chat_id, "supergroup", None)

    def handle(self, method: str, handler: Handler) -> None:
        """Serve `method` with `handler(params) -> result`, which may raise ApiError.
        Requests are still checked against the spec first."""
        spec_method = self.spec.method(method)
        self._handlers[method.lower()] = (spec_method.name if spec_method else method, handler)

    # -- HTTP --------------------------------------------------------------------------

    async def _serve_method(self, request: web.Request) -> web.Response:
        requested = request.match_info["method"]
        method = requested
        params: Params = {}
        files: dict[str, UploadedFile] = {}
        try:
            try:
                raw, files = await _read_params(request)
            except ConnectionResetError:
                # The bot hung up before it finished asking (a stopping bot can close a
                # half-sent poll): Telegram got no request, so none is recorded or refused.
                return web.Response(status=400)  # the connection is gone: nobody reads it
            params = dict(raw)
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            spec_method = self.spec.method(requested)
            known = self._handlers.get(requested.lower())
            if spec_method is None and known is None:
                raise ApiError(404, "Not Found")
            method = spec_method.name if spec_method else known[0] if known else requested
            params = decode_params(spec_method, raw)
            if spec_method is not None:
                check_params(spec_method, params, files)
            if known is None:
                raise ApiError(
                    501,
                    f"Not Implemented: the stand-in does not serve {method}; "
                    "add it with BotApiStandIn.handle()",
                )
            fault = self._take_fault(method, params)
            if fault is not None:
                return self._respond(method, params, files, fault, injected=True)
            chaos = self._roll_chaos(method)
            if chaos == "429":
                limited = ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
                return self._respond(method, params, files, limited, injected=True)
            if chaos == "502":
                return self._respond(method, params, files, ApiError(502, "Bad Gateway"),
                                     injected=True)  # fmt: skip
            if chaos == "reset_before":
                return _reset(request)
            result = known[1](params)
            if isinstance(result, Awaitable):
                result = await result
            if chaos == "reset_after":
                self._respond(method, params, files, result)  # it happened
                self.reset_after_processing.append((method, params.get("chat_id")))
                return _reset(request)
        except SpecViolation as violation:
            return self._respond(method, params, files, bad_request_from(violation))
        except ApiError as error:
            return self._respond(method, params, files, error)
        except Exception as error:  # a bug in the stand-in or a handler: make it visible
            description = f"Internal Server Error: stand-in failed: {error!r}"
            return self._respond(method, params, files, ApiError(500, description))
        return self._respond(method, params, files, result)

    def _respond(
        self,
        method: str,
        params: Params,
        files: Mapping[str, UploadedFile],
        outcome: Any,
        *,
        injected: bool = False,
    ) -> web.Response:
        if isinstance(outcome, ApiError):
            status, body = outcome.error_code, outcome.body()
        else:
            status, body = 200, {"ok": True, "result": outcome}
        call = Call(method, params, status, body, dict(files), injected)
        self.calls.append(call)
        if status != 200 and not injected and status != 409:
            self.rejected.append(call)
        self._notify()
        return web.json_response(body, status=status)

    async def _serve_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        path = request.match_info["path"]
        for file_path, content in self._files.values():
            if file_path == path:
                return web.Response(body=content)
        return web.json_response(ApiError(404, "Not Found").body(), status=404)

    def _take_fault(self, method: str, params: Params) -> ApiError | None:
        chat_id = params.get("chat_id")
        if chat_id in self._blocked and method.startswith(_WRITING_METHODS):
            return ApiError(403, BLOCKED)
        if isinstance(chat_id, int) and chat_id < 0 and method.startswith(_WRITING_METHODS):
            refused = self._refused_in_group(chat_id, method)
            if refused is not None:
                return refused
        faults = self._faults.get(method.lower(), [])
        for fault in faults:
            if fault.chat_id is None or fault.chat_id == chat_id:
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
                parameters = {"retry_after": fault.retry_after} if fault.retry_after else None
                return ApiError(fault.error_code, fault.description, parameters)
        return None

    def _refused_in_group(self, chat_id: int, method: str) -> ApiError | None:
        """What Telegram says to a bot writing to a group it is not in or may not
        post in (not an injected fault: a refusal the bot brought on itself)."""
        try:
            self._resolve_chat(chat_id)
            self._check_can_see(chat_id)
        except ApiError as error:
            return error
        if method.startswith("send") and not self._may_post(chat_id):
            return bad_request("not enough rights to send text messages to the chat")
        return None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- methods -------------------------------------------------------------------------

    def _ok(self, params: Params) -> bool:
        return True

    def _get_me(self, params: Params) -> dict[str, Any]:
        return dict(self.bot_user)

    async def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0) or 0)
        limit = min(max(int(params.get("limit", 100) or 100), 1), 100)
        timeout = max(float(params.get("timeout", 0) or 0), 0.0)
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older poll still held learns it has been replaced
        self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._take_batch(limit)
            if batch or self._closing:
                return batch
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._held_polls += 1
            self._notify()  # before taking the event to wait on, or the poll wakes itself
            try:
                await _wait_event(self._changed, remaining)
            finally:
                self._held_polls -= 1

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._queue = [p for p in self._queue if p.forced or p.update_id >= offset]
            self._confirmed_before = max(self._confirmed_before, offset)
        elif offset < 0:
            self._queue = self._queue[offset:]

    def _take_batch(self, limit: int) -> list[dict[str, Any]]:
        allowed = set(self._allowed_updates)
        wanted = []
        for pending in list(self._queue):
            kind = _update_type(pending.update)
            if (allowed and kind not in allowed) or (not allowed and kind in _OPT_IN_UPDATES):
                self._queue.remove(pending)  # Telegram never keeps what was not asked for
                continue
            wanted.append(pending)
        batch = wanted[:limit]
        for pending in batch:
            pending.forced = False
        return [copy.deepcopy(p.update) for p in batch]

    def _delete_webhook(self, params: Params) -> bool:
        self._webhook = None
        if params.get("drop_pending_updates") is True:
            self._queue.clear()
        self._notify()
        return True

    def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        return {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    def _set_webhook(self, params: Params) -> bool:
        url = str(params.get("url", ""))
        if not url:
            return self._delete_webhook(params)
        if not url.startswith(("https://", "http://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = list(params["allowed_updates"])
        if params.get("drop_pending_updates") is True:
            self._queue.clear()
        self._webhook = dict(params)
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.get_running_loop().create_task(self._push_updates())
        self._notify()
        return True

    async def _push_updates(self) -> None:
        """Post queued updates to the webhook: per chat in order, one at a time."""
        in_flight: dict[Any, asyncio.Task[None]] = {}
        turns: dict[Any, int] = {}
        async with aiohttp.ClientSession() as session:
            while self._webhook is not None and not self._closing:
                at_most = int(self._webhook.get("max_connections") or 40)
                for pending in list(self._queue):
                    key = _queue_key(pending.update)
                    if key in in_flight or len(in_flight) >= at_most:
                        continue
                    if any(
                        _queue_key(p.update) == key
                        for p in self._queue[: self._queue.index(pending)]
                    ):
                        continue  # an earlier update of the chat goes first
                    targets = self.webhook_targets or [str(self._webhook["url"])]
                    url = targets[turns.get(key, 0) % len(targets)]
                    task = asyncio.get_running_loop().create_task(
                        self._post(session, url, pending, turns, key)
                    )
                    in_flight[key] = task
                    task.add_done_callback(lambda _, key=key: in_flight.pop(key, None))
                await _wait_event(self._changed, 0.05)
            for task in in_flight.values():
                task.cancel()

    async def _post(
        self,
        session: aiohttp.ClientSession,
        url: str,
        pending: _Pending,
        turns: dict[Any, int],
        key: Any,
    ) -> None:
        headers = {}
        if self._webhook is not None and self._webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self._webhook["secret_token"])
        try:
            async with session.post(
                url, json=pending.update, headers=headers, timeout=aiohttp.ClientTimeout(total=30)
            ) as response:
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.webhook_posts.append((pending.update_id, url, status))
        if 200 <= status < 300:
            turns[key] = turns.get(key, 0) + 1
            self._pushed.add(pending.update_id)
            if pending in self._queue:
                self._queue.remove(pending)
        else:
            await asyncio.sleep(0.2)  # Telegram tries again, after a while
        self._notify()

    def _set_my_commands(self, params: Params) -> bool:
        commands = params["commands"]
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        cleaned = []
        for command in commands:
            name = str(command.get("command", "")).strip().removeprefix("/")
            description = str(command.get("description", "")).strip()
            if not name:
                raise bad_request("command must be non-empty")
            if len(name) > 32:
                raise bad_request("command length must not exceed 32")
            if not _COMMAND_NAME.fullmatch(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not description:
                raise bad_request("command description must be non-empty")
            if len(description) > 256:
                raise bad_request("command description length must not exceed 256")
            cleaned.append({"command": name, "description": description})
        key = _commands_key(params.get("scope"), params.get("language_code", ""))
        self._commands[key] = cleaned
        return True

    def _get_my_commands(self, params: Params) -> list[dict[str, str]]:
        return self.commands(
            scope=params.get("scope"), language_code=params.get("language_code", "")
        )

    def _delete_my_commands(self, params: Params) -> bool:
        self._commands.pop(
            _commands_key(params.get("scope"), params.get("language_code", "")), None
        )
        return True

    def _send_message(self, params: Params) -> dict[str, Any]:
        formatted = self._format_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = _check_reply_markup(params.get("reply_markup"), inline_only=False)
        chat_id = self._resolve_chat(params["chat_id"])
        reply_to = self._reply_target(chat_id, params.get("reply_parameters"))
        sent = SentMessage(
            chat_id=chat_id,
            message_id=next(self._message_counter(chat_id)),
            text=params["text"],
            plain_text=formatted.text,
            parse_mode=params.get("parse_mode") or None,
            entities=formatted.entities,
            reply_markup=markup,
            date=self._now(),
        )
        self._bot_messages[(chat_id, sent.message_id)] = sent
        message = self._message_json(chat_id, sent.message_id)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        return message

    def _send_document(self, params: Params) -> dict[str, Any]:
        """A file, with its caption. What was uploaded is in the call's `files`, for
        a test to read; the stand-in keeps no copy to serve back (getFile)."""
        caption = params.get("caption") or ""
        formatted = (
            self._format_text(caption, params.get("parse_mode"), params.get("caption_entities"))
            if caption
            else FormattedText("", ())
        )
        if len(formatted.text) > 1024:
            raise bad_request("message caption is too long")
        chat_id = self._resolve_chat(params["chat_id"])
        number = next(self._file_ids)
        message: dict[str, Any] = {
            "message_id": next(self._message_counter(chat_id)),
            "from": dict(self.bot_user),
            "chat": dict(self._chats[chat_id]),
            "date": self._now(),
            "document": {"file_id": f"BQACAgQAAxkBAAI{number:06d}standin",
                         "file_unique_id": f"AgAD{number:06d}"},
        }  # fmt: skip
        if formatted.text:
            message["caption"] = formatted.text
        if formatted.entities:
            message["caption_entities"] = copy.deepcopy(list(formatted.entities))
        return message

    def _edit_message_text(self, params: Params) -> dict[str, Any]:
        if params.get("text", "") == "" and "rich_message" not in params:
            raise bad_request("message text is empty")
        formatted = self._format_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = _check_reply_markup(params.get("reply_markup"), inline_only=True)
        sent = self._message_to_edit(params)
        current_inline = _inline_part(sent.reply_markup)
        if (formatted.text, formatted.entities, markup) == (
            sent.plain_text,
            sent.entities,
            current_inline,
        ):
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(
            sent,
            text=params["text"],
            plain_text=formatted.text,
            parse_mode=params.get("parse_mode") or None,
            entities=formatted.entities,
            reply_markup=_markup_after_edit(sent.reply_markup, markup),
        )

    def _edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        markup = _check_reply_markup(params.get("reply_markup"), inline_only=True)
        sent = self._message_to_edit(params)
        current_inline = _inline_part(sent.reply_markup)
        if markup == current_inline:
            raise ApiError(400, NOT_MODIFIED)
        return self._apply_edit(sent, reply_markup=_markup_after_edit(sent.reply_markup, markup))

    def _apply_edit(self, sent: SentMessage, **changes: Any) -> dict[str, Any]:
        edited = replace(
            sent, **changes, edit_date=max(self._now(), sent.date), edits=sent.edits + 1
        )
        self._bot_messages[(sent.chat_id, sent.message_id)] = edited
        return self._message_json(sent.chat_id, sent.message_id)

    def _message_to_edit(self, params: Params) -> SentMessage:
        if "chat_id" not in params and "message_id" not in params:
            if "inline_message_id" not in params:
                raise bad_request("message identifier is not specified")
            raise bad_request("MESSAGE_ID_INVALID")  # the stand-in sends no inline messages
        if "chat_id" not in params:
            raise bad_request("chat_id is empty")
        if "message_id" not in params:
            raise bad_request("message identifier is not specified")
        chat_id = self._resolve_chat(params["chat_id"])
        key = (chat_id, int(params["message_id"]))
        if key in self._user_messages:
            raise bad_request("message can't be edited")
        if key not in self._bot_messages:
            raise bad_request("message to edit not found")
        return self._bot_messages[key]

    def _delete_message(self, params: Params) -> bool:
        """Telegram: "A message can only be deleted if it was sent less than 48
        hours ago" (the Bot API's deleteMessage)."""
        chat_id = self._resolve_chat(params["chat_id"])
        key = (chat_id, int(params["message_id"]))
        sent = self._bot_messages.get(key)
        if sent is not None and self._now() - sent.date >= DELETABLE_FOR_SECONDS:
            raise bad_request("message can't be deleted")
        if self._bot_messages.pop(key, None) is None and self._user_messages.pop(key, None) is None:
            raise bad_request("message to delete not found")
        return True

    def _answer_callback_query(self, params: Params) -> bool:
        query = self._callback_queries.get(str(params["callback_query_id"]))
        if query is None or query.answer is not None:
            raise ApiError(400, QUERY_TOO_OLD)
        query.answer = dict(params)
        return True

    def _send_chat_action(self, params: Params) -> bool:
        self._resolve_chat(params["chat_id"])
        if str(params["action"]).lower() not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _get_chat(self, params: Params) -> dict[str, Any]:
        """A ChatFullInfo, with the fields the Bot API always returns."""
        chat_id = self._resolve_chat(params["chat_id"])
        self._check_can_see(chat_id)
        chat = dict(self._chats[chat_id])
        full: dict[str, Any] = {
            **chat,
            "accent_color_id": abs(chat_id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if chat["type"] in ("group", "supergroup"):
            full["permissions"] = self._group_permissions(chat_id)
        return full

    def _get_chat_member(self, params: Params) -> dict[str, Any]:
        chat_id = self._resolve_chat(params["chat_id"])
        self._check_can_see(chat_id)
        user_id = int(params["user_id"])
        if user_id == self.bot_user["id"]:
            user = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        elif user_id in self._users:
            user = dict(self._users[user_id])
        else:
            raise bad_request("user not found")
        if self._chats[chat_id]["type"] == "private":
            in_chat = user_id in (chat_id, self.bot_user["id"])
            return {"status": "member" if in_chat else "left", "user": user}
        return self._member_json(chat_id, user)

    def _get_file(self, params: Params) -> dict[str, Any]:
        file_id = str(params["file_id"])
        if file_id not in self._files:
            raise bad_request("invalid file_id")
        file_path, content = self._files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(content),
            "file_path": file_path,
        }

    # -- helpers ---------------------------------------------------------------------

    def _format_text(self, text: Any, parse_mode: Any, entities: Any) -> FormattedText:
        """The Bot API's checks on message text, in its order and words."""
        if text is None or text == "":
            raise bad_request("message text is empty")
        text = str(text)
        if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
            raise bad_request("text is too long")
        mode = str(parse_mode or "").lower()
        if mode == "html":
            try:
                formatted = parse_html(text, strict=self.strict_html)
            except EntityParseError as error:
                raise bad_request(f"can't parse entities: {error}") from None
        elif mode in ("", "none", "markdown", "markdownv2"):
            # Markdown is passed through unchecked: this project sends HTML.
            formatted = plain(text)
            if mode in ("", "none") and isinstance(entities, list):
                formatted = FormattedText(formatted.text, tuple(entities))
        else:
            raise bad_request("unsupported parse_mode")
        if not formatted.text.strip():
            raise bad_request("text must be non-empty")
        if len(formatted.text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return formatted

    def _resolve_chat(self, chat_id: Any) -> int:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for known in self._chats.values():
                if known.get("username", "").lower() == chat_id[1:].lower():
                    return int(known["id"])
        if not isinstance(chat_id, int) or chat_id in self._no_such_chats:
            raise bad_request("chat not found")
        if chat_id in self._upgraded:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._upgraded[chat_id]},
            )
        if chat_id not in self._chats:
            self._chats[chat_id] = self._chat_json(chat_id, None, None)
        return chat_id

    def _membership(self, chat_id: int, user_id: int) -> dict[str, Any]:
        found = self._memberships.get((chat_id, user_id))
        if found is not None:
            return found
        # The bot is in every group nobody said otherwise about; people are in the
        # groups they wrote in.
        known = user_id == self.bot_user["id"] or (chat_id, user_id) in self._spoke_in
        return {"status": "member" if known else "left"}

    def _group_permissions(self, chat_id: int) -> dict[str, bool]:
        everything = dict.fromkeys(_PERMISSIONS, True)
        everything.update(can_change_info=False, can_pin_messages=False)
        return {**everything, **self._permissions.get(chat_id, {})}

    def _check_can_see(self, chat_id: int) -> None:
        """A group the bot is not in is closed to it, in Telegram's words."""
        chat = self._chats[chat_id]
        if chat["type"] not in ("group", "supergroup"):
            return
        status = self._membership(chat_id, int(self.bot_user["id"]))["status"]
        if status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat['type']} chat")
        if status == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat['type']} chat")

    def _may_post(self, chat_id: int) -> bool:
        """Whether the bot may send a text message to a group it is in."""
        membership = self._membership(chat_id, int(self.bot_user["id"]))
        if membership["status"] in ("creator", "administrator"):
            return True
        if membership["status"] == "restricted":
            return bool(membership.get("can_send_messages", False))
        return self._group_permissions(chat_id)["can_send_messages"]

    def _member_json(self, chat_id: int, user: dict[str, Any]) -> dict[str, Any]:
        """A ChatMember of the kind its status says, with that kind's required fields."""
        membership = dict(self._membership(chat_id, int(user["id"])))
        status = membership.pop("status")
        body: dict[str, Any] = {"status": status, "user": user}
        if status == "creator":
            body["is_anonymous"] = False
        elif status == "administrator":
            body.update(dict.fromkeys(_ADMIN_RIGHTS, True), can_be_edited=False,
                        is_anonymous=False)  # fmt: skip
            body.update(membership)
        elif status == "restricted":
            body.update(dict.fromkeys(_PERMISSIONS, False), is_member=True, until_date=0)
            body.update(membership)
        elif status == "kicked":
            body["until_date"] = 0
        return body

    def _reply_target(self, chat_id: int, reply_parameters: Any) -> dict[str, Any] | None:
        if not isinstance(reply_parameters, dict) or "message_id" not in reply_parameters:
            return None
        message_id = int(reply_parameters["message_id"])
        key = (chat_id, message_id)
        if key in self._bot_messages or key in self._user_messages:
            return self._message_json(chat_id, message_id)
        if reply_parameters.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")

    def _message_counter(self, chat_id: int) -> itertools.count[int]:
        return self._message_ids.setdefault(chat_id, itertools.count(1))

    def _message_json(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message as the Bot API returns it, for responses and updates."""
        if (chat_id, message_id) in self._user_messages:
            return copy.deepcopy(self._user_messages[(chat_id, message_id)])
        sent = self._bot_messages.get((chat_id, message_id))
        if sent is None:
            raise ValueError(f"no message {message_id} in chat {chat_id}")
        message: dict[str, Any] = {
            "message_id": sent.message_id,
            "from": dict(self.bot_user),
            "chat": dict(self._chats[chat_id]),
            "date": sent.date,
            "text": sent.plain_text,
        }
        if sent.edit_date is not None:
            message["edit_date"] = sent.edit_date
        if sent.entities:
            message["entities"] = copy.deepcopy(list(sent.entities))
        inline = _inline_part(sent.reply_markup)
        if inline is not None:  # Message.reply_markup is only ever an inline keyboard
            message["reply_markup"] = copy.deepcopy(inline)
        return message

    def _sender(self, chat_id: int, user_id: int | None, first_name: str | None) -> dict[str, Any]:
        if user_id is None:
            user_id = chat_id if chat_id > 0 else GROUP_MEMBER_ID
        elif chat_id > 0 and user_id != chat_id:
            raise ValueError("in a private chat the chat id is the person's user id")
        user = self._users.get(user_id)
        if user is None or (first_name and user["first_name"] != first_name):
            user = {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name or "Alex",
                "language_code": "en",
            }
            self._users[user_id] = user
        return dict(user)

    def _chat_json(
        self, chat_id: int, chat_type: str | None, user: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if chat_type is None:
            if chat_id > 0:
                chat_type = "private"
            else:
                chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        if chat_type == "private":
            return {
                "id": chat_id,
                "type": "private",
                "first_name": (user or {}).get("first_name", "Alex"),
            }
        return {"id": chat_id, "type": chat_type, "title": "Link workers"}

    def _incoming(
        self,
        chat_id: int,
        content: Mapping[str, Any],
        user_id: int | None = None,
        first_name: str | None = None,
        chat_type: str | None = None,
    ) -> int:
        user = self._sender(chat_id, user_id, first_name)
        if chat_id not in self._chats or chat_type is not None or chat_id > 0:
            self._chats[chat_id] = self._chat_json(chat_id, chat_type, user)
        if chat_id < 0:
            self._spoke_in.add((chat_id, int(user["id"])))
        message = {
            "message_id": next(self._message_counter(chat_id)),
            "from": user,
            "chat": dict(self._chats[chat_id]),
            "date": self._now(),
            **copy.deepcopy(dict(content)),
        }
        self._user_messages[(chat_id, message["message_id"])] = message
        return self.push_raw({"message": message})

    def _new_file(self, folder: str, data: bytes, extension: str) -> tuple[str, str]:
        number = next(self._file_ids)
        file_id = f"AgACAgQAAxkBAAI{number:06d}standin"
        self._files[file_id] = (f"{folder}/file_{number}.{extension}", data)
        return file_id, f"AQAD{number:06d}"


def bad_request_from(violation: SpecViolation) -> ApiError:
    return ApiError(400, violation.description)


async def _read_params(request: web.Request) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Every way a Bot API request can carry parameters: the query string, a
    form-encoded or multipart body (PTB's way), or a JSON body. Values come back as
    the strings that were on the wire; JSON bodies are turned into the same form."""
    raw: dict[str, str] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if not request.can_read_body:
        return raw, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("JSON object expected")
        for key, value in body.items():
            if value is not None:
                raw[key] = value if isinstance(value, str) else json.dumps(value)
        return raw, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = UploadedFile(value.filename, value.content_type, value.file.read())
        else:
            raw[key] = str(value)
    return raw, files


def _check_reply_markup(markup: Any, *, inline_only: bool) -> dict[str, Any] | None:
    """The Bot API's reply_markup checks, in its words (tdlib/telegram-bot-api Client.cpp)."""
    if markup is None or markup == "":
        return None
    if isinstance(markup, str):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if not isinstance(markup, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        buttons = [button for row in rows for button in row]
        for button in buttons:
            _check_inline_button(button)
        if len(buttons) > MAX_BUTTONS:
            raise bad_request("reply markup is too long")
        return markup if buttons else None
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request('field "keyboard" must be an Array of Arrays')
        for button in (b for row in rows for b in row):
            if not isinstance(button, str | dict):
                raise bad_request(
                    "can't parse keyboard button: KeyboardButton must be a String or an Object"
                )
            if isinstance(button, dict) and not isinstance(button.get("text"), str):
                raise bad_request("can't parse keyboard button: Can't find field \"text\"")
            if (button.get("text") if isinstance(button, dict) else button) == "":
                raise bad_request("keyboard button text must be non-empty")
    return markup


def _check_inline_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad_request(prefix + 'Can\'t find field "text"')
    if not isinstance(button["text"], str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    if not button["text"]:
        raise bad_request("inline keyboard button text must be non-empty")
    if not any(button.get(action) not in (None, "") for action in _INLINE_BUTTON_ACTIONS):
        raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if isinstance(data, str) and len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
        raise bad_request("BUTTON_DATA_INVALID")


def _markup_after_edit(
    before: dict[str, Any] | None, inline: dict[str, Any] | None
) -> dict[str, Any] | None:
    """An edit replaces the inline keyboard, and an edit without one removes it (a
    classic way to lose buttons by accident). A reply keyboard sent with the message
    belongs to the chat, not to the message text, so an edit leaves it alone."""
    if inline is not None or _inline_part(before) is not None:
        return inline
    return before


def _inline_part(markup: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if markup and "inline_keyboard" in markup:
        return dict(markup)
    return None


def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
    scope = scope if isinstance(scope, dict) else {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(language_code or "")


def _command_entities(text: str) -> list[dict[str, Any]]:
    """bot_command entities, as Telegram adds them to incoming text."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group()),
        }
        for m in _BOT_COMMAND.finditer(text)
    ]


def _caption(caption: str | None) -> dict[str, Any]:
    if caption is None:
        return {}
    content: dict[str, Any] = {"caption": caption}
    entities = _command_entities(caption)
    if entities:
        content["caption_entities"] = entities
    return content
