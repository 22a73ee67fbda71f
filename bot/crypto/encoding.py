"""Encode fields canonically: length prefixes, fixed-width integers, strict base64.

Every associated data, HKDF info and MAC input in ``docs/crypto.md`` (§2) is built
from these, so that no two different field lists ever encode to the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import struct

from bot.crypto.errors import CryptoError

PACK_U32 = struct.Struct(">I")
PACK_I64 = struct.Struct(">q")


def lp(*fields: bytes) -> bytes:
    """Join fields unambiguously: each one as a 4-byte big-endian length, then its bytes."""
    return b"".join([PACK_U32.pack(len(field)) + field for field in fields])


def i64(value: int) -> bytes:
    """Encode an integer as 8-byte big-endian two's complement, refusing what does not fit."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an int")
    if not -(2**63) <= value < 2**63:
        raise ValueError("integer out of the 64-bit range")
    return struct.pack(">q", value)


def encode_text(value: str, *, max_bytes: int) -> bytes:
    """Encode a non-empty identifier as UTF-8, refusing what cannot be encoded canonically."""
    if not isinstance(value, str):
        raise TypeError("expected a str")
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("identifier is not valid text") from None
    if not 0 < len(raw) <= max_bytes:
        raise ValueError("identifier is empty or too long")
    return raw


def b64encode(raw: bytes) -> str:
    """Encode bytes as URL-safe base64 without padding, the only base64 our formats write."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64decode(text: object, *, size: int | None = None) -> bytes:
    """Decode strict unpadded URL-safe base64 (canonical only), raising CryptoError otherwise."""
    if not isinstance(text, str) or not text.isascii() or "=" in text:
        raise CryptoError("malformed base64 field")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if any(ch not in alphabet for ch in text):
        raise CryptoError("malformed base64 field")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CryptoError("malformed base64 field") from None
    if b64encode(raw) != text or (size is not None and len(raw) != size):
        raise CryptoError("malformed base64 field")
    return raw
