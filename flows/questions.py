"""Kinds of question, and how each reads an answer.

Every question offers buttons for every choice and still accepts typed text: the
number of an option ("2"), its label ("Online"), or a common word for it ("yes",
"yep", "nope"). A bad answer never raises: it comes back as `Invalid`, naming the
template that explains, kindly, what we need.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flows.core import Button, Option, Text

#: Renders a button label from its key (messages/<lang>/buttons.yaml), so that
#: a typed label can be matched against what the person actually saw.
LabelOf = Callable[[Option], str]

#: Typed words that mean an option, beyond its number and label.
YES = ("yes", "y", "yeah", "yep", "yes please", "ok", "okay", "sure", "please", "i agree", "agree")
NO = ("no", "n", "nope", "no thanks", "no thank you", "nah", "not really")
SKIP = ("skip", "pass", "rather not say", "prefer not to say", "dont know", "not sure", "-")
DONE = ("done", "finished", "thats all", "that is all", "next", "continue")

NUMBER_WORDS = {
    "zero": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip


def telegram_length(text: str) -> int:
    """Length as Telegram counts it, in UTF-16 code units: an emoji counts two.
    Every limit on what a person writes or is sent is in these units."""
    return len(text.encode("utf-16-le")) // 2


def simplify(text: str) -> str:
    """Lower case, no punctuation, single spaces: how we compare typed words."""
    text = text.lower().replace("'", "").replace("’", "")
    return re.sub(r"[^a-z0-9£]+", " ", text).strip()


@dataclass(frozen=True)
class Choice:
    """One option from a list (buttons). `words` maps an option value to typed
    words that also mean it."""

    value: str
    label: str
    words: tuple[str, ...] = ()
    label_context: Mapping[str, Any] = field(default_factory=dict)

    def option(self, *, ticked: bool = False) -> Option:
        return Option(self.value, self.label, dict(self.label_context), ticked)


@dataclass(frozen=True)
class Answer:
    value: Any
    #: What the closed question shows as chosen (a label key and its context), or
    #: the typed text itself.
    chosen_label: str
    chosen_context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Invalid:
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def match_choice(
    event: Text | Button, choices: Sequence[Choice], label_of: LabelOf
) -> Choice | None:
    """The choice a tap or typed text means, or None."""
    if isinstance(event, Button):
        return next((c for c in choices if c.value == event.value), None)
    typed = simplify(event.text)
    if not typed:
        return None
    if typed.isdigit():
        index = int(typed) - 1
        return choices[index] if 0 <= index < len(choices) else None
    for choice in choices:
        if typed == simplify(label_of(choice.option())) or typed in choice.words:
            return choice
    # A typed answer that *starts* with one label only ("online please") is clear enough.
    starts = [c for c in choices if typed.startswith(simplify(label_of(c.option())) + " ")]
    return starts[0] if len(starts) == 1 else None


def read_scale(event: Text | Button, low: int, high: int) -> int | Invalid | None:
    """A number from low to high; None means skipped."""
    if isinstance(event, Text) and re.match(r"\s*-\s*\d", event.text):
        return Invalid("referral/errors/out_of_range", {"low": low, "high": high})
    raw = event.value if isinstance(event, Button) else simplify(event.text)
    if raw in ("skip", *SKIP):
        return None
    raw = str(NUMBER_WORDS.get(raw, raw))
    match = re.fullmatch(r"(\d{1,3})(?: ?(?:out of|/) ?10)?", raw)
    if not match:
        return Invalid("referral/errors/not_a_number", {"low": low, "high": high})
    number = int(match[1])
    if not low <= number <= high:
        return Invalid("referral/errors/out_of_range", {"low": low, "high": high, "number": number})
    return number


def read_text(event: Text | Button, limit: int) -> str | Invalid:
    """Free text, kept word for word (only surrounding space trimmed)."""
    if isinstance(event, Button):
        return Invalid("referral/errors/type_it")
    text = event.text.strip()
    if not text:
        return Invalid("referral/errors/empty")
    if telegram_length(text) > limit:
        return Invalid(
            "referral/errors/too_long", {"limit": limit, "length": telegram_length(text)}
        )
    return text
