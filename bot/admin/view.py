"""Turn a report an admin has decrypted into labelled text in the admin's language.

This module owns the admin-facing reading of sealed items: the ``answers`` JSON document
(format version 1), the text items, the queue row and the full report view, with question and
option labels translated. It is pure (no keys, no storage, no terminal): the command line
decrypts, this module decodes and renders. Reporters' text is untrusted: it must never reach
the admin's terminal with control characters or bidi overrides that could rewrite the screen,
and this module must never put decrypted content into an exception message or a log line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from bot.answers import AnswersDocument, AnswersFormatError, decode_consent
from bot.i18n.localdates import format_date, format_month
from bot.i18n.translations import LANGUAGE_NAMES, N_, RTL_LOCALES, Translations, format_number
from bot.questions import (
    ANSWERS_KIND,
    ATTACHMENT_META_KIND,
    CONSENT_KIND,
    FOLLOWUP_KIND,
    FOLLOWUP_META_KIND,
    NOT_SAID,
    NOTE_KIND,
    ORIGINAL_KINDS,
    ORIGINAL_PREFIX,
    QUESTIONS,
    REPLY_KIND,
    UNSAID,
    FreeText,
    find_question,
    option_label,
    original_kind,
)

# Translators: {size} is a number of bytes.
FILE_NOT_SHOWN: Final = N_("(a file of {size} bytes, not text; not shown)")
FILES: Final = N_("Voice notes, photos and files (save them with `amanat admin export`)")
# Translators: one attached file: {number} its number, {kind} e.g. "Voice note", {size} kB,
# {question} the question it answers, e.g. "Story".
FILE_LINE: Final = N_("[{number}] {kind}, {size} kB, answering “{question}”")
# Translators: one file the reporter sent after the report, with their code: {number} its
# number, {kind} e.g. "Voice note", {size} kB.
LATER_FILE_LINE: Final = N_("[{number}] {kind}, {size} kB, sent after the report")
# Translators: the name a file was sent with, e.g. "contract.pdf".
FILE_NAME_LINE: Final = N_("File name: {name}")
# Translators: a label; the words the reporter wrote with a photo or file follow it.
CAPTION_LABEL: Final = N_("Words sent with it:")
FILE_KINDS: Final[Mapping[str, str]] = {
    "voice": N_("Voice note"),
    "audio": N_("Audio"),
    "video": N_("Video"),
    "video_note": N_("Video message"),
    "photo": N_("Photo"),
    "document": N_("File"),
}

__all__ = [
    "OpenedItem",
    "OpenedReport",
    "QueueRow",
    "neutralise",
    "render_queue",
    "render_report",
]

_MONTH: Final = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

# C0 controls but tab and newline, DEL, C1 controls, and the explicit bidi embeddings,
# overrides and isolates: each could move the cursor, recolour or reorder the admin's screen.
# Marks that only shape text (ZWNJ, ZWJ, LRM, RLM, ALM) are kept: Dari needs ZWNJ.
_UNSAFE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

STATUS_LABELS: Final[Mapping[str, str]] = {
    "new": N_("New"),
    "claimed": N_("Being worked on"),
    "closed": N_("Closed"),
}
TEAM_ITEM_LABELS: Final[Mapping[str, str]] = {
    REPLY_KIND: N_("Answers from our team"),
    NOTE_KIND: N_("Team notes (the reporter never sees these)"),
    FOLLOWUP_KIND: N_("Written by the reporter after the report"),
    CONSENT_KIND: N_("The reporter's answers: may we share the case with a partner?"),
}
CONSENT_YES: Final = N_("Yes, the case may be shared")
CONSENT_NO: Final = N_("No, do not share the case")
URGENT: Final = N_("URGENT")
REPORT: Final = N_("Report id")
SUBMITTED: Final = N_("Submitted")
STATUS: Final = N_("Status")
LANGUAGE: Final = N_("Language of the reporter")
MONTH: Final = N_("Month of the report")
# Translators: {day} is a date; {admin} a team member's key id, 16 letters and digits.
WRITTEN_BY: Final = N_("{day}, written by the team member with key {admin}")
SENT: Final = N_("Messages and files")
"""The queue column: what the reporter sent (story messages, files, later messages), not the
team's notes and answers, so the number changes only when the reporter sends something."""
WHERE: Final = N_("Where")
NO_REPORTS: Final = N_("No reports.")
URGENT_NOTE: Final = N_("URGENT: the reporter said they were in danger")
REDACTED_NOTE: Final = N_("(The team hid parts of this text.)")
ORIGINALS_TITLE: Final = N_("What the team hid (only leads can open this):")
HIDDEN_FROM_YOU: Final = N_(
    "The team hid parts of this report. Only a lead can open the text as it was sent."
)


