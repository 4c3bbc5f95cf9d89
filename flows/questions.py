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

from rapidfuzz import fuzz

from flows.core import Button, Option, Text

#: Renders a button label from its key (messages/<lang>/buttons.yaml), so that
#: a typed label can be matched against what the person actually saw.
LabelOf = Callable[[Option], str]

#: Typed words that mean an option, beyond its number and label.
YES = ("yes", "y", "yeah", "yep", "yes please", "ok", "okay", "sure", "please", "i agree", "agree")
NO = ("no", "n", "nope", "no thanks", "no thank you", "nah", "not really")
SKIP = ("skip", "pass", "rather not say", "prefer not to say", "dont know", "not sure", "-")
DONE = (
    "done",
    "finished",
    "thats all",
    "that is all",
    "next",
    "continue",
    "im done",
    "all done",
    "im finished",
    "thats it",
    "that is it",
    "nothing else",
    "no more",
)

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
    #: Not a button: only typed words reach it ("yes", where the buttons say how).
    #: Put it last, so that typed numbers follow the buttons.
    shown: bool = True

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


#: Words that only soften an answer ("group please", "ok then"): ignored when
#: reading which option someone meant.
SOFTENERS = frozenset(
    [
        "please",
        "pls",
        "plz",
        "thanks",
        "thank",
        "thankyou",
        "ta",
        "cheers",
        "then",
        "really",
        "just",
        "i",
        "think",
        "maybe",
        "a",
        "an",
        "the",
        "um",
        "erm",
        "er",
        "oh",
        "well",
        "so",
        "x",
        "xx",
        "xxx",
        "mate",
        "love",
        "hun",
        "for",
        "me",
        "would",
        "like",
        "id",
    ]
)
#: Words that turn an answer round ("don't agree", "not lonely"): an answer with one
#: is only read exactly, never guessed at.
NEGATIONS = frozenset(
    [
        "not",
        "dont",
        "didnt",
        "doesnt",
        "never",
        "cant",
        "wont",
        "no",
        "nope",
        "nah",
        "isnt",
        "arent",
    ]
)
#: Words in labels too common to say which option was meant on their own.
COMMON_LABEL_WORDS = frozenset(
    [
        "feeling",
        "getting",
        "something",
        "someone",
        "or",
        "and",
        "my",
        "out",
        "things",
        "is",
        "more",
        "about",
        "show",
        "me",
        "all",
    ]
)
#: How alike a typed word or phrase must be to an option's (rapidfuzz ratio, 0-100).
CLOSE_ENOUGH = 85
WORD_CLOSE_ENOUGH = 80
#: How alike a near miss must be to be offered as "Did you mean …?".
NEAR_MISS = 75


def _without_brackets(label: str) -> str:
    """'A short bus ride (5 miles)' -> 'A short bus ride': people type the words."""
    return re.sub(r"\s*\([^)]*\)", "", label).strip()


def _negative_number(text: str) -> bool:
    return bool(re.match(r"\s*[-−–]\s*\d", text))


def _option_number(text: str) -> int | None:
    """'2', 'number 2', 'option 2', 'no. 2', '#2'."""
    match = re.fullmatch(r"\s*(?:(?:number|option|no\.?|#)\s*)?(\d{1,2})\s*[.!]*\s*", text.lower())
    return int(match[1]) if match else None


def _phrases(choice: Choice, label_of: LabelOf) -> list[str]:
    label = label_of(choice.option())
    found = [simplify(label), simplify(_without_brackets(label)), *choice.words]
    return [p for p in dict.fromkeys(found) if p]


def _content(words: list[str]) -> list[str]:
    return [w for w in words if w not in SOFTENERS]


