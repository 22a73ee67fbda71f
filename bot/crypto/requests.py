"""Sign and check admin API requests, so that only an admin's own machine can act as them.

Format: ``docs/crypto.md`` §18. The admin's machine signs a digest of the request line, the
time, a fresh nonce and the body's hash with the Ed25519 key derived from their admin key
(§3), under its own prefix so that a request signature can never pass for an audit
signature (§14) or the other way round. The server checks the signature against the signing
key in the admin's configured public key line; freshness (time and nonce) is the server's
policy, not part of this module. Pure: no clock, no storage.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bot.crypto.encoding import i64, lp
from bot.crypto.errors import CryptoError

REQUEST_MAGIC: Final = b"AMANAT-ADMIN-REQUEST"
REQUEST_SIGNATURE_MAGIC: Final = b"AMANAT-ADMIN-REQUEST-SIG-1"
REQUEST_VERSION: Final = 1
NONCE_SIZE: Final = 16
SIGNATURE_SIZE: Final = 64
MAX_TARGET_BYTES: Final = 2048
"""The longest path and query a request may name."""


@dataclass(frozen=True)
class SignedRequest:
    """What the signature covers: one request, at one moment, once."""

    method: str
    target: str
    """The path and query exactly as sent, e.g. ``/v1/queue?page=2``."""
    timestamp: int
    """Unix seconds on the admin's machine."""
    nonce: bytes
    body: bytes

    def __post_init__(self) -> None:
        """Refuse a request that could not be encoded one way only."""
        if not self.method.isascii() or not self.method.isupper() or not self.method:
            raise CryptoError("a request method is upper-case ASCII")
        if not self.target.startswith("/") or not self.target.isascii():
            raise CryptoError("a request target is an ASCII path")
        if len(self.target) > MAX_TARGET_BYTES or any(c in self.target for c in "\r\n "):
            raise CryptoError("a request target is one short line")
        if len(self.nonce) != NONCE_SIZE:
            raise CryptoError(f"a request nonce is {NONCE_SIZE} bytes")

    def digest(self) -> bytes:
        """SHA-256 of LP(magic, version, method, target, i64(time), nonce, SHA-256(body))."""
        return hashlib.sha256(
            lp(
                REQUEST_MAGIC,
                bytes([REQUEST_VERSION]),
                self.method.encode("ascii"),
                self.target.encode("ascii"),
                i64(self.timestamp),
                self.nonce,
                hashlib.sha256(self.body).digest(),
            )
        ).digest()


def signed_message(digest: bytes) -> bytes:
    """The bytes Ed25519 signs: the request prefix, then the request's digest."""
    return REQUEST_SIGNATURE_MAGIC + digest


def signature_holds(signing_key: bytes, signature: bytes, request: SignedRequest) -> bool:
    """Tell whether ``signature`` is the holder of ``signing_key`` signing ``request``."""
    if len(signature) != SIGNATURE_SIZE or len(signing_key) != 32:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(signing_key).verify(
            signature, signed_message(request.digest())
        )
    except (InvalidSignature, ValueError):
        return False
    return True
