"""Pin every digest of a month to one snapshot of its records, so no two can be subtracted.

Statistics records reach the database in shuffled batches, days after the reports they count,
so a month can still grow after its first digest. Counting it again for a second partner, or
for the same one, would give counts that differ by exactly the late reports, and the difference
has no small cells hidden: it is those reports' whole statistics records. So the first
``amanat digest issue`` of a month stores what it counted, and every later issue of that month,
to any partner, renders exactly that (``docs/partner-guide.md`` §7).

This module is the snapshot's format and the rules that pin it; storage keeps the ciphertext
(:mod:`storage.snapshots`) and the command line seals, opens and audits it
(:mod:`bot.cli.partners`).

- The plaintext is canonical JSON (``docs/crypto.md`` §15): the month's coarse records, sorted,
  so the snapshot keeps no arrival order. It is sealed to the admins under the binding
  ``ItemRef("digest-" + month, "digest_snapshot", 0)``.
- Anyone who can write the database holds the admins' public keys and could seal a snapshot of
  their own. So each ``digest`` entry of the audit chain records the first 32 hex digits of the
  SHA-256 of the snapshot it rendered, and a later issue refuses unless the stored snapshot has
  the hash its month's earliest entry recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from bot.crypto.values import ItemRef
from bot.partners.digest import MIN_K, StatLike
from bot.partners.months import Month, PartnerDigestError
from storage.records import StatRecord

SNAPSHOT_KIND: Final = "digest_snapshot"
"""The kind in a snapshot's binding; its report id is ``digest-YYYY-MM`` and its index 0."""

SNAPSHOT_FORMAT: Final = 2
"""Version of the snapshot's JSON. Format 2 also pins the ``k`` and the rules its month's
digests are rendered with; format 1 (the records alone, also how the admin API sends a month's
records now) is still read, as the flat rules with an unknown ``k``. Any other is refused."""
RECORDS_FORMAT: Final = 1
"""The format of a bare list of a month's records (and of snapshots taken before format 2)."""

FLAT_RULES: Final = 1
"""Digest rules 1: each country's provinces in one table under it."""
REGION_RULES: Final = 2
"""Digest rules 2: Afghan provinces under their regions (:mod:`bot.partners.regions`)."""
DIGEST_RULES: Final = REGION_RULES
"""The rules a month's first issue pins now. Every later digest of the month renders the
rules and ``k`` of its first: two digests of one month that hid differently could be
subtracted (a province hidden in one, its region and sister provinces shown in the other)."""

DIGEST_ACTION: Final = "digest"
"""The audit action of ``amanat digest issue``."""

PIN_HEX_DIGITS: Final = 32
"""How much of the snapshot's SHA-256 (hex) an audit entry records: 128 bits."""

FIELDS: Final = ("category", "party", "country", "province", "month", "urgency", "former_forces")
"""The fields of one record in a snapshot: the coarse fields a digest counts, nothing else."""


class AuditLike(Protocol):
    """Read what an audit entry says was done, and on what (``bot.crypto.audit.AuditEntry``)."""

    @property
    def action(self) -> str: ...
    @property
    def subject(self) -> str: ...


def snapshot_ref(month: Month) -> ItemRef:
    """Bind a month's snapshot: a snapshot sealed for one month never opens as another's."""
    return ItemRef(f"digest-{month}", SNAPSHOT_KIND, 0)


def record_fields(record: StatLike) -> dict[str, str | None]:
    """Take a record's coarse fields, by name."""
    return {name: getattr(record, name) for name in FIELDS}


def _canonical(value: object) -> str:
    """Write JSON one way only: sorted keys, no spaces, ASCII."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class Snapshot:
    """What every digest of a month renders: its records, and the ``k`` and rules of its
    first issue (``k`` None for a snapshot of format 1, taken before ``k`` was pinned)."""

    records: list[StatRecord]
    k: int | None
    rules: int

    def k_or(self, configured: int) -> int:
        """The pinned ``k``, or the configured one for a snapshot that pinned none."""
        return configured if self.k is None else self.k

    @property
    def roll_up(self) -> bool:
        """Whether its digests group Afghan provinces into regions."""
        return self.rules >= REGION_RULES


def _rows(month: Month, records: Sequence[StatLike]) -> list[dict[str, str | None]]:
    wanted = str(month)
    if any(record.month != wanted for record in records):
        raise PartnerDigestError(f"a snapshot of {month} holds records of {month} only")
    return sorted((record_fields(record) for record in records), key=_canonical)


def encode_snapshot(month: Month, records: Sequence[StatLike]) -> bytes:
    """Write a month's records (format 1) as canonical JSON, sorted so that it keeps no
    arrival order: how the admin API sends a month's records."""
    document = {"format": RECORDS_FORMAT, "month": str(month), "records": _rows(month, records)}
    return _canonical(document).encode("ascii")


def encode_pinned_snapshot(
    month: Month, records: Sequence[StatLike], k: int, rules: int = DIGEST_RULES
) -> bytes:
    """Write a month's snapshot (format 2): its records, and the ``k`` and rules its first
    issue renders them with."""
    document = {
        "format": SNAPSHOT_FORMAT,
        "month": str(month),
        "records": _rows(month, records),
        "k": k,
        "rules": rules,
    }
    return _canonical(document).encode("ascii")


def _malformed(month: Month) -> PartnerDigestError:
    return PartnerDigestError(f"the snapshot of {month} is not in a format this version reads")


def _document(month: Month, plaintext: bytes) -> dict[str, object]:
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _malformed(month) from None
    if not isinstance(document, dict) or document.get("month") != str(month):
        raise _malformed(month)
    return document


