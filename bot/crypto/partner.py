"""Encrypt a file to a partner organisation's own age key, so no partner runs our code.

Format: ``docs/crypto.md`` §15: age v1 (``pyrage``, the Python binding of ``rage``) to every one
of the partner's X25519 recipients, ASCII-armoured so the file survives e-mail and chat apps.
The partner opens it with the standard ``age`` or ``rage`` tool and their identity file
(``age -d -i key.txt amanat-digest-….zip.age > digest.zip``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyrage  # type: ignore[import-untyped]


def seal_for_partner(content: str | bytes, recipients: Sequence[str]) -> bytes:
    """Encrypt a routed case (text) or a digest archive (bytes) to every one of the partner's
    age keys, ASCII-armoured."""
    keys = [pyrage.x25519.Recipient.from_str(recipient) for recipient in recipients]
    data = content.encode("utf-8") if isinstance(content, str) else content
    sealed: bytes = pyrage.encrypt(data, keys, armored=True)
    return sealed
