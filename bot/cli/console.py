"""The ``amanat console`` command: the local web console, on this machine only."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

from bot.adminapi.client import AdminApiClient
from bot.cli.common import (
    CliConfig,
    KeyOption,
    Lang,
    LangOption,
    admin_translations,
    fail,
    load_key,
    load_settings,
)
from bot.cli.keys import configured_keys
from bot.console.app import Console
from bot.i18n.translations import SUPPORTED_LOCALES, CatalogError, Translations


def register(root: typer.Typer, config: CliConfig) -> None:
    """Add ``console`` to the root command."""

    @root.command("console")
    def console(
        key: KeyOption = None,
        lang: LangOption = Lang.en,
        port: Annotated[
            int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free).")
        ] = 0,
    ) -> None:
        """Work on reports in your browser; they are opened here, on this machine, only.

        Needs AMANAT_ADMIN_API_URL. Open the address it prints (it holds a one-time token);
        stop it with Ctrl-C. Nothing decrypted is written to disk.

        Example: amanat console --lang fa
        """
        settings = load_settings(config)
        if settings.admin_api_url is None:
            fail("the console works through the admin API: set AMANAT_ADMIN_API_URL", 2)
        admins = configured_keys(settings)
        if not admins:
            fail("set AMANAT_ADMIN_PUBLIC_KEYS: notes and answers are sealed to those keys", 2)
        private_key = load_key(settings, key)
        translations = _all_languages(settings.locales_dir) or admin_translations(settings, lang)

        async def serve() -> None:
            async with AdminApiClient(settings.admin_api_url or "", private_key) as client:
                app = Console(
                    client, private_key, admins, translations, lang.value, settings.partners
                )
                await app.start(port)
                typer.echo(f"Open {app.login_url} in your browser (Ctrl-C to stop).")
                try:
                    await asyncio.Event().wait()
                finally:
                    await app.stop()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve())
        typer.echo("Console stopped.")


def _all_languages(folder: Path) -> Translations | None:
    """Every language, so the console can switch between them; None if a catalog is missing."""
    try:
        return Translations.load(folder, SUPPORTED_LOCALES)
    except CatalogError:  # the admin's language alone still works
        return None