def _records(month: Month, rows: object) -> list[StatRecord]:
    if not isinstance(rows, list):
        raise _malformed(month)
    records: list[StatRecord] = []
    for row in rows:
        if not isinstance(row, dict) or set(row) != set(FIELDS):
            raise _malformed(month)
        try:
            records.append(StatRecord(**row))
        except (TypeError, ValueError):
            raise _malformed(month) from None
    return records


def decode_snapshot(month: Month, plaintext: bytes) -> list[StatRecord]:
    """Read a month's records (format 1) back; refuse anything ``encode_snapshot`` would not
    have written. The error names the month only, never a value found in it."""
    document = _document(month, plaintext)
    if set(document) != {"format", "month", "records"} or document["format"] != RECORDS_FORMAT:
        raise _malformed(month)
    records = _records(month, document["records"])
    if encode_snapshot(month, records) != plaintext:
        raise _malformed(month)  # not canonical: it was not written by this module
    return records


def read_snapshot(month: Month, plaintext: bytes) -> Snapshot:
    """Read a stored snapshot of either format; refuse anything this module would not have
    written (format 2 with a ``k`` below 3 or unknown rules included)."""
    document = _document(month, plaintext)
    if document.get("format") == RECORDS_FORMAT:
        return Snapshot(decode_snapshot(month, plaintext), None, FLAT_RULES)
    if set(document) != {"format", "month", "records", "k", "rules"}:
        raise _malformed(month)
    k, rules = document["k"], document["rules"]
    if (
        document["format"] != SNAPSHOT_FORMAT
        or not isinstance(k, int)
        or isinstance(k, bool)
        or k < MIN_K
        or not isinstance(rules, int)
        or rules not in (FLAT_RULES, REGION_RULES)
    ):
        raise _malformed(month)
    records = _records(month, document["records"])
    if encode_pinned_snapshot(month, records, k, rules) != plaintext:
        raise _malformed(month)
    return Snapshot(records, k, rules)


def snapshot_pin(plaintext: bytes) -> str:
    """Return what an audit entry records of a snapshot: the start of its SHA-256, in hex."""
    return hashlib.sha256(plaintext).hexdigest()[:PIN_HEX_DIGITS]


def digest_subject(partner: str, month: Month, pin: str) -> str:
    """Write the subject of a ``digest`` audit entry: who, which month, which snapshot."""
    return f"{partner}:{month} {pin}"


@dataclass(frozen=True)
class FirstIssue:
    """The earliest ``digest`` entry of a month in the audit chain.

    ``pin`` is the snapshot hash it recorded, or None for an entry written before digests kept
    snapshots (its subject is ``partner:YYYY-MM`` alone).
    """

    pin: str | None


def first_issue(entries: Iterable[AuditLike], month: Month) -> FirstIssue | None:
    """Find the month's earliest digest entry in a chain given oldest first; None if never."""
    wanted = str(month)
    for entry in entries:
        if entry.action != DIGEST_ACTION:
            continue
        issued, _, pin = entry.subject.partition(" ")
        if issued.rpartition(":")[2] == wanted:
            return FirstIssue(pin or None)
    return None


def require_pinned(month: Month, first: FirstIssue | None, stored_pin: str | None) -> None:
    """Refuse a snapshot the audit chain does not vouch for; pass when both are absent.

    ``stored_pin`` is the hash of the stored snapshot's plaintext, None when there is none.
    Each refusal means a digest of the month may already be out, and a different one could be
    subtracted from it; nothing but the snapshot first issued may be rendered for the month.
    """
    if first is None:
        if stored_pin is not None:
            raise PartnerDigestError(
                f"a snapshot of {month} is stored but no digest of {month} in the audit log "
                "pins it: it was not stored by `amanat digest issue`; refusing to render it"
            )
        return
    if first.pin is None:
        raise PartnerDigestError(
            f"{month} was issued before digests kept a snapshot; issuing it again could give "
            "different counts, so it cannot be issued again"
        )
    if stored_pin is None:
        raise PartnerDigestError(
            f"the snapshot of {month} is missing, yet the audit log records a digest of it: "
            "it was deleted; refusing to count the month again"
        )
    if stored_pin != first.pin:
        raise PartnerDigestError(
            f"the snapshot of {month} is not the one its first digest recorded in the audit "
            "log: it was replaced; refusing to render it"
        )


@dataclass(frozen=True)
class Drift:
    """How the stored records of a month differ from its snapshot (counts, never records)."""

    late: int
    """Records stored now that the snapshot does not hold: they arrived after the first issue."""
    gone: int
    """Records the snapshot holds that are no longer stored."""

    def line(self, month: Month) -> str | None:
        """Tell the admin, in one line, what will never be published; None when nothing."""
        if not self.late and not self.gone:
            return None
        parts = []
        if self.late:
            parts.append(
                f"{self.late} record{'s' if self.late != 1 else ''} of {month} arrived after "
                f"{month} was first issued and will never be published for {month}"
            )
        if self.gone:
            parts.append(
                f"{self.gone} record{'s' if self.gone != 1 else ''} in the snapshot "
                f"{'are' if self.gone != 1 else 'is'} no longer stored"
            )
        return "note: " + "; ".join(parts) + " (every digest of a month renders its snapshot)"


def drift(snapshot: Sequence[StatLike], stored: Sequence[StatLike]) -> Drift:
    """Compare a month's snapshot with its records stored now, as multisets."""
    then = Counter(tuple(record_fields(record).values()) for record in snapshot)
    now = Counter(tuple(record_fields(record).values()) for record in stored)
    return Drift(late=(now - then).total(), gone=(then - now).total())
