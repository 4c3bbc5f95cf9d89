"""Telegram's `parse_mode=HTML`, as the Bot API server parses it.

The algorithm follows tdlib's `parse_html` (td/telegram/MessageEntity.cpp), which is
what api.telegram.org runs: the same supported tags, the same attribute rules, the
same error messages ("Unsupported start tag "x" at byte offset N", "Can't find end
tag corresponding to start tag "b"", ...), the same entities in the result, and the
same trimming afterwards.

One deliberate difference, on by default (`strict=True`): Telegram shows a bare `&`
that does not start `&lt;`/`&gt;`/`&amp;`/`&quot;`/`&#NN;` as typed, and a bare `>`
too. Our messages put a patient's words inside HTML, so a bare `&` or `>` in the
text we send means something was not escaped, and the next patient who types `<`
gets no reply at all. Strict mode refuses both, so a missing escape fails a test
the first time rather than in production the first time someone types `<`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Tags tdlib accepts; anything else is "Unsupported start tag".
SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

_SIMPLE_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only <span class="tg-spoiler"> gets this far
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = " \t\r\n\v\0"  # tdlib's is_space, which counts the end of the string
_END = "\0"


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML. `str(error)` is what tdlib says, without the
    "Bad Request: can't parse entities: " prefix that the Bot API adds."""


@dataclass(frozen=True)
class FormattedText:
    """Text as Telegram stores it: plain text plus Bot API MessageEntity dicts
    (offsets and lengths in UTF-16 code units)."""

    text: str
    entities: tuple[dict[str, Any], ...] = ()


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of MessageEntity offsets."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(source: str, pos: int, *, strict: bool) -> tuple[str, int] | None:
    """Decode the character reference at `source[pos] == "&"`.

    Returns (character, index after it), or None when tdlib would leave the `&`
    as a literal character. tdlib accepts a missing `;`; strict mode does not.
    """
    n = len(source)
    end = pos + 1
    if end < n and source[end] == "#":
        end += 1
        digits_start = end
        if end < n and source[end] == "x":
            end += 1
            digits_start = end
            while end < n and source[end] in "0123456789abcdefABCDEF":
                end += 1
            code = int(source[digits_start:end], 16) if end > digits_start else 0
        else:
            while end < n and source[end].isascii() and source[end].isdigit():
                end += 1
            code = int(source[digits_start:end]) if end > digits_start else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(code)
    else:
        while end < n and source[end].isascii() and source[end].isalpha():
            end += 1
        name = source[pos + 1 : end]
        if name not in _NAMED_ENTITIES:
            return None
        char = _NAMED_ENTITIES[name]
    if end < n and source[end] == ";":
        return char, end + 1
    if strict:
        return None
    return char, end


