"""The Telegram adapter: receives updates, translates them into events for the two
front doors (link workers first, then patients), and delivers the outbox, with
python-telegram-bot's `Bot`. It decides nothing.

Nothing is confirmed to Telegram before it is safe (docs/architecture.md rule 1):
python-telegram-bot's own updater confirms an update as soon as it fetches it, so
the bot fetches for itself, keeps each batch in the inbox (committed), and only
then moves the `getUpdates` offset. Updates are handled from the inbox
(bot/inbox.py); a lone update that could go at once is handled as it arrives, its
patient's transaction keeping it, and only then is it confirmed (`_at_once`).
Crisis language is looked for the moment an update arrives: if the database
cannot keep it, the person still gets the crisis contacts at once.

Conversation state lives in the database, never in python-telegram-bot's
ConversationHandler, persistence or JobQueue (rule 3), so a restart resumes every
conversation where it was.

At start-up the bot makes sure the team chat (STAFF_CHAT_ID) is a group it is in and
may post in, and says in one sentence what to do if not: crisis alerts go there. The
bot token is never written anywhere (bot/app.py's `RedactSecrets`), since every
Bot API URL carries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot as TelegramApi
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    Chat,
    ChatFullInfo,
    ChatMember,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bot import safety
from bot.app import App, keep_secret
from bot.config import SettingsError
from bot.delivery import (
    DEFAULT_LIMITS,
    Blocked,
    Claim,
    Delivery,
    Limits,
    RetryLater,
    Sent,
    Undeliverable,
)
from bot.inbox import DEFAULT_FLOOD_LIMIT, FloodLimit, InboxDrain, MayGo
from bot.lanes import settle
from bot.metrics import Metrics
from bot.patients import Inbound
from bot.staff import StaffInbound
from bot.store import inbox as kept
from bot.store import instances
from bot.store.db import trouble
from bot.store.outbox import URGENT, Keyboard, Outbox
from bot.store.staff import active_worker
from bot.store.updates import forget_before
from bot.taps import StaffTap, decode
from bot.webhook import WebhookConfig, WebhookServer
from flows.core import Button, Command, Edited, Event, Text, Unsupported

log = logging.getLogger(__name__)

COMMANDS = ("start", "status", "help", "restart", "mydata", "delete", "stop")
#: Message attributes we cannot read, in the order PTB would report them.
UNSUPPORTED_KINDS = ("sticker", "photo", "voice", "video", "video_note", "audio", "animation",
                     "document", "location", "venue", "contact", "poll", "dice")  # fmt: skip
#: How long a `getUpdates` waits for something to happen (long polling).
POLL_SECONDS = 20
#: Updates kept as received, at most, until handled (`TelegramBot.keep`): a few
#: getUpdates batches' worth (the rest are read from what was kept).
KEEP_DECODED = 1000
HEARTBEAT = timedelta(seconds=2)
#: Due check-ins, reminders and nudges are looked for every this many heartbeats (10
#: seconds): they fall due by the day, so seconds late is nothing, and each look
#: is several write transactions, most of them finding nothing. A look that found
#: some looks again at the next heartbeat: a backlog goes at the delivery's pace.
CHECK_INS_EVERY = 5
#: An instance silent for this long is dead: what it held is let go.
DEAD_AFTER = timedelta(seconds=10)
#: Handled-update ids are kept this long (Telegram redelivers within a day).
KEEP_HANDLED_FOR = timedelta(days=7)
#: `spbot run` exits (for its supervisor to restart it) if a loop stalls this long.
WATCHDOG_SECONDS = 180.0
#: How long a stop waits for work under way to finish.
STOP_GRACE = 4.0


def translate(update: Update) -> Event | StaffTap | None:
    """What the person did, or None for updates that are not from a person to us."""
    if update.callback_query is not None:
        return decode(update.callback_query.data or "")
    if update.edited_message is not None:
        return Edited(update.edited_message.text or "")
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        if message.text.startswith("/"):
            name, _, args = message.text[1:].partition(" ")
            return Command(name.split("@")[0].lower(), args.strip())
        return Text(message.text)
    kind = next((k for k in UNSUPPORTED_KINDS if getattr(message, k, None)), "other")
    return Unsupported(kind, message.caption or "")


def _joining(action: object) -> bool:
    """`/join`: someone joining the team (the staff side's, even from someone new)."""
    return isinstance(action, Command) and action.name == "join"


def _reply_to(update: Update) -> int | None:
    """The message this one answers with Telegram's reply-to, if any."""
    message = update.message
    if message is None or message.reply_to_message is None:
        return None
    return message.reply_to_message.message_id


def _written_at(update: Update) -> Any:
    """When the person wrote it, by Telegram's clock (None for a tap)."""
    message = update.message or update.edited_message
    return message.date.astimezone(UTC) if message is not None and message.date else None


class TelegramBot:
    def __init__(
        self,
        app: App,
        *,
        limits: Limits = DEFAULT_LIMITS,
        flood_limit: FloodLimit = DEFAULT_FLOOD_LIMIT,
        poll_seconds: int = POLL_SECONDS,
        watchdog_seconds: float | None = None,
        webhook: WebhookConfig | None = None,
    ) -> None:
        """`webhook`: Telegram posts updates to this instance (`spbot run --webhook`);
        None: long polling."""
        self.app = app
        self.webhook = webhook
        self.metrics = Metrics()
        token = app.settings.require_token()
        keep_secret(token)  # every request's URL carries it: no log line will
        timeout = app.settings.telegram_timeout
        self.api = TelegramApi(
            token,
            base_url=app.settings.telegram_api_url,
            request=HTTPXRequest(
                connection_pool_size=limits.chats_at_once + 8, connect_timeout=timeout,
                read_timeout=timeout, write_timeout=timeout, pool_timeout=timeout,
            ),
            get_updates_request=HTTPXRequest(connect_timeout=timeout, read_timeout=timeout),
        )  # fmt: skip
        self.instance = uuid.uuid4().hex
        self.poll_seconds = poll_seconds
        self.watchdog_seconds = watchdog_seconds
        self.delivery = Delivery(
            app.db, TelegramSender(self.api), "telegram", instance=self.instance, limits=limits,
            on_refused=app.notices.message_refused, on_blocked=app.notices.patient_blocked,
            on_error=self.metrics.delivery_error, clock=app.clock,
        )  # fmt: skip
        self.inbox = InboxDrain(
            app.db, self._handle, instance=self.instance, given_up=self._given_up,
            flooding=self._flooding, clock=app.clock, flood_limit=flood_limit,
            on_handled=self.metrics.handled,
        )  # fmt: skip
        self.server = (
            WebhookServer(webhook, self.keep_pushed, app.db, self.metrics, app.clock)
            if webhook is not None
            else None
        )
        #: Updates whose crisis reply went out directly, when the database could not
        #: take them: the reply is not sent again when they are handled.
        self.crisis_answered: set[int] = set()
        #: Link workers' chats this process has given the worker menu.
        self._menus: set[int] = set()
        self.last_receive = time.monotonic()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._feeds: asyncio.Task[None] | None = None  # scheduled directory imports
        self._figures: asyncio.Task[None] | None = None  # the report's, each night
        #: Crisis replies sent from the receiver, kept until they are done.
        self._replying: set[asyncio.Task[None]] = set()
        #: Taps being answered (answerCallbackQuery), kept until they are done.
        self._answering: set[asyncio.Task[None]] = set()
        #: Updates kept by this process, as received (`keep`), until handled.
        self._decoded: dict[int, Update] = {}

    # --- receiving ----------------------------------------------------------------------
    async def _receive(self) -> None:
        """Fetch updates; keep each batch (or handle a lone update at once: `received`);
        only then confirm it (the next offset)."""
        offset: int | None = None
        failures = 0
        while True:
            self.last_receive = time.monotonic()
            try:
                updates = await self.api.get_updates(
                    offset=offset, timeout=self.poll_seconds, allowed_updates=Update.ALL_TYPES
                )
            except TimedOut:
                continue
            except Conflict:
                log.error("another bot instance is polling with this token")
                await asyncio.sleep(5)
                continue
            except NetworkError as exc:  # Telegram's 5xx, or the network
                failures += 1
                log.warning("getUpdates failed", extra={"error": str(exc)[:100]})
                await asyncio.sleep(min(2.0 ** (failures - 1), 30.0))
                continue
            if not updates:
                failures = 0
                continue
            try:
                await self.received(updates)
            except Exception as exc:
                # Not confirmed: Telegram keeps them, and gives them again. Whoever
                # wrote crisis words hears where to get help now, all the same.
                failures += 1
                log.warning("cannot keep updates (%s); Telegram keeps them for now", trouble(exc),
                            extra={"error": type(exc).__name__, "count": len(updates)})  # fmt: skip
                for update in updates:
                    await self._answer_crisis_directly(update)
                await asyncio.sleep(min(2.0 ** (failures - 1), 30.0))
                continue
            failures = 0
            offset = updates[-1].update_id + 1

    async def received(self, updates: Sequence[Update]) -> None:
        """What becomes of a batch fetched, before Telegram is told it may forget it:
        a lone update handled at once, if it may be (`_at_once`); otherwise the
        batch kept, for the inbox to handle (raises if it cannot be kept)."""
        if len(updates) == 1 and await self._at_once(updates[0]):
            return
        await self.keep(updates)
        self.inbox.wake.set()
        self._look_ahead(updates)

    async def _tell_telegram_where(self) -> None:
        """Tell Telegram where to post (every instance says the same: the load
        balancer's URL)."""
        assert self.webhook is not None
        await self.api.set_webhook(
            self.webhook.url, secret_token=self.webhook.secret,
            allowed_updates=Update.ALL_TYPES, max_connections=40,
        )  # fmt: skip

    async def _set_webhook(self) -> None:
        """Telegram did not answer at start-up: ask again, with growing pauses."""
        failures = 0
        while True:
            failures += 1
            await asyncio.sleep(min(2.0 ** (failures - 1), 30.0))
            try:
                await self._tell_telegram_where()
                return
            except BadRequest as exc:
                log.error("Telegram refused WEBHOOK_URL", extra={"error": exc.message[:100]})
                return
            except (TimedOut, NetworkError) as exc:
                log.warning("setWebhook failed; trying again", extra={"error": type(exc).__name__})

    async def keep_pushed(self, payload: dict[str, Any]) -> bool:
        """An update Telegram posted (webhook mode): keep it, and only then say so
        (True: answer 200). False: not kept (the database is down); Telegram will
        post it again, and crisis words are answered directly all the same."""
        update = Update.de_json(payload, self.api)
        try:
            await self.keep([update])
        except Exception as exc:
            log.warning("cannot keep an update (%s); Telegram will send it again", trouble(exc),
                        extra={"update_id": update.update_id})  # fmt: skip
            await self._answer_crisis_directly(update)
            return False
        self.last_receive = time.monotonic()
        self.inbox.wake.set()
        self._look_ahead([update])
        return True

    async def keep(self, updates: Sequence[Update]) -> None:
        """Keep updates received (a batch of getUpdates, or one posted) before
        Telegram is told it may forget them. This process most likely handles them
        next, and a moment later: as received, they need not be read again
        (`_handle`)."""
        async with self.app.db.durable_transaction() as session:
            await kept.keep(session, [_received(u) for u in updates], self.app.clock())
        for update in updates:
            self._decoded[update.update_id] = update
        while len(self._decoded) > KEEP_DECODED:  # (handled elsewhere, or failed)
            del self._decoded[next(iter(self._decoded))]

    def _look_ahead(self, updates: Sequence[Update]) -> None:
        """Crisis words in a flood do not wait their turn: a chat whose updates will
        wait (bot/inbox.py slows a chat sending very fast) is read for them by the
        rules now, and if they are there the person gets the crisis contacts at once
        and the chat's backlog is handled at full speed, so the team hears soon too."""
        arriving = Counter(_turn(update) for update in updates)
        for update in updates:
            turn = _turn(update)
            if turn is None or not self.inbox.is_flooding(turn, arriving[turn]):
                continue
            action = translate(update)
            text = action.text if isinstance(action, Text | Edited | Unsupported) else ""
            if text and safety.screen(text).is_crisis:
                self.inbox.hurry(turn)
                reply = asyncio.create_task(self._answer_crisis_directly(update))
                self._replying.add(reply)
                reply.add_done_callback(self._replying.discard)

    async def _at_once(self, update: Update) -> bool:
        """A lone update polled, from someone in a private chat: handled as it
        arrives if it may be (bot/inbox.py `InboxDrain.at_once`), its patient's
        transaction keeping it; True if it was. Only one process polls, so nothing
        else keeps this chat's updates meanwhile. A tap on nothing of ours, or on a
        staff button, goes the usual way: its answer is not given twice; so does a
        `/join` (the staff side's, for someone joining the team). Its sender is
        taken not to be on the team until the patient's transaction asks (`may_go`):
        a link worker's update is then kept, for the staff side, with nothing done."""
        chat, user, action = update.effective_chat, update.effective_user, translate(update)
        if chat is None or chat.type != Chat.PRIVATE or user is None or user.is_bot:
            return False
        if action is None or isinstance(action, StaffTap) or _joining(action):
            return False
        return await self.inbox.at_once(
            update.update_id, chat.id,
            lambda may_go: self._handle_update(update, False, kept=False, may_go=may_go),
        )  # fmt: skip

    async def _handle(self, payload: dict[str, Any], from_worker: bool) -> bool:
        """Handle one kept update (raises if it could not be: it is tried again).
        True: handling took it out of the inbox (bot/inbox.py). `from_worker`: its
        sender was an active link worker when the inbox looked (bot/inbox.py)."""
        # As received, if this process kept it (what it says is what was kept);
        # read from what was kept otherwise (another instance's, or tried again).
        update = self._decoded.pop(payload.get("update_id", -1), None)
        if update is None:
            update = Update.de_json(payload, self.api)
        return await self._handle_update(update, from_worker)

    async def _handle_update(
        self, update: Update, from_worker: bool, *, kept: bool = True, may_go: MayGo | None = None
    ) -> bool:
        try:
            return await self.on_update(update, from_worker=from_worker, kept=kept, may_go=may_go)
        except Exception:
            await self._answer_crisis_directly(update)
            raise

    async def _answer_crisis_directly(self, update: Update) -> None:
        """Crisis contacts straight to the person, when their words cannot be
        handled yet (the database is down): safety does not wait for storage."""
        chat, action = update.effective_chat, translate(update)
        if chat is None or chat.type != Chat.PRIVATE or update.update_id in self.crisis_answered:
            return
        text = action.text if isinstance(action, Text | Edited | Unsupported) else ""
        meaning = await self.app.patients.read_meaning(text)
        screening = safety.screen(text, meaning=meaning) if text else None
        if screening is None or not screening.is_crisis or screening.category is None:
            return
        self.crisis_answered.add(update.update_id)
        reply = self.app.messages.render(f"safety/{screening.category}")
        log.warning("crisis reply sent directly", extra={"update_id": update.update_id})
        with contextlib.suppress(Exception):
            await TelegramSender(self.api).send(chat.id, reply, [])

    async def _flooding(self, payload: dict[str, Any]) -> None:
        """Someone is sending messages very fast (bot/inbox.py): tell them once that
        every one will be read, and why replies are slow. Not in a group: that is
        everyone's chat."""
        update = Update.de_json(payload, self.api)
        chat, user = update.effective_chat, update.effective_user
        if chat is None or chat.type != Chat.PRIVATE:
            return
        async with self.app.db.transaction() as session:
            staff = user is not None and await active_worker(session, user.id) is not None
            text = self.app.messages.render("staff/flooding" if staff else "referral/flooding")
            # Ahead of the replies still owed to them: it is what explains the wait.
            Outbox(session, "telegram", chat.id, self.app.clock()).send(text, priority=URGENT)
        self.delivery.wake.set()

    async def _given_up(self, payload: dict[str, Any]) -> None:
        update = Update.de_json(payload, self.api)
        chat = update.effective_chat
        if chat is not None and chat.type == Chat.PRIVATE:
            await self.app.patients.not_handled("telegram", chat.id)
            self.delivery.wake.set()

    async def on_update(
        self,
        update: Update,
        *,
        from_worker: bool | None = None,
        kept: bool = True,
        may_go: MayGo | None = None,
    ) -> bool:
        """True when the update was handled in a transaction of the patient side,
        which took it out of the inbox (bot.store.updates.first_delivery).
        `from_worker`: whether its sender was an active link worker a moment ago, if
        known (the staff side asks again otherwise, and when it was). `kept`: it is
        in the inbox (False: handled as it arrived, see `_at_once`, if `may_go` says
        it may: False, nothing done, when it may not)."""
        action = translate(update)
        chat, user, query = update.effective_chat, update.effective_user, update.callback_query
        if action is None or chat is None:
            self._answer_tap(query, None)
            return False
        # A link worker's update goes to the staff side; anyone else's (it returns
        # None, having written nothing) carries on below, as a patient's.
        if user is not None and not user.is_bot:
            message = query.message if query is not None else None
            staff = StaffInbound(
                user_id=user.id, chat_id=chat.id, private=chat.type == Chat.PRIVATE,
                event=action, update_id=update.update_id, first_name=user.first_name,
                message_id=message.message_id if message is not None else None,
                reply_to=_reply_to(update),
            )  # fmt: skip
            if (done := await self.app.staff.handle(staff, on_the_team=from_worker)) is not None:
                self.delivery.wake.set()
                self._answer_tap(query, done.tap_notice)
                return False
        # A staff button tapped by someone not on the team: an answer to no question.
        event = action if not isinstance(action, StaffTap) else Button(-1, "")
        if chat.type != Chat.PRIVATE:
            # A group is no place for health information: ask them to message privately.
            if isinstance(event, Command) and event.name in COMMANDS:
                await self.app.patients.tell_group(chat.id)
                self.delivery.wake.set()
            self._answer_tap(query, None)
            return False
        claim: Claim | None = None

        async def claim_the_reply(session: AsyncSession) -> None:
            nonlocal claim
            claim = await self.delivery.claim_in(session)

        handled = await self.app.patients.handle(
            Inbound(
                "telegram", chat.id, event, update.update_id, user.first_name if user else None,
                written_at=_written_at(update),
                crisis_answered=update.update_id in self.crisis_answered, kept=kept,
            ),
            may_go=may_go, then=claim_the_reply,
        )  # fmt: skip
        if handled.waiting:  # it waits its turn in the inbox: answered there
            return False
        self.crisis_answered.discard(update.update_id)
        # The reply first: it is what they are waiting for. Claimed in the transaction
        # that wrote it (with whatever else was due: what it told the team), it goes
        # now; otherwise delivery's pass claims it.
        if claim is not None:
            self.delivery.send_claimed(claim)
        elif handled.outbox_ids:
            self.delivery.written()
        else:
            self.delivery.wake.set()  # (what it told the team, if anything)
        self._answer_tap(query, handled.tap_notice)
        return True

    def _answer_tap(self, query: CallbackQuery | None, notice: str | None) -> None:
        """Every tap is answered, or the button keeps spinning on their phone; beside
        the reply, not before it, and never holding up the chat's next update."""
        if query is None:
            return
        answering = asyncio.create_task(_answer_tap(query, notice))
        self._answering.add(answering)
        answering.add_done_callback(self._answering.discard)

    # --- running ------------------------------------------------------------------------
    async def start(self) -> None:
        try:
            try:
                await self.api.initialize()
            except InvalidToken:  # its message quotes the token: not passed on
                raise SettingsError(
                    "Telegram refused TELEGRAM_BOT_TOKEN (mistyped, or revoked in @BotFather): "
                    "copy your bot's token again from @BotFather (/mybots, your bot, API Token) "
                    "into .env as TELEGRAM_BOT_TOKEN=..."
                ) from None
            await self._check_team_chat()
        except SettingsError:
            with contextlib.suppress(Exception):
                await self.api.shutdown()
            raise
        now = self.app.clock()
        async with self.app.db.transaction() as session:
            # SQLite: one process runs the bot, so every other instance is gone.
            silent = None if self.app.db.is_sqlite else DEAD_AFTER
            released = await instances.release_the_dead(session, self.instance, now, silent)
            await instances.register(session, self.instance, socket.gethostname(), os.getpid(), now)
            if silent is not None:
                self._sharing(await instances.others_running(session, self.instance, now, silent))
        if released:
            log.info("released what a stopped instance held", extra={"count": released})
        with contextlib.suppress(NetworkError):
            commands = [BotCommand(c, self.app.messages.label(f"command_{c}")) for c in COMMANDS]
            await self.api.set_my_commands(commands)
        await self._worker_menus(starting=True)
        self._tasks = {
            "inbox": asyncio.create_task(self.inbox.run(), name="inbox"),
            "delivery": asyncio.create_task(self.delivery.run(), name="delivery"),
            "housekeeping": asyncio.create_task(self._keep_house(), name="housekeeping"),
        }
        if self.server is not None and self.webhook is not None:
            # Listening first, then Telegram told where to post (every instance says
            # the same: the load balancer's URL).
            await self.server.start()
            try:
                await self._tell_telegram_where()
            except BadRequest as exc:
                await self.stop()
                raise SettingsError(
                    f"Telegram refused WEBHOOK_URL={self.webhook.url} ({exc.message}): it "
                    "must be a public https:// address on port 443, 80, 88 or 8443."
                ) from None
            except (TimedOut, NetworkError):  # not answering: asked again meanwhile
                self._tasks["webhook"] = asyncio.create_task(self._set_webhook(), name="webhook")
        else:
            with contextlib.suppress(NetworkError):  # Telegram refuses polls while one is set
                await self.api.delete_webhook()
            self._tasks["receive"] = asyncio.create_task(self._receive(), name="receive")
        self.inbox.wake.set()
        self.delivery.wake.set()

    async def _worker_menus(self, *, starting: bool = False) -> None:
        """Each link worker's private chat lists the staff commands (everyone else
        sees the patients' menu); a removed worker's goes back to the patients'.
        At start-up every chat is set; later, only the team's changes."""
        active, removed = await self.app.staff.menu_chats()
        menu = [BotCommand(c, d) for c, d in self.app.staff.command_menu()]
        for chat_id in active:
            if starting or chat_id not in self._menus:
                with contextlib.suppress(NetworkError, Forbidden):  # tried again next time
                    await self.api.set_my_commands(menu, scope=BotCommandScopeChat(chat_id))
                    self._menus.add(chat_id)
        for chat_id in removed:
            if starting or chat_id in self._menus:
                with contextlib.suppress(NetworkError, Forbidden):
                    await self.api.delete_my_commands(scope=BotCommandScopeChat(chat_id))
                    self._menus.discard(chat_id)

    async def _check_team_chat(self) -> None:
        """STAFF_CHAT_ID must be a group the bot is in and may post in: crisis alerts
        and new cases go there. (`spbot run` will not start without one; a test may.)"""
        chat_id = self.app.settings.staff_chat_id
        if chat_id is None:
            return
        try:
            chat = await self.api.get_chat(chat_id)
            me = await self.api.get_chat_member(chat_id, self.api.id)
        except ChatMigrated as exc:
            raise SettingsError(
                f"The team group STAFF_CHAT_ID={chat_id} became a supergroup, which has a new "
                f"id: put STAFF_CHAT_ID={exc.new_chat_id} in .env and start the bot again."
            ) from None
        except Forbidden:
            raise SettingsError(not_in_team_chat(chat_id, self.api.username)) from None
        except BadRequest:
            raise SettingsError(
                f"Telegram has no chat STAFF_CHAT_ID={chat_id} that the bot can see: check the "
                "number in .env (a group's id is negative; a supergroup's starts with -100) "
                "and that the bot has been added to your team's group."
            ) from None
        except (TimedOut, NetworkError) as exc:  # Telegram unreachable: it is not our call
            log.warning("could not check the team chat; carrying on",
                        extra={"error": type(exc).__name__})  # fmt: skip
            return
        problem = team_chat_problem(chat, me, self.api.username)
        if problem is not None:
            raise SettingsError(problem)
        log.info("team chat checked", extra={"chat_id": chat_id, "status": me.status})

    async def stop(self) -> None:
        """Stop taking updates, give work under way a few seconds to finish, then
        let go of whatever this instance still holds."""
        if self.server is not None:
            await self.server.stop()  # Telegram's next post goes to another instance
        inbox, delivery = self._tasks["inbox"], self._tasks["delivery"]
        for name in ("receive", "webhook", "housekeeping"):
            if name in self._tasks:
                self._tasks[name].cancel()
        if self._feeds is not None:
            self._feeds.cancel()  # an import is one transaction: cancelled, nothing changes
        if self._figures is not None:
            self._figures.cancel()  # its process is stopped; nothing is kept half-made
        self.inbox.stopping = self.delivery.stopping = True
        self.inbox.wake.set()
        self.delivery.wake.set()
        # Each wait is bounded (bot.lanes.settle): a database that stopped answering
        # must not hold a stop past its supervisor's patience.
        await settle([inbox, delivery], STOP_GRACE / 4)  # stop looking for work
        # Work under way finishes: updates being handled, then what they wrote.
        await self.inbox.finish(STOP_GRACE / 2)
        await self.delivery.finish(STOP_GRACE / 2)
        if self._answering:  # a tap answered late is better than a spinning button
            await asyncio.wait(set(self._answering), timeout=1.0)
        await settle(self._tasks.values(), 0)
        self._tasks = {}
        # Let go of what this instance holds (if the database answers in time: a
        # stop must not hang on a database that does not; others release it later).
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                async with self.app.db.transaction() as session:
                    await instances.stop(session, self.instance, self.app.clock())
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await self.api.shutdown()

    async def run(self) -> None:
        """`spbot run`: until SIGTERM or SIGINT, then a clean stop."""
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await self.start()
        if self.watchdog_seconds:
            Watchdog(self, self.watchdog_seconds).start()
        log.info("bot running", extra={"instance": self.instance})
        await stopping.wait()
        log.info("stopping")
        await self.stop()

    async def _import_feeds(self) -> None:
        """Scheduled directory imports, beside the housekeeping (an import of a
        big feed takes a while, and must not hold up check-ins)."""
        try:
            await self.app.import_due_feeds()
        except Exception as exc:
            log.warning("scheduled imports failed", extra={"error": type(exc).__name__})

    async def _keep_report_figures(self) -> None:
        """The report's figures, worked out each night beside the housekeeping (at a
        million patients it takes a while)."""
        try:
            await self._once("report figures", self.app.keep_report_figures)
        except Exception as exc:
            log.warning("keeping report figures failed", extra={"error": type(exc).__name__})

    def _sharing(self, others: bool) -> None:
        """Whether other instances run on this database now (PostgreSQL): while they
        do, the inbox and delivery look for each other's work at every lane's end
        and every second; alone, as on SQLite, they are told of nearly all of it."""
        if others != self.inbox.sharing:
            log.info("other instances running" if others else "running alone")
        self.inbox.sharing = self.delivery.sharing = others
        self.metrics.other_instances.set(int(others))

    async def _keep_house(self) -> None:
        """Heartbeat; let go of what dead instances held; prune old records; check-ins
        due; claim reminders; pick up directory imports made while running."""
        ticks = 0
        check_ins_written = 0  # by the last look: more may be due
        while True:
            await asyncio.sleep(HEARTBEAT.total_seconds())
            ticks += 1
            try:
                now = self.app.clock()
                if self.webhook is not None:
                    self.last_receive = time.monotonic()  # Telegram posts: nothing to poll
                await self._beat(ticks, now)
                # Each job below runs in one instance at a time (Database.exclusively).
                if ticks % 1800 == 0:  # about hourly
                    await self._once("forget handled", self._forget_handled)
                # Check-ins, reminders and nudges that are due (the database says which).
                if check_ins_written or ticks % CHECK_INS_EVERY == 1:
                    check_ins_written = await self._once(
                        "check-ins", self.app.patients.checkins.tick
                    )
                    if check_ins_written:
                        self.delivery.written()
                if ticks % 15 == 0 and await self._once(
                    "unseen alerts", self.app.staff.remind_unseen_alerts
                ):
                    self.delivery.wake.set()  # about every half a minute
                if ticks % 150 == 20 and (self._figures is None or self._figures.done()):
                    # about every five minutes: tonight's report figures, if not yet kept
                    self._figures = asyncio.create_task(self._keep_report_figures(), name="figures")
                if ticks % 60 == 0:  # every two minutes: retention, and deletions that waited
                    await self._once("privacy sweep", self.app.patients.privacy_sweep)
                if ticks % 30 == 0:  # about a minute
                    if await self._once("unclaimed", self.app.staff.remind_unclaimed):
                        self.delivery.wake.set()
                    if await self._once("overdue", self.app.staff.flag_overdue):
                        self.delivery.wake.set()  # the first pass of each working day
                    await self._worker_menus()
                    await self.app.refresh_directory()  # every instance's own copy
                    if self._feeds is None or self._feeds.done():  # feeds due (--every)
                        self._feeds = asyncio.create_task(self._import_feeds(), name="feeds")
            except Exception as exc:
                log.warning(
                    "housekeeping failed; trying again", extra={"error": type(exc).__name__}
                )

    async def _beat(self, ticks: int, now: datetime) -> None:
        """The heartbeat, for other instances to know this one is alive; at every
        fifth, whether others are, and what dead ones held let go. On SQLite nothing:
        one process runs the bot, and start-up let go of what any before it held (a
        write there took SQLite's write lock every two seconds, and 0.9 ms of CPU)."""
        if self.app.db.is_sqlite:
            return
        if ticks % 5:
            async with self.app.db.one_statement() as session:
                await instances.beat(session, self.instance, now)
            return
        async with self.app.db.transaction() as session:
            await instances.beat(session, self.instance, now)
            self._sharing(await instances.others_running(session, self.instance, now, DEAD_AFTER))
            if await instances.release_the_dead(session, self.instance, now, DEAD_AFTER):
                self.inbox.wake.set()  # what it held is theirs to take now
                self.delivery.wake.set()

    async def _once(self, job: str, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run a periodic job unless another instance is running it now (then None)."""
        async with self.app.db.exclusively(job) as mine:
            return await work() if mine else None

    async def _forget_handled(self) -> None:
        now = self.app.clock()
        async with self.app.db.transaction() as session:
            await forget_before(session, now - KEEP_HANDLED_FOR)
            await kept.forget_failed_before(session, now - KEEP_HANDLED_FOR)


class Watchdog(threading.Thread):
    """Exits the process (for its supervisor to start it again) when a loop stops
    making progress: a thread, so that it works even if the event loop is stuck."""

    def __init__(self, bot: TelegramBot, seconds: float) -> None:
        super().__init__(name="watchdog", daemon=True)
        self.bot = bot
        self.seconds = seconds

    def run(self) -> None:
        while True:
            time.sleep(self.seconds / 6)
            now = time.monotonic()
            stalled = [
                name for name, last in (("receive", self.bot.last_receive),
                                        ("inbox", self.bot.inbox.last_pass),
                                        ("delivery", self.bot.delivery.last_pass))
                if now - last > self.seconds
            ]  # fmt: skip
            if stalled:
                log.critical("no progress: exiting to be restarted", extra={"stalled": stalled})
                logging.shutdown()
                os._exit(70)


def team_chat_problem(chat: ChatFullInfo, me: ChatMember, username: str) -> str | None:
    """What is wrong with the team chat for the bot (@`username`; `me`, its
    membership there), in one sentence saying how to put it right; None: nothing."""
    where = f"STAFF_CHAT_ID={chat.id}"
    if chat.type == ChatType.PRIVATE:
        return (
            f"{where} is a private chat, not your link worker team's group, where crisis "
            "alerts and new cases must go: add the bot to that group, send a message there, "
            "and put the group's id (a negative number) in .env as STAFF_CHAT_ID=..."
        )
    if chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return (
            f'{where} is a {chat.type} ("{chat.title}"), not a group, and link workers '
            "cannot tap buttons or talk there: make a Telegram group for the team, add the "
            "bot, and put the group's id in .env as STAFF_CHAT_ID=..."
        )
    if me.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        return not_in_team_chat(chat.id, username)
    if me.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR):
        return None
    if isinstance(me, ChatMemberRestricted):
        may_post = me.can_send_messages
    else:
        may_post = chat.permissions is None or chat.permissions.can_send_messages is not False
    if not may_post:
        return (
            f'The bot may not post in the team chat {where} ("{chat.title}"): in the '
            "group's settings let members send messages, or make the bot an admin, then start "
            "the bot again."
        )
    return None


def not_in_team_chat(chat_id: int, username: str) -> str:
    return (
        f"The bot is not in the team chat STAFF_CHAT_ID={chat_id}: add it to your team's "
        f"group again (the group's name, Add members, @{username}), then start the bot again."
    )


def _turn(update: Update) -> int | None:
    """Whose turn an update waits for: its chat's, or in a group the person's who
    sent it, so that one person there (a flood, a slow tap) holds up nobody else.
    (A private chat's id is its person's: the two are one turn.)"""
    chat, user = update.effective_chat, update.effective_user
    if chat is None:
        return None
    if chat.type != Chat.PRIVATE and user is not None:
        return user.id
    return chat.id


def _received(update: Update) -> kept.Received:
    return kept.Received(update.update_id, _turn(update), update.to_dict())


async def _answer_tap(query: CallbackQuery | None, notice: str | None) -> None:
    """Every tap is answered, or the button keeps spinning on their phone."""
    if query is not None:
        with contextlib.suppress(BadRequest, NetworkError):
            await query.answer(notice)


class TelegramSender:
    """Delivery through the Bot API, with its errors turned into what they mean."""

    def __init__(self, api: TelegramApi) -> None:
        self.api = api

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> Sent:
        with _meaning_of_errors():
            message: Message = await self.api.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=_markup(buttons),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )  # fmt: skip
            return Sent(message.message_id, message.date.astimezone(UTC) if message.date else None)
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_document(
        self, chat_id: int, filename: str, content: bytes, caption: str
    ) -> Sent:
        with _meaning_of_errors():
            message: Message = await self.api.send_document(
                chat_id, InputFile(content, filename=filename), caption=caption,
                parse_mode=ParseMode.HTML,
            )  # fmt: skip
            return Sent(message.message_id, message.date.astimezone(UTC) if message.date else None)
        raise AssertionError("unreachable")  # pragma: no cover

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> None:
        with _meaning_of_errors():
            try:
                await self.api.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                    reply_markup=_markup(buttons), link_preview_options=LinkPreviewOptions(is_disabled=True),
                )  # fmt: skip
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    raise

    async def replace(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> Sent:
        """The next question in the place of the one just answered: an edit, which
        appeared when Telegram says it was edited (its clock, as a message's date)."""
        with _meaning_of_errors():
            edited = await self.api.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                reply_markup=_markup(buttons), link_preview_options=LinkPreviewOptions(is_disabled=True),
            )  # fmt: skip
            when = edited.edit_date if isinstance(edited, Message) else None
            return Sent(message_id, when.astimezone(UTC) if when else None)
        raise AssertionError("unreachable")  # pragma: no cover

    async def delete(self, chat_id: int, message_id: int) -> None:
        with _meaning_of_errors():
            await self.api.delete_message(chat_id, message_id)


def _markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["text"], callback_data=b["data"]) for b in row] for row in buttons]
    )


@contextlib.contextmanager
def _meaning_of_errors() -> Iterator[None]:
    try:
        yield
    except RetryAfter as exc:
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise RetryLater(seconds, "Telegram asked us to slow down") from exc
    except Forbidden as exc:
        raise Blocked() from exc
    except BadRequest as exc:  # before NetworkError: BadRequest is one
        raise Undeliverable(exc.message) from exc
    except (TimedOut, NetworkError) as exc:
        raise RetryLater(None, f"network: {type(exc).__name__}") from exc
