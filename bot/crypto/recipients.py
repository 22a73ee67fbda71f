"""Wrap a data key to every admin: the recipient table at the head of items and streams.

Format: ``docs/crypto.md`` §4.3 (the table: version, count, then one entry per admin key id),
§4.2 and §4.6 (the two wraps: the X25519 + HKDF + AES-256-GCM wrap of item v2, HPKE base mode
for item v1 and stream v1 entries). Items and streams differ in what follows the table and in the
binding each entry's info carries; both build and read the table here.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.crypto.constants import HPKE_SUITE, KEY_ID_SIZE, KEY_SIZE, NONCE_SIZE, TAG_SIZE
from bot.crypto.errors import CryptoError, NotARecipient, TamperedCiphertext, UnsupportedFormat
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.values import ItemRef, SealedBlob

_HPKE_ENC_SIZE = 32
WRAPPED_KEY_SIZE = _HPKE_ENC_SIZE + KEY_SIZE + TAG_SIZE  # enc || sealed data key
_WRAP_V2_NONCE = bytes(NONCE_SIZE)  # each v2 wrap key encrypts exactly one message
WRAPPED_KEY_LENGTH = struct.pack(">H", WRAPPED_KEY_SIZE)  # the u16 L of every entry
LP_KEY_ID = struct.pack(">I", KEY_ID_SIZE)  # the length prefix of a key id in an info
MAX_RECIPIENTS = 255

# --- wrapping data keys --------------------------------------------------------------------

# A wrap puts one data key into an 80-byte recipient entry, `enc || wrapped key`, from the
# recipient's public key (as an object and as raw bytes), the data key and the info that binds
# the entry. Item v1 and stream v1 entries use HPKE; item v2 entries use the X25519 wrap.
Wrap = Callable[[X25519PublicKey, bytes, bytes, bytes], bytes]
# An unwrap reverses it, from the entry, the admin's key and the same info; it raises
# TamperedCiphertext on any failure.
Unwrap = Callable[[bytes, "AdminPrivateKey", bytes], bytes]


def hpke_wrap(public: X25519PublicKey, public_raw: bytes, data_key: bytes, info: bytes) -> bytes:
    """Wrap a data key with HPKE base mode (item v1 and stream v1 entries)."""
    return HPKE_SUITE.encrypt(data_key, public, info=info)


def hpke_unwrap(wrapped: bytes, key: AdminPrivateKey, info: bytes) -> bytes:
    """Open an HPKE-wrapped data key."""
    try:
        return key.hpke_open(wrapped, info)
    except InvalidTag:
        raise TamperedCiphertext() from None


def _x25519_wrap_key(shared: bytes, enc: bytes, recipient_raw: bytes, info: bytes) -> bytes:
    """Derive a v2 wrap key: HKDF-SHA256 of the X25519 secret, salted with both public keys."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_SIZE, salt=enc + recipient_raw, info=info
    ).derive(shared)


def x25519_wrap(public: X25519PublicKey, public_raw: bytes, data_key: bytes, info: bytes) -> bytes:
    """Wrap a data key the item v2 way: age's X25519 recipient stanza, with AES-256-GCM.

    The X25519 work is HPKE's (one ephemeral key, one exchange); what goes is HPKE's labelled
    key schedule, seven HMACs per wrap, which took item sealing from about 0.6 to about 0.8
    of libsodium's sealed box (benchmarks/seal.py).
    """
    ephemeral = X25519PrivateKey.generate()
    enc = ephemeral.public_key().public_bytes_raw()
    wrap_key = _x25519_wrap_key(ephemeral.exchange(public), enc, public_raw, info)
    return enc + AESGCM(wrap_key).encrypt(_WRAP_V2_NONCE, data_key, None)


def x25519_unwrap(wrapped: bytes, key: AdminPrivateKey, info: bytes) -> bytes:
    """Open a v2-wrapped data key; a low-order `enc` or any altered byte is tampering."""
    enc = wrapped[:_HPKE_ENC_SIZE]
    try:
        shared = key.exchange(enc)
    except ValueError:  # the shared secret came out all zero: enc is a low-order point
        raise TamperedCiphertext() from None
    wrap_key = _x25519_wrap_key(shared, enc, key.public_raw, info)
    try:
        return AESGCM(wrap_key).decrypt(_WRAP_V2_NONCE, wrapped[_HPKE_ENC_SIZE:], None)
    except InvalidTag:
        raise TamperedCiphertext() from None


