"""Seal to the admins: the one crypto object the bot process holds (public keys only).

:class:`AdminSealer` checks the configured admin key set once and seals typed answers as items
(:mod:`bot.crypto.items`) and files as streams (:mod:`bot.crypto.stream`) to every key in it.
It holds no private key and cannot open what it sealed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

from bot.crypto.constants import ITEM_FORMAT_VERSIONS_READ, STREAM_FORMAT_VERSION
from bot.crypto.errors import CryptoError
from bot.crypto.items import seal_item
from bot.crypto.keyfile import AdminPublicKey
from bot.crypto.recipients import parse_recipients, recipients_of
from bot.crypto.stream import StreamSealer, sealed_chunks, start_stream
from bot.crypto.values import ItemRef, SealedBlob

READABLE_TABLE_VERSIONS = tuple(sorted({*ITEM_FORMAT_VERSIONS_READ, STREAM_FORMAT_VERSION}))
"""Version bytes a recipient table may start with: items v1 and v2, stream headers v1."""


def recipient_ids(blob: SealedBlob) -> frozenset[str] | None:
    """The key ids (hex, as admins see them) an item or stream header is wrapped to; None if
    the blob is malformed. Reads the recipient table only, so a server can check it."""
    try:
        entries, _ = parse_recipients(blob.data, READABLE_TABLE_VERSIONS)
    except CryptoError:
        return None
    return frozenset(key_id.hex() for key_id in entries)


def sealed_content(blob: SealedBlob) -> bytes | None:
    """An item's nonce and ciphertext, after its recipient table; None if malformed.

    Re-wrapping changes only the table (docs/crypto.md §4), so a server can check that a
    re-wrapped item still holds the very content it held, without reading it.
    """
    try:
        _, end = parse_recipients(blob.data, ITEM_FORMAT_VERSIONS_READ)
    except CryptoError:
        return None
    return blob.data[end:]


def key_set_fingerprint(key_ids: Iterable[str]) -> str:
    """Name a set of admin keys in the audit log: the first 16 hex digits of the SHA-256 of
    their sorted ids, joined by commas (what a ``rekey`` entry records)."""
    return hashlib.sha256(",".join(sorted(key_ids)).encode()).hexdigest()[:16]


class AdminSealer:
    """Seal to every admin public key; the bot holds only this (public keys)."""

    __slots__ = ("_recipients",)

    def __init__(self, public_keys: Sequence[AdminPublicKey]) -> None:
        """Take the admins' public keys; refuse none, duplicates or more than a blob can list."""
        self._recipients = recipients_of(public_keys)

    def __repr__(self) -> str:
        """Show how many admins items are sealed to."""
        return f"AdminSealer(<{len(self._recipients)} admin keys>)"

    @property
    def fingerprint(self) -> str:
        """Name this admin key set: SHA-256 over its sorted key ids, in hex.

        A conversation remembers the fingerprint its items were sealed under; when the
        configured set changes (an admin revoked), those items are never submitted.
        """
        ids = sorted(key_id for key_id, _, _ in self._recipients)
        return hashlib.sha256(b"".join(ids)).hexdigest()

    def is_current(self, blob: SealedBlob) -> bool:
        """Tell whether an item or stream header is wrapped to exactly this admin key set.

        Reads only the recipient table (key ids); a malformed blob is not current.
        """
        try:
            entries, _ = parse_recipients(blob.data, READABLE_TABLE_VERSIONS)
        except CryptoError:
            return False
        return set(entries) == {key_id for key_id, _, _ in self._recipients}

    def seal_for_admins(self, plaintext: bytes, ref: ItemRef) -> SealedBlob:
        """Seal an item so only admins can read it: fresh data key, AES-256-GCM, X25519 wraps."""
        return seal_item(self._recipients, plaintext, ref)

    def start_stream(self, ref: ItemRef) -> StreamSealer:
        """Begin sealing one attachment to every admin: fresh data key, header, then chunks."""
        return start_stream(self._recipients, ref)


def seal_stream_for_admins(
    sealer: AdminSealer, ref: ItemRef, data: Iterable[bytes | bytearray | memoryview]
) -> Iterator[SealedBlob]:
    """Seal an attachment given as pieces of any size: yield the header, then each chunk.

    Memory stays constant: at most one chunk plus the current piece is held. Pieces may be
    ``bytes``, ``bytearray`` or ``memoryview``; a piece is only read until the next one is asked
    for. Arguments are checked and the header is made before this returns.
    """
    if not isinstance(sealer, AdminSealer):
        raise TypeError("expected an AdminSealer")
    stream = sealer.start_stream(ref)
    return sealed_chunks(stream, iter(data))
