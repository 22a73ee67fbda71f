"""Open a whole stored report on the admin's machine, or nothing of it.

Every item is opened before anything is shown: a report with one altered or misplaced item
is refused whole, so an admin never acts on half of it. The command line and the local
console both open reports here; how they show a refusal is theirs.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Final

from bot.admin.binding import open_answers
from bot.admin.history import RECORDED_ACTIONS, who_and_when
from bot.admin.view import OpenedItem, OpenedReport, QueueRow
from bot.answers import AnswersFormatError
from bot.crypto.errors import CryptoError, NotARecipient, TamperedCiphertext, UnsupportedFormat
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.questions import ANSWERS_KIND, ORIGINAL_KINDS
from storage.records import ReportSummary, StoredItem, StoredReport

ALTERED: Final = "ALTERED: failed authentication"


class ReportUnreadable(Exception):
    """A report could not be opened whole; the message names the item, never its content."""


def describe_problem(exc: Exception) -> str:
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


def find_item(items: Sequence[StoredItem], kind: str, index: int) -> StoredItem | None:
    """Return the item at (kind, index), if the report has it."""
    return next((i for i in items if i.kind == kind and i.index == index), None)


def open_stored(
    stored: StoredReport,
    key: AdminPrivateKey,
    history: Sequence[tuple[str, date, str]] = (),
) -> OpenedReport:
    """Open every item of a stored report with the admin key, or raise ReportUnreadable.

    ``history`` is the audit log's (action, day, admin) for the report's notes and answers.
    """
    if find_item(stored.items, ANSWERS_KIND, 0) is None:
        raise ReportUnreadable(f"report {stored.id} has no answers item")
    try:
        answers = open_answers(stored, key)
    except (CryptoError, AnswersFormatError) as exc:
        raise ReportUnreadable(
            f"item {ANSWERS_KIND} #0 of report {stored.id}: {describe_problem(exc)}"
        ) from None
    opened: list[OpenedItem] = []
    hidden: list[tuple[str, int]] = []
    for item in stored.items:
        if item.kind == ANSWERS_KIND and item.index == 0:
            continue
        ref = answers.item_ref(stored.id, item.kind, item.index)
        try:
            plaintext = open_with_admin_key(item.blob, ref, key)
        except NotARecipient:
            if item.kind not in ORIGINAL_KINDS:
                raise ReportUnreadable(
                    f"item {item.kind} #{item.index} of report {stored.id}: "
                    f"{describe_problem(NotARecipient())}"
                ) from None
            hidden.append((item.kind, item.index))  # a redacted original: leads only
            continue
        except CryptoError as exc:
            raise ReportUnreadable(
                f"item {item.kind} #{item.index} of report {stored.id}: {describe_problem(exc)}"
            ) from None
        opened.append(OpenedItem(item.kind, item.index, plaintext))
    return OpenedReport(
        report_id=stored.id,
        submitted_on=stored.submitted_on,
        urgent=stored.urgent,
        status=stored.status,
        answers=answers,
        items=tuple(opened),
        recorded=who_and_when(history, team_indexes(opened)),
        hidden=tuple(hidden),
    )


def team_indexes(items: Sequence[OpenedItem]) -> dict[str, list[int]]:
    """The indexes of the team's notes and answers, by kind."""
    return {kind: [item.index for item in items if item.kind == kind] for kind in RECORDED_ACTIONS}


def refuse_if_closed(stored: StoredReport) -> None:
    """A closed report takes no more notes or answers until someone reopens it."""
    if stored.status == "closed":
        raise ReportUnreadable(
            f"report {stored.id} is closed: reopen it first with "
            f"`amanat admin mark {stored.id} claimed`"
        )


def check_reporter_key(stored: StoredReport, key: AdminPrivateKey, *, legacy_key: bool) -> None:
    """Refuse to answer unless the stored reply key is the one sealed in the report's answers.

    The database copy of the key is what the answer is sealed to; anyone who can write the
    database could swap it for their own, read the answer and swap it back. The copy sealed
    to the admins at submission cannot be swapped unnoticed.
    """
    try:
        document = open_answers(stored, key)
    except (CryptoError, AnswersFormatError) as exc:
        raise ReportUnreadable(f"report {stored.id}: {describe_problem(exc)}") from None
    if document.reporter_key is None:
        if legacy_key:
            return
        raise ReportUnreadable(
            f"report {stored.id} was sent before reply keys were sealed with the answers, so "
            "its stored key cannot be checked; add --legacy-key to answer it anyway"
        )
    if stored.reporter_key is None or not hmac.compare_digest(
        document.reporter_key, stored.reporter_key
    ):
        raise ReportUnreadable(
            f"the reply key stored with report {stored.id} is not the one sealed in its "
            "answers: the database was altered; nothing was sent"
        )


def queue_line(summary: ReportSummary) -> QueueRow:
    """A queue line from a report's metadata, before any answers are opened."""
    return QueueRow(
        report_id=summary.id,
        submitted_on=summary.submitted_on,
        urgent=summary.urgent,
        status=summary.status,
        item_count=summary.item_count,
    )


def with_answers(row: QueueRow, sealed: StoredReport | None, key: AdminPrivateKey) -> QueueRow:
    """Open a queue row's answers; a failure marks the row instead of stopping the queue."""
    if sealed is None:
        return replace(row, problem="no answers item")
    try:
        return replace(row, answers=open_answers(sealed, key))
    except (CryptoError, AnswersFormatError) as exc:
        return replace(row, problem=describe_problem(exc))
