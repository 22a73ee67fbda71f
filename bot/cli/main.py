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
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final

import typer
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.admin import register as register_admin
from bot.cli.common import (
    OPERATOR,
    PASSPHRASE_ENV,
    CliConfig,
    Sessions,
    Work,
    database_failure,
    fail,
    load_settings,
    run_storage,
)
from bot.cli.keys import register as register_keys
from bot.cli.partners import register as register_digest
from bot.crypto.audit import AuditEntry, Verdict, verify
from bot.i18n.translations import CatalogError, compile_catalogs
from bot.logs import configure_logging
from bot.settings import PACKAGE_LOCALES_DIR, Settings
from storage.attachments import AttachmentRepository
from storage.audit import AuditRepository
from storage.db import unit_of_work
from storage.migrate import upgrade_to_head
from storage.replies import ReplyNoticeRepository
from storage.repositories import (
    DraftRepository,
    LanguageRepository,
    UpdateLedger,
)

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
        settings = load_settings(config)
        # Before anything else logs: httpx would print the token in request URLs at INFO.
        configure_logging(settings.log_level)
        try:
            asyncio.run(_run_bot(settings))
        except KeyboardInterrupt:
            typer.echo("stopped", err=True)

    @db_app.command("upgrade")
    def db_upgrade() -> None:
        """Bring the database to the newest schema (the bot also does this at start)."""
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
        """Compile every translation catalog (.po) to the .mo files the bot loads."""
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
    register_digest(digest_app, config)

    @audit_app.command("list")
    def audit_list(
        last: Annotated[int, typer.Option("--last", min=1, help="How many entries.")] = 50,
    ) -> None:
        """Show the newest admin actions: day, who (key id), what, on what."""
        settings = load_settings(config)
        entries = run_storage(settings, _audit_entries())
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
        settings = load_settings(config)
        verdict = run_storage(settings, _audit_verdict())
        if verdict.problem is not None:
            fail(f"the audit log was altered: {verdict.problem}")
        typer.echo(f"{verdict.entries} entries, chain intact.")
        typer.echo(f"Head: {verdict.head.hex()}")
        typer.echo("Keep this head outside the server: a chain rewritten from scratch only")
        typer.echo("shows against a head kept elsewhere.")

    @root.command("purge")
    def purge(
        execute: Annotated[
            bool, typer.Option("--execute", help="Really delete (default: only count).")
        ] = False,
    ) -> None:
        """Delete expired drafts, ledger entries and abandoned files (dry run by default)."""
        settings = load_settings(config)
        drafts, ledger, chunks = run_storage(settings, _purge(execute))
        counts = (
            f"{drafts} expired drafts, {ledger} expired ledger entries and {chunks} chunks "
            "of files from abandoned drafts"
        )
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


def _audit_verdict() -> Work[Verdict]:
    """Read the whole chain and check it."""

    async def work(sessions: Sessions) -> Verdict:
        async with unit_of_work(sessions) as session:
            return verify(await AuditRepository(session).entries())

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


app: Final = create_app()
"""The command tree of the ``amanat`` console script."""


def main() -> None:
    """Run the ``amanat`` console script."""
    app()


async def _run_bot(settings: Settings) -> None:
    """Run the local simulator without a token, else the bot itself.

    Imported here, not at the top: every other command works without the bot's dependencies
    loaded, and the bot itself never imports the development tools.
    """
    from bot.app import run_polling
    from bot.devtools.devkeys import ensure_dev_keys

    if settings.is_simulator:
        from bot.devtools.simulator import run_simulator

        await run_simulator(ensure_dev_keys(settings))
        return
    await run_polling(settings)
