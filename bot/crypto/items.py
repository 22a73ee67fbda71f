"""Seal one item to the admins and open it with an admin key: sealed item formats v1 and v2.

Format: ``docs/crypto.md`` §4. A fresh data key encrypts the content (v2: AES-256-GCM; v1:
ChaCha20-Poly1305) under associated data that binds it to its report, kind and index; the
recipient table (:mod:`bot.crypto.recipients`) wraps that key to every admin. v2 is written,
v1 is still read and re-wrapped, never rewritten in v2 (its content would have to change).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from bot.crypto.constants import (
    ITEM_FORMAT_VERSION,
    ITEM_FORMAT_VERSIONS_READ,
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
)
from bot.crypto.errors import TamperedCiphertext
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.recipients import (
    Recipient,
    Unwrap,
    Wrap,
    check_blob,
    hpke_unwrap,
    hpke_wrap,
    parse_recipients,
    recipient_table,
    recipients_of,
    tampered,
    unwrap_entry,
    x25519_unwrap,
    x25519_wrap,
)
from bot.crypto.values import ItemRef, SealedBlob

_ContentCipher = type[AESGCM] | type[ChaCha20Poly1305]
# Per sealed-item format version: the wrap, the unwrap and the content AEAD (docs/crypto.md §4).
ITEM_FORMATS: Mapping[int, tuple[Wrap, Unwrap, _ContentCipher]] = MappingProxyType(
    {
        1: (hpke_wrap, hpke_unwrap, ChaCha20Poly1305),
        2: (x25519_wrap, x25519_unwrap, AESGCM),
    }
)


def seal_item(recipients: Sequence[Recipient], plaintext: bytes, ref: ItemRef) -> SealedBlob:
    """Seal an item so only admins can read it: fresh data key, AES-256-GCM, X25519 wraps."""
    if not isinstance(plaintext, bytes):
        raise TypeError("plaintext must be bytes")
    version = ITEM_FORMAT_VERSION
    cipher = ITEM_FORMATS[version][2]
    data_key = secrets.token_bytes(KEY_SIZE)
    nonce = secrets.token_bytes(NONCE_SIZE)
    aad = ref.content_aad(version)
    ciphertext = cipher(data_key).encrypt(nonce, plaintext, aad)
    return SealedBlob(item_header(recipients, version, data_key, aad) + nonce + ciphertext)


def item_header(
    recipients: Sequence[Recipient], version: int, data_key: bytes, aad: bytes
) -> bytes:
    """Wrap the data key to every recipient the way `version` does; lay out the header."""
    return recipient_table(recipients, version, data_key, aad, ITEM_FORMATS[version][0])


class _ParsedItem(NamedTuple):
    """Hold the fields of a sealed blob after structural checks."""

    version: int
    entries: dict[bytes, bytes]
    nonce: bytes
    ciphertext: bytes


def _parse_item(data: bytes) -> _ParsedItem:
    """Split a v1 or v2 blob into recipient entries, nonce and ciphertext; reject malformation."""
    entries, pos = parse_recipients(data, ITEM_FORMAT_VERSIONS_READ)
    if len(data) < pos + NONCE_SIZE + TAG_SIZE:
        tampered()
    nonce, ciphertext = data[pos : pos + NONCE_SIZE], data[pos + NONCE_SIZE :]
    return _ParsedItem(data[0], entries, nonce, ciphertext)


def _open_parsed(parsed: _ParsedItem, ref: ItemRef, key: AdminPrivateKey) -> tuple[bytes, bytes]:
    """Unwrap the data key for this admin and decrypt the content; return (data key, text)."""
    _, unwrap, cipher = ITEM_FORMATS[parsed.version]
    aad = ref.content_aad(parsed.version)
    data_key = unwrap_entry(parsed.entries, key, aad, unwrap)
    try:
        plaintext = cipher(data_key).decrypt(parsed.nonce, parsed.ciphertext, aad)
    except InvalidTag:
        raise TamperedCiphertext() from None
    return data_key, plaintext


def open_with_admin_key(blob: SealedBlob, ref: ItemRef, key: AdminPrivateKey) -> bytes:
    """Open a sealed item (v2 or v1) with an admin's private key: unwrap, then decrypt."""
    check_blob(blob, ref, key)
    return _open_parsed(_parse_item(blob.data), ref, key)[1]


def rewrap_for_admins(
    blob: SealedBlob,
    ref: ItemRef,
    key: AdminPrivateKey,
    new_public_keys: Sequence[AdminPublicKey],
) -> SealedBlob:
    """Re-wrap an item's data key to a new set of admins, leaving the content bytes unchanged.

    The blob keeps its format version: a v1 item's content is ChaCha20-Poly1305 under its
    version-1 binding, so only v1 wraps can sit in front of it.
    """
    check_blob(blob, ref, key)
    recipients = recipients_of(new_public_keys)
    parsed = _parse_item(blob.data)
    data_key, _ = _open_parsed(parsed, ref, key)  # authenticates content before re-wrapping
    header = item_header(recipients, parsed.version, data_key, ref.content_aad(parsed.version))
    return SealedBlob(header + parsed.nonce + parsed.ciphertext)
