"""The ``amanat digest`` commands: preview counts, and issue one month's digest to a partner.

Disclosure control lives in :mod:`bot.partners.digest`; periods, settling and sealing to a partner's
age key in :mod:`bot.partners`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import (
    CliConfig,
    KeyOption,
    Lang,
    LangOption,
    Sessions,
    Work,
    admin_translations,
    audit,
    fail,
    find_partner,
    load_key,
    load_settings,
    run_storage,
)
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.partner import seal_for_partner
from bot.partners.digest import MIN_K, build_digest, render_digest
from bot.partners.months import Month, PartnerDigestError, records_of, settled_from
from bot.partners.outbox import digest_file_name, write_new_file
from storage.db import unit_of_work
from storage.records import StatRecord
from storage.repositories import StatsRepository


def register(digest_app: typer.Typer, config: CliConfig) -> None:
    """Add the digest commands to ``amanat digest``."""

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
        settings = load_settings(config)
        smallest = k if k is not None else settings.k_anonymity
        floor = max(settings.k_anonymity, MIN_K)
        if smallest < floor:
            fail(
                f"--k must be at least {floor} (the configured k, and never below {MIN_K}): "
                "a preview must not show what a digest never may"
            )
        try:
            month = Month.parse(month_text) if month_text is not None else None
        except PartnerDigestError as exc:
            fail(str(exc))
        translations = admin_translations(settings, lang)
        records = run_storage(settings, _stat_records())
        if month is not None:
            records = records_of(records, month)
        try:
            digest = build_digest(records, smallest)
        except ValueError as exc:
            fail(str(exc))
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
        settings = load_settings(config)
        partner = find_partner(settings, partner_name)
        try:
            month = Month.parse(month_text)
        except PartnerDigestError as exc:
            fail(str(exc))
        ready = settled_from(month, timedelta(minutes=settings.draft_ttl_minutes))
        if config.today() < ready:
            fail(
                f"{month} can be issued from {ready.isoformat()}: reports started in a month "
                "may still arrive for some days after it ends, and a digest issued early "
                "could be subtracted from a later one"
            )
        holder = load_key(settings, key)  # the audit log names who issued it
        translations = admin_translations(settings, Lang(partner.language))
        records = records_of(run_storage(settings, _stat_records()), month)
        digest = build_digest(records, max(settings.k_anonymity, MIN_K))
        text = render_digest(
            digest, partner.language, translations, period=(month.year, month.month)
        )
        sealed = seal_for_partner(text, partner.age_recipients)
        try:
            path = write_new_file(to, digest_file_name(partner.name, month), sealed)
        except PartnerDigestError as exc:
            fail(str(exc))
        run_storage(settings, _audit_digest(holder, partner.name, month))
        typer.echo(f"{path}  ({len(sealed)} bytes, for {partner.name})")
        typer.echo("Only the partner's age key opens it: age -d -i KEYFILE " + path.name)


def _audit_digest(key: AdminPrivateKey, partner: str, month: Month) -> Work[None]:
    """Chain the issue of a digest: which partner and which month, never what it counted."""

    async def work(sessions: Sessions) -> None:
        async with unit_of_work(sessions) as session:
            await audit(session, key, "digest", f"{partner}:{month}")

    return work


def _stat_records() -> Work[list[StatRecord]]:
    """Read every statistics record (only consenting reports have one)."""

    async def work(sessions: Sessions) -> list[StatRecord]:
        async with unit_of_work(sessions) as session:
            return list(await StatsRepository(session).all())

    return work
