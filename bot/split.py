"""Splitting a long Telegram HTML message into several, never cutting a word.

Telegram refuses a message longer than 4096 characters, counted after the HTML is
parsed and counted as Telegram counts them: in UTF-16 code units, so an emoji
counts two. A case view can be longer: a patient may have written a lot. It is split
where a person would: between paragraphs if it can be, else between lines, else
between words, and only as a last resort inside a word. A tag still open where it
is split (a <b> around a long quote) is closed at the end of one part and opened
again at the start of the next, so every part is valid HTML on its own. Only the
space or line break at the split is dropped; no other text is.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from flows.questions import telegram_length

#: Telegram's limit (UTF-16 code units), less a little room to be safe.
TELEGRAM_LIMIT = 4096
LIMIT = 4000

_UNIT = re.compile(r"<[^>]*>|&#?\w+;|[\s\S]")
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")


@dataclass(frozen=True)
class _Unit:
    source: str
    length: int  # UTF-16 code units it adds to the text a person reads
    opens: str | None = None  # tag name, for an opening tag
    closes: str | None = None  # tag name, for a closing tag


@dataclass(frozen=True)
class _Break:
    at: int  # index of the separator unit (dropped when split here)
    level: int  # 3 paragraph, 2 line, 1 word, 0 anywhere
    open_tags: tuple[_Unit, ...]


def split_html(text: str, limit: int = LIMIT) -> list[str]:
    """Parts of `text`, each at most `limit` UTF-16 code units as read, in order."""
    units = _units(text)
    parts: list[str] = []
    start, length = 0, 0
    stack: list[_Unit] = []
    reopen: tuple[_Unit, ...] = ()
    breaks: list[_Break] = []
    i = 0
    while i < len(units):
        unit = units[i]
        if length + unit.length > limit and length > 0:
            cut = _best(breaks, i, tuple(stack))
            parts.append(_render(reopen, units[start : cut.at], cut.open_tags))
            skip = 1 if cut.level > 0 else 0  # the space or line break itself
            start = i = cut.at + skip
            reopen = cut.open_tags
            stack = list(reopen)
            length = sum(u.length for u in reopen)
            breaks = []
            continue
        if unit.opens:
            stack.append(unit)
        elif unit.closes:
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth].opens == unit.closes:
                    del stack[depth:]
                    break
        elif unit.source in ("\n", " ") and i > start:
            paragraph = unit.source == "\n" and i + 1 < len(units) and units[i + 1].source == "\n"
            level = 3 if paragraph else 2 if unit.source == "\n" else 1
            breaks.append(_Break(i, level, tuple(stack)))
        length += unit.length
        i += 1
    parts.append(_render(reopen, units[start:], ()))
    return [part for part in (p.strip() for p in parts) if _readable(part)]


def _best(breaks: list[_Break], here: int, stack: tuple[_Unit, ...]) -> _Break:
    """The latest split point of the best kind there is; else split right here."""
    for level in (3, 2, 1):
        candidates = [b for b in breaks if b.level == level]
        if candidates:
            return candidates[-1]
    return _Break(here, 0, stack)


def _render(reopen: tuple[_Unit, ...], units: list[_Unit], still_open: tuple[_Unit, ...]) -> str:
    closing = "".join(f"</{u.opens}>" for u in reversed(still_open))
    return "".join(u.source for u in reopen) + "".join(u.source for u in units) + closing


def _units(text: str) -> list[_Unit]:
    units = []
    for match in _UNIT.finditer(text):
        source = match.group()
        if source.startswith("<") and len(source) > 1:
            name = _TAG_NAME.match(source)
            tag = name.group(1).lower() if name else None
            if source.startswith("</"):
                units.append(_Unit(source, 0, closes=tag))
            else:
                units.append(_Unit(source, 0, opens=tag))
        else:
            units.append(_Unit(source, telegram_length(html.unescape(source))))
    return units


def shorten_html(text: str, limit: int = LIMIT) -> str:
    """`text` cut to fit one message (at a paragraph, line or word), marked as cut.
    For edits, which cannot become several messages."""
    parts = split_html(text, limit - 2)
    return parts[0] + "\n…" if len(parts) > 1 else text


def _readable(part: str) -> bool:
    return bool(re.sub(r"<[^>]*>", "", part).strip())
