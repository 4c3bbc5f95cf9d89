"""What the Bot API accepts, from the published machine-readable reference.

The stand-in refuses requests the real Bot API would refuse, so a bot that passes
its end-to-end tests does not meet its first 400 in production. The rules come from
`../shared/telegram-bot-api/api.json` (every method, every field, its types and
whether it is required) when that file is there. Without it the tests must still
run, so `fallback_spec.json` next to this module holds the same data for the
methods the stand-in implements; it only cannot tell an unknown method from one it
has never heard of, and it knows nothing about methods it does not implement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC_PATH = REPO_ROOT.parent / "shared" / "telegram-bot-api" / "api.json"
FALLBACK_SPEC_PATH = Path(__file__).with_name("fallback_spec.json")

# The descriptions the Bot API gives for a few missing fields, instead of a generic one.
_MISSING_FIELD_DESCRIPTIONS = {
    "chat_id": "Bad Request: chat_id is empty",
    "text": "Bad Request: message text is empty",
    "message_id": "Bad Request: message identifier is not specified",
}
_TRUE = {"true", "True", "1"}
_FALSE = {"false", "False", "0"}


class SpecViolation(Exception):
    """A request the Bot API would refuse. `description` is the Bot API's wording."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class Method:
    name: str
    fields: Mapping[str, Field]


@dataclass(frozen=True)
class ApiSpec:
    """Methods by lower-case name: Bot API method names are case-insensitive."""

    version: str
    source: Path
    complete: bool  # True for the full api.json, which knows every method that exists
    methods: Mapping[str, Method]

    @classmethod
    def load(cls, path: Path | None) -> ApiSpec:
        """The full spec from `path`, or the built-in subset when `path` is None."""
        complete = path is not None
        source = path if path is not None else FALLBACK_SPEC_PATH
        data = json.loads(source.read_text(encoding="utf-8"))
        methods = {
            name.lower(): Method(
                name=name,
                fields={
                    f["name"]: Field(f["name"], tuple(f["types"]), bool(f["required"]))
                    for f in body.get("fields", [])
                },
            )
            for name, body in data["methods"].items()
        }
        return cls(
            version=str(data.get("version", "")), source=source, complete=complete, methods=methods
        )

    def method(self, name: str) -> Method | None:
        return self.methods.get(name.lower())


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fits(value: object, type_name: str) -> bool:
    """Whether an already decoded value has the given api.json type."""
    if type_name == "String":
        return isinstance(value, str)
    if type_name == "Integer":
        return _is_int(value)
    if type_name == "Float":
        return _is_int(value) or isinstance(value, float)
    if type_name == "Boolean":
        return isinstance(value, bool)
    if type_name == "InputFile":
        return isinstance(value, str)  # a file_id, a URL or attach://<part>
    if type_name.startswith("Array of "):
        inner = type_name.removeprefix("Array of ")
        return isinstance(value, list) and all(_fits(item, inner) for item in value)
    return isinstance(value, dict)  # an object type: InlineKeyboardMarkup, BotCommandScope...


def decode_value(field: Field | None, raw: str) -> Any:
    """Turn one form value into what it means.

    python-telegram-bot (and the Bot API's own wire format) sends strings as they
    are and everything else JSON-encoded: 123, true, {"inline_keyboard": ...}. So a
    value is JSON-decoded only when its field can be something other than a String
    and the decoded value fits one of those types; "123" sent as `text` stays text.
    """
    if field is None:
        return raw  # unknown parameters are ignored by Telegram; keep them as sent
    other_types = [t for t in field.types if t not in ("String", "InputFile")]
    if not other_types:
        return raw
    if "Boolean" in other_types and (raw in _TRUE or raw in _FALSE):
        return raw in _TRUE
    try:
        decoded = json.loads(raw)
    except ValueError:
        return raw
    if any(_fits(decoded, t) for t in other_types):
        return decoded
    return raw


def decode_params(method: Method | None, raw: Mapping[str, str]) -> dict[str, Any]:
    fields = method.fields if method is not None else {}
    return {name: decode_value(fields.get(name), value) for name, value in raw.items()}


def check_params(method: Method, params: Mapping[str, Any], uploaded: Mapping[str, object]) -> None:
    """Refuse a missing required field or a value of the wrong type.

    An empty string counts as missing, as it does for the Bot API server.
    """
    for field in method.fields.values():
        present = field.name in uploaded or params.get(field.name, "") != ""
        if field.required and not present:
            raise SpecViolation(
                _MISSING_FIELD_DESCRIPTIONS.get(
                    field.name, f'Bad Request: parameter "{field.name}" is required'
                )
            )
    for name, value in params.items():
        declared = method.fields.get(name)
        if declared is None or value == "":
            continue
        if not any(_fits(value, t) for t in declared.types):
            shown = value if isinstance(value, str) else json.dumps(value)
            raise SpecViolation(
                f'Bad Request: parameter "{name}" must be {" or ".join(declared.types)}, '
                f"got {shown[:80]!r}"
            )
