"""Own the ``amanat`` command tree: run the bot, migrate, compile catalogs, audit, purge.

The command groups live in their own modules: ``keys`` in :mod:`bot.cli.keys`, ``admin`` in
:mod:`bot.cli.admin`, ``digest`` in :mod:`bot.cli.partners`, and the steps they share in
:mod:`bot.cli.common`. Admins run the command line on their own machine: sealed reports are
opened locally with the admin's passphrase-protected private key, which never leaves it.

Passphrases are read with a hidden prompt, or from ``AMANAT_ADMIN_PASSPHRASE`` for scripts (less
safe: the environment of a process can be read by other programs of the same user and may
end up in shell history). In development mode (no Telegram token) the default key is the
development key under the data folder; the command prompts for its passphrase like for any key
and only says where the development passphrase file is (see :mod:`bot.devtools.devkeys`).

No command may print or log a private key, a passphrase or decrypted content on a failure
path, and destructive commands only count unless ``--execute`` is given.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final

import typer
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.admin import register as register_admin
from bot.cli.common import (
    PASSPHRASE_ENV,
    CliConfig,
    KeyOption,
    Sessions,
    Work,
    audit,
    database_failure,
    fail,
    fail_with,
    load_key,
    load_settings,
    run_storage,
)
from bot.cli.console import register as register_console
from bot.cli.deliveries import register as register_deliveries
from bot.cli.keys import register as register_keys
from bot.cli.partners import register as register_digest
from bot.cli.redaction import register as register_redaction
from bot.cli.remote import run_api
from bot.cli.session import register as register_session
from bot.crypto.audit import AuditEntry, Verdict, verify
from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.i18n.translations import CatalogError, compile_catalogs
from bot.logs import configure_logging, logging_to_file
from bot.settings import PACKAGE_LOCALES_DIR, Settings
from storage.audit import AuditRepository
from storage.db import unit_of_work
from storage.migrate import upgrade_to_head
from storage.replies import ReplyNoticeRepository
from storage.uploads import UploadRepository

__all__ = ["PASSPHRASE_ENV", "CliConfig", "app", "create_app", "main"]


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
    audit_app = typer.Typer(
        help="The hash-chained, signed log of admin actions.", no_args_is_help=True
    )
    db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
    i18n_app = typer.Typer(help="Translations.", no_args_is_help=True)
    root.add_typer(keys_app, name="keys")
    root.add_typer(admin_app, name="admin")
    root.add_typer(digest_app, name="digest")
    root.add_typer(audit_app, name="audit")
    root.add_typer(db_app, name="db")
    root.add_typer(i18n_app, name="i18n")

    @root.command("run")
    def run_command(
        simulator: Annotated[
            bool,
            typer.Option(
                "--simulator",
                help="Run the local simulator even though stdin is not a terminal (input piped "
                "in). Without a token and without a terminal, `run` refuses instead.",
            ),
        ] = False,
        webhook: Annotated[
            bool,
            typer.Option(
                "--webhook",
                help="Take updates at AMANAT_WEBHOOK_URL (behind a reverse proxy, on "
                "AMANAT_WORKER_PORT) instead of long polling; needs AMANAT_WEBHOOK_SECRET.",
            ),
        ] = False,
    ) -> None:
        """Run the bot: long polling with TELEGRAM_BOT_TOKEN, else the local simulator.

        SIGTERM or Ctrl-C stop the bot cleanly (exit 0); every start-up problem is one line
        naming the setting to fix, and a non-zero exit.

        Example: amanat run (or: amanat run --webhook)
        """
        settings = load_settings(config)
        if webhook and settings.is_simulator:
            fail("TELEGRAM_BOT_TOKEN: is required with --webhook", 2)
        if simulator and not settings.is_simulator:
            fail("--simulator runs without a token: unset TELEGRAM_BOT_TOKEN, or drop it", 2)
        if settings.is_simulator and not simulator and not sys.stdin.isatty():
            # A server whose token variable is misspelled would otherwise "chat" with
            # /dev/null, print "Bye." and exit 0, looking like a clean stop.
            fail(
                "TELEGRAM_BOT_TOKEN: is not set, so `amanat run` would start the local "
                "simulator, but stdin is not a terminal: set the token (check the variable's "
                "name) to run the bot, or pass --simulator to pipe input in",
                2,
            )
        _run(settings, webhook=webhook)

    @db_app.command("upgrade")
    def db_upgrade() -> None:
        """Bring the database to the newest schema (the bot also does this at start).

        Example: amanat db upgrade
        """
        settings = load_settings(config)
        try:
            upgrade_to_head(settings.database_url)
        except SQLAlchemyError as exc:
            database_failure(exc)
        typer.echo("database schema is up to date")

    @i18n_app.command("compile")
    def i18n_compile(
        locales_dir: Annotated[
            Path, typer.Argument(help="Folder with <locale>/LC_MESSAGES/*.po")
        ] = PACKAGE_LOCALES_DIR,
    ) -> None:
        """Compile every translation catalog (.po) to the .mo files the bot loads.

        Example: amanat i18n compile
        """
        try:
            written = compile_catalogs(locales_dir)
        except CatalogError as exc:
            fail(str(exc))
        if not written:
            fail(f"no .po catalogs under {locales_dir}")
        for path in written:
            typer.echo(f"compiled {path}")

    register_keys(keys_app, config)
    register_admin(admin_app, config)
    register_redaction(admin_app, config)
    register_digest(digest_app, config)
    register_deliveries(digest_app, config)
    register_session(root, config)
    register_console(root, config)

    @audit_app.command("list")
    def audit_list(
        last: Annotated[int, typer.Option("--last", min=1, help="How many entries.")] = 50,
        key: KeyOption = None,
    ) -> None:
        """Show the newest admin actions: day, who (key id), signed or not, what, on what.

        Through the admin API (AMANAT_ADMIN_API_URL) the request is signed with your key.

        Example: amanat audit list --last 20
        """
        settings = load_settings(config)
        entries = _chain(settings, key)
        for entry in entries[-last:]:
            signed = "unsigned" if entry.signature is None else "signed"
            typer.echo(
                f"{entry.seq:>6}  {entry.day.isoformat()}  {entry.admin:<16}  {signed:<8}  "
                f"{entry.action:<7}  {entry.subject}"
            )
        if not entries:
            typer.echo("No admin actions logged yet.")

    @audit_app.command("verify")
    def audit_verify(
        expect_head: Annotated[
            str | None,
            typer.Option(
                "--expect-head",
                metavar="HEX",
                help="A head printed by an earlier verify and kept off the server: fail unless "
                "the chain still holds it (catches removed newest entries and rewrites).",
            ),
        ] = None,
        expect_unsigned: Annotated[
            int | None,
            typer.Option(
                "--expect-unsigned",
                metavar="N",
                min=0,
                help="The unsigned prefix's length printed by an earlier verify: fail if it "
                "grew (catches signatures stripped by a database writer).",
            ),
        ] = None,
        key: KeyOption = None,
    ) -> None:
        """Check the hash chain and every admin's signature; print its head to keep elsewhere.

        The check runs here, against the admin keys this machine is configured with, also
        when the chain comes through the admin API: a server cannot vouch for itself.

        Example: amanat audit verify --expect-head 9c1f... --expect-unsigned 0
        """
        settings = load_settings(config)
        expected = None if expect_head is None else _read_head(expect_head)
        keys = _signing_keys(settings)
        verdict = verify(_chain(settings, key), keys, expected, expect_unsigned)
        if verdict.problem is not None:
            fail(f"the audit log does not verify: {verdict.problem}")
        _print_verdict(verdict)

    @root.command("purge")
    def purge(
        execute: Annotated[
            bool, typer.Option("--execute", help="Really delete (default: only count).")
        ] = False,
        key: KeyOption = None,
    ) -> None:
        """Delete files no report claimed and expired answer notices (dry run by default).

        Deleting is an admin action: with --execute it needs your key, for the audit log.
        The bot's own purge job does the same every ten minutes.

        Example: amanat purge --execute
        """
        settings = load_settings(config)
        holder = load_key(settings, key) if execute else None
        chunks, notices = run_storage(settings, _purge(holder))
        counts = f"{chunks} chunks of files no report claimed and {notices} expired answer notices"
        if execute:
            typer.echo(f"deleted {counts}")
        else:
            typer.echo(f"would delete {counts} (dry run; pass --execute to delete)")

    return root


# --- storage work ----------------------------------------------------------------------------


def _audit_entries() -> Work[list[AuditEntry]]:
    """Read the whole chain in order."""

    async def work(sessions: Sessions) -> list[AuditEntry]:
        async with unit_of_work(sessions) as session:
            return await AuditRepository(session).entries()

    return work


def _chain(settings: Settings, key: Path | None) -> list[AuditEntry]:
    """The whole audit chain: through the admin API when it is set, else from the database."""
    if settings.admin_api_url is None:
        return run_storage(settings, _audit_entries())
    holder = load_key(settings, key)
    return run_api(settings.admin_api_url, holder, lambda api: api.audit_entries())


_HEAD_HEX: Final = re.compile(r"[0-9a-f]{64}")
_ADMIN_KEYS_ENV: Final = "AMANAT_ADMIN_PUBLIC_KEYS"
_FORMER_KEYS_ENV: Final = "AMANAT_FORMER_ADMIN_PUBLIC_KEYS"


def _read_head(text: str) -> bytes:
    """Read a head as `amanat audit verify` printed it (64 hex digits), or exit 2."""
    cleaned = text.strip().lower()
    if not _HEAD_HEX.fullmatch(cleaned):
        fail("--expect-head takes the 64 hex digits of a head `amanat audit verify` printed", 2)
    return bytes.fromhex(cleaned)


def _parse_public_keys(setting: str, texts: Sequence[str]) -> list[AdminPublicKey]:
    """Parse one setting's public key lines, naming a bad one by position only (exit 2)."""
    keys = []
    for position, text in enumerate(texts, start=1):
        try:
            keys.append(AdminPublicKey.from_text(text))
        except CryptoError:
            fail(
                f"invalid configuration: entry {position} of {setting} is not an Amanat admin "
                "public key",
                2,
            )
    return keys


