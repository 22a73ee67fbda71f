"""Sign a digest delivery to a partner's webhook, so the partner knows it came from the team.

Format (``docs/partner-guide.md`` §11): HMAC-SHA256, keyed with the partner's secret, over

    b"amanat-webhook-v1\n" + timestamp + b"\n" + delivery id + b"\n" + partner + b"\n"
    + month + b"\n" + body

sent as ``Amanat-Signature: v1=<hex>``. The timestamp (Unix seconds) lets a receiver refuse an
old request replayed; the delivery id, signed too, is what it drops duplicates by; the body is
the age file itself. age makes the file unreadable to anyone but the partner, but anybody can
encrypt to a public key: this signature is what tells the partner who sent it.
"""

from __future__ import annotations

import hmac
from hashlib import sha256
from typing import Final

SIGNATURE_VERSION: Final = "v1"
_CONTEXT: Final = b"amanat-webhook-v1\n"


def _signed_bytes(timestamp: int, delivery_id: str, partner: str, month: str, body: bytes) -> bytes:
    head = f"{timestamp}\n{delivery_id}\n{partner}\n{month}\n".encode("ascii")
    return _CONTEXT + head + body


def sign_webhook_delivery(
    secret: bytes, timestamp: int, delivery_id: str, partner: str, month: str, body: bytes
) -> str:
    """The ``Amanat-Signature`` header value for one delivery try (HMAC-SHA256, hex)."""
    if len(secret) < 32:
        raise ValueError("a webhook secret has at least 32 bytes")
    mac = hmac.new(secret, _signed_bytes(timestamp, delivery_id, partner, month, body), sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def webhook_signature_holds(
    secret: bytes,
    header: str,
    timestamp: int,
    delivery_id: str,
    partner: str,
    month: str,
    body: bytes,
) -> bool:
    """Check a signature header as a receiver does, in constant time."""
    expected = sign_webhook_delivery(secret, timestamp, delivery_id, partner, month, body)
    return hmac.compare_digest(expected.encode("ascii"), header.encode("utf-8", "replace"))
