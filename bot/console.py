"""The same conversation in a terminal: for the demo, and for trying it without a
bot token. Options are numbered; type a number, the words, or a /command. When
stdin is not a terminal it reads one answer per line, so it can be scripted."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.delivery import Delivery, Limits, Sent
from bot.messages import html_to_text
from bot.patients import Inbound
from bot.store.base import utcnow
from bot.store.outbox import ButtonSpec, Keyboard
from bot.taps import decode, whole_number
from flows.core import Button, Command, Event, Text

CONSOLE_CHAT_ID = 1


class ConsoleSender:
    """Prints what the bot says, and remembers the newest buttons."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.buttons: list[ButtonSpec] = []
        self.next_id = 1

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> Sent:
        self.out.write("\n" + html_to_text(text) + "\n")
        self._show(buttons)
        self.next_id += 1
        return Sent(self.next_id, utcnow())

    async def replace(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> Sent:
        """A question in the place of the last: a terminal prints it anew."""
        return await self.send(chat_id, text, buttons)

    async def edit(self, chat_id: int, message_id: int, text: str, buttons: Keyboard) -> None:
        if buttons:  # ticks changed: show the options again
            self._show(buttons)

    async def delete(self, chat_id: int, message_id: int) -> None:
        """A terminal cannot take back what it printed."""

    async def send_document(
        self, chat_id: int, filename: str, content: bytes, caption: str
    ) -> Sent:
        """A file is saved in the current folder, readable by its owner only."""
        path = Path(Path(filename).name)
        await asyncio.to_thread(_write_private, path, content)
        self.out.write(f"\n{html_to_text(caption)}\n  [file saved: {path}]\n")
        self.out.flush()
        self.next_id += 1
        return Sent(self.next_id, utcnow())

    def _show(self, buttons: Keyboard) -> None:
        flat = [b for row in buttons for b in row]
        if not flat:
            return
        if sum(b["text"].isdigit() for b in flat) >= len(flat) - 1:
            # A 0-10 scale: numbering the buttons would make "6" mean 5. Show the
            # numbers as they are and let the typed number be the answer.
            self.buttons = []
            self.out.write("  " + "  ".join(b["text"] for b in flat) + "\n")
            self.out.flush()
            return
        self.buttons = flat
        for number, button in enumerate(flat, start=1):
            self.out.write(f"  {number}. {button['text']}\n")
        self.out.flush()


def _write_private(path: Path, content: bytes) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
        file.write(content)


def read_event(line: str, buttons: list[ButtonSpec]) -> Event:
    """A typed line as the event a Telegram user would have sent."""
    line = line.strip()
    if line.startswith("/"):
        name, _, args = line[1:].partition(" ")
        return Command(name.lower(), args)
    if (n := whole_number(line)) is not None and 1 <= n <= len(buttons):
        tap = decode(buttons[n - 1]["data"])
        return tap if isinstance(tap, Button) else Text(line)
    return Text(line)


async def chat(
    app: App, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout, *, carry_on: str = "spbot chat"
) -> None:
    """The conversation, until the input ends or Ctrl-C. `carry_on`: the command that
    comes back to this same conversation (the goodbye names it)."""
    sender = ConsoleSender(out)
    delivery = Delivery(
        app.db,
        sender,
        "console",
        limits=Limits(1000, 1000, 1, group_burst=1000, group_per_minute=60_000),
    )
    interactive = stdin.isatty()
    lines = _lines_of(stdin)

    async def handle(event: Event) -> None:
        await app.patients.handle(Inbound("console", CONSOLE_CHAT_ID, event))
        while await delivery.deliver_due():
            pass

    try:
        await handle(Command("start"))
        while True:
            if interactive:
                out.write("\n> ")
                out.flush()
            line = await lines.get()
            if not line:
                break
            if not interactive:
                out.write(f"\n> {line.strip()}\n")
            if not line.strip():
                continue
            await handle(read_event(line, sender.buttons))
    except (asyncio.CancelledError, KeyboardInterrupt):
        await _goodbye(app, out, carry_on)
        raise
    await _goodbye(app, out, carry_on)


async def _goodbye(app: App, out: TextIO, carry_on: str) -> None:
    """What is true about what was kept, and the command that carries on."""
    state = await app.patients.where_they_are("console", CONSOLE_CHAT_ID)
    text = app.messages.render("console/goodbye", state=state, command=carry_on)
    out.write("\n" + html_to_text(text) + "\n")
    out.flush()


def _lines_of(stdin: TextIO) -> asyncio.Queue[str]:
    """Lines typed, read by a daemon thread: Ctrl-C never waits for one more line
    (a worker thread of the event loop would be waited for at exit)."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        while True:
            line = stdin.readline()
            loop.call_soon_threadsafe(lines.put_nowait, line)
            if not line:
                return

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return lines
