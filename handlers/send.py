"""Send rendered replies through the Bot API, the way a careful Telegram client expects.

This module owns how a reply becomes ``sendMessage`` or ``editMessageText``: inline keyboards,
``protect_content`` (no forwarding or saving of what the bot says) and Telegram's limits. It
must never log message text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit
from telegram.error import BadRequest, TelegramError

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


@dataclass
class Shown:
    """What showing replies left in the chat: new message ids, and which messages have buttons."""

    sent: list[int] = field(default_factory=list)
    """Messages sent (not edited): /wipe deletes them later."""
    with_buttons: list[int] = field(default_factory=list)
    """Messages, sent or edited, that now carry buttons."""


async def send_replies(
    bot: Bot,
    chat_id: int,
    replies: tuple[Reply, ...],
    locale: str,
    translations: Translations,
    pressed_message_id: int | None = None,
) -> list[int]:
    """Show replies in order; return the ids of the messages sent, for /wipe."""
    shown = await show_replies(bot, chat_id, replies, locale, translations, pressed_message_id)
    return shown.sent


async def show_replies(
    bot: Bot,
    chat_id: int,
    replies: tuple[Reply, ...],
    locale: str,
    translations: Translations,
    pressed_message_id: int | None = None,
) -> Shown:
    """Show replies in order; a reply marked ``edit_pressed`` replaces the pressed message."""
    shown = Shown()
    for reply in replies:
        text = render_text(reply, locale, translations)
        markup = keyboard(reply, locale, translations)
        if reply.edit_pressed and pressed_message_id is not None and len(text) <= 4096:
            try:
                await bot.edit_message_text(
                    text, chat_id=chat_id, message_id=pressed_message_id, reply_markup=markup
                )
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    log.info("edit refused (%s); sending instead", type(exc).__name__)
                    pressed_message_id = None
            if pressed_message_id is not None:
                if markup is not None:
                    shown.with_buttons.append(pressed_message_id)
                continue
        chunks = _chunks(text)
        for number, chunk in enumerate(chunks, start=1):
            last = number == len(chunks)
            message = await bot.send_message(
                chat_id, chunk, reply_markup=markup if last else None, protect_content=True
            )
            shown.sent.append(message.message_id)
            if last and markup is not None:
                shown.with_buttons.append(message.message_id)
    return shown


async def retire_buttons(bot: Bot, chat_id: int, message_ids: list[int]) -> None:
    """Take the buttons off older messages, so only the newest ones can be pressed.

    A person on a slow phone scrolls back and presses "Done" under an old message; the flow
    copes with stale buttons, but buttons that are gone confuse nobody. Failures (the message
    was deleted, or is too old) change nothing.
    """
    for message_id in message_ids:
        try:
            await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
        except TelegramError as exc:
            log.info("old buttons left in place (%s)", type(exc).__name__)


async def delete_messages(bot: Bot, chat_id: int, message_ids: tuple[int, ...]) -> list[int]:
    """Delete messages, both sides, 100 at a time; return the ids to try again later.

    Ones already gone or too old are skipped (Telegram refuses a batch none of which can be
    deleted). A batch Telegram failed to handle (a network error, a 5xx, a 429) is returned,
    so a failed wipe never forgets what it still has to delete.
    """
    kept: list[int] = []
    for start in range(0, len(message_ids), 100):
        batch = message_ids[start : start + 100]
        try:
            await bot.delete_messages(chat_id, batch)
        except BadRequest as exc:
            log.info("some messages could not be deleted (%s)", type(exc).__name__)
        except TelegramError as exc:
            log.warning("deleting messages failed (%s); kept for the next wipe", type(exc).__name__)
            kept.extend(batch)
    return kept
