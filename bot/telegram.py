"""The Telegram adapter: translates updates into events for the two front doors
(link workers first, then patients) and delivers the outbox with
python-telegram-bot. It decides nothing: conversation state lives in the
database, not in PTB's ConversationHandler or persistence (docs/architecture.md
rule 3), so a restart resumes every conversation where it was."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta

from telegram import (
    BotCommand,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.app import App
from bot.delivery import DEFAULT_LIMITS, Blocked, Delivery, Limits, RetryLater, Undeliverable
from bot.patients import Inbound
from bot.staff import StaffInbound
from bot.store.outbox import Keyboard
from bot.taps import StaffTap, decode
from flows.core import Button, Command, Edited, Event, Text, Unsupported

log = logging.getLogger(__name__)

COMMANDS = ("start", "status", "help", "restart")
#: Message attributes we cannot read, in the order PTB would report them.
UNSUPPORTED_KINDS = ("sticker", "photo", "voice", "video", "video_note", "audio", "animation",
                     "document", "location", "venue", "contact", "poll", "dice")  # fmt: skip


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
    return Unsupported(kind)


class TelegramBot:
    def __init__(
        self, app: App, *, limits: Limits = DEFAULT_LIMITS, poll_interval: float = 0.0
    ) -> None:
        self.app = app
        token = app.settings.require_token()
        self.application: Application = (
            ApplicationBuilder()
            .token(token)
            .base_url(app.settings.telegram_api_url)
            .post_init(self._started)
            .post_shutdown(self._stopped)
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self.on_update))
        self.delivery = Delivery(
            app.db, TelegramSender(self.application), "telegram", limits=limits
        )
        self.poll_interval = poll_interval
        self._delivery_task: asyncio.Task[None] | None = None

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        action = translate(update)
        chat, user, query = update.effective_chat, update.effective_user, update.callback_query
        if action is None or chat is None:
            return
        # A link worker's update goes to the staff side; anyone else's (it returns
        # None, having written nothing) carries on below, as a patient's.
        if user is not None and not user.is_bot:
            message = query.message if query is not None else None
            staff = StaffInbound(
                user_id=user.id, chat_id=chat.id, private=chat.type == Chat.PRIVATE,
                event=action, update_id=update.update_id, first_name=user.first_name,
                message_id=message.message_id if message is not None else None,
            )  # fmt: skip
            if (done := await self.app.staff.handle(staff)) is not None:
                await _answer_tap(query, done.tap_notice)
                self.delivery.wake.set()
                return
        # A staff button tapped by someone not on the team: an answer to no question.
        event = action if not isinstance(action, StaffTap) else Button(-1, "")
        if chat.type != Chat.PRIVATE:
            # A group is no place for health information: ask them to message privately.
            if isinstance(event, Command) and event.name in COMMANDS:
                await self.app.patients.tell_group(chat.id)
                self.delivery.wake.set()
            await _answer_tap(query, None)
            return
        handled = await self.app.patients.handle(
            Inbound("telegram", chat.id, event, update.update_id, user.first_name if user else None)
        )
        await _answer_tap(query, handled.tap_notice)
        self.delivery.wake.set()

    async def _started(self, application: Application) -> None:
        commands = [
            BotCommand(name, self.app.messages.label(f"command_{name}")) for name in COMMANDS
        ]
        await application.bot.set_my_commands(commands)
        self._delivery_task = asyncio.create_task(self._keep_going())

    async def _keep_going(self) -> None:
        """Deliver the outbox, and pick up directory imports made while running."""
        refresher = asyncio.create_task(self._refresh_directory())
        reminders = asyncio.create_task(self._remind_unclaimed())
        try:
            await self.delivery.run()
        finally:
            refresher.cancel()
            reminders.cancel()

    async def _remind_unclaimed(self, every_seconds: float = 60) -> None:
        """Re-announce unclaimed cases in the team chat (CLAIM_REMINDER_HOURS)."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                if await self.app.staff.remind_unclaimed():
                    self.delivery.wake.set()
            except Exception:
                log.exception("claim reminders failed; trying again later")

    async def _refresh_directory(self, every_seconds: float = 60) -> None:
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await self.app.refresh_directory()
            except Exception:
                log.exception("directory refresh failed; keeping the loaded one")

    async def _stopped(self, application: Application) -> None:
        if self._delivery_task is not None:
            self._delivery_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery_task

    # Used by `spbot run` (blocking) and by tests (start/stop around a conversation).
    def run_polling(self) -> None:
        self.application.run_polling(
            allowed_updates=Update.ALL_TYPES, poll_interval=self.poll_interval
        )

    async def start(self) -> None:
        await self.application.initialize()
        await self._started(self.application)
        await self.application.start()
        assert self.application.updater is not None
        await self.application.updater.start_polling(
            poll_interval=self.poll_interval, timeout=1, allowed_updates=Update.ALL_TYPES
        )

    async def stop(self) -> None:
        assert self.application.updater is not None
        await self.application.updater.stop()
        await self.application.stop()
        await self._stopped(self.application)
        await self.application.shutdown()


class TelegramSender:
    """Delivery through the Bot API, with its errors turned into what they mean."""

    def __init__(self, application: Application) -> None:
        self.bot = application.bot

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> int:
        with _meaning_of_errors():
            message = await self.bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=_markup(buttons),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )  # fmt: skip
            return message.message_id
        raise AssertionError("unreachable")  # pragma: no cover

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> None:
        with _meaning_of_errors():
            try:
                await self.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                    reply_markup=_markup(buttons), link_preview_options=LinkPreviewOptions(is_disabled=True),
                )  # fmt: skip
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    raise


async def _answer_tap(query: CallbackQuery | None, notice: str | None) -> None:
    """Every tap is answered, or the button keeps spinning on their phone."""
    if query is not None:
        with contextlib.suppress(BadRequest):
            await query.answer(notice)


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