@dataclass(frozen=True)
class OpenedItem:
    """One decrypted item other than the answers: its kind, index and bytes."""

    kind: str
    index: int
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        """Show only the item's place and size, never its content."""
        return f"OpenedItem({self.kind!r}, {self.index}, <{len(self.data)} bytes>)"


@dataclass(frozen=True)
class OpenedReport:
    """A whole report after decryption on the admin's machine."""

    report_id: str
    submitted_on: date
    urgent: bool
    status: str
    answers: AnswersDocument
    items: tuple[OpenedItem, ...] = field(repr=False)
    recorded: Mapping[tuple[str, int], tuple[date, str]] = field(default_factory=dict)
    """Who wrote each team note and answer (key id), and on which day, from the audit log."""
    hidden: tuple[tuple[str, int], ...] = ()
    """Originals of redacted items that this admin's key cannot open (only leads can)."""

    def redacted(self, kind: str, index: int) -> bool:
        """Whether the team hid parts of this item (its original is kept for the leads)."""
        original = (original_kind(kind), index)
        return original in self.hidden or any(
            (item.kind, item.index) == original for item in self.items
        )

    def __repr__(self) -> str:
        """Name the report without any of its content."""
        return f"OpenedReport({self.report_id!r}, <{len(self.items)} items>)"


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue; ``answers`` is None when not decrypted (or not openable)."""

    report_id: str
    submitted_on: date
    urgent: bool
    status: str
    item_count: int
    answers: AnswersDocument | None = None
    problem: str | None = None


# --- decoding ------------------------------------------------------------------------------


# --- rendering -----------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """Show control characters and bidi overrides as visible ``<U+XXXX>`` instead of obeying them.

    Reporters' text is untrusted; an escape sequence or a right-to-left override in it must
    not recolour, move or reorder the admin's terminal.
    """
    return _UNSAFE.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)


def _list_separator(locale: str) -> str:
    """Join list answers with the reader's comma (Arabic comma for Dari and Pashto)."""
    return "، " if locale in RTL_LOCALES else ", "


def _option(question_id: str, value: str, locale: str, translations: Translations) -> str:
    """Translate one option id; unknown ids (an older or newer flow) are shown as they are."""
    if value == UNSAID:
        return translations.gettext(locale, NOT_SAID)
    label = option_label(question_id, value)
    if label == value:
        return neutralise(value)
    return translations.gettext(locale, label)


def _answer(
    question_id: str, value: str | tuple[str, ...], locale: str, translations: Translations
) -> str:
    """Translate a single or multiple choice answer."""
    if isinstance(value, tuple):
        return _list_separator(locale).join(
            _option(question_id, v, locale, translations) for v in value
        )
    return _option(question_id, value, locale, translations)


def item_label(kind: str, index: int, locale: str, translations: Translations) -> str:
    """Name one text item as the report shows it: its question, and its number."""
    label = _question_label(kind, locale, translations)
    return f"{label} [{format_number(locale, index + 1)}]"


def _question_label(question_id: str, locale: str, translations: Translations) -> str:
    """Translate a question's (or the team's item kind's) label; unknown ids are neutralised."""
    team = TEAM_ITEM_LABELS.get(question_id)
    if team is not None:
        return translations.gettext(locale, team)
    question = find_question(question_id)
    if question is None:
        return neutralise(question_id)
    return translations.gettext(locale, question.admin_label)


def _month(locale: str, month: str | None, translations: Translations) -> str:
    """Show the report's month in the admin's calendar."""
    if month is None or not _MONTH.fullmatch(month):
        return translations.gettext(locale, NOT_SAID)
    year, number = month.split("-")
    return format_month(locale, int(year), int(number))


def status_label(status: str, locale: str, translations: Translations) -> str:
    """Translate a report status; unknown ones are shown, neutralised."""
    return _status(status, locale, translations)