Recipient = tuple[bytes, X25519PublicKey, bytes]
"""One admin as a wrap needs it: key id, public key object, raw public key."""


def recipients_of(public_keys: Sequence[AdminPublicKey]) -> tuple[Recipient, ...]:
    """Check an admin key set once: refuse none, duplicates or more than a table can list."""
    keys = tuple(public_keys)
    if not keys:
        raise CryptoError("no admin public keys: nothing could ever be opened")
    if not all(isinstance(key, AdminPublicKey) for key in keys):
        raise TypeError("expected AdminPublicKey values")
    if len(keys) > MAX_RECIPIENTS:
        raise CryptoError("too many admin public keys")
    ids = [key._key_id_bytes for key in keys]
    if len(set(ids)) != len(ids):
        raise CryptoError("duplicate admin public key")
    return tuple(
        (key_id, X25519PublicKey.from_public_bytes(key.raw), key.raw)
        for key_id, key in zip(ids, keys, strict=True)
    )


def recipient_table(
    recipients: Sequence[Recipient], version: int, data_key: bytes, binding: bytes, wrap: Wrap
) -> bytes:
    """Lay out version, count and one wrapped copy of the data key per recipient.

    Each entry's info is the encoded binding followed by ``LP(key id)``.
    """
    parts = [bytes([version, len(recipients)])]
    for key_id, public, public_raw in recipients:
        wrapped = wrap(public, public_raw, data_key, binding + LP_KEY_ID + key_id)
        if len(wrapped) != WRAPPED_KEY_SIZE:  # the entry length below is fixed
            raise CryptoError("a wrapped data key has an unexpected size")
        parts.append(key_id + WRAPPED_KEY_LENGTH + wrapped)
    return b"".join(parts)


def tampered() -> NoReturn:
    """Raise the one error every malformed or truncated blob gets."""
    raise TamperedCiphertext()


def parse_recipients(data: bytes, versions: tuple[int, ...]) -> tuple[dict[bytes, bytes], int]:
    """Read the version byte and recipient table; return the entries and where they end."""
    if not data:
        tampered()
    if data[0] not in versions:
        raise UnsupportedFormat()
    if len(data) < 2 or data[1] == 0:
        tampered()
    pos = 2
    entries: dict[bytes, bytes] = {}
    for _ in range(data[1]):
        if len(data) < pos + KEY_ID_SIZE + 2:
            tampered()
        key_id = data[pos : pos + KEY_ID_SIZE]
        (size,) = struct.unpack(">H", data[pos + KEY_ID_SIZE : pos + KEY_ID_SIZE + 2])
        pos += KEY_ID_SIZE + 2
        if size != WRAPPED_KEY_SIZE or len(data) < pos + size or key_id in entries:
            tampered()
        entries[key_id] = data[pos : pos + size]
        pos += size
    return entries, pos


def unwrap_entry(
    entries: dict[bytes, bytes], key: AdminPrivateKey, binding: bytes, unwrap: Unwrap
) -> bytes:
    """Find this admin's entry and open the data key in it (info: binding, then LP(key id))."""
    wrapped = entries.get(key.key_id_bytes)
    if wrapped is None:
        raise NotARecipient()
    return unwrap(wrapped, key, binding + LP_KEY_ID + key.key_id_bytes)


def check_blob(blob: SealedBlob, ref: ItemRef, key: AdminPrivateKey) -> None:
    """Fail fast with TypeError on arguments of the wrong type (a programming error)."""
    if not isinstance(blob, SealedBlob):
        raise TypeError("expected a SealedBlob")
    if not isinstance(ref, ItemRef):
        raise TypeError("expected an ItemRef")
    if not isinstance(key, AdminPrivateKey):
        raise TypeError("expected an AdminPrivateKey")
