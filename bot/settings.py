"""Own the one validated, frozen settings object of Amanat.

Everything configurable is read here, once, from the environment (and an optional ``.env``
file); every other module receives the resulting :class:`Settings` from the composition root.
This module must never hold secrets in plain ``str`` fields, never log them and never create
files: generating development keys is :mod:`bot.devtools.devkeys`'s job. It imports nothing
of the product, so every layer may read it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

import pyrage  # type: ignore[import-untyped]
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".amanat")
PACKAGE_LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DEFAULT_DATABASE_FILE: Final = "amanat.db"
DATABASE_SCHEMES: Final = frozenset(
    {"sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+asyncpg"}
)
"""The URL schemes ``storage.db`` can open; checked here so every mistake shows at once."""
DEFAULT_CONCURRENT_UPDATES: Final = 64
_BOT_TOKEN: Final = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}")
_WEBHOOK_SECRET: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_USERNAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{1,28}[Bb][Oo][Tt]")
_URL_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,39}")  # quoted only when it is one
_KEY_ID: Final = re.compile(r"[0-9a-f]{16}")
_EMAIL: Final = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
"""An e-mail address as digests are sent to it: plain ASCII, no name, no comment, no line
break (nothing that could add a header)."""
_WEBHOOK_SECRET_TEXT: Final = re.compile(r"[\x21-\x7e]{32,256}")
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
"""Hosts plain http (or SMTP without TLS) may reach: this machine only, as tests do."""
DELIVERY_CHANNELS: Final = ("telegram", "email", "webhook")
"""The ways a digest reaches a partner without anyone carrying it (docs/operations.md)."""


def default_database_url(data_dir: Path) -> str:
    """The embedded default: an SQLite file in the data folder, beside the development keys.

    It follows ``AMANAT_DATA_DIR``: a new data folder holds a new server secret, which must
    never meet an old database (receipt codes would no longer match their reports).
    """
    return f"sqlite:///{data_dir / DEFAULT_DATABASE_FILE}"


def _database_url_default(data: dict[str, Any]) -> str:
    """Default DATABASE_URL from the validated data folder (declared before it)."""
    return default_database_url(data["data_dir"])


def _split_list(value: object) -> object:
    """Accept comma or newline separated lists from the environment, where JSON is unfriendly."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())
    return value


def check_email(value: str) -> str:
    """Accept one plain address (``name@example.org``); never quote it back."""
    if len(value) > 254 or not _EMAIL.fullmatch(value):
        raise ValueError("must be one plain e-mail address, like digests@example.org")
    return value


def is_loopback_url(value: str) -> bool:
    """Tell whether a URL's host is this machine (where plain http carries nothing away)."""
    return urlsplit(value).hostname in LOOPBACK_HOSTS


def check_delivery_url(value: str) -> str:
    """An https URL with a host (http:// only to this machine), no user name or password in it.

    Credentials in a URL end up in logs and in the outbox's error reports; the webhook is
    authenticated by its HMAC signature instead.
    """
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user name or password: the signature authenticates")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return value
    raise ValueError("must be an https:// URL (http:// only to this machine)")


def check_recipients(recipients: Sequence[str]) -> tuple[str, ...]:
    """Validate age X25519 recipients (``age1…``); raise ValueError naming the bad one."""
    checked = []
    for number, text in enumerate(recipients, start=1):
        try:
            pyrage.x25519.Recipient.from_str(text.strip())
        except pyrage.RecipientError:
            raise ValueError(f"age recipient {number} is not an age1… public key") from None
        checked.append(text.strip())
    if not checked:
        raise ValueError("a partner needs at least one age recipient")
    return tuple(checked)


