"""Find what each item of a stored report was sealed under, by opening its answers first.

Since report format 2 the items a reporter gave during the conversation are bound to a
random draft id that only the sealed answers document names (:mod:`bot.answers`); older
reports bind everything to the report id. Every admin tool that opens items (view, export,
re-key) asks here, so none of them guesses a binding.
"""

from __future__ import annotations

from bot.answers import AnswersDocument, AnswersFormatError, decode_answers
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.values import ItemRef
from bot.questions import ANSWERS_KIND, ATTACHMENT_KIND, FOLLOWUP_FILE_KIND, FOLLOWUP_META_KIND
from storage.records import StoredReport


def open_answers(report: StoredReport, key: AdminPrivateKey) -> AnswersDocument:
    """Open and parse the report's answers document (bound to the report id in every format).

    Raises CryptoError when it does not open, AnswersFormatError when it is not a document
    this code reads, and AnswersFormatError too when the report has none.
    """
    item = next((i for i in report.items if i.kind == ANSWERS_KIND and i.index == 0), None)
    if item is None:
        raise AnswersFormatError()
    plaintext = open_with_admin_key(item.blob, ItemRef(report.id, ANSWERS_KIND, 0), key)
    return decode_answers(plaintext)


def stream_kind(report: StoredReport, index: int) -> str:
    """Say what file ``index`` of a report was sealed as: sent during the report, or after.

    A file sent after the report has a ``followup_meta`` item at its index. Removing or adding
    one changes nothing but the binding tried, and the stream then fails authentication.
    """
    later = any(i.kind == FOLLOWUP_META_KIND and i.index == index for i in report.items)
    return FOLLOWUP_FILE_KIND if later else ATTACHMENT_KIND


def stream_ref(report: StoredReport, document: AnswersDocument, index: int) -> ItemRef:
    """Return the binding of file ``index``'s stream."""
    return document.item_ref(report.id, stream_kind(report, index), index)
