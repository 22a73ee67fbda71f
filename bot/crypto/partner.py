"""Encrypt a file to a partner organisation's own age key, so no partner runs our code.

Format: ``docs/crypto.md`` §15: age v1 (``pyrage``, the Python binding of ``rage``) to every one
of the partner's X25519 recipients, ASCII-armoured so the file survives e-mail and chat apps.
The partner opens it with the standard ``age`` or ``rage`` tool and their identity file
(``age -d -i key.txt amanat-digest-….zip.age > digest.zip``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pyrage  # type: ignore[import-untyped]


def seal_for_partner(content: str | bytes, recipients: Sequence[str]) -> bytes:
    """Encrypt a routed case (text) or a digest archive (bytes) to every one of the partner's
    age keys, ASCII-armoured."""
    keys = [pyrage.x25519.Recipient.from_str(recipient) for recipient in recipients]
    data = content.encode("utf-8") if isinstance(content, str) else content
    sealed: bytes = pyrage.encrypt(data, keys, armored=True)
    return sealed


AGE_HEADER: Final = b"age-encryption.org/v1\n"
ARMOR_BEGIN: Final = b"-----BEGIN AGE ENCRYPTED FILE-----"
MAX_PARTNER_FILE_BYTES: Final = 10 * 1024 * 1024
"""The largest file the outbox takes: below e-mail servers' usual limit (and Telegram's 50 MB)."""


def looks_sealed_for_partner(data: bytes) -> bool:
    """Tell whether ``data`` is an age file (binary, or armoured as :func:`seal_for_partner`
    writes it); it cannot tell to whom, since age headers name no recipient."""
    if data.startswith(AGE_HEADER):
        return True
    if not data.startswith(ARMOR_BEGIN + b"\n"):
        return False
    first = data[len(ARMOR_BEGIN) + 1 :].split(b"\n", 1)[0]
    try:
        return base64.b64decode(first[:64], validate=True).startswith(AGE_HEADER)
    except (binascii.Error, ValueError):
        return False


@dataclass(frozen=True, repr=False)
class SealedForPartner:
    """An age file only a partner's identity opens: the one thing the outbox stores and sends.

    Like :class:`~bot.crypto.values.SealedBlob` for the admins' ciphertext, it refuses what is
    not sealed, so a plaintext can never be queued by mistake.
    """

    data: bytes

    def __post_init__(self) -> None:
        """Refuse anything but a bounded age file."""
        if not isinstance(self.data, bytes):
            raise TypeError("SealedForPartner holds bytes only")
        if len(self.data) > MAX_PARTNER_FILE_BYTES:
            raise ValueError("the file is larger than the outbox takes (10 MiB)")
        if not looks_sealed_for_partner(self.data):
            raise ValueError("not an age-encrypted file")

    def __repr__(self) -> str:
        """Show only the size."""
        return f"SealedForPartner(<{len(self.data)} bytes>)"