class _Parser:
    """One pass over the source, the way tdlib's loop walks it."""

    def __init__(self, source: str, strict: bool) -> None:
        self.src = source
        self.n = len(source)
        self.strict = strict
        self.out: list[str] = []
        self.utf16 = 0
        self.entities: list[dict[str, Any]] = []
        # (tag name, argument, utf16 offset, index into self.out, tg-time unix)
        self.stack: list[tuple[str, str, int, int, int]] = []

    def at(self, i: int) -> str:
        return self.src[i] if i < self.n else _END

    def fail(self, message: str) -> EntityParseError:
        return EntityParseError(message)

    def emit(self, char: str) -> None:
        self.out.append(char)
        self.utf16 += 2 if ord(char) > 0xFFFF else 1

    def parse(self) -> FormattedText:
        i = 0
        while i < self.n:
            c = self.src[i]
            if c == "&":
                decoded = _decode_entity(self.src, i, strict=self.strict)
                if decoded is not None:
                    self.emit(decoded[0])
                    i = decoded[1]
                    continue
                if self.strict:
                    raise self.fail(
                        f'Unescaped "&" at byte offset {_byte_offset(self.src, i)} '
                        "(stand-in strict mode: write &amp;, and end entities with ;)"
                    )
            if c == ">" and self.strict:
                raise self.fail(
                    f'Unescaped ">" at byte offset {_byte_offset(self.src, i)} '
                    "(stand-in strict mode: write &gt;)"
                )
            if c != "<":
                self.emit(c)
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == "/" else self.start_tag(i)
        if self.stack:
            raise self.fail(f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return _trim("".join(self.out), self.entities)

    def start_tag(self, begin: int) -> int:
        """Parse `<tag attr=...>` at `begin`; return the index after `>`."""
        src_offset = _byte_offset(self.src, begin)
        i = begin + 1
        while self.at(i) not in _SPACE and self.at(i) != ">":
            i += 1
        if self.at(i) == _END:
            raise self.fail(f"Unclosed start tag at byte offset {src_offset}")
        tag = self.src[begin + 1 : i].lower()
        if tag not in SUPPORTED_TAGS:
            raise self.fail(f'Unsupported start tag "{tag}" at byte offset {src_offset}')

        argument = ""
        unix = 0
        while self.at(i) != ">":
            while self.at(i) != _END and self.at(i) in _SPACE:
                i += 1
            if self.at(i) == ">":
                break
            name_start = i
            while self.at(i) not in _SPACE and self.at(i) not in "=>/\"'":
                i += 1
            attr = self.src[name_start:i]
            if not attr:
                raise self.fail(
                    f'Empty attribute name in the tag "{tag}" at byte offset {src_offset}'
                )
            while self.at(i) != _END and self.at(i) in _SPACE:
                i += 1
            if self.at(i) != "=":
                if self.at(i) == _END:
                    raise self.fail(f'Unclosed start tag "{tag}" at byte offset {src_offset}')
                if tag == "blockquote" and attr == "expandable":
                    argument = "1"
                continue
            i += 1
            while self.at(i) != _END and self.at(i) in _SPACE:
                i += 1
            if self.at(i) == _END:
                raise self.fail(f'Unclosed start tag "{tag}" at byte offset {src_offset}')
            value, i = self.attribute_value(i)
            if self.at(i) == _END:
                raise self.fail(f"Unclosed start tag at byte offset {src_offset}")
            if tag == "a" and attr == "href":
                argument = value
            elif tag == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif (tag == "tg-emoji" and attr == "emoji-id") or (
                tag == "tg-time" and attr == "format"
            ):
                argument = value
            elif tag == "blockquote" and attr == "expandable":
                argument = "1"
            elif tag == "tg-time" and attr == "unix":
                unix = int(value) if value.lstrip("-").isdigit() else 0
        if tag == "span" and argument != "spoiler":
            raise self.fail(f'Tag "span" must have class "tg-spoiler" at byte offset {src_offset}')
        self.stack.append((tag, argument, self.utf16, len(self.out), unix))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in "\"'":
            # A name token: letters, digits, periods, hyphens; case-insensitive.
            start = i
            while self.at(i).isascii() and (self.at(i).isalnum() or self.at(i) in ".-"):
                i += 1
            if self.at(i) not in _SPACE and self.at(i) != ">":
                raise self.fail(
                    f"Unexpected end of name token at byte offset {_byte_offset(self.src, start)}"
                )
            return self.src[start:i].lower(), i
        i += 1
        chars: list[str] = []
        while self.at(i) != quote and self.at(i) != _END:
            if self.at(i) == "&":
                decoded = _decode_entity(self.src, i, strict=self.strict)
                if decoded is not None:
                    chars.append(decoded[0])
                    i = decoded[1]
                    continue
                if self.strict:
                    raise self.fail(
                        f'Unescaped "&" at byte offset {_byte_offset(self.src, i)} '
                        "(stand-in strict mode: write &amp;, and end entities with ;)"
                    )
            chars.append(self.src[i])
            i += 1
        if self.at(i) == quote:
            i += 1
        return "".join(chars), i

    def end_tag(self, begin: int) -> int:
        """Parse `</tag>` at `begin`; return the index after `>`."""
        src_offset = _byte_offset(self.src, begin)
        if not self.stack:
            raise self.fail(f"Unexpected end tag at byte offset {src_offset}")
        i = begin + 1
        while self.at(i) not in _SPACE and self.at(i) != ">":
            i += 1
        end_name = self.src[begin + 2 : i].lower()
        while self.at(i) != _END and self.at(i) in _SPACE:
            i += 1
        if self.at(i) != ">":
            raise self.fail(f"Unclosed end tag at byte offset {src_offset}")
        tag, argument, offset, out_index, unix = self.stack[-1]
        if end_name and end_name != tag:
            raise self.fail(
                f"Unmatched end tag at byte offset {src_offset}, "
                f'expected "</{tag}>", found "</{end_name}>"'
            )
        self.stack.pop()
        length = self.utf16 - offset
        if length > 0:
            self.add_entity(tag, argument, offset, length, out_index, unix)
        return i + 1

    def add_entity(
        self, tag: str, argument: str, offset: int, length: int, out_index: int, unix: int
    ) -> None:
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and last["offset"] == offset and last["length"] == length
        if tag in _SIMPLE_TAG_TYPES:
            self.entities.append(
                {"type": _SIMPLE_TAG_TYPES[tag], "offset": offset, "length": length}
            )
        elif tag == "tg-emoji":
            if not argument.isdigit() or int(argument) == 0:
                raise self.fail("Invalid custom emoji identifier specified")
            self.entities.append(
                {
                    "type": "custom_emoji",
                    "offset": offset,
                    "length": length,
                    "custom_emoji_id": argument,
                }
            )
        elif tag == "tg-time":
            if unix > 0:
                entity = {
                    "type": "date_time",
                    "offset": offset,
                    "length": length,
                    "unix_time": unix,
                }
                if argument:
                    entity["date_time_format"] = argument
                self.entities.append(entity)
        elif tag == "a":
            url = (argument or "".join(self.out[out_index:])).strip()
            if url:  # tdlib silently drops links it cannot check
                self.entities.append(
                    {"type": "text_link", "offset": offset, "length": length, "url": url}
                )
        elif tag == "pre":
            if last is not None and same_span and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"
            else:
                self.entities.append({"type": "pre", "offset": offset, "length": length})
        elif tag == "code":
            if last is not None and same_span and last["type"] == "pre" and argument:
                last["language"] = argument
            else:
                entity = {"type": "code", "offset": offset, "length": length}
                if argument:
                    entity["language"] = argument  # dropped below unless a <pre> claims it
                self.entities.append(entity)
        elif tag == "blockquote":
            kind = "expandable_blockquote" if argument else "blockquote"
            self.entities.append({"type": kind, "offset": offset, "length": length})


def _trim(text: str, entities: list[dict[str, Any]]) -> FormattedText:
    """tdlib's fix_formatted_text trimming: trailing whitespace always goes; leading
    spaces and newlines go up to the first entity."""
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    stripped = text.rstrip()
    end16 = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        if entity["offset"] >= end16:
            continue
        entity["length"] = min(entity["length"], end16 - entity["offset"])
        kept.append(entity)
    first_entity = min((e["offset"] for e in kept), default=end16)
    lead = 0
    while lead < len(stripped) and lead < first_entity and stripped[lead] in " \n":
        lead += 1
    for entity in kept:
        entity["offset"] -= lead
    return FormattedText(stripped[lead:], tuple(kept))


def parse_html(source: str, *, strict: bool = True) -> FormattedText:
    """Parse Telegram HTML into plain text and entities, or raise EntityParseError."""
    return _Parser(source, strict).parse()


def plain(source: str) -> FormattedText:
    """Text sent without parse_mode: only the trimming applies."""
    return _trim(source, [])