def _signing_keys(settings: Settings) -> dict[str, bytes]:
    """Map every admin's key id to their signing key: current admins, then revoked ones.

    A key listed only as a v1 line has no signing key: its entries cannot verify, and a note
    says how to get its v2 line.
    """
    keys: dict[str, bytes] = {}
    unsigned_ids: list[str] = []
    for setting, texts in (
        (_ADMIN_KEYS_ENV, settings.admin_public_keys),
        (_FORMER_KEYS_ENV, settings.former_admin_public_keys),
    ):
        for key in _parse_public_keys(setting, texts):
            if key.signing is None:
                unsigned_ids.append(key.key_id)
                continue
            known = keys.setdefault(key.key_id, key.signing)
            if not hmac.compare_digest(known, key.signing):
                fail(
                    f"invalid configuration: key {key.key_id} is listed twice, with two "
                    "different signing keys",
                    2,
                )
    if not settings.admin_public_keys and not settings.former_admin_public_keys:
        typer.echo(
            f"note: {_ADMIN_KEYS_ENV} is empty here, so no signed entry can be checked; "
            "`amanat keys public` prints a key file's line (also the development key's)",
            err=True,
        )
    for key_id in dict.fromkeys(unsigned_ids):
        if key_id not in keys:
            typer.echo(
                f"note: key {key_id} is configured as a v1 line, without its signing key; its "
                "holder prints the v2 line with `amanat keys public`",
                err=True,
            )
    return keys