def match_choice(
    event: Text | Button,
    choices: Sequence[Choice],
    label_of: LabelOf,
    *,
    loose: bool = False,
    guess: bool = True,
) -> Choice | None:
    """The choice a tap or typed text means, or None.

    Typed text is read as: the option's number; its label (with or without what is
    in brackets) or one of its words, ignoring softeners ("group pls"); then, only
    when nothing in it turns the answer round ("don't agree"), a small typo of one
    of those ("I agre", "in persn", "yess"). `loose` (tick boxes, where an answer is
    seen and undone with a tap): one distinctive word of a label is enough
    ("lonely" for "Feeling lonely"). Not `guess` (a name, where any word may be
    meant as it is): exact words only. A negative number is never an answer."""
    if isinstance(event, Button):
        return next((c for c in choices if c.value == event.value), None)
    if _negative_number(event.text):
        return None
    number = _option_number(event.text)
    if number is not None and 1 <= number <= len(choices):
        return choices[number - 1]
    typed = simplify(event.text)
    if not typed:
        return None
    if number is not None:  # not an option's number: only a word for one ("121")
        return next((c for c in choices if typed in _phrases(c, label_of)), None)
    words = typed.split()
    content = " ".join(_content(words)) or typed
    for text in dict.fromkeys((typed, content)):
        exact = [c for c in choices if text in _phrases(c, label_of)]
        if exact:
            return exact[0]
    # A typed answer that *starts* with one label only ("online please") is clear enough.
    starts = [c for c in choices if typed.startswith(simplify(label_of(c.option())) + " ")]
    if len(starts) == 1:
        return starts[0]
    if not guess or NEGATIONS & set(words):
        return None
    return _closest(content, choices, label_of, loose=loose)


def _closest(
    typed: str, choices: Sequence[Choice], label_of: LabelOf, *, loose: bool
) -> Choice | None:
    """A typo of a whole label or word, or (loose) the one option whose distinctive
    words the typed words are close to. Two options equally close: neither."""
    scores = {c.value: max(fuzz.ratio(typed, p) for p in _phrases(c, label_of)) for c in choices}
    best = sorted(scores.values(), reverse=True)
    if best and best[0] >= CLOSE_ENOUGH and (len(best) == 1 or best[1] < best[0] - 5):
        return next(c for c in choices if scores[c.value] == best[0])
    typed_words = [w for w in typed.split() if w not in COMMON_LABEL_WORDS]
    if not typed_words:
        return None
    # Each word: the options that have it (exactly), else those it is a typo of.
    exact: set[str] = set()
    near: set[str] = set()
    unread = 0
    for word in typed_words:
        own = {c.value for c in choices if word in _own_words(c, label_of)}
        close = {c.value for c in choices if _typo_of(word, _own_words(c, label_of))}
        if len(own) > 1 or (not own and len(close) > 1):
            return None  # a word two options share says neither
        exact |= own
        near |= close if not own else set()
        unread += not own and not close
    meant = exact or near  # "money worries": the exact word wins over a near one
    if len(meant) != 1 or (unread and not loose) or (exact and near - exact and not loose):
        return None
    return next(c for c in choices if c.value in meant)


def _own_words(choice: Choice, label_of: LabelOf) -> set[str]:
    return {
        w
        for p in _phrases(choice, label_of)
        for w in p.split()
        if w not in SOFTENERS and w not in COMMON_LABEL_WORDS and w not in NEGATIONS
    }


def _typo_of(word: str, own: set[str]) -> bool:
    return len(word) >= 4 and any(
        len(w) >= 4 and fuzz.ratio(word, w) >= WORD_CLOSE_ENOUGH for w in own
    )


def near_miss(text: str, choices: Sequence[Choice], label_of: LabelOf) -> Choice | None:
    """The option typed words are most like, when it is like enough to ask "Did you
    mean …?" (but not enough to take as meant)."""
    typed = simplify(text)
    if not typed or NEGATIONS & set(typed.split()):
        return None
    words = [w for w in typed.split() if len(w) >= 5 and w not in COMMON_LABEL_WORDS]

    def likeness(choice: Choice) -> float:
        own = [w for w in _own_words(choice, label_of) if len(w) >= 5]
        return max((fuzz.ratio(w, o) for w in words for o in own), default=0.0)

    score, index = max((likeness(c), i) for i, c in enumerate(choices))
    return choices[index] if score >= NEAR_MISS else None


