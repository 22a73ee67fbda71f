"""Own the ``amanat`` command line: run the bot, manage admin keys, triage reports, see digests.

Admins run it on their own machine: ``admin queue`` and ``admin show`` read sealed reports from
the database and open them locally with the admin's passphrase-protected private key, which never
leaves that machine. Commands stay thin: decoding and rendering live in :mod:`bot.admin_view`,
disclosure control in :mod:`bot.digest`, re-wrapping for a new admin key set in
:mod:`bot.rekey`, SQL in :mod:`storage`. ``keys add-admin | revoke | rotate`` take the current
set from ``AMANAT_ADMIN_PUBLIC_KEYS`` (what the server seals new reports to) and print the new
value; they never change the server's configuration (``docs/operations.md``).

Passphrases are read with a hidden prompt, or from ``AMANAT_ADMIN_PASSPHRASE`` for scripts (less
safe: the environment of a process can be read by other programs of the same user and may
end up in shell history). In development mode (no Telegram token) the default key is the
development key under the data folder; the command prompts for its passphrase like for any key
and only says where the development passphrase file is (see :mod:`bot.devkeys`).

This module must never print or log a private key, a passphrase or decrypted content on a
failure path, and destructive commands only count unless ``--execute`` is given.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin_view import (
    AnswersFormatError,
    OpenedItem,
    OpenedReport,
    QueueRow,
    decode_answers,
    render_queue,
    render_report,
)
from bot.audit import AuditEntry, Verdict, verify
from bot.crypto import (
    AdminPrivateKey,
    AdminPublicKey,
    AdminSealer,
    CryptoError,
    ItemRef,
    NotARecipient,
    TamperedCiphertext,
    UnsupportedFormat,
    WrongPassphrase,
    normalise_report_id,
    open_with_admin_key,
    seal_for_reporter,
)
from bot.devkeys import dev_key_path, dev_passphrase_path, is_dev_key
from bot.digest import MIN_K, build_digest, render_digest
from bot.export import Exported, ExportError, export_attachments
from bot.i18n import CatalogError, Translations, compile_catalogs
from bot.logs import configure_logging
from bot.partners import (
    Month,
    PartnerDigestError,
    digest_file_name,
    records_of,
    seal_for_partner,
    settled_from,
    write_new_file,
)
from bot.questions import ANSWERS_KIND, REPLY_KIND
from bot.rekey import (
    AfterReport,
    KeyChange,
    KeySetError,
    Problem,
    RekeySummary,
    parse_key_set,
    plan_add,
    plan_revoke,
    plan_rotate,
    rewrap_stored_reports,
)
from bot.routing import RoutingRefused, check_consent, check_summary, render_case
from bot.settings import PACKAGE_LOCALES_DIR, Settings
from storage.attachments import AttachmentRepository
from storage.audit import AuditRepository
from storage.db import create_engine, normalise_database_url, session_factory, unit_of_work
from storage.migrate import upgrade_to_head
from storage.records import StatRecord, StoredItem
from storage.replies import ReplyNoticeRepository, ReplyRepository
from storage.repositories import (
    DraftRepository,
    LanguageRepository,
    ReportRepository,
    StatsRepository,
    UpdateLedger,
)

__all__ = ["PASSPHRASE_ENV", "CliConfig", "app", "create_app", "main"]

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


def _settings_from_environment() -> Settings:
    """Read settings from the environment and ``.env``, as the bot does."""
    return Settings()


@dataclass(frozen=True)
class CliConfig:
    """What the commands depend on; tests pass their own settings and cheap key parameters.

    ``scrypt_n`` only lowers the cost of new key files in tests; None keeps crypto's default.
    ``after_report`` runs after each report a ``keys`` command re-wrapped: tests interrupt a
    run through it. ``today`` is the date that decides which months are settled.
    """

    load_settings: Callable[[], Settings] = _settings_from_environment
    scrypt_n: int | None = None
    after_report: AfterReport | None = None
    today: Callable[[], date] = lambda: datetime.now(UTC).date()


class CliError(Exception):
    """A failure to report in one line and exit 1; the message never holds content."""


def _fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit; the message must never hold content."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# --- shared steps --------------------------------------------------------------------------


def _load_settings(config: CliConfig) -> Settings:
    """Load settings, reporting invalid ones by field and reason only (exit 2)."""
    try:
        return config.load_settings()
    except ValidationError as exc:
        # Field and reason only: pydantic would otherwise quote the offending value.
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        _fail(f"invalid configuration: {details}", 2)


def _report_id(text: str) -> str:
    """Read a report id as people copy it (any case, look-alike letters), or fail clearly."""
    wanted = normalise_report_id(text)
    if wanted is None:
        _fail("that is not a report id (10 letters and digits)")
    return wanted


def _translations(settings: Settings, lang: Lang) -> Translations:
    """Load only the admin's language, so English works before catalogs are compiled."""
    try:
        return Translations.load(settings.locales_dir, (lang.value,))
    except CatalogError as exc:
        _fail(f"{exc} (or run `amanat i18n compile`)")


def _key_path(settings: Settings, key: Path | None) -> Path:
    """Pick the admin key file: --key, the development key, or ~/.config/amanat/admin.key."""
    if key is not None:
        return key.expanduser()
    if settings.is_simulator:
        path = dev_key_path(settings)
        if not path.exists():
            _fail(f"no development key at {path}: run `amanat run` once, or pass --key PATH")
        return path
    path = DEFAULT_KEY_PATH.expanduser()
    if not path.exists():
        _fail(f"no key file at {path}: pass --key PATH")
    return path


