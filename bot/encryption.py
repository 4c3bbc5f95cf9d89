"""Encryption at rest (DATA_ENCRYPTION_KEY), where the app starts and from the
command line: `spbot rotate-key` and `spbot rotate-key --new-key`.

What is sealed, and how, is `bot/store/sealing.py`; the queries that check and
re-seal what is stored are `bot/store/rotation.py`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cryptography.fernet import Fernet
from tqdm import tqdm

from bot.config import Settings, SettingsError
from bot.store import Database
from bot.store.rotation import count_filled, newest_values_open, reseal_batch, sealed_columns
from bot.store.sealing import use_keys

BATCH = 500


async def start_encryption(db: Database, settings: Settings) -> None:
    """Seal with DATA_ENCRYPTION_KEY from now on (plain if it is not set), and stop
    at once, in one sentence, if it cannot open what the database holds (the
    database is closed then: nothing will use it)."""
    use_keys(settings.encryption_keys)
    try:
        async with db.reading() as session:
            await newest_values_open(session)
    except SettingsError:
        await db.close()
        raise


def new_key_text() -> str:
    """`spbot rotate-key --new-key`: a fresh key, and what to do with it."""
    key = Fernet.generate_key().decode("ascii")
    return (
        f"{key}\n\n"
        "A new key for DATA_ENCRYPTION_KEY. Keep it secret and keep it safe: in your secrets\n"
        "manager or the bot's own environment, never in the repository, and never beside\n"
        "the database's backups. Without it, what it encrypted cannot be read by anyone.\n\n"
        "To switch encryption on:  DATA_ENCRYPTION_KEY=<this key>, restart the bot, then\n"
        "                          `spbot rotate-key` encrypts what was stored before.\n"
        "To replace a key:         DATA_ENCRYPTION_KEY=<this key>,<the current key>, restart\n"
        "                          the bot, run `spbot rotate-key`, then remove the old key\n"
        "                          (keep it, apart, while backups made with it are kept)."
    )


@dataclass(frozen=True)
class Rotated:
    read: int
    changed: int


async def rotate(db: Database, *, progress: bool = False, batch: int = BATCH) -> Rotated:
    """Seal every stored value with the first key of DATA_ENCRYPTION_KEY (the keys
    `use_keys` was given): values sealed with another of its keys are opened and
    sealed again, plain ones written before encryption was on are sealed, and those
    sealed with the first key already are left alone. A batch at a time, each
    committed: safe to interrupt and run again."""
    columns = sealed_columns()
    async with db.reading() as session:
        total = sum([await count_filled(session, column) for column in columns])
    read = changed = 0
    with tqdm(total=total, desc="Encrypting", unit=" values", disable=not progress) as bar:
        for column in columns:
            after = None
            while True:
                async with db.transaction() as session:
                    done = await reseal_batch(session, column, after, batch)
                if done.last is None:
                    break
                after = done.last
                read, changed = read + done.read, changed + done.changed
                bar.update(done.read)
    await db.checkpoint()  # SQLite: what the old key sealed goes from the log too
    return Rotated(read, changed)


def rotate_key(settings: Settings, *, progress: bool = True) -> str:
    """`spbot rotate-key`: what `rotate` did, in a sentence."""
    keys = settings.encryption_keys
    if not keys:
        raise SettingsError(
            "DATA_ENCRYPTION_KEY is not set: there is no key to encrypt with. Make one with "
            "`spbot rotate-key --new-key`, and set it (before the current key, if there is one)."
        )
    use_keys(keys)

    async def go() -> Rotated:
        db = Database(settings.database_url, timeout=settings.database_timeout)
        try:
            if db.is_sqlite:
                await db.upgrade()
            elif not await db.is_up_to_date():
                raise SettingsError(
                    "The PostgreSQL database in DATABASE_URL needs its tables created or "
                    "updated: run `spbot db upgrade` once, then `spbot rotate-key` again."
                )
            return await rotate(db, progress=progress)
        finally:
            await db.close()

    done = asyncio.run(go())
    others = "; the other keys in DATA_ENCRYPTION_KEY can now be removed" if len(keys) > 1 else ""
    return (
        f"Encrypted {done.changed} of {done.read} stored values with the first key of "
        f"DATA_ENCRYPTION_KEY (the rest were already){others}."
    )
