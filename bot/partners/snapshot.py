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
from bot.partners.digest import StatLike
from bot.partners.months import Month, PartnerDigestError
from storage.records import StatRecord

SNAPSHOT_KIND: Final = "digest_snapshot"
"""The kind in a snapshot's binding; its report id is ``digest-YYYY-MM`` and its index 0."""

SNAPSHOT_FORMAT: Final = 1
"""Version of the snapshot's JSON; a snapshot in another format is refused."""

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


def encode_snapshot(month: Month, records: Sequence[StatLike]) -> bytes:
    """Write a month's records as canonical JSON, sorted so that it keeps no arrival order."""
    wanted = str(month)
    if any(record.month != wanted for record in records):
        raise PartnerDigestError(f"a snapshot of {month} holds records of {month} only")
    rows = sorted((record_fields(record) for record in records), key=_canonical)
    document = {"format": SNAPSHOT_FORMAT, "month": wanted, "records": rows}
    return _canonical(document).encode("ascii")


def decode_snapshot(month: Month, plaintext: bytes) -> list[StatRecord]:
    """Read a snapshot back; refuse anything that ``encode_snapshot`` would not have written.

    The error names the month only, never a value found in the snapshot.
    """
    malformed = PartnerDigestError(f"the snapshot of {month} is not in a format this version reads")
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise malformed from None
    if (
        not isinstance(document, dict)
        or set(document) != {"format", "month", "records"}
        or document["format"] != SNAPSHOT_FORMAT
        or document["month"] != str(month)
        or not isinstance(document["records"], list)
    ):
        raise malformed
    records: list[StatRecord] = []
    for row in document["records"]:
        if not isinstance(row, dict) or set(row) != set(FIELDS):
            raise malformed
        try:
            records.append(StatRecord(**row))
        except (TypeError, ValueError):
            raise malformed from None
    if encode_snapshot(month, records) != plaintext:
        raise malformed  # not canonical: it was not written by this module
    return records


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
