"""Send rendered replies through the Bot API, the way a careful Telegram client expects.

This module owns how a reply becomes ``sendMessage`` or ``editMessageText``: inline keyboards,
``protect_content`` (no forwarding or saving of what the bot says) and Telegram's limits. It
must never log message text.
"""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit
from telegram.error import BadRequest

from bot.i18n.translations import Translations
from bot.intake.render import render_label, render_text
from bot.intake.values import Reply

log = logging.getLogger(__name__)


def keyboard(reply: Reply, locale: str, translations: Translations) -> InlineKeyboardMarkup | None:
    """Build the inline keyboard of a reply; buttons route on callback ids, never on labels."""
    if not reply.keyboard:
        return None
    rows = [
        [
            InlineKeyboardButton(
                render_label(button, locale, translations), callback_data=button.data
            )
            for button in row
        ]
        for row in reply.keyboard
    ]
    return InlineKeyboardMarkup(rows)


def _chunks(text: str) -> list[str]:
    """Split text that Telegram would refuse, at line ends where possible."""
    limit = MessageLimit.MAX_TEXT_LENGTH
    chunks: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        chunks.append(text[:cut])
        text = text[cut:].lstrip("\n")
    chunks.append(text)
    return chunks


async def send_replies(
    bot: Bot,
    chat_id: int,
    replies: tuple[Reply, ...],
    locale: str,
    translations: Translations,
    pressed_message_id: int | None = None,
) -> list[int]:
    """Show replies in order; a reply marked ``edit_pressed`` replaces the pressed message.

    Returns the ids of the messages sent, so that /wipe can delete them later.
    """
    sent: list[int] = []
    for reply in replies:
        text = render_text(reply, locale, translations)
        markup = keyboard(reply, locale, translations)
        if reply.edit_pressed and pressed_message_id is not None and len(text) <= 4096:
            try:
                await bot.edit_message_text(
                    text, chat_id=chat_id, message_id=pressed_message_id, reply_markup=markup
                )
                continue
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    continue
                log.info("edit refused (%s); sending instead", type(exc).__name__)
        chunks = _chunks(text)
        for number, chunk in enumerate(chunks, start=1):
            message = await bot.send_message(
                chat_id,
                chunk,
                reply_markup=markup if number == len(chunks) else None,
                protect_content=True,
            )
            sent.append(message.message_id)
    return sent


async def delete_messages(bot: Bot, chat_id: int, message_ids: tuple[int, ...]) -> None:
    """Delete messages, both sides, 100 at a time; ones already gone or too old are skipped."""
    for start in range(0, len(message_ids), 100):
        batch = message_ids[start : start + 100]
        try:
            await bot.delete_messages(chat_id, batch)
        except BadRequest as exc:
            # Telegram refuses the batch when none of it can be deleted (older than 48 hours).
            log.info("some messages could not be deleted (%s)", type(exc).__name__)
