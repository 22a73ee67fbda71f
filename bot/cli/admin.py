"""The ``amanat admin`` commands: read, claim, answer, close, export and route reports.

Everything is decrypted on the admin's own machine with their passphrase-protected key, and
every action that shows or changes a report is chained in the audit log.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Final

import typer

from bot.admin import opening
from bot.admin.binding import open_answers
from bot.admin.export import Exported, ExportError, export_attachments, export_report
from bot.admin.history import RECORDED_ACTIONS
from bot.admin.opening import ALTERED, describe_problem, find_item
from bot.admin.view import (
    OpenedReport,
    QueueRow,
    render_queue,
    render_report,
)
from bot.adminapi.client import AdminApiClient
from bot.adminapi.routing import route_case
from bot.answers import NOT_SENT_BY_REPORTER, AnswersFormatError
from bot.cli.common import (
    CliConfig,
    CliError,
    KeyOption,
    Lang,
    LangOption,
    Sessions,
    Status,
    Work,
    admin_translations,
    audit,
    fail,
    find_partner,
    key_path,
    load_key,
    load_settings,
    read_report_id,
    run_storage,
    today_utc,
)
from bot.cli.keys import configured_keys, current_keys
from bot.cli.remote import run_api
from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.partner import seal_for_partner
from bot.crypto.reporter import seal_for_reporter
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import ItemRef, SealedBlob
from bot.partners.months import PartnerDigestError
from bot.partners.outbox import case_file_name, check_new_file, write_new_file
from bot.partners.routing import (
    RoutingRefused,
    check_consent,
    check_summary,
    recorded_consent,
    render_case,
)
from bot.questions import ANSWERS_KIND, NOTE_KIND, REPLY_KIND
from storage.audit import AuditRepository
from storage.consent import ConsentRepository
from storage.db import unit_of_work
from storage.records import ReportSummary, StoredReport
from storage.replies import ReplyNoticeRepository, ReplyRepository
from storage.repositories import ReportRepository

MAX_NOTE_CHARS: Final = 3500
API_PAGE: Final = 50
"""Reports in one page of the admin API's queue."""


FromFileOption = Annotated[
    Path | None,
    typer.Option(
        "--from-file",
        help="Read the text from this UTF-8 file (else from the terminal or a pipe).",
    ),
]


