"""Deliver a digest to a partner's HTTPS webhook: the age file as the body, signed with HMAC.

Each try is a POST of the file (``application/octet-stream``) with the headers of
``docs/partner-guide.md`` §11: ``Amanat-Delivery`` (the delivery id, the same on every try, to
drop duplicates by), ``Amanat-Timestamp`` and ``Amanat-Signature`` (:mod:`bot.crypto.webhook`).
Certificates are checked; redirects are not followed (the file goes to the configured URL or
nowhere). A 2xx answer is delivered; the answer's body is never read into a log or the outbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Final

import aiohttp

from bot.crypto.webhook import sign_webhook_delivery
from bot.partners.delivery import DELIVERY_HEADER, DeliveryFailed, Sender
from bot.partners.months import Month
from bot.partners.outbox import digest_file_name
from bot.settings import Partner
from storage.deliveries import Claimed

WEBHOOK_TIMEOUT: Final = aiohttp.ClientTimeout(total=120, connect=20)
TIMESTAMP_HEADER: Final = "Amanat-Timestamp"
SIGNATURE_HEADER: Final = "Amanat-Signature"
PARTNER_HEADER: Final = "Amanat-Partner"
MONTH_HEADER: Final = "Amanat-Month"

Secrets = Callable[[str], bytes]
"""A partner's webhook secret by name (``Settings.partner_webhook_key``); KeyError if none."""


def webhook_sender(
    partners: Mapping[str, Partner],
    secrets: Secrets,
    *,
    clock: Callable[[], float] = time.time,
) -> Sender:
    """POST claimed digests to each partner's webhook, signed with its own secret."""

    async def send(claimed: Claimed) -> None:
        partner = partners.get(claimed.partner)
        if partner is None or partner.webhook_url is None:
            raise DeliveryFailed("not-configured")
        try:
            secret = secrets(partner.name)
        except KeyError:
            raise DeliveryFailed("not-configured") from None
        body = claimed.bundle.data
        moment = int(clock())
        name = digest_file_name(partner.name, Month.parse(claimed.month))
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{name}"',
            DELIVERY_HEADER: claimed.id,
            TIMESTAMP_HEADER: str(moment),
            PARTNER_HEADER: partner.name,
            MONTH_HEADER: claimed.month,
            SIGNATURE_HEADER: sign_webhook_delivery(
                secret, moment, claimed.id, partner.name, claimed.month, body
            ),
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=WEBHOOK_TIMEOUT) as session,
                session.post(
                    partner.webhook_url, data=body, headers=headers, allow_redirects=False
                ) as response,
            ):
                status = response.status
        except aiohttp.ClientSSLError:
            raise DeliveryFailed("tls") from None
        except TimeoutError:
            raise DeliveryFailed("timeout") from None
        except (aiohttp.ClientError, OSError):
            raise DeliveryFailed("unavailable") from None
        if not 200 <= status < 300:
            raise DeliveryFailed(_status_kind(status))

    return send


def _status_kind(status: int) -> str:
    """Name a refusal by its HTTP status alone."""
    if status == 413:
        return "too-large"
    if status == 429:
        return "rate-limited"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "unavailable"
    return "refused"  # 3xx (not followed), 401/403 (the signature), other 4xx
