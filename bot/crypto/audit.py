"""Chain admin actions by hash and sign each one, so no edit, forgery or reordering goes unseen.

Format: ``docs/crypto.md`` §14. Each entry's hash is SHA-256 over the previous entry's hash
and the entry's own fields, length-prefixed; the first entry follows 32 zero bytes. The admin
an entry names signs its hash with the Ed25519 key derived from their admin key (§3), so a
database writer can no longer recompute the chain after an edit: every entry after it loses
its signature. ``verify`` recomputes the chain, checks every signature against the key of the
admin the entry names, and names the first entry that does not fit. Removing the newest
entries, or rewriting the chain from the start, is only caught against a head hash kept off
the server (``expect_head``). This module is pure: storage reads and writes the entries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS: Final = bytes(32)
HASH_MAGIC: Final = b"AMANAT-AUDIT-1"
SIGNATURE_MAGIC: Final = b"AMANAT-AUDIT-SIG-1"
SIGNATURE_SIZE: Final = 64
SIGNING_KEY_SIZE: Final = 32
HASH_SIZE: Final = 32

Signer = Callable[[bytes], bytes]
"""Sign one entry hash: an admin key's ``sign_audit_entry`` (the signature, 64 bytes)."""

KEY_ID_PATTERN: Final = re.compile(r"[0-9a-f]{16}")
"""An admin key id as entries and requests name it: 16 lower-case hex digits."""


@dataclass(frozen=True)
class AuditEntry:
    """One admin action: when (the day), who (key id), what, on what, and its signature.

    ``signature`` is None only for entries written before signatures existed.
    """

    seq: int
    day: date
    admin: str
    action: str
    subject: str
    prev_hash: bytes
    hash: bytes
    signature: bytes | None = None


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
    return hashlib.sha256(HASH_MAGIC + b"".join(_field(f) for f in fields)).digest()


def signed_message(digest: bytes) -> bytes:
    """Return what an admin signs for an entry: a magic that no other signature uses, its hash."""
    if not isinstance(digest, bytes) or len(digest) != HASH_SIZE:
        raise ValueError("an audit entry hash is 32 bytes")
    return SIGNATURE_MAGIC + digest


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a chain: how many entries, the head, the first problem.

    ``signed`` counts signed entries and ``unsigned`` the unsigned prefix (entries written
    before signatures); ``expected_at`` is the seq of the entry whose hash is the expected
    head (0 for the empty chain's head), or None when no head was given or it was not found.
    """

    entries: int
    head: bytes
    problem: str | None
    signed: int = 0
    unsigned: int = 0
    expected_at: int | None = None


@dataclass
class _Walk:
    """What ``verify`` has learnt so far while walking the chain."""

    count: int = 0
    head: bytes = GENESIS
    signed: int = 0
    unsigned: int = 0
    expected_at: int | None = None

    def verdict(self, problem: str | None) -> Verdict:
        """Report what was learnt, with the first problem found (None: the chain holds)."""
        return Verdict(self.count, self.head, problem, self.signed, self.unsigned, self.expected_at)


def verify(
    entries: Iterable[AuditEntry],
    signing_keys: Mapping[str, bytes],
    expect_head: bytes | None = None,
    expect_unsigned: int | None = None,
) -> Verdict:
    """Check the chain in sequence order, and every signature; report the first problem.

    ``signing_keys`` maps an admin's key id to their Ed25519 public key (32 raw bytes).
    Unsigned entries are accepted only before the first signed one. With ``expect_head`` (a
    head kept off the server) the chain must contain an entry with that hash. With
    ``expect_unsigned`` (the unsigned prefix's length kept with it) the prefix must not have
    grown: a database writer who strips every signature turns the whole chain into such a
    prefix, and only this number shows it.
    """
    walk = _Walk()
    if expect_head is not None and hmac.compare_digest(expect_head, GENESIS):
        walk.expected_at = 0
    for entry in entries:
        walk.count += 1
        problem = _chain_problem(entry, walk.count, walk.head) or _signature_problem(
            entry, signing_keys, walk.signed > 0
        )
        if problem is not None:
            return walk.verdict(problem)
        if entry.signature is None:
            walk.unsigned += 1
        else:
            walk.signed += 1
        walk.head = entry.hash
        if expect_head is not None and hmac.compare_digest(entry.hash, expect_head):
            walk.expected_at = entry.seq
    if expect_unsigned is not None and walk.unsigned > expect_unsigned:
        return walk.verdict(
            f"{walk.unsigned} entries are unsigned where {expect_unsigned} were: "
            "signatures were removed"
        )
    if expect_head is not None and walk.expected_at is None:
        return walk.verdict(
            "the expected head is not in the chain: its newest entries were removed, "
            "or it was rewritten"
        )
    return walk.verdict(None)


def _chain_problem(entry: AuditEntry, expected_seq: int, previous: bytes) -> str | None:
    """Say why an entry does not sit at this place of the chain, if it does not."""
    if entry.seq != expected_seq:
        return f"entry {expected_seq} is missing or out of order"
    if not hmac.compare_digest(entry.prev_hash, previous):
        return f"entry {entry.seq} does not follow entry {entry.seq - 1}"
    recomputed = entry_hash(
        entry.prev_hash, entry.seq, entry.day, entry.admin, entry.action, entry.subject
    )
    if not hmac.compare_digest(recomputed, entry.hash):
        return f"entry {entry.seq} was changed"
    return None


def _signature_problem(
    entry: AuditEntry, signing_keys: Mapping[str, bytes], after_signed: bool
) -> str | None:
    """Say why an entry's signature does not hold, if it does not."""
    if entry.signature is None:
        if after_signed:
            return f"entry {entry.seq} is not signed, but an entry before it is"
        return None  # the unsigned prefix: the first signed entry's hash pins it
    who = _admin_name(entry.admin)
    key = signing_keys.get(entry.admin)
    if key is None:
        return f"entry {entry.seq}: no signing key configured for {who}"
    if not entry_signature_holds(key, entry.signature, entry.hash):
        return f"entry {entry.seq} does not carry a valid signature of {who}"
    return None


def _admin_name(admin: str) -> str:
    """Name an entry's admin by key id; anything else it holds is never quoted."""
    return f"admin {admin}" if KEY_ID_PATTERN.fullmatch(admin) else "the admin it names"


def entry_signature_holds(key: bytes, signature: bytes, digest: bytes) -> bool:
    """Check one Ed25519 signature over an entry hash; malformed keys or signatures fail."""
    if len(key) != SIGNING_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, signed_message(digest))
    except (InvalidSignature, ValueError):
        return False
    return True