def register(admin_app: typer.Typer, config: CliConfig) -> None:
    """Add the report commands to ``amanat admin``."""

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
        """List reports, urgent first, decrypting each one's answers on this machine.

        Example: amanat admin queue --status new --lang fa
        """
        settings = load_settings(config)
        translations = admin_translations(settings, lang)
        wanted_status = status.value if status else None
        if settings.admin_api_url is not None:
            signer = load_key(settings, key)  # every request is signed, decrypted or not
            private_key = None if no_decrypt else signer
            rows = run_api(
                settings.admin_api_url,
                signer,
                lambda api: _queue_through_api(api, private_key, wanted_status, limit, offset),
            )
        else:
            private_key = None if no_decrypt else load_key(settings, key)
            rows = run_storage(settings, _queue_rows(private_key, wanted_status, limit, offset))
        typer.echo(render_queue(rows, lang.value, translations, decrypted=not no_decrypt), nl=False)
        if any(row.problem == ALTERED for row in rows):
            fail("some reports failed authentication: they were altered or damaged")

    @admin_app.command("show")
    def admin_show(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        key: KeyOption = None,
        lang: LangOption = Lang.en,
    ) -> None:
        """Decrypt one report on this machine and print every answer and message.

        Example: amanat admin show 7K3M9Q2XTB --lang ps
        """
        settings = load_settings(config)
        wanted = read_report_id(report_id)
        translations = admin_translations(settings, lang)
        private_key = load_key(settings, key)
        if settings.admin_api_url is not None:
            stored, history = run_api(
                settings.admin_api_url, private_key, lambda api: _with_history(api, wanted)
            )
            report = _opened_or_fail(stored, private_key, history)
        else:
            report = run_storage(settings, _open_report(private_key, wanted))
        typer.echo(render_report(report, lang.value, translations), nl=False)

    @admin_app.command("claim")
    def admin_claim(key: KeyOption = None, lang: LangOption = Lang.en) -> None:
        """Take the next new report (urgent first, then the longest waiting) and show it.

        Two admins claiming at the same time never get the same report.

        Example: amanat admin claim --lang fa
        """
        settings = load_settings(config)
        translations = admin_translations(settings, lang)
        private_key = load_key(settings, key)
        if settings.admin_api_url is not None:
            fetched = run_api(settings.admin_api_url, private_key, _claim_through_api)
            if fetched is None:
                typer.echo("No new reports: nothing to claim.")
                return
            stored, history = fetched
            report = _opened_or_fail(stored, private_key, history)
        else:
            claimed = run_storage(settings, _claim_next(private_key))
            if claimed is None:
                typer.echo("No new reports: nothing to claim.")
                return
            report = run_storage(settings, _open_report(private_key, claimed))
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
        key: KeyOption = None,
    ) -> None:
        """Share a case with a partner, encrypted to its key: only with the reporter's yes.

        The reporter must have said yes when asked with `amanat admin ask-consent` (their
        latest answer counts). The case holds the report's choice answers and your summary,
        never the reporter's own words, contacts or files (docs/partner-guide.md §8).

        Example: amanat admin route 7K3M9Q2XTB --partner kabul-legal --summary case.txt --to outbox
        """
        settings = load_settings(config)
        partner = find_partner(settings, partner_name)
        wanted = read_report_id(report_id)
        try:
            summary = check_summary(summary_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            fail(f"cannot read {summary_file} as UTF-8 text")
        except RoutingRefused as exc:
            fail(str(exc))
        holder = load_key(settings, key)
        translations = admin_translations(settings, Lang(partner.language))
        if settings.admin_api_url is not None:
            try:
                check_new_file(to, case_file_name(partner.name, wanted))
            except PartnerDigestError as exc:
                fail(str(exc))
            sealed = run_api(
                settings.admin_api_url,
                holder,
                lambda api: route_case(api, holder, wanted, partner, summary, translations),
            )  # the server chains the route before the case is written: none leaves unrecorded
        else:
            report = run_storage(settings, _open_report(holder, wanted))
            waiting = run_storage(settings, _question_waiting(wanted))
            try:
                check_consent(recorded_consent(report), question_waiting=waiting)
            except RoutingRefused as exc:
                fail(str(exc))
            text = render_case(wanted, report.answers, summary, partner.language, translations)
            sealed = seal_for_partner(text, partner.age_recipients)
        try:
            path = write_new_file(to, case_file_name(partner.name, wanted), sealed)
        except PartnerDigestError as exc:
            fail(str(exc))
        if settings.admin_api_url is None:
            run_storage(settings, _audit_route(holder, wanted, partner.name))
        typer.echo(f"{path}  ({len(sealed)} bytes, for {partner.name})")

    @admin_app.command("ask-consent")
    def admin_ask_consent(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        key: KeyOption = None,
    ) -> None:
        """Ask the reporter whether their case may be shared with a partner organisation.

        They see the question, with yes and no buttons, the next time they check with their
        code (and get a short notice first if they asked for one). Their answer is sealed to
        the admins on the report; `amanat admin route` goes ahead only after a yes.

        Example: amanat admin ask-consent 7K3M9Q2XTB
        """
        settings = load_settings(config)
        wanted = read_report_id(report_id)
        holder = load_key(settings, key)  # the audit log names who asked
        if settings.admin_api_url is not None:
            asked, notified = run_api(
                settings.admin_api_url, holder, lambda api: api.ask_consent(wanted)
            )
        else:
            asked, notified = run_storage(settings, _ask_consent(wanted, holder))
        if not asked:
            typer.echo(f"A question to the reporter of {wanted} is already waiting for an answer.")
            return
        typer.echo(
            f"Question stored for report {wanted}. The reporter answers yes or no the next "
            "time they send /status with their code."
        )
        if notified:
            typer.echo(
                "The reporter asked to be told: the bot sends a short notice within a minute."
            )

    @admin_app.command("mark")
    def admin_mark(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        status: Annotated[
            Status,
            typer.Argument(help="new, claimed (someone works on it) or closed (finished)."),
        ],
        key: KeyOption = None,
    ) -> None:
        """Set a report's status; the reporter sees it with /status, the audit log keeps it.

        Example: amanat admin mark 7K3M9Q2XTB closed
        """
        settings = load_settings(config)
        wanted = read_report_id(report_id)
        holder = load_key(settings, key)  # the audit log names who changed it
        if settings.admin_api_url is not None:
            run_api(
                settings.admin_api_url, holder, lambda api: api.set_status(wanted, status.value)
            )
        elif not run_storage(settings, _mark(wanted, status.value, holder)):
            fail(f"no report {wanted}")
        typer.echo(f"Report {wanted} is now {status.value}.")

    @admin_app.command("release")
    def admin_release(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        key: KeyOption = None,
    ) -> None:
        """Give a claimed report back to the queue, for another admin to claim.

        Example: amanat admin release 7K3M9Q2XTB
        """
        settings = load_settings(config)
        wanted = read_report_id(report_id)
        holder = load_key(settings, key)  # the audit log names who gave it back
        if settings.admin_api_url is not None:
            run_api(settings.admin_api_url, holder, lambda api: api.release(wanted))
        elif not run_storage(settings, _release(wanted, holder)):
            fail(f"report {wanted} is not claimed: only a claimed report can be given back")
        typer.echo(f"Report {wanted} is back in the queue as new.")

    @admin_app.command("reply")
    def admin_reply(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        from_file: FromFileOption = None,
        legacy_key: Annotated[
            bool,
            typer.Option(
                "--legacy-key",
                help=(
                    "Answer a report sent before reply keys were sealed with its answers: its "
                    "stored key cannot be checked (see docs/threat-model.md)."
                ),
            ),
        ] = False,
        key: KeyOption = None,
    ) -> None:
        """Answer a reporter: only the holder of the receipt code can read it, with /status.

        The answer is sealed to the reporter's key (derived from their code; the server keeps
        only its public half) and a copy is sealed to the admins, like every report item.
        Write it in the reporter's language; it is shown exactly as written. Type it when
        asked (end with Ctrl-D), pipe it in, or give --from-file: never on the command line,
        where shell history and the process list would keep it.

        Example: amanat admin reply 7K3M9Q2XTB --from-file answer.txt
        """
        settings = load_settings(config)
        wanted = read_report_id(report_id)
        holder = load_key(settings, key)  # the audit log names who answered
        text = read_text("answer", from_file)
        if not text or len(text) > 3500:
            fail("an answer has 1 to 3500 characters")
        admins = configured_keys(settings)
        if not admins:  # development: the development key is what the simulator seals to
            admins = current_keys(settings, admins, key_path(settings, key), holder)
        if settings.admin_api_url is not None:
            index, notified = run_api(
                settings.admin_api_url,
                holder,
                lambda api: api.answer_reporter(wanted, text, admins, legacy_key=legacy_key),
            )
        else:
            index, notified = run_storage(
                settings, _reply(wanted, text, admins, holder, legacy_key=legacy_key)
            )
        typer.echo(
            f"Answer {index + 1} stored for report {wanted}. The reporter reads it by sending "
            "/status with their code; the server cannot read it."
        )
        if notified:
            typer.echo(
                "The reporter asked to be told: the bot sends a short notice within a minute."
            )

    @admin_app.command("note")
    def admin_note(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        from_file: FromFileOption = None,
        key: KeyOption = None,
    ) -> None:
        """Add a note for the team to a report, sealed to the admins; the reporter never sees it.

        Type it when asked (end with Ctrl-D), pipe it in, or give --from-file.

        Example: amanat admin note 7K3M9Q2XTB --from-file note.txt
        """
        settings = load_settings(config)
        wanted = read_report_id(report_id)
        holder = load_key(settings, key)  # the audit log names who wrote it
        text = read_text("note", from_file)
        if not text or len(text) > MAX_NOTE_CHARS:
            fail(f"a note has 1 to {MAX_NOTE_CHARS} characters")
        admins = configured_keys(settings)
        if not admins:  # development: the development key is what the simulator seals to
            admins = current_keys(settings, admins, key_path(settings, key), holder)
        if settings.admin_api_url is not None:
            index = run_api(
                settings.admin_api_url, holder, lambda api: api.write_note(wanted, text, admins)
            )
            number = index + 1
        else:
            number = run_storage(settings, _note(wanted, text, admins, holder))
        typer.echo(f"Note {number} added to report {wanted}, sealed to the admins.")

    @admin_app.command("export")
    def admin_export(
        report_id: Annotated[str, typer.Argument(metavar="ID", help="The report id.")],
        to: Annotated[
            Path, typer.Option("--to", help="Folder on this machine for the decrypted files.")
        ],
        original: Annotated[
            bool,
            typer.Option(
                "--original",
                help="Write the untouched files, with their hidden place, device and author.",
            ),
        ] = False,
        key: KeyOption = None,
    ) -> None:
        """Decrypt a report's voice notes, photos and files into a folder on this machine.

        Photos and Office files are written without their hidden details (GPS position,
        phone, author); each line says what was removed, or that a file could not be cleaned.
        The untouched originals stay sealed; --original writes them, and the audit log says so.

        Example: amanat admin export 7K3M9Q2XTB --to case-files/7K3M9Q2XTB
        """
        settings = load_settings(config)
        wanted = read_report_id(report_id)
        private_key = load_key(settings, key)
        if settings.admin_api_url is not None:
            written = run_api(
                settings.admin_api_url,
                private_key,
                lambda api: _export_through_api(api, private_key, wanted, to, original),
            )
        else:
            written = run_storage(settings, _export(private_key, wanted, to, original=original))
        if not written:
            typer.echo("This report has no voice notes, photos or files.")
        for exported in written:
            typer.echo(f"{exported.path}  ({exported.size} bytes; {exported.note})")


# --- storage work ----------------------------------------------------------------------------


def _queue_rows(
    key: AdminPrivateKey | None, status: str | None, limit: int, offset: int
) -> Work[list[QueueRow]]:
    """List the queue, decrypting each report's answers when a key is given."""

    async def work(sessions: Sessions) -> list[QueueRow]:
        rows: list[QueueRow] = []
        async with unit_of_work(sessions) as session:
            reports = ReportRepository(session)
            listed = await reports.queue(
                status=status, limit=limit, offset=offset, uncounted=NOT_SENT_BY_REPORTER
            )
            for summary in listed:
                row = opening.queue_line(summary)
                if key is not None:
                    row = await _decrypt_row(reports, row, key)
                rows.append(row)
            if key is not None:  # answers were opened: the chain says which page, by whom
                page = f"{status or 'all'} {offset}+{len(rows)}"
                await audit(session, key, "queue", page)
        return rows

    return work


async def _decrypt_row(reports: ReportRepository, row: QueueRow, key: AdminPrivateKey) -> QueueRow:
    """Open a queue row's answers; a failure marks the row instead of stopping the queue."""
    stored = await reports.get(row.report_id)
    item = None if stored is None else find_item(stored.items, ANSWERS_KIND, 0)
    if stored is None or item is None:
        return replace(row, problem="no answers item")
    try:
        return replace(row, answers=open_answers(stored, key))
    except (CryptoError, AnswersFormatError) as exc:
        return replace(row, problem=describe_problem(exc))


def refuse_if_closed(stored: StoredReport) -> None:
    """A closed report takes no more notes or answers (bot.admin.opening); a CliError."""
    try:
        opening.refuse_if_closed(stored)
    except opening.ReportUnreadable as exc:
        raise CliError(str(exc)) from None


def check_reporter_key(stored: StoredReport, key: AdminPrivateKey, *, legacy_key: bool) -> None:
    """Refuse an answer to a swapped reply key (bot.admin.opening); a CliError."""
    try:
        opening.check_reporter_key(stored, key, legacy_key=legacy_key)
    except opening.ReportUnreadable as exc:
        raise CliError(str(exc)) from None


def read_text(what: str, from_file: Path | None) -> str:
    """Read an answer or a note from a file, a pipe or the terminal; never from argv."""
    if from_file is not None:
        try:
            return from_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the {what} from {from_file}: {type(exc).__name__}")
    if sys.stdin.isatty():
        typer.echo(f"Type the {what}; end with Ctrl-D on an empty line:", err=True)
    return sys.stdin.read().strip()


async def _queue_through_api(
    api: AdminApiClient,
    key: AdminPrivateKey | None,
    status: str | None,
    limit: int,
    offset: int,
) -> list[QueueRow]:
    """The queue from ``offset``, page by page; answers opened here when a key is given."""
    page, skip = offset // API_PAGE + 1, offset % API_PAGE
    rows: list[QueueRow] = []
    while len(rows) < limit:
        found: list[tuple[ReportSummary, StoredReport | None]]
        if key is None:
            summaries, more = await api.queue_metadata(status, page)
            found = [(summary, None) for summary in summaries]
        else:
            found, more = await api.queue_page(status, page)
        for summary, sealed in found[skip:]:
            row = opening.queue_line(summary)
            if key is not None:
                row = opening.with_answers(row, sealed, key)
            rows.append(row)
        skip = 0
        if not more:
            break
        page += 1
    return rows[:limit]


async def _claim_through_api(api: AdminApiClient) -> Fetched | None:
    """Claim the next new report through the API and fetch it, both signed into the audit."""
    claimed = await api.claim_next()
    return None if claimed is None else await _with_history(api, claimed)


Fetched = tuple[StoredReport, list[tuple[str, date, str]]]
"""A sealed report and the audit log's record of its notes and answers."""


async def _with_history(api: AdminApiClient, report_id: str) -> Fetched:
    """A report through the API (its reading chained) with who wrote its notes and answers."""
    return await api.report(report_id), await api.history(report_id)


def _opened_or_fail(
    stored: StoredReport, key: AdminPrivateKey, history: Sequence[tuple[str, date, str]] = ()
) -> OpenedReport:
    """Open a report fetched through the API; a failure is one line, nothing shown."""
    try:
        return open_stored(stored, key, history)
    except CliError as exc:
        fail(str(exc))


def _open_report(key: AdminPrivateKey, report_id: str) -> Work[OpenedReport]:
    """Open every item of one report; any failure fails the whole report."""

    async def work(sessions: Sessions) -> OpenedReport:
        async with unit_of_work(sessions) as session:
            stored = await ReportRepository(session).get(report_id)
            if stored is not None:
                await audit(session, key, "show", report_id)
            chained = await AuditRepository(session).about(report_id, RECORDED_ACTIONS.values())
        if stored is None:
            raise CliError(f"no report with id {report_id}")
        return open_stored(stored, key, [(e.action, e.day, e.admin) for e in chained])

    return work


def open_stored(
    stored: StoredReport,
    key: AdminPrivateKey,
    history: Sequence[tuple[str, date, str]] = (),
) -> OpenedReport:
    """Open every item of a stored report (bot.admin.opening); a refusal is a CliError."""
    try:
        return opening.open_stored(stored, key, history)
    except opening.ReportUnreadable as exc:
        raise CliError(str(exc)) from None


def _question_waiting(report_id: str) -> Work[bool]:
    """Tell whether the team's question to this report's reporter is still unanswered."""

    async def work(sessions: Sessions) -> bool:
        async with unit_of_work(sessions) as session:
            return await ConsentRepository(session).pending(report_id) is not None

    return work


def _ask_consent(report_id: str, holder: AdminPrivateKey) -> Work[tuple[bool, bool]]:
    """Store the question (one at a time per report), mark the notice, chain who asked."""

    async def work(sessions: Sessions) -> tuple[bool, bool]:
        async with unit_of_work(sessions) as session:
            if not await ReportRepository(session).exists(report_id):
                raise CliError(f"no report with id {report_id}")
            if not await ConsentRepository(session).ask(report_id, today_utc()):
                return False, False
            notified = await ReplyNoticeRepository(session).mark_pending(report_id)
            await audit(session, holder, "ask-consent", report_id)
        return True, notified

    return work


def _audit_route(key: AdminPrivateKey, report_id: str, partner: str) -> Work[None]:
    """Chain that a case went to a partner, after the reporter's recorded yes."""

    async def work(sessions: Sessions) -> None:
        async with unit_of_work(sessions) as session:
            await audit(session, key, "route", f"{report_id} {partner}")

    return work


def _claim_next(key: AdminPrivateKey) -> Work[str | None]:
    """Move the next new report to claimed and chain who took it."""

    async def work(sessions: Sessions) -> str | None:
        async with unit_of_work(sessions) as session:
            claimed = await ReportRepository(session).claim_next()
            if claimed is not None:
                await audit(session, key, "claim", claimed)
            return claimed

    return work


def _mark(report_id: str, status: str, key: AdminPrivateKey) -> Work[bool]:
    """Change a report's status and chain who did it; False when there is no such report."""

    async def work(sessions: Sessions) -> bool:
        async with unit_of_work(sessions) as session:
            if not await ReportRepository(session).set_status(report_id, status):
                return False
            await audit(session, key, "status", f"{report_id} {status}")
            return True

    return work


def _release(report_id: str, key: AdminPrivateKey) -> Work[bool]:
    """Give a claimed report back and chain who did it; False when it is not claimed."""

    async def work(sessions: Sessions) -> bool:
        async with unit_of_work(sessions) as session:
            if not await ReportRepository(session).release(report_id):
                return False
            await audit(session, key, "release", report_id)
            return True

    return work


async def _export_through_api(
    api: AdminApiClient, key: AdminPrivateKey, report_id: str, folder: Path, original: bool
) -> list[Exported]:
    """Export through the API: each file's chunks streamed, its fetching chained."""
    stored = await api.report(report_id)

    def chunks(index: int, _: str) -> AsyncIterator[SealedBlob]:
        return api.file_chunks(report_id, index, original=original)

    with _export_problems(report_id, folder):
        return await export_report(stored, chunks, key, folder, original=original)
    raise AssertionError("unreachable: every problem raises")  # pragma: no cover


def _export(
    key: AdminPrivateKey, report_id: str, folder: Path, *, original: bool
) -> Work[list[Exported]]:
    """Export one report's attachments; a failure names the problem, never the content."""

    async def work(sessions: Sessions) -> list[Exported]:
        async with unit_of_work(sessions) as session:
            if await ReportRepository(session).exists(report_id):
                action = "export-original" if original else "export"
                await audit(session, key, action, report_id)
        with _export_problems(report_id, folder):
            return await export_attachments(sessions, report_id, key, folder, original=original)
        raise AssertionError("unreachable: every problem raises")  # pragma: no cover

    return work


@contextmanager
def _export_problems(report_id: str, folder: Path) -> Iterator[None]:
    """Turn an export's failures into one line that names the problem, never the content."""
    try:
        yield
    except ExportError as exc:
        raise CliError(f"report {report_id}: {exc}") from None
    except (CryptoError, AnswersFormatError) as exc:
        raise CliError(f"an attachment of report {report_id}: {describe_problem(exc)}") from None
    except FileExistsError as exc:
        # Never over an earlier export: its files may already be cleaned, moved or in use.
        name = Path(str(exc.filename)).name if exc.filename else "a file"
        raise CliError(
            f"{folder} already holds {name} from an earlier export of this report: "
            "export to another folder with --to, or delete that folder first"
        ) from None
    except OSError as exc:
        raise CliError(f"cannot write to {folder}: {type(exc).__name__}") from None


def _note(
    report_id: str, text: str, admins: Sequence[AdminPublicKey], holder: AdminPrivateKey
) -> Work[int]:
    """Seal a team note to the admins as the report's next note item; return its number."""

    async def work(sessions: Sessions) -> int:
        async with unit_of_work(sessions) as session:
            reports = ReportRepository(session)
            stored = await reports.get(report_id)
            if stored is None:
                raise CliError(f"no report with id {report_id}")
            refuse_if_closed(stored)
            index = sum(1 for item in stored.items if item.kind == NOTE_KIND)
            ref = ItemRef(report_id, NOTE_KIND, index)
            sealed = AdminSealer(admins).seal_for_admins(text.encode("utf-8"), ref)
            await reports.add_item(report_id, NOTE_KIND, index, sealed)
            await audit(session, holder, "note", report_id)
        return index + 1

    return work


def _reply(
    report_id: str,
    text: str,
    admins: Sequence[AdminPublicKey],
    holder: AdminPrivateKey,
    *,
    legacy_key: bool = False,
) -> Work[tuple[int, bool]]:
    """Seal an answer to the reporter and a copy to the admins, in one unit of work."""

    async def work(sessions: Sessions) -> tuple[int, bool]:
        async with unit_of_work(sessions) as session:
            reports = ReportRepository(session)
            stored = await reports.get(report_id)
            if stored is None:
                raise CliError(f"no report with id {report_id}")
            refuse_if_closed(stored)
            if stored.reporter_key is None:
                raise CliError(f"report {report_id} was stored before replies existed")
            check_reporter_key(stored, holder, legacy_key=legacy_key)
            replies = ReplyRepository(session)
            index = await replies.next_index(report_id)
            ref = ItemRef(report_id, REPLY_KIND, index)
            data = text.encode("utf-8")
            await replies.add(
                report_id, index, seal_for_reporter(data, stored.reporter_key, ref), today_utc()
            )
            await reports.add_item(
                report_id, REPLY_KIND, index, AdminSealer(admins).seal_for_admins(data, ref)
            )
            if stored.status == "new":
                await reports.set_status(report_id, "claimed")
            notified = await ReplyNoticeRepository(session).mark_pending(report_id)
            await audit(session, holder, "reply", report_id)
        return index, notified

    return work
