"""``amanat admin redact``: hide parts of a reporter's words from reviewers, keep them for leads.

The edited text replaces the item for every admin; the first time, what the reporter sent is
kept sealed to the lead keys only (:mod:`bot.admin.redaction`, docs/crypto.md §19).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Final, TypeVar

import typer

from bot.admin.opening import ReportUnreadable
from bot.admin.redaction import Redaction, RedactionRefused, current_text, redact
from bot.adminapi.client import AdminApiClient
from bot.cli.admin import FromFileOption, read_text
from bot.cli.common import (
    CliConfig,
    CliError,
    KeyOption,
    Sessions,
    Work,
    audit,
    fail,
    key_path,
    load_key,
    load_settings,
    read_report_id,
    run_storage,
)
from bot.cli.keys import configured_keys, current_keys
from bot.cli.remote import run_api
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.questions import REDACTABLE_KINDS, original_kind
from storage.db import unit_of_work
from storage.repositories import ReportRepository

ITEM: Final = re.compile(r"(?P<kind>[a-z_]+)(?::(?P<number>[1-9][0-9]{0,5}))?")


def read_item(text: str) -> tuple[str, int]:
    """``narrative``, ``recruiter_contact`` or ``followup:2`` (numbers as `show` prints them)."""
    found = ITEM.fullmatch(text.strip().lower())
    if found is None or found["kind"] not in REDACTABLE_KINDS:
        fail(f"ITEM is one of {', '.join(REDACTABLE_KINDS)}; add :N for the Nth part or message")
    return found["kind"], int(found["number"] or 1) - 1


def register(admin_app: typer.Typer, config: CliConfig) -> None:
    """Add ``redact`` to ``amanat admin``."""

    @admin_app.command("redact")
    def admin_redact(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        item: Annotated[
            str,
            typer.Argument(
                metavar="ITEM",
                help="narrative, recruiter_contact, or followup:N for the reporter's Nth message.",
            ),
        ],
        from_file: FromFileOption = None,
        show: Annotated[
            bool, typer.Option("--show", help="Print the text as it is now, to edit it.")
        ] = False,
        key: KeyOption = None,
    ) -> None:
        """Hide parts of a reporter's words: reviewers then read your edited text only.

        The first time, what the reporter sent is kept, sealed to the leads' keys only
        (AMANAT_LEAD_ADMIN_KEYS). Print the text with --show into a file, edit it (for
        example, replace a name with [name]), then give it back with --from-file.

        Example: amanat admin redact 7K3M9Q2XTB narrative --from-file edited.txt
        """
        settings = load_settings(config)
        wanted = read_report_id(report_id)
        kind, index = read_item(item)
        holder = load_key(settings, key)  # the audit log names who read or redacted it
        admins = configured_keys(settings)
        if not admins:  # development: the development key is what the simulator seals to
            admins = current_keys(settings, admins, key_path(settings, key), holder)
        url = settings.admin_api_url
        if show:
            if url is not None:
                typer.echo(
                    run_api(
                        url,
                        holder,
                        lambda api: _current_through_api(api, wanted, holder, kind, index),
                    )
                )
            else:
                typer.echo(run_storage(settings, _current(wanted, holder, kind, index)))
            return
        edited = read_text("edited text", from_file)
        if url is not None:
            redaction = run_api(
                url, holder, lambda api: api.redact(wanted, kind, index, edited, admins)
            )
        else:
            leads = [k for k in admins if k.key_id in settings.lead_admin_keys]
            redaction = run_storage(
                settings, _redact(wanted, holder, kind, index, edited, admins, leads)
            )
        kept = "" if redaction.original is None else " What was sent is kept for the leads."
        typer.echo(f"Report {wanted}: {item} redacted for every admin.{kept}")


async def _current_through_api(
    api: AdminApiClient, report_id: str, key: AdminPrivateKey, kind: str, index: int
) -> str:
    """The item's text as this admin reads it, the report's reading chained."""
    return current_text(await api.report(report_id), key, kind, index)


def _current(report_id: str, key: AdminPrivateKey, kind: str, index: int) -> Work[str]:
    """The item's text as this admin reads it, the reading chained."""

    async def work(sessions: Sessions) -> str:
        async with unit_of_work(sessions) as session:
            stored = await ReportRepository(session).get(report_id)
            if stored is None:
                raise CliError(f"no report with id {report_id}")
            await audit(session, key, "show", report_id)
        return _refused_as_error(lambda: current_text(stored, key, kind, index))

    return work


def _redact(
    report_id: str,
    key: AdminPrivateKey,
    kind: str,
    index: int,
    edited: str,
    admins: Sequence[AdminPublicKey],
    leads: Sequence[AdminPublicKey],
) -> Work[Redaction]:
    """Replace the item and keep its original in one transaction, with its audit entry."""

    async def work(sessions: Sessions) -> Redaction:
        async with unit_of_work(sessions) as session:
            reports = ReportRepository(session)
            stored = await reports.get(report_id)
            if stored is None:
                raise CliError(f"no report with id {report_id}")
            redaction = _refused_as_error(
                lambda: redact(stored, key, kind, index, edited, admins, leads)
            )
            if redaction.original is not None:
                await reports.add_item(report_id, original_kind(kind), index, redaction.original)
            current = next(i.blob for i in stored.items if (i.kind, i.index) == (kind, index))
            if not await reports.replace_item_blob(
                report_id, kind, index, redaction.redacted, expected=current
            ):
                raise CliError("the item changed meanwhile: run the command again")
            await audit(session, key, "redact", f"{report_id} {redaction.subject}")
            return redaction

    return work


T = TypeVar("T")


def _refused_as_error(make: Callable[[], T]) -> T:
    """A refusal of the redaction, or an item that does not open, as one line."""
    try:
        return make()
    except (RedactionRefused, ReportUnreadable) as exc:
        raise CliError(str(exc)) from None
