"""Share what every part of the ``amanat`` command line needs: settings, keys, storage, audit.

The command modules (:mod:`bot.cli.keys`, :mod:`bot.cli.admin`, :mod:`bot.cli.partners` and
:mod:`bot.cli` itself) stay thin by leaning on these steps: read settings, read a key file with
its passphrase, run one piece of storage work in its own engine, chain an admin action in the
audit log, and fail with one line that never holds content.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.rekey import AfterReport
from bot.cli.agent import AgentKey, AgentUnavailable
from bot.crypto.codes import normalise_report_id
from bot.crypto.errors import (
    CryptoError,
    WrongPassphrase,
)
from bot.crypto.keyfile import AdminPrivateKey, recorded_public_key
from bot.devtools.devkeys import dev_key_path, dev_passphrase_path, is_dev_key
from bot.i18n.translations import CatalogError, Translations
from bot.settings import Partner, Problem, Settings, describe_invalid_settings
from storage.audit import AuditRepository
from storage.db import (
    DatabaseUnavailable,
    create_engine,
    normalise_database_url,
    session_factory,
)

PASSPHRASE_ENV: Final = "AMANAT_ADMIN_PASSPHRASE"  # noqa: S105 (the variable's name)
MIN_PASSPHRASE_LENGTH: Final = 12
DEFAULT_KEY_PATH: Final = Path("~/.config/amanat/admin.key")

T = TypeVar("T")


class Lang(StrEnum):
    """The languages an admin may read the CLI's output in."""

    en = "en"
    fa_AF = "fa_AF"
    ps = "ps"


class Status(StrEnum):
    """The report statuses the queue can filter on."""

    new = "new"
    claimed = "claimed"
    closed = "closed"


KeyOption = Annotated[
    Path | None,
    typer.Option(
        "--key", help="Encrypted admin key file (default: dev key, or ~/.config/amanat/admin.key)."
    ),
]
LangOption = Annotated[Lang, typer.Option("--lang", help="Language of labels and dates.")]
ExecuteOption = Annotated[
    bool, typer.Option("--execute", help="Really re-wrap (default: only count what would be).")
]


def settings_from_environment() -> Settings:
    """Read settings from the environment and ``.env``, as the bot does."""
    return Settings()


@dataclass(frozen=True)
class CliConfig:
    """What the commands depend on; tests pass their own settings and cheap key parameters.

    ``scrypt_n`` only lowers the cost of new key files in tests; None keeps crypto's default.
    ``after_report`` runs after each report a ``keys`` command re-wrapped: tests interrupt a
    run through it. ``today`` is the date that decides which months are settled.
    """

    load_settings: Callable[[], Settings] = settings_from_environment
    scrypt_n: int | None = None
    after_report: AfterReport | None = None
    today: Callable[[], date] = lambda: datetime.now(UTC).date()


class CliError(Exception):
    """A failure to report in one line and exit 1; the message never holds content."""


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit; the message must never hold content."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def fail_with(problems: Sequence[Problem], code: int) -> NoReturn:
    """Print every problem as its own line, each naming its variable, and exit."""
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(code)


# --- shared steps --------------------------------------------------------------------------


def load_settings(config: CliConfig) -> Settings:
    """Load settings, reporting every invalid one at once by variable and reason (exit 2).

    Never the value: pydantic is asked for messages without their input, so a mistyped
    token or secret is not echoed to a terminal or a service log.
    """
    try:
        return config.load_settings()
    except ValidationError as exc:
        fail_with(describe_invalid_settings(exc), 2)
    except SettingsError:
        # pydantic-settings could not read a source (its message may quote a value).
        fail("invalid configuration: the environment or .env could not be read as settings", 2)


def read_report_id(text: str) -> str:
    """Read a report id as people copy it (any case, look-alike letters), or fail clearly."""
    wanted = normalise_report_id(text)
    if wanted is None:
        fail("that is not a report id (10 letters and digits)")
    return wanted


def find_partner(settings: Settings, name: str) -> Partner:
    """Look a partner up in AMANAT_PARTNERS, or fail naming the ones configured."""
    partner = settings.partner(name)
    if partner is None:
        known = ", ".join(p.name for p in settings.partners) or "none configured"
        fail(f"no partner named {name!r} in AMANAT_PARTNERS (known: {known})")
    return partner