def _read_passphrase(settings: Settings, key_path: Path) -> str:
    """Take the passphrase from the environment (scripts) or a hidden prompt."""
    from_env = os.environ.get(PASSPHRASE_ENV)
    if from_env:
        return from_env
    if is_dev_key(settings, key_path):
        typer.echo(f"The development passphrase is in {dev_passphrase_path(settings)}", err=True)
    passphrase: str = typer.prompt(f"Passphrase for {key_path}", hide_input=True, err=True)
    return passphrase


def _load_key(settings: Settings, key: Path | None) -> AdminPrivateKey:
    """Open the admin key with its passphrase; every failure is one line and exit 1."""
    return _load_key_file(settings, _key_path(settings, key))


def _load_key_file(settings: Settings, path: Path) -> AdminPrivateKey:
    """Open one key file with its passphrase; every failure is one line and exit 1."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read the key file {path} ({exc.strerror or type(exc).__name__})")
    passphrase = _read_passphrase(settings, path)
    try:
        return AdminPrivateKey.from_file_bytes(data, passphrase)
    except WrongPassphrase:
        _fail("wrong passphrase, or the key file was altered")
    except CryptoError:
        _fail(f"{path} is not a usable Amanat admin key file")


Sessions = async_sessionmaker[AsyncSession]


def _require_database(settings: Settings) -> None:
    """Refuse a missing SQLite file up front: opening it would create an empty database."""
    try:
        url = make_url(normalise_database_url(settings.database_url))
    except (ValueError, ArgumentError):
        _fail("DATABASE_URL is not a supported database URL (sqlite:/// or postgresql://)")
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        if not path.exists():
            _fail(f"no database at {path}: check DATABASE_URL, or run `amanat db upgrade`")


async def _with_storage(settings: Settings, work: Callable[[Sessions], Awaitable[T]]) -> T:
    """Open the database for one command and close it, whatever happens."""
    engine = create_engine(settings.database_url)
    try:
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


def _database_failure(exc: Exception) -> NoReturn:
    """Name the failure by type only: driver messages can quote URLs and parameters."""
    _fail(f"database error ({type(exc).__name__}); check DATABASE_URL and run `amanat db upgrade`")


ALTERED: Final = "ALTERED: failed authentication"


def _problem(exc: Exception) -> str:
    """Describe why an item did not open, without any of its content."""
    if isinstance(exc, NotARecipient):
        return "not sealed to this key"
    if isinstance(exc, TamperedCiphertext):
        return ALTERED
    if isinstance(exc, UnsupportedFormat):
        return "unsupported format version"
    if isinstance(exc, AnswersFormatError):
        return "answers in an unknown format"
    return "cannot be opened"


# --- key changes -------------------------------------------------------------------------


def _choose_passphrase() -> str:
    """Ask for a new key's passphrase twice (hidden) and refuse a short one."""
    typer.echo(
        f"Choose a passphrase of at least {MIN_PASSPHRASE_LENGTH} characters. It is all "
        "that protects the key if this file is copied (a backup, a seized laptop); "
        "nobody can recover it.",
        err=True,
    )
    passphrase: str = typer.prompt(
        "Passphrase", hide_input=True, confirmation_prompt=True, err=True
    )
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        _fail(
            f"the passphrase is shorter than {MIN_PASSPHRASE_LENGTH} characters; use several words"
        )
    return passphrase


def _key_file_bytes(config: CliConfig, key: AdminPrivateKey, passphrase: str) -> bytes:
    """Encrypt a key under its passphrase, at the configured (test) scrypt cost if any."""
    if config.scrypt_n is None:
        return key.to_file_bytes(passphrase)
    return key.to_file_bytes(passphrase, scrypt_n=config.scrypt_n)


def _configured_keys(settings: Settings) -> tuple[AdminPublicKey, ...]:
    """Parse AMANAT_ADMIN_PUBLIC_KEYS, the keys the server seals new reports to (exit 2)."""
    try:
        return parse_key_set(settings.admin_public_keys)
    except KeySetError as exc:
        _fail(f"invalid configuration: {exc}", 2)


def _current_keys(
    settings: Settings,
    configured: tuple[AdminPublicKey, ...],
    key_path: Path,
    holder: AdminPrivateKey,
) -> tuple[AdminPublicKey, ...]:
    """Return the current set; in development with none configured, the development key."""
    if configured:
        return configured
    if settings.is_simulator and is_dev_key(settings, key_path):
        return (holder.public_key(),)  # what the simulator seals to when nothing is set
    _fail(
        "AMANAT_ADMIN_PUBLIC_KEYS is empty: set it, here too, to the value the server uses now",
        2,
    )


def _holder_and_current_set(
    settings: Settings, key: Path | None
) -> tuple[AdminPrivateKey, tuple[AdminPublicKey, ...]]:
    """Open this admin's key and name the set the server seals to now (or exit)."""
    configured = _configured_keys(settings)
    _require_database(settings)
    path = _key_path(settings, key)
    holder = _load_key_file(settings, path)
    return holder, _current_keys(settings, configured, path, holder)


def _plan(make: Callable[[], KeyChange]) -> KeyChange:
    """Compute a key change, turning a refusal into one line and exit 1."""
    try:
        return make()
    except KeySetError as exc:
        _fail(str(exc))


