"""Encryption at rest: the columns that hold what people wrote, their names and
phone numbers, and notes about them, sealed with a key the database never sees.

With DATA_ENCRYPTION_KEY set, a sealed column stores ``enc:1:`` and a Fernet token
(AES-CBC and HMAC-SHA256, from `cryptography`): authenticated, so a changed byte is
refused, never misread. The first key seals; every key opens (MultiFernet), which
is how a key is rotated: DATA_ENCRYPTION_KEY=new,old, then `spbot rotate-key`
re-seals everything with the new key (`bot.store.rotation`), then the old goes.

Values written before encryption was switched on carry no prefix and read as they
are. With no key, values are stored plain, as before; the one exception is a text
that itself begins ``enc:``, kept as ``enc:0:`` and the text, so nobody can make
their words look sealed (and so fail to open).

Only values no query looks inside are sealed: ids, chats, states, statuses,
references and times stay plain, so every WHERE, JOIN and ORDER BY works as before
(a sealed column may be tested for NULL, never compared: a value is sealed afresh
every time, so it equals nothing).

The keys are held for the whole process (a column type cannot see its session):
`use_keys` sets them from the settings where the app starts (`bot.encryption`).
A JSON column stays JSON: sealed, it holds one JSON string, so turning encryption
on or off needs no migration.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import JSON, Text, TypeDecorator

from bot.config import SettingsError
from bot.store.base import JSONModel, M

#: A value sealed with Fernet (the 1 is the scheme, should there ever be another).
SEALED = "enc:1:"
#: A plain text that begins like a sealed value, stored with this in front of it.
ESCAPED = "enc:0:"


class EncryptionKeyError(SettingsError):
    """A sealed value that the keys in DATA_ENCRYPTION_KEY cannot open."""


NO_KEY = (
    "The database holds data encrypted at rest, but DATA_ENCRYPTION_KEY is not set: "
    "set it to the key the data was written with."
)
WRONG_KEY = (
    "DATA_ENCRYPTION_KEY does not open data written with another key: add the old key "
    "after the new one (DATA_ENCRYPTION_KEY=new,old) and run `spbot rotate-key` before "
    "removing it."
)


@dataclass(frozen=True)
class Keyring:
    first: Fernet
    every: MultiFernet


_keyring: Keyring | None = None


def use_keys(keys: Sequence[str]) -> None:
    """Seal with the first key and open with any of them, from now on, in this
    process. No keys: store plain (and open only what is plain)."""
    global _keyring
    fernets = [Fernet(key) for key in keys]
    _keyring = Keyring(fernets[0], MultiFernet(fernets)) if fernets else None


# --- Values ----------------------------------------------------------------------------


def seal_text(text: str) -> str:
    if _keyring is None:
        return ESCAPED + text if text.startswith("enc:") else text
    return SEALED + _keyring.every.encrypt(text.encode()).decode("ascii")


def open_text(stored: str) -> str:
    if stored.startswith(SEALED):
        return _open(stored)
    return stored.removeprefix(ESCAPED)


def seal_json(value: Any) -> Any:
    """A JSON value, sealed into one JSON string (or as it is, with no key)."""
    if _keyring is None or value is None:
        return value
    return seal_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def open_json(stored: Any) -> Any:
    """Plain JSON (an object or a list: what the code stores) is read as it is."""
    if isinstance(stored, str) and stored.startswith(SEALED):
        return json.loads(_open(stored))
    return stored


def _open(stored: str) -> str:
    if _keyring is None:
        raise EncryptionKeyError(NO_KEY)
    try:
        return _keyring.every.decrypt(stored.removeprefix(SEALED)).decode()
    except (InvalidToken, ValueError):  # ValueError: not even ASCII
        raise EncryptionKeyError(WRONG_KEY) from None


def resealed(stored: Any, *, is_json: bool) -> str | None:
    """For rotation: a stored value (a column's raw text, or its raw JSON if
    `is_json`) sealed with the first key, or None if it is already (or holds
    nothing). Plain values, written before encryption was on, are sealed."""
    if _keyring is None:
        raise SettingsError(
            "DATA_ENCRYPTION_KEY is not set: there is no key to encrypt with. Make one with "
            "`spbot rotate-key --new-key`."
        )
    if stored is None:
        return None
    if isinstance(stored, str) and stored.startswith(SEALED):
        token = stored.removeprefix(SEALED)
        try:
            _keyring.first.decrypt(token)
            return None
        except (InvalidToken, ValueError):
            pass
        try:
            return SEALED + _keyring.every.rotate(token).decode("ascii")
        except (InvalidToken, ValueError):
            raise EncryptionKeyError(WRONG_KEY) from None
    if is_json:
        sealed: str = seal_json(stored)
        return sealed
    return seal_text(str(stored).removeprefix(ESCAPED))


def check_opens(stored: Any) -> None:
    """Raise, saying which setting to fix, if the keys held now cannot read a
    stored value (a column's raw text or JSON)."""
    if isinstance(stored, str) and stored.startswith(SEALED):
        _open(stored)


# --- Column types ----------------------------------------------------------------------


class SealedText(TypeDecorator[str]):
    """Text sealed at rest (see the module). Test it for NULL; never compare it."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else seal_text(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else open_text(value)


class SealedJSON(TypeDecorator[Any]):
    """A JSON column sealed at rest: sealed, it holds one JSON string."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return seal_json(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return open_json(value)

    def coerce_compared_value(self, op: Any, value: Any) -> Any:
        return JSON()


class SealedModel(JSONModel[M]):
    """`JSONModel(SomeModel)`, sealed at rest: still read back as `SomeModel`."""

    cache_ok = True

    def process_bind_param(self, value: M | dict[str, Any] | None, dialect: Any) -> Any:
        return seal_json(super().process_bind_param(value, dialect))

    def process_result_value(self, value: Any, dialect: Any) -> M | None:
        return super().process_result_value(open_json(value), dialect)