def admin_translations(settings: Settings, lang: Lang) -> Translations:
    """Load only the admin's language, so English works before catalogs are compiled."""
    try:
        return Translations.load(settings.locales_dir, (lang.value,))
    except CatalogError as exc:
        fail(f"{exc} (or run `amanat i18n compile`)")


def key_path(settings: Settings, key: Path | None) -> Path:
    """Pick the admin key file: --key, the development key, or ~/.config/amanat/admin.key."""
    if key is not None:
        return key.expanduser()
    if settings.is_simulator:
        path = dev_key_path(settings)
        if not path.exists():
            fail(f"no development key at {path}: run `amanat run` once, or pass --key PATH")
        return path
    path = DEFAULT_KEY_PATH.expanduser()
    if not path.exists():
        fail(f"no key file at {path}: pass --key PATH")
    return path


def read_passphrase(settings: Settings, key_path: Path) -> str:
    """Take the passphrase from the environment (scripts) or a hidden prompt."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env
    if is_dev_key(settings, key_path):
        typer.echo(f"The development passphrase is in {dev_passphrase_path(settings)}", err=True)
    passphrase: str = typer.prompt(f"Passphrase for {key_path}", hide_input=True, err=True)
    return passphrase


def load_key(settings: Settings, key: Path | None) -> AdminPrivateKey:
    """Open the admin key with its passphrase; every failure is one line and exit 1."""
    return load_key_file(settings, key_path(settings, key))


def load_key_file(settings: Settings, path: Path) -> AdminPrivateKey:
    """Open one key file with its passphrase; every failure is one line and exit 1."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read the key file {path} ({exc.strerror or type(exc).__name__})")
    try:  # unlocked with `amanat unlock`: the agent answers, no passphrase, no scrypt
        return AgentKey.connect(recorded_public_key(data))
    except (AgentUnavailable, CryptoError):
        pass
    passphrase = read_passphrase(settings, path)
    try:
        return AdminPrivateKey.from_file_bytes(data, passphrase)
    except WrongPassphrase:
        fail("wrong passphrase, or the key file was altered")
    except CryptoError:
        fail(f"{path} is not a usable Amanat admin key file")


Sessions = async_sessionmaker[AsyncSession]


def require_database(settings: Settings) -> None:
    """Refuse a missing SQLite file up front: opening it would create an empty database."""
    try:
        url = make_url(normalise_database_url(settings.database_url))
    except (ValueError, ArgumentError):
        fail("DATABASE_URL is not a supported database URL (sqlite:/// or postgresql://)")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        if not path.exists():
            fail(f"no database at {path}: check DATABASE_URL, or run `amanat db upgrade`")


async def with_storage(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Open the database for one command and close it, whatever happens."""
    engine = create_engine(settings.database_url)
    try:
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


def database_failure(exc: Exception) -> NoReturn:
    """Name the failure by type only: driver messages can quote URLs and parameters.

    A database that cannot be reached says why in a fixed phrase (storage.db words it).
    """
    if isinstance(exc, DatabaseUnavailable):
        fail(f"DATABASE_URL: {exc}")
    fail(f"database error ({type(exc).__name__}); check DATABASE_URL and run `amanat db upgrade`")


# --- storage work (each a function of the session factory) -------------------------------

Work = Callable[[Sessions], Awaitable[T]]


def run_storage(settings: Settings, work: Work[T]) -> T:
    """Run one piece of storage work in its own event loop and engine."""
    require_database(settings)
    try:
        return asyncio.run(with_storage(settings, work))
    except SQLAlchemyError as exc:
        database_failure(exc)
    except CliError as exc:
        fail(str(exc))


OPERATOR: Final = "operator"
"""Who the audit log names for actions that need no admin key (``amanat purge --execute``)."""


async def audit(session: AsyncSession, key: AdminPrivateKey, action: str, subject: str) -> None:
    """Chain one admin action onto the audit log, signed by the acting admin's key.

    The entry names who (key id), what, on what and which day; without ``key`` nobody can add
    an entry in its name, or rechain the log after an edit.
    """
    await AuditRepository(session).append(
        today_utc(), key.public_key().key_id, action, subject, signer=key.sign_audit_entry
    )


def today_utc() -> date:
    """Today in UTC: replies are dated by the day only."""
    return datetime.now(UTC).date()
