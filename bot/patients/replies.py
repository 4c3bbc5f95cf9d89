"""Turning a flow's replies into outbox rows: rendered from messages/, with buttons
that carry the question's step, and each answered question closed so an old
keyboard never misleads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Messages, html_to_text
from bot.store.outbox import (
    CONVERSATION,
    Keyboard,
    Outbox,
    OutboxMessage,
    outbox_row,
    sent_since,
)
from bot.store.patients import Conversation
from bot.taps import button
from flows.core import Button, CloseQuestion, Option, Reply

#: A question answered with a button gives way to the next (in the same message)
#: only if it is this short (characters shown): a longer one stays to look back at.
IN_PLACE_UP_TO = 250


class Unread:
    """The caller has not read the question they are on: `write` reads it."""


UNREAD = Unread()


class ReplyWriter:
    def __init__(self, messages: Messages) -> None:
        self.messages = messages

    async def write(
        self,
        session: AsyncSession,
        channel: str,
        chat_id: int,
        conversation: Conversation,
        replies: Sequence[Reply | CloseQuestion],
        *,
        reference: str | None,
        now: datetime,
        priority: int = CONVERSATION,
        prompt: OutboxMessage | Unread | None = UNREAD,
        tapped: bool = False,
    ) -> list[int]:
        """Write the replies for one chat; returns the outbox ids, in order.
        `priority`: CHECK_IN for what nobody is waiting for (crisis replies are
        always urgent). `prompt`: the question they are on, if the caller has read
        it already (the conversation's `prompt_outbox_id`). `tapped`: they answered
        it with a button (nothing of theirs is below it in the chat), so the next
        question may take its place (`_in_place`)."""
        outbox = Outbox(session, channel, chat_id, now)
        if isinstance(prompt, Unread):
            prompt = await outbox_row(session, conversation.prompt_outbox_id)
        if tapped and prompt is not None and await self._in_place(session, prompt, replies):
            close, ask = replies
            assert isinstance(close, CloseQuestion) and isinstance(ask, Reply)
            chosen = self.messages.render(
                "referral/closed", chosen=self.label(close.chosen_label, close.chosen_context)
            )
            text = self.messages.render(ask.template, **{"reference": reference, **ask.context})
            in_place = outbox.replace(prompt, f"{chosen}\n\n{text}", self.keyboard(ask))
            await session.flush()
            conversation.prompt_outbox_id = in_place.id
            return [row.id for row in outbox.rows]
        asked: OutboxMessage | None = None  # the new question, if one is asked
        for reply in replies:
            if isinstance(reply, CloseQuestion):
                if prompt is not None:
                    chosen = self.messages.render(
                        "referral/closed",
                        chosen=self.label(reply.chosen_label, reply.chosen_context),
                    )
                    outbox.close_prompt(prompt, chosen)
                continue
            text = self.messages.render(reply.template, **{"reference": reference, **reply.context})
            buttons = self.keyboard(reply)
            if prompt is not None and prompt.id is None:
                await session.flush()  # a message written just now: edits need its id
            if reply.mode == "update" and prompt is not None:
                outbox.edit(prompt, text, buttons)
                continue
            if buttons and prompt is not None:
                outbox.close_prompt(prompt)  # an older keyboard must not mislead
            row = outbox.send(text, buttons, urgent=reply.template.startswith("safety/"),
                              priority=priority)  # fmt: skip
            if buttons:
                prompt = asked = row
        await session.flush()
        if asked is not None:
            # After the flush, so the conversation is written once, with its new state.
            conversation.prompt_outbox_id = asked.id
        return [row.id for row in outbox.rows]

    async def _in_place(
        self, session: AsyncSession, prompt: OutboxMessage, replies: Sequence[Reply | CloseQuestion]
    ) -> bool:
        """Whether the next question takes the place of the one just answered, in the
        same message, showing what they chose above it: one edit instead of two
        calls (close it, ask anew), and the chat stays short. Only when the reply
        is just that (close, then one new question with buttons), the question
        answered is short (a long message, like the privacy notice or the
        suggestions, stays as it was, to look back at) and nothing was written to
        the chat after it."""
        if len(replies) != 2 or not isinstance(replies[0], CloseQuestion):
            return False
        ask = replies[1]
        if not isinstance(ask, Reply) or ask.mode != "new" or not ask.options:
            return False
        if ask.template.startswith("safety/") or prompt.payload.get("closed"):
            return False
        if not prompt.payload.get("buttons") or prompt.action != "send":
            return False
        if len(html_to_text(prompt.payload["text"])) > IN_PLACE_UP_TO:
            return False
        return not await sent_since(session, prompt)

    def keyboard(self, reply: Reply) -> Keyboard:
        step = reply.step if reply.step is not None else -1
        buttons = [
            button(self._option_label(option), Button(step, option.value))
            for option in reply.options
        ]
        return [buttons[i : i + reply.columns] for i in range(0, len(buttons), reply.columns)]

    def label_of(self, option: Option) -> str:
        """An option's label as the patient sees it (typed labels are matched to it)."""
        return self.label(option.label, option.label_context)

    def label(self, key: str, context: dict[str, Any]) -> str:
        return self.messages.label(key, **context)

    def _option_label(self, option: Option) -> str:
        label = self.label_of(option)
        return self.messages.label("ticked_option", label=label) if option.ticked else label
