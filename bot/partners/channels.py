"""Put the outbox together from the settings: one sender per channel, the backoff, the clock.

The composition root (:mod:`bot.app`) calls :func:`outbox_for` in the delivery job with the
bot's own ``Bot``; tests call it with theirs and a clock they move.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot

from bot.i18n.translations import Translations
from bot.partners.delivery import Backoff, Outbox
from bot.partners.delivery_audit import lead_signing_keys
from bot.partners.send_email import SmtpServer, email_sender
from bot.partners.send_telegram import telegram_sender
from bot.partners.send_webhook import webhook_sender
from bot.settings import Settings
from storage.db import session_factory


def backoff_of(settings: Settings) -> Backoff:
    """AMANAT_DELIVERY_ATTEMPTS, _RETRY_SECONDS and _RETRY_CAP_SECONDS."""
    return Backoff(
        attempts=settings.delivery_attempts,
        first_wait=timedelta(seconds=settings.delivery_retry_seconds),
        cap=timedelta(seconds=settings.delivery_retry_cap_seconds),
    )


def outbox_for(
    settings: Settings,
    engine: AsyncEngine,
    translations: Translations,
    bot: Bot,
    *,
    clock: Callable[[], datetime] | None = None,
) -> Outbox:
    """The delivery job's work: every channel the settings can serve, bound to ``bot``."""
    partners = {partner.name: partner for partner in settings.partners}
    now = clock or (lambda: datetime.now(UTC))
    senders = {
        "telegram": telegram_sender(bot, partners, translations),
        "email": email_sender(SmtpServer.from_settings(settings), partners, translations),
        "webhook": webhook_sender(
            partners, settings.partner_webhook_key, clock=lambda: now().timestamp()
        ),
    }
    return Outbox(
        session_factory(engine),
        senders,
        backoff_of(settings),
        now,
        lead_signing_keys(settings),
    )