class Partner(BaseModel):
    """A partner organisation that receives digests: who, in which language, to which keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
        description="Short name in lowercase letters, digits and dashes; used in file names.",
    )
    language: Literal["en", "fa_AF", "ps"] = Field(
        default="en", description="Language, digits and calendar of the partner's digests."
    )
    age_recipients: tuple[str, ...] = Field(
        description="The partner's age public keys (age1...); any one of them opens a digest."
    )

    telegram_chat_id: int | None = Field(
        default=None,
        description=(
            "Telegram chat that receives digests as a document: the partner's private chat "
            "with the bot (they press Start first) or a group the bot is in (negative id)."
        ),
    )
    email: str | None = Field(
        default=None,
        description="Address that receives digests by e-mail, through AMANAT_SMTP_HOST.",
    )
    webhook_url: str | None = Field(
        default=None,
        description=(
            "https URL digests are posted to, signed with the partner's secret from "
            "AMANAT_PARTNER_WEBHOOK_SECRETS."
        ),
    )

    @field_validator("age_recipients")
    @classmethod
    def _check_recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_recipients(value)

    @field_validator("telegram_chat_id")
    @classmethod
    def _check_chat(cls, value: int | None) -> int | None:
        if value is not None and (value == 0 or abs(value) >= 10**16):
            raise ValueError("must be a Telegram chat id (a whole number, negative for a group)")
        return value

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        return None if value is None else check_email(value)

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook(cls, value: str | None) -> str | None:
        return None if value is None else check_delivery_url(value)

    @property
    def channels(self) -> tuple[str, ...]:
        """The delivery channels this partner has, in the order they are listed."""
        given = {
            "telegram": self.telegram_chat_id is not None,
            "email": self.email is not None,
            "webhook": self.webhook_url is not None,
        }
        return tuple(channel for channel in DELIVERY_CHANNELS if given[channel])


class Settings(BaseSettings):
    """Validated configuration; frozen so no module can change it behind another's back."""

    model_config = SettingsConfigDict(
        env_prefix="AMANAT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    telegram_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "AMANAT_TELEGRAM_BOT_TOKEN"),
        description="Bot token from @BotFather; without it the local simulator runs.",
    )
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org/bot",
        description="Bot API base URL (own Bot API servers and the tests set it).",
    )
    telegram_file_base_url: str = Field(
        default="https://api.telegram.org/file/bot",
        description="Bot API file download base URL.",
    )
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Where development keys and the default SQLite file live.",
    )
    database_url: str = Field(
        default_factory=_database_url_default,
        validation_alias=AliasChoices("DATABASE_URL", "AMANAT_DATABASE_URL"),
        description=(
            "SQLAlchemy URL: sqlite:///path or postgresql://...; by default amanat.db in the "
            "data folder."
        ),
    )
    locales_dir: Path = Field(
        default=PACKAGE_LOCALES_DIR,
        description="Folder holding compiled gettext catalogs.",
    )
    admin_public_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        validate_default=True,  # so that a token without keys is refused
        description="Admin public keys (amanat-admin-pk-v2:..., or v1), comma separated.",
    )
    former_admin_public_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description=(
            "Public keys of revoked admins, comma separated: only to verify their audit "
            "entries, never sealed to."
        ),
    )
    lead_admin_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description=(
            "Key ids (16 hex digits, as `amanat keys public` prints them) of the admins who are "
            "leads, comma separated; every other admin is a reviewer."
        ),
    )
    server_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,  # so that a token without a secret is refused
        description="32 random bytes, base64: conversation memory, receipt hashes, notices.",
    )
    draft_ttl_minutes: int = Field(
        default=24 * 60,
        ge=10,
        le=7 * 24 * 60,
        description=(
            "A report must be sent within this many minutes of starting it; after that its "
            "unsent answers are deleted (the clock is not reset by activity)."
        ),
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description=(
            "redis://... for conversations in progress shared by several workers (persistence "
            "must be off); without it they live in this process's memory."
        ),
    )
    stats_batch: int = Field(
        default=5,
        ge=3,
        le=1000,
        description=(
            "Statistics records are written only in shuffled batches that at least this many "
            "reports went by, so none can be paired with its report."
        ),
    )
    k_anonymity: int = Field(
        default=5, ge=3, le=100, description="Smallest count a digest may show."
    )
    max_answer_chars: int = Field(
        default=3000, ge=100, le=4000, description="Longest typed answer accepted."
    )
    max_attachment_bytes: int = Field(
        default=20 * 1024 * 1024,
        ge=1024,
        le=20 * 1024 * 1024,
        description="Largest voice note, photo or file kept (the Bot API serves 20 MB at most).",
    )
    max_files_per_report: int = Field(
        default=30, ge=1, le=500, description="Most voice notes, photos and files one report keeps."
    )
    max_report_file_bytes: int = Field(
        default=200 * 1024 * 1024,
        ge=1024 * 1024,
        le=4 * 1024 * 1024 * 1024,
        description="Most bytes of files one report keeps, all files together.",
    )
    min_free_disk_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=0,
        description="Refuse new files while the SQLite database's disk has less room than this.",
    )
    flood_limit: int = Field(
        default=120,
        ge=10,
        le=10_000,
        description="Updates one person may send in ten minutes before the bot asks them to wait.",
    )
    emergency_contacts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Emergency contact lines shown to people in danger, comma separated.",
    )
    bot_username: str = Field(
        default="",
        description=(
            "The bot's one true Telegram username (@name): /start and /safety tell people "
            "that every other account is fake. Checked against the token at start."
        ),
    )
    verification_phrase: str = Field(
        default="",
        max_length=200,
        description=(
            "A phrase the organisation also publishes elsewhere (its website, its pages): "
            "/start and /safety show it, so people can tell the real bot from a copy."
        ),
    )
    team_name: str = Field(
        default="",
        max_length=120,
        description=("The deploying organisation's name, as partner digests name who issued them."),
    )
    team_contact: str = Field(
        default="",
        max_length=200,
        description="How a partner reaches the team about a digest (an e-mail address, a phone).",
    )
    partners: Annotated[tuple[Partner, ...], NoDecode] = Field(
        default=(),
        description=(
            "Partner organisations, as JSON: "
            '[{"name": "kabul-ngo", "language": "fa_AF", "age_recipients": ["age1..."]}].'
        ),
    )
    smtp_host: str | None = Field(
        default=None,
        description="Mail server that sends digests to partners' addresses (AMANAT_PARTNERS).",
    )
    smtp_port: int = Field(
        default=587, ge=1, le=65535, description="The mail server's port (587 with STARTTLS)."
    )
    smtp_security: Literal["starttls", "tls", "plain"] = Field(
        default="starttls",
        description=(
            "starttls (port 587) or tls (port 465), the server's certificate checked; plain "
            "only to a relay on this machine."
        ),
    )
    smtp_user: str | None = Field(default=None, description="User name at the mail server.")
    smtp_password: SecretStr | None = Field(
        default=None,
        validate_default=True,  # so that a user without a password is refused
        description="Password at the mail server (with AMANAT_SMTP_USER).",
    )
    smtp_from: str | None = Field(
        default=None,
        description="The sender address of digest e-mails, e.g. digests@example.org.",
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description=(
            "A CA certificate file (PEM) the mail server's certificate must chain to, for a "
            "private relay; unset, the system's trusted CAs."
        ),
    )
    partner_webhook_secrets: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        description=(
            'Each webhook partner\'s signing secret, as JSON: {"kabul-ngo": "..."} (32 to '
            "256 printable characters each). Kept apart from AMANAT_PARTNERS, which admins' "
            "machines share: only the server needs it."
        ),
    )
    delivery_attempts: int = Field(
        default=8,
        ge=1,
        le=50,
        description="Tries of one digest delivery, the first included, before it has failed.",
    )
    delivery_retry_seconds: float = Field(
        default=60,
        ge=1,
        le=3600,
        description="First wait before a digest delivery is tried again; it doubles each time.",
    )
    delivery_retry_cap_seconds: float = Field(
        default=6 * 3600,
        ge=1,
        le=7 * 24 * 3600,
        description="Longest wait between two tries of a digest delivery.",
    )
    send_attempts: int = Field(
        default=4,
        ge=1,
        le=10,
        description=(
            "Tries of one message Telegram failed to take (a 5xx, a dropped connection, "
            "a 429), the first included."
        ),
    )
    send_retry_seconds: float = Field(
        default=1.0,
        ge=0,
        le=30,
        description="First wait before trying a message again; it doubles each time.",
    )
    worker_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description=(
            "Port of the worker's endpoint: /healthz, /readyz, /metrics (and the webhook in "
            "webhook mode). Unset: no endpoint in polling mode."
        ),
    )
    admin_api_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description=(
            "Port of the admin API (signed requests only; TLS at the reverse proxy). "
            "Unset: no admin API."
        ),
    )
    admin_api_url: str | None = Field(
        default=None,
        description=(
            "On an admin's machine: the admin API to work through (https://…, or http:// to "
            "this machine only). Set, every `amanat admin` command works through it and "
            "needs no database URL."
        ),
    )
    admin_api_host: str = Field(
        default="127.0.0.1",
        description="Address the admin API listens on; keep it behind the proxy.",
    )
    webhook_url: str | None = Field(
        default=None,
        description=(
            "With `amanat run --webhook`: the public https URL Telegram posts updates to; "
            "the reverse proxy forwards its path, unchanged, to AMANAT_WORKER_PORT."
        ),
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "With `amanat run --webhook`: the secret Telegram sends with every update "
            "(1 to 256 letters, digits, _ or -); requests without it are refused."
        ),
    )
    worker_host: str = Field(
        default="127.0.0.1",
        description="Address the worker's endpoint listens on; keep it behind the proxy.",
    )
    overall_messages_per_second: float = Field(
        default=30,
        gt=0,
        le=1000,
        description=(
            "Messages the bot sends per second at most, all chats together: Telegram's limit "
            "for ordinary bots is about 30."
        ),
    )
    concurrent_updates: int = Field(
        default=DEFAULT_CONCURRENT_UPDATES,
        ge=1,
        le=1024,
        description=(
            "Updates handled at once, across different people (each person's updates stay "
            "one at a time, in order); 1 handles every update in turn."
        ),
    )
    bot_api_connections: int = Field(
        default=16,
        ge=1,
        le=256,
        description=(
            "Connections to the Bot API kept open at most. A send waits for a free one: "
            "each request scans every open connection, so more costs CPU without speed."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator(
        "admin_public_keys",
        "former_admin_public_keys",
        "emergency_contacts",
        "lead_admin_keys",
        mode="before",
    )
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("bot_username")
    @classmethod
    def _check_username(cls, value: str) -> str:
        """Keep one spelling, "@name", since people compare it letter by letter."""
        name = value.strip().removeprefix("@")
        if name and not _BOT_USERNAME.fullmatch(name):
            raise ValueError(
                "must be a Telegram bot username: 5 to 32 letters, digits or _, "
                "ending in bot, as @BotFather shows it"
            )
        return f"@{name}" if name else ""

    @field_validator("verification_phrase", "team_name", "team_contact")
    @classmethod
    def _check_phrase(cls, value: str) -> str:
        """One line, and no control or direction marks that could make it read differently.

        The zero-width (non-)joiner stays: Dari and Pashto spelling needs it (می‌رود).
        """
        phrase = " ".join(value.split())
        if any(_hidden_mark(char) for char in phrase):
            raise ValueError("must be plain text on one line")
        return phrase

    @field_validator("concurrent_updates", mode="before")
    @classmethod
    def _read_concurrency(cls, value: object) -> object:
        """Keep the old true/false spelling working: true is the default limit, false is 1."""
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return DEFAULT_CONCURRENT_UPDATES if value.strip().lower() == "true" else 1
        if isinstance(value, bool):
            return DEFAULT_CONCURRENT_UPDATES if value else 1
        return value

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL: Telegram posts updates only over TLS")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1 to 256 letters, digits, _ or - (Telegram's rule)")
        return value

    @field_validator("partners", mode="before")
    @classmethod
    def _read_partners(cls, value: object) -> object:
        """Parse the JSON here, not in the settings source, so a typo is one problem among
        the others instead of an exception that hides them."""
        if not isinstance(value, str | bytes):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"is not valid JSON (line {exc.lineno}, column {exc.colno}); see the README"
            ) from None

    @field_validator("smtp_host", mode="after")
    @classmethod
    def _check_smtp_host(cls, value: str | None) -> str | None:
        """A host name or address only: the port and the security have their own settings.

        Whether the server needs one (a partner has an email) is a start-up check
        (``bot.app.check_startup``): admins' machines share AMANAT_PARTNERS without it.
        """
        if value is None:
            return None
        host = value.strip()
        if not host or (any(char in host for char in " /:@") and not _is_ipv6(host)):
            raise ValueError("must be a host name or address, without port or scheme")
        return host

    @field_validator("smtp_security", mode="after")
    @classmethod
    def _check_smtp_security(cls, value: str, info: ValidationInfo) -> str:
        """Digests are sealed, but the password and the addresses are not: TLS off the machine."""
        if value == "plain" and info.data.get("smtp_host") not in (None, *LOOPBACK_HOSTS):
            raise ValueError("plain is only for a mail relay on this machine: use starttls or tls")
        return value

    @field_validator("smtp_password", mode="after")
    @classmethod
    def _check_smtp_login(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        has_user = info.data.get("smtp_user") is not None
        if value is None and has_user:
            raise ValueError("is required with AMANAT_SMTP_USER")
        if value is not None and not has_user:
            raise ValueError("needs AMANAT_SMTP_USER too")
        return value

    @field_validator("smtp_from", mode="after")
    @classmethod
    def _check_smtp_from(cls, value: str | None) -> str | None:
        return None if value is None else check_email(value)

    @field_validator("smtp_ca_file", mode="after")
    @classmethod
    def _check_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @field_validator("partner_webhook_secrets", mode="before")
    @classmethod
    def _read_webhook_secrets(cls, value: object) -> object:
        """Parse the JSON here; a typo is named by line and column, never quoted."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str | bytes):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"is not valid JSON (line {exc.lineno}, column {exc.colno}): "
                '{"partner-name": "secret", ...}'
            ) from None

    @field_validator("partner_webhook_secrets", mode="after")
    @classmethod
    def _check_webhook_secrets(
        cls, value: dict[str, SecretStr], info: ValidationInfo
    ) -> dict[str, SecretStr]:
        """Strong secrets, each for a partner with a webhook.

        A webhook partner without a secret is a start-up check of the server
        (``bot.app.check_startup``): admins' machines share AMANAT_PARTNERS and must not hold
        the secrets.
        """
        for name, secret in value.items():
            if not _WEBHOOK_SECRET_TEXT.fullmatch(secret.get_secret_value()):
                shown = name if _NAME.fullmatch(name) else "an entry"
                raise ValueError(
                    f"the secret of {shown} must be 32 to 256 printable characters, no spaces "
                    "(e.g. `openssl rand -base64 32`)"
                )
        if "partners" not in info.data:
            return value  # the partners have a problem of their own
        hooked = {p.name for p in info.data["partners"] if p.webhook_url is not None}
        for name in value:
            if name not in hooked:
                shown = name if _NAME.fullmatch(name) else "an entry"
                raise ValueError(f"names {shown}, which is no partner with a webhook_url")
        return value

    @field_validator("delivery_retry_cap_seconds", mode="after")
    @classmethod
    def _check_retry_cap(cls, value: float, info: ValidationInfo) -> float:
        if value < info.data.get("delivery_retry_seconds", 0):
            raise ValueError("must be at least AMANAT_DELIVERY_RETRY_SECONDS")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        """Catch a token copied with quotes, spaces or half missing, without quoting it."""
        if value is not None and not _BOT_TOKEN.fullmatch(value.get_secret_value()):
            reason = "is empty" if not value.get_secret_value() else "does not look like a token"
            raise ValueError(
                f"{reason}: @BotFather gives digits, a colon, then letters, digits, - and _"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        """Refuse what no driver we ship can open; only the scheme is ever quoted."""
        scheme, separator, _ = value.partition("://")
        if not separator:
            raise ValueError("is not a URL: write sqlite:///path/to/file.db or postgresql://...")
        if scheme.lower() not in DATABASE_SCHEMES:
            shown = scheme if _URL_SCHEME.fullmatch(scheme) else "this scheme"
            raise ValueError(
                f"{shown!r} is not supported: write sqlite:///path/to/file.db or postgresql://..."
            )
        return value

    @field_validator("admin_api_url", mode="after")
    @classmethod
    def _check_api_url(cls, value: str | None) -> str | None:
        """Signed requests are not secret: anything beyond this machine goes over TLS."""
        if value is None:
            return None
        parts = urlsplit(value)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme == "https" and parts.hostname:
            return value.rstrip("/")
        if parts.scheme == "http" and local:
            return value.rstrip("/")
        raise ValueError("must be an https:// URL (http:// only to this machine)")

    @field_validator("lead_admin_keys", mode="after")
    @classmethod
    def _check_lead_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Key ids only: a whole key line here would look right and name nobody."""
        for key_id in value:
            if not _KEY_ID.fullmatch(key_id):
                raise ValueError(
                    "must list key ids: 16 hex digits each, as `amanat keys public` prints them"
                )
        return value

    @field_validator("admin_public_keys", mode="after")
    @classmethod
    def _keys_with_token(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """A token means real reports: they must be sealed to admin keys, never in plaintext."""
        if not value and info.data.get("telegram_bot_token") is not None:
            raise ValueError(
                "is required with a Telegram token: run `amanat keys init` on an admin's "
                "machine and put the public key line it prints here"
            )
        return value

    @field_validator("server_secret", mode="after")
    @classmethod
    def _check_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            if info.data.get("telegram_bot_token") is not None:
                raise ValueError(
                    "is required with a Telegram token: 32 random bytes in base64 (README, "
                    '"Running it for real"), backed up apart from the database'
                )
            return None
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64 (of 32 random bytes)") from None
        if len(raw) != 32:
            raise ValueError("must decode to exactly 32 bytes")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("telegram_api_base_url", "telegram_file_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError("Bot API URLs must use https (plain http only on loopback)")
        return value

    @field_validator("partners")
    @classmethod
    def _unique_partners(cls, value: tuple[Partner, ...]) -> tuple[Partner, ...]:
        names = [partner.name for partner in value]
        if len(set(names)) != len(names):
            raise ValueError("two partners have the same name")
        return value

    @property
    def is_simulator(self) -> bool:
        """Run the local simulator when no token is configured."""
        return self.telegram_bot_token is None

    def partner(self, name: str) -> Partner | None:
        """Find a configured partner by name."""
        return next((partner for partner in self.partners if partner.name == name), None)

    def partner_webhook_key(self, name: str) -> bytes:
        """The partner's webhook signing secret, as bytes; KeyError when it has none."""
        return self.partner_webhook_secrets[name].get_secret_value().encode("ascii")

    def server_secret_bytes(self) -> bytes:
        """Decode the server secret; callers must have ensured it is set."""
        if self.server_secret is None:
            raise RuntimeError("server secret is not configured")
        return base64.b64decode(self.server_secret.get_secret_value())


_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
"""A partner's name, as AMANAT_PARTNERS spells it: quoted back only when it is one."""


def _is_ipv6(host: str) -> bool:
    return ":" in host and all(c in "0123456789abcdefABCDEF:." for c in host)


def _hidden_mark(char: str) -> bool:
    """Control characters and bidi marks: invisible, and able to reorder what people read."""
    if char in "\u200c\u200d":
        return False
    return unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs", "Cn")


@dataclass(frozen=True)
class Problem:
    """One reason Amanat cannot start, named by the variable an operator sets, never its value."""

    variable: str
    reason: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.reason}"


def environment_name(field: str) -> str:
    """Name the environment variable that sets a field: what operators write, not our names.

    Fields with aliases are named by their first alias (``DATABASE_URL``,
    ``TELEGRAM_BOT_TOKEN``), the others by the prefix (``flood_limit`` is
    ``AMANAT_FLOOD_LIMIT``).
    """
    info = Settings.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, AliasChoices):
        first = info.validation_alias.choices[0]
        if isinstance(first, str):
            return first
    return f"AMANAT_{field.upper()}"


def _variable_of(name: str) -> str | None:
    """Map a location pydantic reports (field name or alias, any case) to its variable."""
    for field, info in Settings.model_fields.items():
        names = {field}
        if isinstance(info.validation_alias, AliasChoices):
            names.update(c for c in info.validation_alias.choices if isinstance(c, str))
        if name.lower() in {n.lower() for n in names} or name.lower() == f"amanat_{field}":
            return environment_name(field)
    return None


def describe_invalid_settings(error: ValidationError) -> list[Problem]:
    """Turn every validation error into a problem naming its variable; never quote a value.

    Pydantic is asked for messages without the input, so a mistyped secret is never echoed;
    our own validators word their messages to follow the variable's name.
    """
    problems: list[Problem] = []
    for detail in error.errors(include_input=False, include_url=False, include_context=False):
        if detail["type"] == "default_factory_not_called":
            continue  # the default depends on a field that already has its own problem
        location = [str(part) for part in detail["loc"]]
        head = location[0] if location else ""
        variable = _variable_of(head)
        if detail["type"] == "extra_forbidden":
            problems.append(
                Problem(head.upper(), "is not an Amanat setting (in .env?): check its spelling")
            )
            continue
        reason = detail["msg"].removeprefix("Value error, ")
        reason = reason[:1].lower() + reason[1:]
        if variable == environment_name("partners") and len(location) > 1:
            where = f"partner {int(location[1]) + 1}" if location[1].isdigit() else location[1]
            reason = f"{', '.join([where, *location[2:]])}: {reason}"
        problems.append(Problem(variable or (head.upper() or "settings"), reason))
    return problems
