"""Chain admin actions by hash so that no edit, deletion or reordering goes unnoticed.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields,
length-prefixed; the first entry follows 32 zero bytes. ``verify`` recomputes the chain and
names the first entry that does not fit. A chain rewritten from some point on is only caught
against a head hash kept elsewhere: ``amanat audit verify`` prints the head for admins to
keep (docs/operations.md). This module is pure: storage reads and writes the entries.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

GENESIS: Final = bytes(32)


@dataclass(frozen=True)
class AuditEntry:
    """One admin action: when (the day), who (key id), what, on what."""

    seq: int
    day: date
    admin: str
    action: str
    subject: str
    prev_hash: bytes
    hash: bytes


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def entry_hash(
    prev_hash: bytes, seq: int, day: date, admin: str, action: str, subject: str
) -> bytes:
    """Hash one entry onto the chain (length-prefixed fields, SHA-256)."""
    fields = (
        prev_hash,
        struct.pack(">q", seq),
        day.isoformat().encode(),
        admin.encode(),
        action.encode(),
        subject.encode(),
    )
    return hashlib.sha256(b"AMANAT-AUDIT-1" + b"".join(_field(f) for f in fields)).digest()


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a chain: how many entries, the head, the first problem."""

    entries: int
    head: bytes
    problem: str | None


def verify(entries: Iterable[AuditEntry]) -> Verdict:
    """Recompute the chain in sequence order and report the first entry that does not fit."""
    previous = GENESIS
    expected_seq = 1
    count = 0
    for entry in entries:
        count += 1
        if entry.seq != expected_seq:
            return Verdict(count, previous, f"entry {expected_seq} is missing or out of order")
        if not hmac.compare_digest(entry.prev_hash, previous):
            return Verdict(
                count, previous, f"entry {entry.seq} does not follow entry {entry.seq - 1}"
            )
        recomputed = entry_hash(
            entry.prev_hash, entry.seq, entry.day, entry.admin, entry.action, entry.subject
        )
        if not hmac.compare_digest(recomputed, entry.hash):
            return Verdict(count, previous, f"entry {entry.seq} was changed")
        previous = entry.hash
        expected_seq += 1
    return Verdict(count, previous, None)