def _rekey(
    settings: Settings,
    keys: Sequence[AdminPrivateKey],
    change: KeyChange,
    execute: bool,
    after_report: AfterReport | None,
) -> RekeySummary:
    """Re-wrap every stored report to the change's target set (or count, in a dry run)."""

    async def work(sessions: Sessions) -> RekeySummary:
        summary = await rewrap_stored_reports(
            sessions, keys, change.target, execute=execute, after_report=after_report
        )
        if execute:
            # One entry per run: which admin changed the set, and a fingerprint of the set
            # it now seals to (sha256 of the sorted key ids, joined by commas).
            ids = ",".join(sorted(key.key_id for key in change.target))
            fingerprint = hashlib.sha256(ids.encode()).hexdigest()[:16]
            async with unit_of_work(sessions) as session:
                await _audit(session, keys[0], "rekey", f"{len(change.target)}:{fingerprint}")
        return summary

    return _run_storage(settings, work)


def _print_outcome(summary: RekeySummary, change: KeyChange, execute: bool) -> None:
    """Say what was (or would be) re-wrapped, to which keys, and every item left over."""
    for note in change.notes:
        typer.echo(f"note: {note}")
    ids = ", ".join(key.key_id for key in change.target)
    count = f"{summary.rewrapped} items in {summary.reports} reports"
    if execute:
        typer.echo(f"Re-wrapped {count} to {len(change.target)} admin keys: {ids}.")
    else:
        typer.echo(
            f"Would re-wrap {count} to {len(change.target)} admin keys: {ids} "
            "(dry run; pass --execute to write)."
        )
    for outcome in summary.problem_reports:
        for problem, number in outcome.problems:
            typer.echo(f"report {outcome.report_id}: {number} items {problem.value}", err=True)


def _print_config(change: KeyChange, execute: bool) -> None:
    """Print the value that makes the server seal new reports to the new set."""
    first = "Set" if execute else "After the --execute run, set"
    typer.echo(f"{first} this on the server (and in your own settings) and restart the bot:")
    typer.echo(f"AMANAT_ADMIN_PUBLIC_KEYS={change.config_value}")


_SAME_COMMAND: Final = "an admin whose key opens them must run the same command"


def _finish(summary: RekeySummary, execute: bool, advice: str = _SAME_COMMAND) -> None:
    """Exit 1 when any item was (or would be) left as it was: never a silent skip."""
    if not summary.unopened:
        return
    verb = "were" if execute else "would be"
    not_mine = any(
        problem is Problem.NOT_A_RECIPIENT
        for outcome in summary.problem_reports
        for problem, _ in outcome.problems
    )
    _fail(
        f"{summary.unopened} items in {len(summary.problem_reports)} reports {verb} "
        "left as they were (listed above)" + (f"; {advice}" if not_mine else "")
    )


# --- commands ------------------------------------------------------------------------------


