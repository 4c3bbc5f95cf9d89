"""What a button sends back when it is tapped (Telegram's callback data), encoded
and decoded in this one place for every keyboard the bot shows.

A patient's answer button carries the question's step and the option's value,
"<step>:<value>", so a tap on an earlier question's button is recognised as stale.
A link worker's button carries a verb, a case reference and an argument,
"s:<verb>:<reference>:<arg>". Telegram allows 64 bytes; both stay far under.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.outbox import ButtonSpec
from flows.core import Button

STAFF_PREFIX = "s"


@dataclass(frozen=True)
class StaffTap:
    """A tap on a link worker's button: what to do, to which case, with what."""

    verb: str
    reference: str = ""
    arg: str = ""


Tap = Button | StaffTap


def encode(tap: Tap) -> str:
    if isinstance(tap, StaffTap):
        return f"{STAFF_PREFIX}:{tap.verb}:{tap.reference}:{tap.arg}"
    return f"{tap.step}:{tap.value}"


def decode(data: str) -> Tap:
    """The tap a button's data stands for. Data we cannot read (an old bot's, or
    forged) becomes an answer to no question (step -1): stale, so it changes
    nothing, and the tap is still answered."""
    prefix, _, rest = data.partition(":")
    if prefix == STAFF_PREFIX and rest:
        verb, _, rest = rest.partition(":")
        reference, _, arg = rest.partition(":")
        return StaffTap(verb, reference, arg)
    step = whole_number(prefix)
    return Button(step if step is not None else -1, rest)


def whole_number(text: str) -> int | None:
    """A number written with the digits 0-9 and nothing else. (Python's isdigit()
    also says yes to "²", which int() then refuses: data from a button or a command
    is never trusted that far.)"""
    return int(text) if text.isascii() and text.isdigit() else None


def button(text: str, tap: Tap) -> ButtonSpec:
    """One button of a keyboard."""
    return {"text": text, "data": encode(tap)}
