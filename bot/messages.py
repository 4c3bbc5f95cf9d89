"""Renders the words people see. Every sentence lives in messages/<lang>/ as a
Jinja2 template (HTML for Telegram, autoescaped: text that came from a person is
never trusted). Button labels live in messages/<lang>/buttons.yaml.

`messages` is package data: it is read with importlib.resources, so an installed
spbot finds its words wherever it is run from."""

from __future__ import annotations

import html
import re
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape

from flows.validate import display_uk_phone

#: The words, as installed: `MESSAGES / "en" / "referral" / "consent.html.j2"`.
MESSAGES = files("messages")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def day_name(day: int | None) -> str:
    return DAY_NAMES[day] if day is not None and 0 <= day < 7 else ""


#: The longest first sentence a suggestion card shows; a longer one waits
#: behind "More about this" rather than being cut mid-sentence.
FIRST_SENTENCE_LIMIT = 160


def first_sentence(text: str | None) -> str:
    """What an activity is, in one line for a phone: its description's first
    sentence, whole, or nothing when that is too long to be one line."""
    if not text:
        return ""
    first = re.split(r"(?<=[.!?])\s+|\n+", text.strip(), maxsplit=1)[0].strip()
    return first if len(first) <= FIRST_SENTENCE_LIMIT else ""


def when_text(suggestion: Any) -> str:
    """When an activity runs, short: sessions at the same times are one line
    ("Monday to Thursday 17:30–20:00"); "by appointment" when it has none."""
    groups: dict[tuple[Any, Any, Any], list[int]] = {}
    notes: list[str] = []
    for session in suggestion.sessions:
        if session.day is None:
            if session.note and session.note not in notes:
                notes.append(session.note)
            continue
        groups.setdefault((session.starts, session.ends, session.note), []).append(session.day)
    parts = []
    for (starts, ends, note), days in groups.items():
        times = f" {starts}–{ends}" if starts and ends else f" {starts}" if starts else ""
        parts.append(_days(sorted(set(days))) + times + (f" ({note})" if note else ""))
    parts += notes
    if not parts:
        return "by appointment" if suggestion.by_appointment else ""
    return "; ".join(parts[:2]) + (", and other times" if len(parts) > 2 else "")


def _days(days: list[int]) -> str:
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{DAY_NAMES[days[0]]} to {DAY_NAMES[days[-1]]}"
    names = [DAY_NAMES[d] for d in days]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def miles(value: float | None) -> str:
    if value is None:
        return ""
    if value < 0.1:
        return "less than 0.1 miles"
    rounded = f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{rounded} mile" if rounded == "1" else f"{rounded} miles"


def phone(value: str | None) -> str:
    """A phone number as people write it: +447911123456 -> 07911 123456."""
    if not value:
        return ""
    try:
        return display_uk_phone(value)
    except Exception:  # not a number we can read: as it was given
        return value


class Messages:
    def __init__(self, lang: str = "en", *, defaults: dict[str, Any] | None = None) -> None:
        self.lang = lang
        self.env = Environment(
            loader=PackageLoader("messages", lang),
            autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            # The words are installed with the code and never change while it runs:
            # each template is compiled once, not checked against its file at
            # every render.
            auto_reload=False,
        )
        self.env.filters["day_name"] = day_name
        self.env.filters["miles"] = miles
        self.env.filters["phone"] = phone
        self.env.filters["first_sentence"] = first_sentence
        self.env.filters["when_text"] = when_text
        self.env.globals.update(defaults or {})
        self._labels = _load_labels(lang)
        self._label_templates: dict[str, Template] = {}
        #: Labels that take nothing from the moment, as rendered (`label`).
        self._plain_labels: dict[str, str] = {}

    def render(self, template: str, **context: Any) -> str:
        """The HTML text of `messages/<lang>/<template>.html.j2`."""
        text = self.env.get_template(f"{template}.html.j2").render(**context)
        return _tidy(text)

    def label(self, key: str, **context: Any) -> str:
        """A button label. Labels are plain text (Telegram does not parse HTML in them).
        One that takes nothing from the moment is rendered once (every question's
        buttons are labelled again each time it is asked)."""
        if not context and key in self._plain_labels:
            return self._plain_labels[key]
        if key not in self._label_templates:
            source = self._labels.get(key)
            if source is None:
                raise KeyError(f"no button label {key!r} in messages/{self.lang}/buttons.yaml")
            self._label_templates[key] = self.env.from_string(source)
        label = html.unescape(self._label_templates[key].render(**context)).strip()
        if not context:
            self._plain_labels[key] = label
        return label

    def has_label(self, key: str) -> bool:
        return key in self._labels


@cache
def _load_labels(lang: str) -> dict[str, str]:
    path = MESSAGES / lang / "buttons.yaml"
    if not path.is_file():
        return {}
    return {str(k): str(v) for k, v in (yaml.safe_load(path.read_text("utf-8")) or {}).items()}


def _tidy(text: str) -> str:
    # Templates are written for people to read; collapse the blank lines that
    # Jinja control blocks leave behind, but keep paragraph breaks.
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


_TAG = re.compile(r"<[^>]+>")


def html_to_text(text: str) -> str:
    """Telegram HTML to plain text, for the terminal and the CLI."""
    text = re.sub(
        r"<a href=\"([^\"]*)\">([^<]*)</a>",
        lambda m: f"{m[2]} ({html.unescape(m[1])})" if m[1] != m[2] else m[2],
        text,
    )
    return html.unescape(_TAG.sub("", text))
