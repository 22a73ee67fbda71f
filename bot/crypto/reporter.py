"""Seal the team's answers so that only the holder of a receipt code can read them.

Format: ``docs/crypto.md`` §13: one version byte, then HPKE base mode (X25519, HKDF-SHA256,
ChaCha20-Poly1305) to the reporter's public key, with ``info`` binding the answer to its
report, kind and index. The private half is derived from the code
(:meth:`bot.crypto.server.ServerKeys.reporter_key`) only while ``/status`` is handled.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from bot.crypto.constants import HPKE_SUITE, KEY_SIZE
from bot.crypto.encoding import lp
from bot.crypto.errors import CryptoError, TamperedCiphertext, UnsupportedFormat
from bot.crypto.values import ItemRef, SealedBlob

_REPLY_MAGIC = b"AMANAT-REPLY"
_REPLY_VERSION = 1


class ReporterKey:
    """A reporter's reply key pair, derived from the receipt code; never stored or printed."""

    __slots__ = ("_private",)

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key

    def __repr__(self) -> str:
        return "ReporterKey(<hidden>)"

    def public_bytes(self) -> bytes:
        """Return the 32-byte public key stored with the report so admins can reply."""
        raw: bytes = self._private.public_key().public_bytes_raw()
        return raw

    def open_reply(self, blob: SealedBlob, ref: ItemRef) -> bytes:
        """Open a reply sealed by :func:`seal_for_reporter` to this key."""
        data = blob.data
        if len(data) < 2 or data[0] != _REPLY_VERSION:
            raise (
                UnsupportedFormat if data[:1] and data[0] != _REPLY_VERSION else TamperedCiphertext
            )
        try:
            return HPKE_SUITE.decrypt(data[1:], self._private, info=_reply_info(ref))
        except Exception:
            raise TamperedCiphertext from None


def seal_for_reporter(plaintext: bytes, reporter_public_key: bytes, ref: ItemRef) -> SealedBlob:
    """Seal an admin's reply so that only the holder of the receipt code can read it (HPKE).

    Layout: one version byte, then HPKE base-mode output (X25519, HKDF-SHA256,
    ChaCha20-Poly1305) with ``info`` binding the reply to its report, kind and index.
    """
    if len(reporter_public_key) != KEY_SIZE:
        raise CryptoError("a reporter public key has 32 bytes")
    public = X25519PublicKey.from_public_bytes(reporter_public_key)
    sealed = HPKE_SUITE.encrypt(plaintext, public, info=_reply_info(ref))
    return SealedBlob(bytes([_REPLY_VERSION]) + sealed)


def _reply_info(ref: ItemRef) -> bytes:
    """Bind a reply to its report, kind and index, apart from admin-sealed items."""
    return lp(_REPLY_MAGIC, bytes([_REPLY_VERSION]), *ref.binding()[2:])