def _status(status: str, locale: str, translations: Translations) -> str:
    """Translate a report status; unknown ones are shown, neutralised."""
    label = STATUS_LABELS.get(status)
    return translations.gettext(locale, label) if label else neutralise(status)


def answer_lines(
    document: AnswersDocument, locale: str, translations: Translations
) -> list[tuple[str, str]]:
    """Return (label, answer) pairs in questionnaire order, unknown questions after."""
    lines: list[tuple[str, str]] = []
    known = [q.id for q in QUESTIONS if not isinstance(q, FreeText)]
    for question_id in [
        *[q for q in known if q in document.answers],
        *sorted(q for q in document.answers if q not in known),
    ]:
        lines.append(
            (
                _question_label(question_id, locale, translations),
                _answer(question_id, document.answers[question_id], locale, translations),
            )
        )
    return lines


def _text_of(item: OpenedItem, locale: str, translations: Translations) -> str:
    """Show a text item neutralised; binary items only by size."""
    try:
        return neutralise(item.data.decode("utf-8"))
    except UnicodeDecodeError:
        return translations.format(
            locale,
            FILE_NOT_SHOWN,
            size=len(item.data),
        )


def _file_line(item: OpenedItem, locale: str, translations: Translations) -> str:
    """Describe one attached file from its sealed metadata; its content is exported apart.

    A file sent during the report answers a question; one sent afterwards says so.
    """
    try:
        meta = json.loads(item.data)
        kind = FILE_KINDS.get(str(meta["kind"]), FILE_KINDS["document"])
        size = int(meta.get("size") or 0)
        question = None if item.kind == FOLLOWUP_META_KIND else str(meta["question"])
        name = str(meta.get("file_name") or "")
        caption = str(meta.get("caption") or "")
    except (ValueError, KeyError, TypeError, AttributeError):
        return _text_of(item, locale, translations)
    kilobytes = max(1, -(-size // 1024))
    label = translations.gettext(locale, kind)
    if question is None:
        line = translations.format(
            locale, LATER_FILE_LINE, number=item.index + 1, kind=label, size=kilobytes
        )
    else:
        line = translations.format(
            locale,
            FILE_LINE,
            number=item.index + 1,
            kind=label,
            size=kilobytes,
            question=_question_label(question, locale, translations),
        )
    lines = [line]
    if name:
        lines.append("    " + translations.format(locale, FILE_NAME_LINE, name=neutralise(name)))
    if caption:
        lines.append("    " + translations.gettext(locale, CAPTION_LABEL))
        lines.append(_indent(_indent(neutralise(caption))))
    return "\n".join(lines)


def _indent(text: str) -> str:
    """Indent every line of reporter text so it stands apart from the labels."""
    return "\n".join("    " + line for line in text.split("\n"))


def render_report(
    report: OpenedReport, locale: str, translations: Translations, *, files_heading: str = FILES
) -> str:
    """Render a decrypted report with every answer and every text item, labelled.

    ``files_heading`` says how files are saved where the report is shown (the console has
    its own Save links, the command line `amanat admin export`).
    """

    def t(message: str) -> str:
        return translations.gettext(locale, message)

    lines = [f"{t(REPORT)}: {report.report_id}"]
    if report.urgent:
        lines.append(t(URGENT_NOTE))
    lines.append(f"{t(SUBMITTED)}: {format_date(locale, report.submitted_on)}")
    lines.append(f"{t(STATUS)}: {_status(report.status, locale, translations)}")
    language = LANGUAGE_NAMES.get(report.answers.locale or "") or t(NOT_SAID)
    lines.append(f"{t(LANGUAGE)}: {language}")
    lines.append(f"{t(MONTH)}: {_month(locale, report.answers.month, translations)}")
    lines.append("")
    for label, answer in answer_lines(report.answers, locale, translations):
        lines.append(f"{label}: {answer}")
    text_kinds = [q.id for q in QUESTIONS if isinstance(q, FreeText)]
    files = sorted(
        (i for i in report.items if i.kind in (ATTACHMENT_META_KIND, FOLLOWUP_META_KIND)),
        key=lambda i: i.index,
    )
    if files:
        lines.append("")
        lines.append(f"{t(files_heading)}:")
        lines.extend("  " + _file_line(item, locale, translations) for item in files)
    shown = {*text_kinds, *ORIGINAL_KINDS, ANSWERS_KIND, ATTACHMENT_META_KIND, FOLLOWUP_META_KIND}
    others = sorted({i.kind for i in report.items} - shown)
    for kind in [*text_kinds, *others]:
        items = sorted((i for i in report.items if i.kind == kind), key=lambda i: i.index)
        if not items:
            continue
        lines.append("")
        lines.append(f"{_question_label(kind, locale, translations)}:")
        for number, item in enumerate(items, start=1):
            prefix = f"  [{format_number(locale, number)}]" if len(items) > 1 else ""
            if prefix:
                lines.append(prefix)
            written = report.recorded.get((kind, item.index))
            if written is not None:
                day, admin = written
                lines.append(
                    "  "
                    + translations.format(
                        locale, WRITTEN_BY, day=format_date(locale, day), admin=admin
                    )
                )
            if report.redacted(kind, item.index):
                lines.append("  " + t(REDACTED_NOTE))
            if kind == CONSENT_KIND:
                lines.append(_indent(_consent_of(item, locale, translations)))
            else:
                lines.append(_indent(_text_of(item, locale, translations)))
    lines.extend(_originals(report, locale, translations))
    return "\n".join(lines) + "\n"


def _originals(report: OpenedReport, locale: str, translations: Translations) -> list[str]:
    """What the team hid, for a lead; for anyone else, only that a lead can open it."""
    originals = sorted(
        (i for i in report.items if i.kind in ORIGINAL_KINDS), key=lambda i: (i.kind, i.index)
    )
    lines: list[str] = []
    if originals:
        lines += ["", translations.gettext(locale, ORIGINALS_TITLE)]
    for item in originals:
        kind = item.kind.removeprefix(ORIGINAL_PREFIX)
        lines.append(f"  {item_label(kind, item.index, locale, translations)}:")
        lines.append(_indent(_indent(_text_of(item, locale, translations))))
    if report.hidden:
        lines += ["", translations.gettext(locale, HIDDEN_FROM_YOU)]
    return lines


def _consent_of(item: OpenedItem, locale: str, translations: Translations) -> str:
    """Show a recorded yes or no to sharing the case; an unreadable one as its size."""
    try:
        agreed = decode_consent(item.data)
    except AnswersFormatError:
        return translations.format(locale, FILE_NOT_SHOWN, size=len(item.data))
    return translations.gettext(locale, CONSENT_YES if agreed else CONSENT_NO)


def _place(document: AnswersDocument, locale: str, translations: Translations) -> str:
    """Show country and province as one column."""
    country = document.answers.get("country")
    province = document.answers.get("province")
    parts = [
        _answer(qid, value, locale, translations)
        for qid, value in (("country", country), ("province", province))
        if value is not None
    ]
    return " / ".join(parts) if parts else "-"


def queue_table(
    rows: Sequence[QueueRow], locale: str, translations: Translations, *, decrypted: bool
) -> tuple[list[str], list[list[str]]]:
    """The queue's header and cells: urgency, id, day, status, count, then decrypted fields.

    The command line aligns them as text; the local console makes an HTML table of them.
    """

    def t(message: str) -> str:
        return translations.gettext(locale, message)

    urgent = t(URGENT)
    table: list[list[str]] = []
    for row in rows:
        cells = [
            urgent if row.urgent else "",
            row.report_id,
            format_date(locale, row.submitted_on),
            _status(row.status, locale, translations),
            format_number(locale, row.item_count),
        ]
        if decrypted:
            if row.answers is not None:
                category = row.answers.answers.get("incident")
                cells.append(
                    _answer("incident", category, locale, translations) if category else "-"
                )
                cells.append(_place(row.answers, locale, translations))
            else:
                cells += [row.problem or "-", ""]
        table.append(cells)
    header = ["", t(REPORT), t(SUBMITTED), t(STATUS), t(SENT)]
    if decrypted:
        header += [_question_label("incident", locale, translations), t(WHERE)]
    return header, table


def render_queue(
    rows: Sequence[QueueRow], locale: str, translations: Translations, *, decrypted: bool
) -> str:
    """Render the queue as aligned columns: urgency, id, day, status, then decrypted fields."""
    if not rows:
        return translations.gettext(locale, NO_REPORTS) + "\n"
    header, table = queue_table(rows, locale, translations, decrypted=decrypted)
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    lines = []
    for cells in [header, *table]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"
