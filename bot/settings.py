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
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import pyrage  # type: ignore[import-untyped]
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".amanat")
PACKAGE_LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"


def _split_list(value: object) -> object:
    """Accept comma or newline separated lists from the environment, where JSON is unfriendly."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())
    return value


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

    @field_validator("age_recipients")
    @classmethod
    def _check_recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_recipients(value)


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
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR}/amanat.db",
        validation_alias=AliasChoices("DATABASE_URL", "AMANAT_DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///path (embedded default) or postgresql://...",
    )
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Where development keys and the SQLite file live.",
    )
    locales_dir: Path = Field(
        default=PACKAGE_LOCALES_DIR,
        description="Folder holding compiled gettext catalogs.",
    )
    admin_public_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Admin public keys (amanat-admin-pk-v2:..., or v1), comma separated.",
    )
    former_admin_public_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description=(
            "Public keys of revoked admins, comma separated: only to verify their audit "
            "entries, never sealed to."
        ),
    )
    server_secret: SecretStr | None = Field(
        default=None,
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
    partners: tuple[Partner, ...] = Field(
        default=(),
        description=(
            "Partner organisations, as JSON: "
            '[{"name": "kabul-ngo", "language": "fa_AF", "age_recipients": ["age1..."]}].'
        ),
    )
    concurrent_updates: bool = Field(
        default=False, description="Process updates concurrently (see benchmarks)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator(
        "admin_public_keys", "former_admin_public_keys", "emergency_contacts", mode="before"
    )
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("server_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("server_secret must be base64") from None
        if len(raw) != 32:
            raise ValueError("server_secret must decode to exactly 32 bytes")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("AMANAT_REDIS_URL must start with redis://, rediss:// or unix://")
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

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.telegram_bot_token is not None and not self.admin_public_keys:
            raise ValueError(
                "a Telegram token is set but no admin public keys: run `amanat keys init` "
                "on an admin's machine and set AMANAT_ADMIN_PUBLIC_KEYS"
            )
        if self.telegram_bot_token is not None and self.server_secret is None:
            raise ValueError("a Telegram token is set but AMANAT_SERVER_SECRET is missing")
        return self

    @property
    def is_simulator(self) -> bool:
        """Run the local simulator when no token is configured."""
        return self.telegram_bot_token is None

    def partner(self, name: str) -> Partner | None:
        """Find a configured partner by name."""
        return next((partner for partner in self.partners if partner.name == name), None)

    def server_secret_bytes(self) -> bytes:
        """Decode the server secret; callers must have ensured it is set."""
        if self.server_secret is None:
            raise RuntimeError("server secret is not configured")
        return base64.b64decode(self.server_secret.get_secret_value())