def split_answers(text: str) -> list[str]:
    """'lonely and money, housing' -> three answers, for tick boxes."""
    parts = re.split(r"\s*(?:,|;|&|\+|/|\band\b|\bplus\b|\balso\b|\n)\s*", text.lower())
    return [p for p in parts if simplify(p)]


_HEDGES = (
    r"(?:about|around|roughly|maybe|probably|prob|say|id say|i would say|a|its|i think|hmm|um)"
)
_SCORE = re.compile(
    rf"(?:{_HEDGES}\s+)*(-?\s*\w+?)\s*(?:(?:/|out of|outta)\s*(\w+))?(?:\s+(?:i think|maybe|ish))?"
)


def _number(word: str) -> int | None:
    word = word.replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}", word):
        return int(word)
    return NUMBER_WORDS.get(word)


def read_scale(event: Text | Button, low: int, high: int) -> int | Invalid | None:
    """A number from low to high ("6", "six", "6/10", "about 6", "6 out of 10");
    None means skipped. A negative number, or a score out of anything but `high`,
    is never an answer."""
    if isinstance(event, Button):
        raw = event.value
        if raw in ("skip", *SKIP):
            return None
        number = _number(raw)
    else:
        lowered = event.text.lower().replace("’", "'").replace("'", "")
        lowered = re.sub(r"[^a-z0-9/\-£ ]+", " ", lowered)
        lowered = re.sub(r"\s+", " ", lowered).strip()
        if simplify(lowered) in ("skip", *SKIP):
            return None
        match = _SCORE.fullmatch(lowered)
        number = _number(match[1]) if match else None
        out_of = _number(match[2]) if match and match[2] else high
        if number is not None and out_of != high:
            return Invalid("referral/errors/out_of_range", {"low": low, "high": high})
    if number is None:
        return Invalid("referral/errors/not_a_number", {"low": low, "high": high})
    if not low <= number <= high:
        return Invalid("referral/errors/out_of_range", {"low": low, "high": high, "number": number})
    return number


_AGE = re.compile(
    r"(?:(?:i am|im|i m|aged?|its|it is|age is)\s+)?(-?\s*\d{1,3})"
    r"(?:\s*(?:years?|yrs?|yo|y o)(?:\s*old)?)?(?:\s+(?:now|next month|soon))?"
)


def read_age(text: str) -> int | None:
    """An age as people type it ("45", "I'm 16", "72 years old"), or None."""
    lowered = re.sub(r"[’']", "", text.lower())
    lowered = re.sub(r"[^a-z0-9\-]+", " ", lowered).strip()
    match = _AGE.fullmatch(lowered)
    return int(match[1].replace(" ", "")) if match else None


_NAME_INTRO = re.compile(
    r"(?:(?:hi|hello|hey)[,!.]?\s+)?(?:(?:my\s+name\s*(?:is|s)|my\s+names|name\s*(?:is|:)|"
    r"i\s+am|im|i\s+m|its|it\s+is|call\s+me|this\s+is|you\s+can\s+call\s+me)\s+)?"
    r"(?P<name>.+?)(?:[,\s]+(?:please|pls|thanks|thank\s+you|ta))?[.!\s]*",
    re.IGNORECASE,
)


def read_name(text: str) -> str:
    """What to call someone, from how they wrote it: "my name is Ron" -> "Ron";
    all in lower case -> capitals ("ron" -> "Ron"); otherwise as they wrote it."""
    plain = re.sub(r"\s+", " ", text.replace("’", "'").strip())
    unquoted = re.sub(
        r"(?i)\b(my name|name|i|it|call me)'s?\b", lambda m: m[0].replace("'", ""), plain
    )
    unquoted = re.sub(r"(?i)\b(i)'m\b", "im", unquoted)
    unquoted = re.sub(r"(?i)\bname's\b", "names", unquoted)
    match = _NAME_INTRO.fullmatch(unquoted)
    name = (match["name"] if match else plain).strip(" .,!")
    if name and name == name.lower():
        name = name.title()
    return name or plain


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
