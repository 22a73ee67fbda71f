"""Own the plain values that cross the storage boundary: what callers hand in and get back.

These frozen dataclasses are the repositories' whole vocabulary; they never carry a Telegram
identity, a pseudonym next to a report, or plaintext where a sealed value belongs. They check
their own invariants so a bad value fails where it was made, not deep inside a transaction.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from bot.crypto.values import SealedBlob

STATUS_NEW: Final = "new"
STATUS_CLAIMED: Final = "claimed"
STATUS_CLOSED: Final = "closed"
REPORT_STATUSES: Final = (STATUS_NEW, STATUS_CLAIMED, STATUS_CLOSED)

URGENCIES: Final = ("urgent", "not_urgent", "unsaid")
FORMER_FORCES: Final = ("yes", "no", "unsaid")

REPORT_ID_MAX: Final = 16
RECEIPT_HASH_SIZE: Final = 32
SHORT_TEXT_MAX: Final = 64
LOCALE_MAX: Final = 16
UPLOAD_ID_MAX: Final = 40
AUDIT_SUBJECT_MAX: Final = 128

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_UPLOAD_ID = re.compile(rf"[0-9A-Za-z.]{{1,{UPLOAD_ID_MAX}}}")


def require_upload_id(value: object) -> str:
    """Accept a random upload id (hex) or a migrated one (report id, dot, index)."""
    if not isinstance(value, str) or not _UPLOAD_ID.fullmatch(value):
        raise ValueError("an upload id is 1 to 40 letters, digits or dots")
    return value


def require_sealed(value: object) -> SealedBlob:
    """Return a SealedBlob unchanged, refuse anything else: never fall back to plaintext."""
    if not isinstance(value, SealedBlob):
        raise TypeError("a sealed column accepts only bot.crypto.SealedBlob")
    return value


def _require_text(value: object, what: str, max_length: int) -> None:
    """Refuse a non-string, empty or oversized short field (the value is never quoted)."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise ValueError(f"{what} must be a non-empty string of at most {max_length} characters")


@dataclass(frozen=True)
class NewItem:
    """One sealed item of a report about to be stored, addressed by (kind, index)."""

    kind: str
    index: int
    blob: SealedBlob

    def __post_init__(self) -> None:
        """Refuse plaintext and malformed addresses before any SQL runs."""
        _require_text(self.kind, "an item kind", SHORT_TEXT_MAX)
        if not isinstance(self.index, int) or isinstance(self.index, bool) or self.index < 0:
            raise ValueError("an item index must be a non-negative int")
        require_sealed(self.blob)


@dataclass(frozen=True)
class NewFile:
    """A report's claim on one uploaded file: attachment ``index`` is upload ``upload_id``."""

    index: int
    upload_id: str

    def __post_init__(self) -> None:
        """Refuse malformed claims before any SQL runs."""
        if not isinstance(self.index, int) or isinstance(self.index, bool) or self.index < 0:
            raise ValueError("a file index must be a non-negative int")
        require_upload_id(self.upload_id)


@dataclass(frozen=True)
class NewReport:
    """A submitted report: a random id, the day only, the urgent flag and sealed items."""

    id: str
    submitted_on: date
    urgent: bool
    receipt_hash: bytes
    items: Sequence[NewItem]
    format_version: int = 1
    reporter_key: bytes | None = None
    """Public half of the reporter's reply key (derived from the receipt code), if any."""
    files: Sequence[NewFile] = ()
    """The uploads this report claims, one per attachment index."""

    def __post_init__(self) -> None:
        """Check every field so nothing finer than a day or anything unsealed gets in."""
        _require_text(self.id, "a report id", REPORT_ID_MAX)
        if self.reporter_key is not None and (
            not isinstance(self.reporter_key, bytes) or len(self.reporter_key) != 32
        ):
            raise ValueError("reporter_key must be a 32-byte public key")
        if type(self.submitted_on) is not date:
            raise TypeError("submitted_on must be a date (a datetime would keep the time)")
        if not isinstance(self.urgent, bool):
            raise TypeError("urgent must be a bool")
        if not isinstance(self.receipt_hash, bytes) or len(self.receipt_hash) != RECEIPT_HASH_SIZE:
            raise ValueError(f"receipt_hash must be {RECEIPT_HASH_SIZE} bytes")
        if not isinstance(self.format_version, int) or self.format_version < 1:
            raise ValueError("format_version must be a positive int")
        items = tuple(self.items)
        for item in items:
            if not isinstance(item, NewItem):
                raise TypeError("report items must be NewItem values")
        if len({(item.kind, item.index) for item in items}) != len(items):
            raise ValueError("two report items share a (kind, index)")
        object.__setattr__(self, "items", items)
        files = tuple(self.files)
        if not all(isinstance(file, NewFile) for file in files):
            raise TypeError("report files must be NewFile values")
        if len({file.index for file in files}) != len(files):
            raise ValueError("two report files share an index")
        object.__setattr__(self, "files", files)


@dataclass(frozen=True)
class StoredItem:
    """One sealed item as stored."""

    kind: str
    index: int
    blob: SealedBlob


@dataclass(frozen=True)
class StoredReport:
    """A stored report with its sealed items in (kind, index) order."""

    id: str
    format_version: int
    submitted_on: date
    urgent: bool
    status: str
    items: tuple[StoredItem, ...]
    reporter_key: bytes | None = None
    files: tuple[NewFile, ...] = ()
    """Which upload holds each attachment, by index."""


@dataclass(frozen=True)
class ReportSummary:
    """One line of the admin queue: no content, only what triage needs."""

    id: str
    submitted_on: date
    urgent: bool
    status: str
    item_count: int


@dataclass(frozen=True)
class StatRecord:
    """One consenting report's coarse, unlinkable statistics (docs/design.md §3.5)."""

    category: str
    party: str
    country: str
    province: str | None
    month: str
    urgency: str
    former_forces: str

    def __post_init__(self) -> None:
        """Refuse anything finer or stranger than the published coarse fields."""
        for what, value in (
            ("category", self.category),
            ("party", self.party),
            ("country", self.country),
        ):
            _require_text(value, what, SHORT_TEXT_MAX)
        if self.province is not None:
            _require_text(self.province, "province", SHORT_TEXT_MAX)
        if not isinstance(self.month, str) or not _MONTH.fullmatch(self.month):
            raise ValueError("month must be YYYY-MM")
        if self.urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {URGENCIES}")
        if self.former_forces not in FORMER_FORCES:
            raise ValueError(f"former_forces must be one of {FORMER_FORCES}")


@dataclass(frozen=True)
class StatMargins:
    """How many statistics records have each value of each field, and each (country,
    province) pair: all a digest's one-way tables need (``StatsRepository.margins``)."""

    fields: Mapping[str, Counter[str]]
    provinces: Counter[tuple[str, str | None]]
