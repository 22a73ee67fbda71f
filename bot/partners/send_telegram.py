"""Deliver a digest to a partner's Telegram chat as a document, through the bot's own Bot.

The partner's chat is their private chat with the bot (after they pressed Start) or a group
the bot was added to; its id is in AMANAT_PARTNERS. Telegram has no idempotency key: a try
whose answer was lost (the document arrived, the bot never heard) is sent again, and the
partner sees the same file twice under the same delivery code in its caption.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from telegram import Bot
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.i18n.translations import Translations
from bot.partners.delivery import DeliveryFailed, Sender
from bot.partners.delivery_texts import caption
from bot.partners.months import Month
from bot.partners.outbox import digest_file_name
from bot.settings import Partner
from storage.deliveries import Claimed

SEND_TIMEOUT_SECONDS: Final = 120.0
"""Reading and writing one document (10 MiB at most) to the Bot API."""


def telegram_sender(
    bot: Bot, partners: Mapping[str, Partner], translations: Translations
) -> Sender:
    """Send claimed digests with ``bot`` to the chat each partner configured."""

    async def send(claimed: Claimed) -> None:
        partner = partners.get(claimed.partner)
        if partner is None or partner.telegram_chat_id is None:
            raise DeliveryFailed("not-configured")
        month = Month.parse(claimed.month)
        try:
            await bot.send_document(
                chat_id=partner.telegram_chat_id,
                document=claimed.bundle.data,
                filename=digest_file_name(partner.name, month),
                caption=caption(translations, partner.language, month, claimed.id),
                disable_content_type_detection=True,
                read_timeout=SEND_TIMEOUT_SECONDS,
                write_timeout=SEND_TIMEOUT_SECONDS,
            )
        except RetryAfter as exc:
            raise DeliveryFailed("rate-limited", retry_after=_wait(exc)) from None
        except TelegramError as exc:
            raise DeliveryFailed(_kind(exc)) from None

    return send


def _wait(exc: RetryAfter) -> timedelta:
    """The wait Telegram asked for (seconds, or a timedelta in newer versions)."""
    asked = exc.retry_after
    return asked if isinstance(asked, timedelta) else timedelta(seconds=float(asked))


def _kind(exc: TelegramError) -> str:
    """Name a Bot API failure by its kind; its description is never kept."""
    if isinstance(exc, RetryAfter):
        return "rate-limited"
    if isinstance(exc, Forbidden):
        return "blocked"  # removed from the group, or the partner blocked the bot
    if isinstance(exc, BadRequest):
        message = exc.message.lower()
        if "chat not found" in message:
            return "blocked"
        if "too big" in message or "too large" in message:
            return "too-large"
        return "refused"
    if isinstance(exc, InvalidToken):
        return "not-configured"  # the bot's own token: no later try mends it
    if isinstance(exc, TimedOut):
        return "timeout"
    if isinstance(exc, NetworkError):
        return "unavailable"
    return "error"