def create_app(config: CliConfig | None = None) -> typer.Typer:
    """Build the ``amanat`` command tree around its dependencies."""
    config = config or CliConfig()
    root = typer.Typer(
        name="amanat",
        help="Amanat: a safe reporting bot. Run it, manage admin keys, read reports locally.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    keys_app = typer.Typer(help="Admin key pairs.", no_args_is_help=True)
    admin_app = typer.Typer(help="Read sealed reports on this machine.", no_args_is_help=True)
    digest_app = typer.Typer(help="Anonymized counts for partners.", no_args_is_help=True)
    audit_app = typer.Typer(help="The hash-chained log of admin actions.", no_args_is_help=True)
    db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
    i18n_app = typer.Typer(help="Translations.", no_args_is_help=True)
    root.add_typer(keys_app, name="keys")
    root.add_typer(admin_app, name="admin")
    root.add_typer(digest_app, name="digest")
    root.add_typer(audit_app, name="audit")
    root.add_typer(db_app, name="db")
    root.add_typer(i18n_app, name="i18n")

    @root.command("run")
    def run_command() -> None:
        """Run the bot: the local simulator without a token, else long polling."""
        settings = _load_settings(config)
        # Before anything else logs: httpx would print the token in request URLs at INFO.
        configure_logging(settings.log_level)
        from bot.app import run as run_bot  # imported here: the CLI works without the bot

        try:
            asyncio.run(run_bot(settings))
        except KeyboardInterrupt:
            typer.echo("stopped", err=True)

    @db_app.command("upgrade")
    def db_upgrade() -> None:
        """Bring the database to the newest schema (the bot also does this at start)."""
        settings = _load_settings(config)
        try:
            upgrade_to_head(settings.database_url)
        except SQLAlchemyError as exc:
            _database_failure(exc)
        typer.echo("database schema is up to date")

    @i18n_app.command("compile")
    def i18n_compile(
        locales_dir: Annotated[
            Path, typer.Argument(help="Folder with <locale>/LC_MESSAGES/*.po")
        ] = PACKAGE_LOCALES_DIR,
    ) -> None:
        """Compile every translation catalog (.po) to the .mo files the bot loads."""
        try:
            written = compile_catalogs(locales_dir)
        except CatalogError as exc:
            _fail(str(exc))
        if not written:
            _fail(f"no .po catalogs under {locales_dir}")
        for path in written:
            typer.echo(f"compiled {path}")

    @keys_app.command("init")
    def keys_init(
        out: Annotated[
            Path, typer.Option("--out", help="Where to write the encrypted private key.")
        ] = DEFAULT_KEY_PATH,
        force: Annotated[
            bool, typer.Option("--force", help="Replace an existing key file.")
        ] = False,
    ) -> None:
        """Make an admin key pair; the private key is written encrypted with a passphrase."""
        path = out.expanduser()
        if path.exists() and not force:
            _fail(f"{path} exists; pass --force to replace it (the old key is then lost)")
        passphrase = _choose_passphrase()
        key = AdminPrivateKey.generate()
        _write_private_file(path, _key_file_bytes(config, key, passphrase), replace=force)
        public = key.public_key()
        typer.echo(f"Wrote the encrypted private key to {path} (only you can read it).")
        typer.echo(f"Key id: {public.key_id}")
        typer.echo("Public key (give it to the server; it is not secret):")
        typer.echo(public.to_text())
        typer.echo(
            "On the server, add it to AMANAT_ADMIN_PUBLIC_KEYS (comma separated for several "
            "admins), for example:"
        )
        typer.echo(f"  AMANAT_ADMIN_PUBLIC_KEYS={public.to_text()}")

    @keys_app.command("add-admin")
    def keys_add_admin(
        public_key: Annotated[
            str,
            typer.Argument(
                metavar="PUBLIC_KEY", help="The new admin's public key (amanat-admin-pk-v1:…)."
            ),
        ],
        key: KeyOption = None,
        execute: ExecuteOption = False,
    ) -> None:
        """Let another admin open every stored report: re-wrap data keys, not content."""
        settings = _load_settings(config)
        try:
            new = AdminPublicKey.from_text(public_key.strip())
        except CryptoError:
            _fail("PUBLIC_KEY is not an Amanat admin public key (amanat-admin-pk-v1:…)")
        holder, current = _holder_and_current_set(settings, key)
        change = _plan(lambda: plan_add(current, new, holder=holder.public_key()))
        summary = _rekey(settings, (holder,), change, execute, config.after_report)
        _print_outcome(summary, change, execute)
        _print_config(change, execute)
        typer.echo(
            "Reports that arrive before the restart are sealed to the old set only: run this "
            "command again after the restart to re-wrap them."
        )
        _finish(summary, execute)

    @keys_app.command("revoke")
    def keys_revoke(
        revoked: Annotated[
            str,
            typer.Argument(
                metavar="KEY_ID_OR_PUBLIC_KEY",
                help="The key to revoke: its key id (16 hex digits) or its public key.",
            ),
        ],
        key: KeyOption = None,
        execute: ExecuteOption = False,
    ) -> None:
        """Stop a key from opening stored reports: re-wrap data keys to the set without it."""
        settings = _load_settings(config)
        holder, current = _holder_and_current_set(settings, key)
        change = _plan(lambda: plan_revoke(current, revoked, holder=holder.public_key()))
        summary = _rekey(settings, (holder,), change, execute, config.after_report)
        _print_outcome(summary, change, execute)
        _print_config(change, execute)
        typer.echo(
            "The revocation applies to NEW reports only once the server's "
            "AMANAT_ADMIN_PUBLIC_KEYS is changed and the bot restarted: until then the bot "
            "seals every new report to the revoked key too. After the restart, run this "
            "command again to re-wrap the reports that arrived meanwhile."
        )
        typer.echo(
            "Copies of the database and backups made before the re-wrap can still be opened "
            "with the revoked key: re-wrapping cannot reach them."
        )
        _finish(summary, execute)

    @keys_app.command("rotate")
    def keys_rotate(
        key: KeyOption = None,
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                help="Where to write the new encrypted key (default: NAME.new.key next to the "
                "old key file).",
            ),
        ] = None,
        resume: Annotated[
            bool,
            typer.Option(
                "--resume",
                help="Finish a rotation (after an interruption or the server's restart) with "
                "the new key file that --out names.",
            ),
        ] = False,
        execute: ExecuteOption = False,
    ) -> None:
        """Replace your key by a new one: re-wrap data keys to the set with the new key."""
        settings = _load_settings(config)
        configured = _configured_keys(settings)
        _require_database(settings)
        old_path = _key_path(settings, key)
        new_path = out or old_path.with_name(f"{old_path.stem}.new{old_path.suffix}")
        new_path = new_path.expanduser()
        if new_path.resolve() == old_path.resolve():
            _fail("--out must name a new file, not the key being replaced")
        if resume and not new_path.exists():
            _fail(f"no key file at {new_path} to resume with: pass the --out of the rotation")
        if not resume and new_path.exists():
            _fail(
                f"{new_path} exists: pass --resume to finish the rotation to that key, "
                "or choose another --out"
            )
        old = _load_key_file(settings, old_path)
        # A dry run rehearses with a key that lives only in memory and is never written.
        new = _load_key_file(settings, new_path) if resume else AdminPrivateKey.generate()
        current = _current_keys(settings, configured, old_path, old)
        change = _plan(lambda: plan_rotate(current, old.public_key(), new.public_key()))
        if execute and not resume:
            # The new key is on disk before any item is sealed to it.
            passphrase = _choose_passphrase()
            _write_private_file(new_path, _key_file_bytes(config, new, passphrase), replace=False)
            typer.echo(f"Wrote the new encrypted private key to {new_path} (only you can read it).")
        summary = _rekey(settings, (old, new), change, execute, config.after_report)
        _print_outcome(summary, change, execute)
        advice = (
            "an admin whose key opens them must run `amanat keys add-admin` with the new "
            "public key once the setting lists it"
        )
        if not execute:
            if not resume:
                typer.echo("A dry run makes no key: --execute asks for the new key's passphrase.")
            _finish(summary, execute, advice)
            return
        typer.echo(f"New key id: {new.public_key().key_id}")
        typer.echo(f"New public key: {new.public_key().to_text()}")
        _print_config(change, execute)
        typer.echo(
            "Keep the old key file until the server has the new value and was restarted: "
            "reports that arrive before then are sealed to the old key. Then run "
            f"`amanat keys rotate --key {old_path} --out {new_path} --resume --execute` once "
            "more, and destroy the old key file. Backups made before the rotation open only "
            "with the old key (and other admins' keys)."
        )
        _finish(summary, execute, advice)

    @admin_app.command("queue")
    def admin_queue(
        key: KeyOption = None,
        status: Annotated[Status | None, typer.Option("--status", help="Only this status.")] = None,
        lang: LangOption = Lang.en,
        limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
        offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
        no_decrypt: Annotated[
            bool,
            typer.Option("--no-decrypt", help="Show only id, day, urgency and status; no key."),
        ] = False,
    ) -> None:
        """List reports, urgent first, decrypting each one's answers on this machine."""
        settings = _load_settings(config)
        translations = _translations(settings, lang)
        private_key = None if no_decrypt else _load_key(settings, key)
        rows = _run_storage(
            settings, _queue_rows(private_key, status.value if status else None, limit, offset)
        )
        typer.echo(render_queue(rows, lang.value, translations, decrypted=not no_decrypt), nl=False)
        if any(row.problem == ALTERED for row in rows):
            _fail("some reports failed authentication: they were altered or damaged")

    @admin_app.command("show")
    def admin_show(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        key: KeyOption = None,
        lang: LangOption = Lang.en,
    ) -> None:
        """Decrypt one report on this machine and print every answer and message."""
        settings = _load_settings(config)
        wanted = _report_id(report_id)
        translations = _translations(settings, lang)
        private_key = _load_key(settings, key)
        report = _run_storage(settings, _open_report(private_key, wanted))
        typer.echo(render_report(report, lang.value, translations), nl=False)

    @admin_app.command("claim")
    def admin_claim(key: KeyOption = None, lang: LangOption = Lang.en) -> None:
        """Take the next new report (urgent first, then the longest waiting) and show it.

        Two admins claiming at the same time never get the same report.
        """
        settings = _load_settings(config)
        translations = _translations(settings, lang)
        private_key = _load_key(settings, key)
        claimed = _run_storage(settings, _claim_next(private_key))
        if claimed is None:
            typer.echo("No new reports: nothing to claim.")
            return
        report = _run_storage(settings, _open_report(private_key, claimed))
        typer.echo(render_report(report, lang.value, translations), nl=False)

    @admin_app.command("route")
    def admin_route(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        partner_name: Annotated[
            str, typer.Option("--partner", help="A partner named in AMANAT_PARTNERS.")
        ],
        summary_file: Annotated[
            Path,
            typer.Option(
                "--summary", help="A text file: the case in your words, with nothing identifying."
            ),
        ],
        to: Annotated[Path, typer.Option("--to", help="Folder for the encrypted case file.")],
        asked_again: Annotated[
            bool,
            typer.Option(
                "--asked-again", help="The reporter said yes again when you asked (admin reply)."
            ),
        ] = False,
        key: KeyOption = None,
    ) -> None:
        """Share a case with a partner, encrypted to its key: only with the reporter's yes.

        The case holds the report's choice answers and your summary, never the reporter's own
        words, contacts or files (docs/partner-guide.md §8).
        """
        settings = _load_settings(config)
        partner = settings.partner(partner_name)
        if partner is None:
            known = ", ".join(p.name for p in settings.partners) or "none configured"
            _fail(f"no partner named {partner_name!r} in AMANAT_PARTNERS (known: {known})")
        wanted = _report_id(report_id)
        try:
            summary = check_summary(summary_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            _fail(f"cannot read {summary_file} as UTF-8 text")
        except RoutingRefused as exc:
            _fail(str(exc))
        holder = _load_key(settings, key)
        report = _run_storage(settings, _open_report(holder, wanted))
        try:
            check_consent(report.answers, asked_again=asked_again)
        except RoutingRefused as exc:
            _fail(str(exc))
        translations = _translations(settings, Lang(partner.language))
        text = render_case(wanted, report.answers, summary, partner.language, translations)
        sealed = seal_for_partner(text, partner.age_recipients)
        try:
            path = write_new_file(to, f"amanat-case-{partner.name}-{wanted}.txt.age", sealed)
        except PartnerDigestError as exc:
            _fail(str(exc))
        _run_storage(settings, _audit_route(holder, wanted, partner.name))
        typer.echo(f"{path}  ({len(sealed)} bytes, for {partner.name})")

    @admin_app.command("mark")
    def admin_mark(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        status: Annotated[
            Status,
            typer.Argument(help="new, claimed (someone works on it) or closed (finished)."),
        ],
        key: KeyOption = None,
    ) -> None:
        """Set a report's status; the reporter sees it with /status, the audit log keeps it."""
        settings = _load_settings(config)
        wanted = _report_id(report_id)
        holder = _load_key(settings, key)  # the audit log names who changed it
        if not _run_storage(settings, _mark(wanted, status.value, holder)):
            _fail(f"no report {wanted}")
        typer.echo(f"Report {wanted} is now {status.value}.")

    @admin_app.command("reply")
    def admin_reply(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        message: Annotated[
            str | None,
            typer.Option("--message", help="The answer (asked for when not given)."),
        ] = None,
        key: KeyOption = None,
    ) -> None:
        """Answer a reporter: only the holder of the receipt code can read it, with /status.

        The answer is sealed to the reporter's key (derived from their code; the server keeps
        only its public half) and a copy is sealed to the admins, like every report item.
        Write it in the reporter's language; it is shown exactly as written.
        """
        settings = _load_settings(config)
        wanted = _report_id(report_id)
        text = message if message is not None else typer.prompt("Answer", err=True)
        text = text.strip()
        if not text or len(text) > 3500:
            _fail("an answer has 1 to 3500 characters")
        admins = _configured_keys(settings)
        holder = _load_key(settings, key)  # the audit log names who answered
        if not admins:  # development: the development key is what the simulator seals to
            admins = _current_keys(settings, admins, _key_path(settings, key), holder)
        index, notified = _run_storage(settings, _reply(wanted, text, admins, holder))
        typer.echo(
            f"Answer {index + 1} stored for report {wanted}. The reporter reads it by sending "
            "/status with their code; the server cannot read it."
        )
        if notified:
            typer.echo(
                "The reporter asked to be told: the bot sends a short notice within a minute."
            )

    @admin_app.command("export")
    def admin_export(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        to: Annotated[
            Path, typer.Option("--to", help="Folder on this machine for the decrypted files.")
        ],
        key: KeyOption = None,
    ) -> None:
        """Decrypt a report's voice notes, photos and files into a folder on this machine."""
        settings = _load_settings(config)
        wanted = _report_id(report_id)
        private_key = _load_key(settings, key)
        written = _run_storage(settings, _export(private_key, wanted, to))
        if not written:
            typer.echo("This report has no voice notes, photos or files.")
        for exported in written:
            typer.echo(f"{exported.path}  ({exported.size} bytes)")

    @audit_app.command("list")
    def audit_list(
        last: Annotated[int, typer.Option("--last", min=1, help="How many entries.")] = 50,
    ) -> None:
        """Show the newest admin actions: day, who (key id), what, on what."""
        settings = _load_settings(config)
        entries = _run_storage(settings, _audit_entries())
        for entry in entries[-last:]:
            typer.echo(
                f"{entry.seq:>6}  {entry.day.isoformat()}  {entry.admin:<16}  "
                f"{entry.action:<7}  {entry.subject}"
            )
        if not entries:
            typer.echo("No admin actions logged yet.")

    @audit_app.command("verify")
    def audit_verify() -> None:
        """Check the hash chain of admin actions; print its head to keep somewhere else."""
        settings = _load_settings(config)
        verdict = _run_storage(settings, _audit_verdict())
        if verdict.problem is not None:
            _fail(f"the audit log was altered: {verdict.problem}")
        typer.echo(f"{verdict.entries} entries, chain intact.")
        typer.echo(f"Head: {verdict.head.hex()}")
        typer.echo("Keep this head outside the server: a chain rewritten from scratch only")
        typer.echo("shows against a head kept elsewhere.")

    @digest_app.command("preview")
    def digest_preview(
        lang: LangOption = Lang.en,
        k: Annotated[
            int | None,
            typer.Option("--k", help="Smallest count shown (at least the configured k)."),
        ] = None,
        month_text: Annotated[
            str | None,
            typer.Option("--month", help="Count one month only (YYYY-MM), as `issue` does."),
        ] = None,
    ) -> None:
        """Show the counts a partner would receive, with small cells hidden.

        Without --month it counts every record: for the team's eyes only, never to send, since
        two such previews taken on different days can be subtracted.
        """
        settings = _load_settings(config)
        smallest = k if k is not None else settings.k_anonymity
        floor = max(settings.k_anonymity, MIN_K)
        if smallest < floor:
            _fail(
                f"--k must be at least {floor} (the configured k, and never below {MIN_K}): "
                "a preview must not show what a digest never may"
            )
        try:
            month = Month.parse(month_text) if month_text is not None else None
        except PartnerDigestError as exc:
            _fail(str(exc))
        translations = _translations(settings, lang)
        records = _run_storage(settings, _stat_records())
        if month is not None:
            records = records_of(records, month)
        try:
            digest = build_digest(records, smallest)
        except ValueError as exc:
            _fail(str(exc))
        period = (month.year, month.month) if month is not None else None
        typer.echo(render_digest(digest, lang.value, translations, period=period), nl=False)

    @digest_app.command("issue")
    def digest_issue(
        partner_name: Annotated[
            str, typer.Option("--partner", help="A partner named in AMANAT_PARTNERS.")
        ],
        month_text: Annotated[
            str, typer.Option("--month", help="The one finished month to count, YYYY-MM.")
        ],
        to: Annotated[Path, typer.Option("--to", help="Folder for the encrypted digest file.")],
        key: KeyOption = None,
    ) -> None:
        """Count one finished month for a partner and encrypt it to the partner's age key."""
        settings = _load_settings(config)
        partner = settings.partner(partner_name)
        if partner is None:
            known = ", ".join(p.name for p in settings.partners) or "none configured"
            _fail(f"no partner named {partner_name!r} in AMANAT_PARTNERS (known: {known})")
        try:
            month = Month.parse(month_text)
        except PartnerDigestError as exc:
            _fail(str(exc))
        ready = settled_from(month, timedelta(minutes=settings.draft_ttl_minutes))
        if config.today() < ready:
            _fail(
                f"{month} can be issued from {ready.isoformat()}: reports started in a month "
                "may still arrive for some days after it ends, and a digest issued early "
                "could be subtracted from a later one"
            )
        holder = _load_key(settings, key)  # the audit log names who issued it
        translations = _translations(settings, Lang(partner.language))
        records = records_of(_run_storage(settings, _stat_records()), month)
        digest = build_digest(records, max(settings.k_anonymity, MIN_K))
        text = render_digest(
            digest, partner.language, translations, period=(month.year, month.month)
        )
        sealed = seal_for_partner(text, partner.age_recipients)
        try:
            path = write_new_file(to, digest_file_name(partner.name, month), sealed)
        except PartnerDigestError as exc:
            _fail(str(exc))
        _run_storage(settings, _audit_digest(holder, partner.name, month))
        typer.echo(f"{path}  ({len(sealed)} bytes, for {partner.name})")
        typer.echo("Only the partner's age key opens it: age -d -i KEYFILE " + path.name)

    @root.command("purge")
    def purge(
        execute: Annotated[
            bool, typer.Option("--execute", help="Really delete (default: only count).")
        ] = False,
    ) -> None:
        """Delete expired drafts, ledger entries and abandoned files (dry run by default)."""
        settings = _load_settings(config)
        drafts, ledger, chunks = _run_storage(settings, _purge(execute))
        counts = (
            f"{drafts} expired drafts, {ledger} expired ledger entries and {chunks} chunks "
            "of files from abandoned drafts"
        )
        if execute:
            typer.echo(f"deleted {counts}")
        else:
            typer.echo(f"would delete {counts} (dry run; pass --execute to delete)")

    return root


# --- storage work (each a function of the session factory) -------------------------------

Work = Callable[[Sessions], Awaitable[T]]


def _run_storage(settings: Settings, work: Work[T]) -> T:
    """Run one piece of storage work in its own event loop and engine."""
    _require_database(settings)
    try:
        return asyncio.run(_with_storage(settings, work))
    except SQLAlchemyError as exc:
        _database_failure(exc)
    except CliError as exc:
        _fail(str(exc))


def _queue_rows(
    key: AdminPrivateKey | None, status: str | None, limit: int, offset: int
) -> Work[list[QueueRow]]:
    """List the queue, decrypting each report's answers when a key is given."""

    async def work(sessions: Sessions) -> list[QueueRow]:
        rows: list[QueueRow] = []
        async with unit_of_work(sessions) as session:
            reports = ReportRepository(session)
            for summary in await reports.queue(status=status, limit=limit, offset=offset):
                row = QueueRow(
                    report_id=summary.id,
                    submitted_on=summary.submitted_on,
                    urgent=summary.urgent,
                    status=summary.status,
                    item_count=summary.item_count,
                )
                if key is not None:
                    row = await _decrypt_row(reports, row, key)
                rows.append(row)
            if key is not None:  # answers were opened: the chain says which page, by whom
                page = f"{status or 'all'} {offset}+{len(rows)}"
                await _audit(session, key, "queue", page)
        return rows

    return work


async def _decrypt_row(reports: ReportRepository, row: QueueRow, key: AdminPrivateKey) -> QueueRow:
    """Open a queue row's answers; a failure marks the row instead of stopping the queue."""
    stored = await reports.get(row.report_id)
    item = None if stored is None else _find(stored.items, ANSWERS_KIND, 0)
    if item is None:
        return replace(row, problem="no answers item")
    try:
        plaintext = open_with_admin_key(item.blob, ItemRef(row.report_id, ANSWERS_KIND, 0), key)
        return replace(row, answers=decode_answers(plaintext))
    except (CryptoError, AnswersFormatError) as exc:
        return replace(row, problem=_problem(exc))


def _find(items: Sequence[StoredItem], kind: str, index: int) -> StoredItem | None:
    """Return the item at (kind, index), if the report has it."""
    return next((i for i in items if i.kind == kind and i.index == index), None)


def _open_report(key: AdminPrivateKey, report_id: str) -> Work[OpenedReport]:
    """Open every item of one report; any failure fails the whole report."""

    async def work(sessions: Sessions) -> OpenedReport:
        async with unit_of_work(sessions) as session:
            stored = await ReportRepository(session).get(report_id)
            if stored is not None:
                await _audit(session, key, "show", report_id)
        if stored is None:
            raise CliError(f"no report with id {report_id}")
        # Open every item before rendering any: on a failure nothing decrypted is shown.
        answers = None
        opened: list[OpenedItem] = []
        for item in stored.items:
            ref = ItemRef(stored.id, item.kind, item.index)
            try:
                plaintext = open_with_admin_key(item.blob, ref, key)
                if item.kind == ANSWERS_KIND and item.index == 0:
                    answers = decode_answers(plaintext)
                else:
                    opened.append(OpenedItem(item.kind, item.index, plaintext))
            except (CryptoError, AnswersFormatError) as exc:
                raise CliError(
                    f"item {item.kind} #{item.index} of report {stored.id}: {_problem(exc)}"
                ) from None
        if answers is None:
            raise CliError(f"report {stored.id} has no answers item")
        return OpenedReport(
            report_id=stored.id,
            submitted_on=stored.submitted_on,
            urgent=stored.urgent,
            status=stored.status,
            answers=answers,
            items=tuple(opened),
        )

    return work


def _audit_route(key: AdminPrivateKey, report_id: str, partner: str) -> Work[None]:
    """Chain that a case went to a partner (and that the admin said the reporter agreed)."""

    async def work(sessions: Sessions) -> None:
        async with unit_of_work(sessions) as session:
            await _audit(session, key, "route", f"{report_id} {partner}")

    return work


def _claim_next(key: AdminPrivateKey) -> Work[str | None]:
    """Move the next new report to claimed and chain who took it."""

    async def work(sessions: Sessions) -> str | None:
        async with unit_of_work(sessions) as session:
            claimed = await ReportRepository(session).claim_next()
            if claimed is not None:
                await _audit(session, key, "claim", claimed)
            return claimed

    return work


def _mark(report_id: str, status: str, key: AdminPrivateKey) -> Work[bool]:
    """Change a report's status and chain who did it; False when there is no such report."""

    async def work(sessions: Sessions) -> bool:
        async with unit_of_work(sessions) as session:
            if not await ReportRepository(session).set_status(report_id, status):
                return False
            await _audit(session, key, "status", f"{report_id} {status}")
            return True

    return work


def _export(key: AdminPrivateKey, report_id: str, folder: Path) -> Work[list[Exported]]:
    """Export one report's attachments; a failure names the problem, never the content."""

    async def work(sessions: Sessions) -> list[Exported]:
        async with unit_of_work(sessions) as session:
            if await ReportRepository(session).exists(report_id):
                await _audit(session, key, "export", report_id)
        try:
            return await export_attachments(sessions, report_id, key, folder)
        except ExportError as exc:
            raise CliError(f"report {report_id}: {exc}") from None
        except CryptoError as exc:
            raise CliError(f"an attachment of report {report_id}: {_problem(exc)}") from None
        except OSError as exc:
            raise CliError(f"cannot write to {folder}: {type(exc).__name__}") from None

    return work


def _reply(
    report_id: str, text: str, admins: Sequence[AdminPublicKey], holder: AdminPrivateKey
) -> Work[tuple[int, bool]]:
    """Seal an answer to the reporter and a copy to the admins, in one unit of work."""

    async def work(sessions: Sessions) -> tuple[int, bool]:
        async with unit_of_work(sessions) as session:
            reports = ReportRepository(session)
            stored = await reports.get(report_id)
            if stored is None:
                raise CliError(f"no report with id {report_id}")
            if stored.reporter_key is None:
                raise CliError(f"report {report_id} was stored before replies existed")
            replies = ReplyRepository(session)
            index = await replies.next_index(report_id)
            ref = ItemRef(report_id, REPLY_KIND, index)
            data = text.encode("utf-8")
            await replies.add(
                report_id, index, seal_for_reporter(data, stored.reporter_key, ref), _today()
            )
            await reports.add_item(
                report_id, REPLY_KIND, index, AdminSealer(admins).seal_for_admins(data, ref)
            )
            if stored.status == "new":
                await reports.set_status(report_id, "claimed")
            notified = await ReplyNoticeRepository(session).mark_pending(report_id)
            await _audit(session, holder, "reply", report_id)
        return index, notified

    return work


OPERATOR: Final = "operator"
"""Who the audit log names for actions that need no admin key (``amanat purge --execute``)."""


async def _audit(session: AsyncSession, key: AdminPrivateKey, action: str, subject: str) -> None:
    """Chain one admin action onto the audit log (who by key id, what, on what, which day)."""
    await AuditRepository(session).append(_today(), key.public_key().key_id, action, subject)


def _today() -> date:
    """Today in UTC: replies are dated by the day only."""
    return datetime.now(UTC).date()


def _audit_entries() -> Work[list[AuditEntry]]:
    """Read the whole chain in order."""

    async def work(sessions: Sessions) -> list[AuditEntry]:
        async with unit_of_work(sessions) as session:
            return await AuditRepository(session).entries()

    return work


def _audit_verdict() -> Work[Verdict]:
    """Read the whole chain and check it."""

    async def work(sessions: Sessions) -> Verdict:
        async with unit_of_work(sessions) as session:
            return verify(await AuditRepository(session).entries())

    return work


def _audit_digest(key: AdminPrivateKey, partner: str, month: Month) -> Work[None]:
    """Chain the issue of a digest: which partner and which month, never what it counted."""

    async def work(sessions: Sessions) -> None:
        async with unit_of_work(sessions) as session:
            await _audit(session, key, "digest", f"{partner}:{month}")

    return work


def _stat_records() -> Work[list[StatRecord]]:
    """Read every statistics record (only consenting reports have one)."""

    async def work(sessions: Sessions) -> list[StatRecord]:
        async with unit_of_work(sessions) as session:
            return list(await StatsRepository(session).all())

    return work


def _purge(execute: bool) -> Work[tuple[int, int, int]]:
    """Delete expired drafts, ledger entries and abandoned chunks, or count and roll back."""

    async def work(sessions: Sessions) -> tuple[int, int, int]:
        now = datetime.now(UTC)
        async with sessions() as session:
            transaction = await session.begin()
            try:
                drafts = await DraftRepository(session).purge_expired(now)
                ledger = await UpdateLedger(session).purge_expired(now)
                chunks = await AttachmentRepository(session).purge_expired(now.date())
                await ReplyNoticeRepository(session).purge_expired(now.date())
                await LanguageRepository(session).purge_expired(now.date())
                if execute:  # deleting by hand is an admin action; it needs no key
                    subject = f"{drafts} drafts, {ledger} ledger entries, {chunks} chunks"
                    await AuditRepository(session).append(now.date(), OPERATOR, "purge", subject)
            except BaseException:
                await transaction.rollback()
                raise
            if execute:
                await transaction.commit()
            else:
                # The dry run counts with the real statements, then undoes them.
                await transaction.rollback()
        return drafts, ledger, chunks

    return work


# --- files ---------------------------------------------------------------------------------


def _write_private_file(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a 0600 file atomically in a 0700 folder; never replace one unless asked."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # 0600
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile
    except FileExistsError:
        _fail(f"{path} exists; pass --force to replace it")
    finally:
        tmp.unlink(missing_ok=True)


app: Final = create_app()
"""The command tree of the ``amanat`` console script."""


def main() -> None:
    """Run the ``amanat`` console script."""
    app()
