"""Redact a reporter's words on the admin's machine: a copy sealed to every admin, the
original sealed to the leads only.

A story may name people, places or numbers that the team must keep but most reviewers need
not read. Redacting replaces the item with the text the admin edited, sealed to every admin
under the item's own binding, and keeps what the reporter sent as the item's original, sealed
to the lead keys alone (docs/crypto.md §19). The server checks only the recipient tables: it
never sees either text. Once an original is kept, redacting again replaces only the copy (a
reviewer could not open the original to seal it anew).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from bot.admin.binding import open_answers
from bot.admin.opening import ReportUnreadable, describe_problem, find_item
from bot.answers import AnswersDocument, AnswersFormatError
from bot.crypto.errors import CryptoError
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import SealedBlob
from bot.questions import REDACTABLE_KINDS, original_kind
from storage.records import StoredItem, StoredReport

MAX_REDACTED_CHARS: Final = 65_536


class RedactionRefused(Exception):
    """A redaction cannot be made; the message says why and holds none of the text.

    ``code`` names the reason for a console to say it in the admin's language: ``item``
    (not a redactable item), ``length``, ``same`` (nothing hidden) or ``no-lead``.
    """

    def __init__(self, message: str, code: str) -> None:
        """Keep the reason."""
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Redaction:
    """What the server stores: the edited copy, the original for the leads if not kept yet,
    and the hash of the blob the copy replaces (so a change meanwhile is not overwritten)."""

    kind: str
    index: int
    redacted: SealedBlob = field(repr=False)
    original: SealedBlob | None = field(repr=False)
    replaces: bytes

    @property
    def subject(self) -> str:
        """What the audit entry names: the report's item, never its text."""
        return f"{self.kind} {self.index}"


def blob_hash(blob: SealedBlob) -> bytes:
    """Name the exact ciphertext a redaction replaces."""
    return hashlib.sha256(blob.data).digest()


def current_text(stored: StoredReport, key: AdminPrivateKey, kind: str, index: int) -> str:
    """The item's text as this admin reads it now (the redacted copy, once there is one)."""
    return _opened(stored, key, kind, index)[0]


def _opened(
    stored: StoredReport, key: AdminPrivateKey, kind: str, index: int
) -> tuple[str, StoredItem, AnswersDocument]:
    """The item's text, the item, and the answers that give its binding."""
    if kind not in REDACTABLE_KINDS:
        raise RedactionRefused(
            "only the reporter's own words can be redacted: " + ", ".join(REDACTABLE_KINDS),
            "item",
        )
    item = find_item(stored.items, kind, index)
    if item is None:
        raise RedactionRefused(f"report {stored.id} has no item {kind} {index + 1}", "item")
    try:
        document = open_answers(stored, key)
        data = open_with_admin_key(item.blob, document.item_ref(stored.id, kind, index), key)
        return data.decode("utf-8"), item, document
    except (CryptoError, AnswersFormatError, UnicodeDecodeError) as exc:
        raise ReportUnreadable(
            f"item {kind} #{index} of report {stored.id}: {describe_problem(exc)}"
        ) from None


def redact(
    stored: StoredReport,
    key: AdminPrivateKey,
    kind: str,
    index: int,
    edited: str,
    admins: Sequence[AdminPublicKey],
    leads: Sequence[AdminPublicKey],
) -> Redaction:
    """Seal ``edited`` in place of item (kind, index) and, the first time, its original to
    ``leads``. Refused when nothing changed, or when no lead key could keep the original."""
    before, item, document = _opened(stored, key, kind, index)
    text = edited.strip()
    if not 0 < len(text) <= MAX_REDACTED_CHARS:
        raise RedactionRefused(
            f"the edited text has 1 to {MAX_REDACTED_CHARS} characters", "length"
        )
    if text == before.strip():
        raise RedactionRefused("the edited text is the same: nothing was hidden", "same")
    original = None
    if find_item(stored.items, original_kind(kind), index) is None:
        if not leads:
            raise RedactionRefused(
                "no lead key is known (AMANAT_LEAD_ADMIN_KEYS), so the original could not be "
                "kept for a lead: nothing was changed",
                "no-lead",
            )
        ref = document.item_ref(stored.id, original_kind(kind), index)
        original = AdminSealer(leads).seal_for_admins(before.encode("utf-8"), ref)
    ref = document.item_ref(stored.id, kind, index)
    redacted = AdminSealer(admins).seal_for_admins(text.encode("utf-8"), ref)
    return Redaction(kind, index, redacted, original, blob_hash(item.blob))
