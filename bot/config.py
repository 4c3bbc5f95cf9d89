"""Settings, from the environment and `.env` (see `.env.example` for each one).

A wrong or missing setting stops start-up with one sentence that names the setting
and says how to fix it: the people who deploy this are not always developers.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///spbot.sqlite3"


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_working_hours(value: str) -> tuple[set[int], time, time]:
    """'Mon-Fri 09:00-17:00' -> ({0..4}, 09:00, 17:00)."""
    match = re.fullmatch(r"\s*(\w{3})(?:-(\w{3}))?\s+(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*", value)
    first, last = (match[1].lower(), (match[2] or match[1]).lower()) if match else ("", "")
    if not match or first not in DAYS or last not in DAYS:
        raise ValueError(f"WORKING_HOURS={value!r} should look like Mon-Fri 09:00-17:00")
    days = set(range(DAYS.index(first), DAYS.index(last) + 1))
    start, end = time(int(match[3]), int(match[4])), time(int(match[5]), int(match[6]))
    return days, start, end


_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: str, name: str) -> timedelta:
    """'7d', '2w', '2h', '30m' -> a timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", value.lower())
    if not match:
        raise ValueError(f"{name}={value!r} should be a number and a unit, like 30m, 2h, 3d or 2w")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})


def parse_quiet_hours(value: str) -> tuple[time, time]:
    """'21:00-09:00' -> (21:00, 09:00): from the first to the second, across midnight."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", value)
    start_h, start_m, end_h, end_m = (int(n) for n in match.groups()) if match else (99,) * 4
    if max(start_h, end_h) > 23 or max(start_m, end_m) > 59:
        raise ValueError(f"QUIET_HOURS={value!r} should look like 21:00-09:00")
    return time(start_h, start_m), time(end_h, end_m)


NEW_KEY_HOWTO = (
    "make one with `spbot rotate-key --new-key` or "
    '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
)


def parse_encryption_keys(value: str) -> list[str]:
    """'new,old' -> the Fernet keys, first the one that encrypts. The error never
    quotes a key: it is a secret."""
    keys = [part.strip() for part in value.split(",") if part.strip()]
    if not keys:
        raise ValueError(f"DATA_ENCRYPTION_KEY holds no key: {NEW_KEY_HOWTO}")
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except ValueError:
            raise ValueError(
                f"DATA_ENCRYPTION_KEY: key {number} of {len(keys)} is not a Fernet key "
                f"(44 characters of url-safe base64): {NEW_KEY_HOWTO}"
            ) from None
    return keys


class SettingsError(Exception):
    """A setting is wrong or missing. The message is meant for the person deploying."""


class Settings(BaseSettings):
    # An empty line in .env (STAFF_CHAT_ID=, as .env.example has it) means "not set".
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    telegram_bot_token: str | None = Field(default=None)
    telegram_api_url: str = "https://api.telegram.org/bot"
    database_url: str = DEFAULT_DATABASE_URL
    #: Encrypt at rest what people wrote, names, phone numbers and notes: Fernet keys
    #: separated by commas; the first encrypts, every one decrypts (to rotate:
    #: new,old, then `spbot rotate-key`). None: stored as written.
    data_encryption_key: SecretStr | None = None
    organisation_name: str = "the Social Prescribing Team"
    response_time_text: str = "within 2 working days"
    timezone: str = "Europe/London"
    #: Optional: the Telegram group where link workers see new cases and alerts.
    staff_chat_id: int | None = None
    #: Extra crisis contacts shown with the national ones, e.g.
    #: "Sefton crisis line: 0800 145 6570". Separate several with "|".
    local_crisis_contacts: str = ""
    #: Where link workers can help in person: postcode areas or districts, like
    #: "L20,L21,L30,PR8" or "L" (all of Liverpool's). Someone whose postcode is
    #: outside it is told at once what the service can still do. Empty: anywhere.
    service_area: str = ""
    #: When link workers are working: "Mon-Fri 09:00-17:00". Alerts outside these
    #: hours are marked "out of hours" (nobody may see them until then).
    working_hours: str = "Mon-Fri 09:00-17:00"
    #: Re-announce a case in the team chat when nobody has claimed it after this
    #: many working hours (0: never).
    claim_reminder_hours: float = Field(default=4.0, ge=0)
    #: A safety alert nobody has taken (Seen) is posted again this many minutes
    #: after its card went out, and sent to the worker holding the case (only in
    #: working hours: one left from the day before goes out as the next day starts).
    alert_resend_minutes: float = Field(default=15.0, gt=0)
    #: A link worker's "Type your message to Kofi" waits this long for the text;
    #: after it, what they type is sent nowhere (they are told).
    prompt_expires_minutes: float = Field(default=10.0, gt=0)
    #: Optional: a claim that would take a worker past this many open cases is
    #: warned first ("Claim anyway" to go on). None: no limit.
    caseload_limit: int | None = Field(default=None, ge=1)
    #: The working days RESPONSE_TIME_TEXT promises: a patient whose case is picked
    #: up is told the day ("will message you here by Thursday").
    response_working_days: int = Field(default=2, ge=0, le=30)
    #: Read every message for its meaning too, with the sentence-embedding model
    #: (bot/safety/meaning.py), beside the rules. Off: the rules alone.
    meaning_screen: bool = True
    #: Where the embedding model's files are (default: ~/.cache/spbot/...; fetched
    #: by `make install` or `spbot safety fetch-model`).
    embedding_model_dir: str | None = None
    #: When check-ins go after a referral: offsets from it, like "7d,28d,84d".
    checkin_schedule: str = "7d,28d,84d"
    #: No check-in or nudge is sent in these hours (in TIMEZONE), across midnight.
    quiet_hours: str = "21:00-09:00"
    #: A check-in waits while the patient is talking with us or their link worker:
    #: until this long after the last message either way.
    checkin_hold_off: str = "2h"
    #: One gentle reminder when a check-in is not answered after this long; after
    #: as long again it is marked unanswered.
    checkin_reminder: str = "3d"
    #: Someone who stops halfway through the referral gets one nudge after this long.
    nudge_after: str = "24h"
    #: Personal data is erased this many days after a person's last case is closed
    #: (and after a referral finished without one). The consent notice says so.
    retention_days: int = Field(default=730, ge=1)
    #: A conversation left before the handoff is erased after this many days.
    abandoned_retention_days: int = Field(default=90, ge=1)
    #: `spbot directory check` lists entries their providers have not confirmed
    #: (ORUK `assured_date`) for longer than this.
    stale_after_days: int = Field(default=180, ge=1)
    log_level: str = "INFO"
    #: Write logs to this file (`spbot chat` never writes them to the terminal the
    #: person types in; `spbot run` writes them to stderr unless this is set).
    log_file: str | None = None
    #: Seconds to wait for the database (to connect, or for one statement) before
    #: giving up and trying again: a database that hangs must not hang the bot.
    database_timeout: float = Field(default=15.0, gt=0)
    #: Seconds to wait for Telegram's Bot API (one request; long polling waits longer).
    telegram_timeout: float = Field(default=10.0, gt=0)
    #: `spbot run --webhook`: the address this instance listens on (host:port), the
    #: public HTTPS URL Telegram posts updates to (behind your load balancer; its
    #: path is where this instance takes them), and the secret Telegram sends with
    #: each (1-256 of A-Z, a-z, 0-9, _ and -): a request without it is refused.
    webhook_listen: str = "0.0.0.0:8080"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None

    @field_validator("working_hours")
    @classmethod
    def _readable_hours(cls, value: str) -> str:
        parse_working_hours(value)
        return value

    def is_working_time(self, when: datetime) -> bool:
        days, start, end = parse_working_hours(self.working_hours)
        local = when.astimezone(self.zone)
        return local.weekday() in days and start <= local.time() < end

    @field_validator("checkin_schedule")
    @classmethod
    def _readable_schedule(cls, value: str) -> str:
        offsets = [part for part in value.split(",") if part.strip()]
        if not offsets:
            raise ValueError(f"CHECKIN_SCHEDULE={value!r} should list offsets, like 7d,28d,84d")
        for part in offsets:
            parse_duration(part, "CHECKIN_SCHEDULE")
        return value

    @field_validator("service_area")
    @classmethod
    def _readable_service_area(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",") if p.strip()):
            if not re.fullmatch(r"[A-Za-z]{1,2}(?:\d[A-Za-z\d]?)?", part):
                raise ValueError(
                    f"SERVICE_AREA={value!r}: {part!r} should be a postcode area or district, "
                    "like L or L20 (separate several with commas)"
                )
        return value

    @property
    def service_districts(self) -> tuple[str, ...]:
        return tuple(p.strip().upper() for p in self.service_area.split(",") if p.strip())

    @field_validator("quiet_hours")
    @classmethod
    def _readable_quiet_hours(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value

    @field_validator("checkin_hold_off", "checkin_reminder", "nudge_after")
    @classmethod
    def _readable_duration(cls, value: str, info: ValidationInfo) -> str:
        parse_duration(value, str(info.field_name).upper())
        return value

    @property
    def checkin_offsets(self) -> list[timedelta]:
        parts = [p for p in self.checkin_schedule.split(",") if p.strip()]
        return sorted(parse_duration(p, "CHECKIN_SCHEDULE") for p in parts)

    @property
    def prompt_expires(self) -> timedelta:
        return timedelta(minutes=self.prompt_expires_minutes)

    @property
    def hold_off(self) -> timedelta:
        return parse_duration(self.checkin_hold_off, "CHECKIN_HOLD_OFF")

    @property
    def reminder_after(self) -> timedelta:
        return parse_duration(self.checkin_reminder, "CHECKIN_REMINDER")

    @property
    def nudge_delay(self) -> timedelta:
        return parse_duration(self.nudge_after, "NUDGE_AFTER")

    @property
    def quiet(self) -> tuple[time, time]:
        return parse_quiet_hours(self.quiet_hours)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"TIMEZONE={value!r} is not a time zone name; use one like Europe/London"
            ) from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _usable_database_url(cls, value: str) -> str:
        try:
            backend = make_url(value).drivername
        except ArgumentError as exc:
            raise ValueError(
                f"DATABASE_URL={value!r} is not a database URL; use "
                "sqlite+aiosqlite:///spbot.sqlite3 or postgresql+asyncpg://user@host/db"
            ) from exc
        if backend not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError(
                f"DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                f"(it starts with {backend}://)"
            )
        return value

    @field_validator("data_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_encryption_keys(value.get_secret_value())
        return value

    @property
    def encryption_keys(self) -> list[str]:
        """The keys in DATA_ENCRYPTION_KEY, the one that encrypts first ([]: none)."""
        key = self.data_encryption_key
        return parse_encryption_keys(key.get_secret_value()) if key is not None else []

    @field_validator("telegram_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"TELEGRAM_API_URL={value!r} must be an http(s) URL such as "
                "https://api.telegram.org/bot"
            )
        return value

    @property
    def local_crisis_lines(self) -> list[str]:
        return [line.strip() for line in self.local_crisis_contacts.split("|") if line.strip()]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def require_token(self) -> str:
        if not self.telegram_bot_token:
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather in Telegram "
                "(send it /newbot), then put the token it gives you in .env as "
                "TELEGRAM_BOT_TOKEN=... — or try the conversation without a token with "
                "`spbot chat`."
            )
        if ":" not in self.telegram_bot_token:
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (it should look like "
                "123456:ABC-DEF...); copy it again from @BotFather."
            )
        return self.telegram_bot_token

    def require_webhook(self) -> tuple[str, int, str, str]:
        """(host, port, public URL, secret) for `spbot run --webhook`."""
        if not self.webhook_url or not self.webhook_url.startswith(("https://", "http://")):
            raise SettingsError(
                "WEBHOOK_URL is not set to a URL: put the public https:// address Telegram "
                "should post updates to (your load balancer's, with a path such as "
                "/telegram) in .env as WEBHOOK_URL=..."
            )
        secret = self.webhook_secret.get_secret_value() if self.webhook_secret else ""
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret):
            raise SettingsError(
                "WEBHOOK_SECRET should be 16 to 256 letters, digits, _ or -, so that nobody "
                "but Telegram can post updates: make one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(32))"`'
            )
        host, _, port = self.webhook_listen.rpartition(":")
        if not host or not port.isdigit():
            raise SettingsError(
                f"WEBHOOK_LISTEN={self.webhook_listen!r} should be an address and a port, "
                "like 0.0.0.0:8080"
            )
        return host, int(port), self.webhook_url, secret

    def require_staff_chat(self) -> int:
        if self.staff_chat_id is None:
            raise SettingsError(
                "STAFF_CHAT_ID is not set: crisis alerts and new cases need a Telegram group "
                "for the link worker team. Add the bot to your team's group, send a message "
                "there, and put the group's id (a negative number) in .env as STAFF_CHAT_ID=..."
            )
        return self.staff_chat_id


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's report into one plain sentence."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "a setting"
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        if name.lower() not in message.lower():
            message = f"{name} is not valid: {message}"
        raise SettingsError(message) from None
