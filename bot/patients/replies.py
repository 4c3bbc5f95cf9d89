"""Turning a flow's replies into outbox rows: rendered from messages/, with buttons
that carry the question's step, and each answered question closed so an old
keyboard never misleads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Messages
from bot.store.outbox import CONVERSATION, Keyboard, Outbox, OutboxMessage, outbox_row
from bot.store.patients import Conversation
from bot.taps import button
from flows.core import Button, CloseQuestion, Option, Reply


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
        prompt: OutboxMessage | None | Unread = UNREAD,
    ) -> list[int]:
        """Write the replies for one chat; returns the outbox ids, in order.
        `priority`: CHECK_IN for what nobody is waiting for (crisis replies are
        always urgent). `prompt`: the question they are on, if the caller has read
        it already (the conversation's `prompt_outbox_id`)."""
        outbox = Outbox(session, channel, chat_id, now)
        if isinstance(prompt, Unread):
            prompt = await outbox_row(session, conversation.prompt_outbox_id)
        asked = None  # the new question, if one is asked
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