def _print_verdict(verdict: Verdict) -> None:
    """Say what was checked: entries, signatures, the unsigned prefix, the heads."""
    typer.echo(f"{verdict.entries} entries, chain intact.")
    typer.echo(f"Signed: {verdict.signed} of {verdict.entries}, each by the admin it names.")
    if verdict.unsigned:
        typer.echo(
            f"Unsigned prefix: entries 1 to {verdict.unsigned}, written before entries were "
            "signed. Keep this number with the head and pass it as --expect-unsigned: it must "
            "never grow."
        )
    else:
        typer.echo("No unsigned prefix.")
    if verdict.expected_at is not None:
        added = verdict.entries - verdict.expected_at
        typer.echo(
            f"The expected head is entry {verdict.expected_at}; {added} entries came after it."
        )
    typer.echo(f"Head: {verdict.head.hex()}")
    typer.echo("Keep this head outside the server, and pass it as --expect-head next time:")
    typer.echo("removed newest entries, or a chain rewritten from the start, only show that way.")


def _purge(key: AdminPrivateKey | None) -> Work[tuple[int, int]]:
    """Delete unclaimed uploads and expired notices (audited), or count and roll back."""

    async def work(sessions: Sessions) -> tuple[int, int]:
        today = datetime.now(UTC).date()
        async with sessions() as session:
            transaction = await session.begin()
            try:
                chunks = await UploadRepository(session).purge_unclaimed(today)
                notices = await ReplyNoticeRepository(session).purge_expired(today)
                if key is not None:
                    await audit(session, key, "purge", f"{chunks} chunks, {notices} notices")
            except BaseException:
                await transaction.rollback()
                raise
            if key is not None:
                await transaction.commit()
            else:
                # The dry run counts with the real statements, then undoes them.
                await transaction.rollback()
        return chunks, notices

    return work


app: Final = create_app()
"""The command tree of the ``amanat`` console script."""


def main() -> None:
    """Run the ``amanat`` console script."""
    app()


def _run(settings: Settings, *, webhook: bool = False) -> None:
    """Run the bot or the simulator; turn every start-up failure into lines and an exit code.

    Imported here, not at the top: every other command works without the bot's dependencies
    loaded, and the bot itself never imports the development tools.
    """
    from bot.app import StartupError, run_polling, run_webhook

    # Before anything else logs: httpx would print the token in request URLs at INFO.
    configure_logging(settings.log_level, to_terminal=not settings.is_simulator)
    try:
        if settings.is_simulator:
            _run_simulator(settings)
        elif webhook:
            asyncio.run(run_webhook(settings))
        else:
            asyncio.run(run_polling(settings))
    except StartupError as exc:
        fail_with(exc.problems, exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("stopped", err=True)


def _run_simulator(settings: Settings) -> None:
    """Fill development keys, then chat on this terminal with log records in a file."""
    from bot.devtools.devkeys import DevKeysError
    from bot.devtools.simulator import prepare_simulator, run_simulator, simulator_log_path

    try:
        prepared = prepare_simulator(settings)
    except DevKeysError as exc:
        fail(f"AMANAT_DATA_DIR: {exc}", 2)
    except OSError as exc:
        fail(
            f"AMANAT_DATA_DIR: cannot write development keys in {settings.data_dir} "
            f"({exc.strerror or type(exc).__name__})",
            2,
        )
    with logging_to_file(simulator_log_path(settings)):
        asyncio.run(run_simulator(prepared.settings, intro=prepared.intro))
