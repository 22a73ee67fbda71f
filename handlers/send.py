"""Send rendered replies through the Bot API, the way a careful Telegram client expects.

This module owns how a reply becomes ``sendMessage`` or ``editMessageText``: inline keyboards,
``protect_content`` (no forwarding or saving of what the bot says) and Telegram's limits. It
must never log message text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Final, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.i18n.translations import Translations
from bot.intake.render import render_label, render_text
from bot.intake.values import Reply

log = logging.getLogger(__name__)

T = TypeVar("T")

SEND_ATTEMPTS: Final = 4
"""Tries of one message, the first included: Telegram's 5xx and dropped connections pass."""
LONGEST_WAIT: Final = 30.0
"""Seconds one retry may wait; a 429 asking for longer is not waited out in the handler."""


@dataclass(frozen=True)
class Patience:
    """How a message Telegram failed to take is tried again (``AMANAT_SEND_*`` settings)."""

    attempts: int = SEND_ATTEMPTS
    first_wait: float = 1.0
    longest_wait: float = LONGEST_WAIT


PATIENT: Final = Patience()


async def patiently(call: Callable[[], Awaitable[T]], patience: Patience = PATIENT) -> T:
    """Make one Bot API call, trying again after a 429, a 5xx or a dropped connection.

    A 429 is waited out as Telegram asks (``retry_after``); other passing failures after 1,
    2 and 4 seconds (``first_wait`` doubled). Refusals (400, 403) are never tried again:
    they would fail the same way.
    A timeout may mean Telegram did take the message; sending it again risks a duplicate,
    which is better than a reporter without their receipt.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except (BadRequest, Forbidden):
            raise
        except RetryAfter as exc:
            wait = _seconds(exc.retry_after)
            if attempt >= patience.attempts or wait > patience.longest_wait:
                raise
        except NetworkError:
            if attempt >= patience.attempts:
                raise
            wait = min(patience.first_wait * 2 ** (attempt - 1), patience.longest_wait)
        log.info("the Bot API failed a call; trying again in %.1f s", wait)
        await asyncio.sleep(wait)
        attempt += 1


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


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
    edited: list[int] = field(default_factory=list)
    """Messages edited: their buttons are whatever the edit gave them, nothing to retire."""


async def send_replies(
    bot: Bot,
    chat_id: int,
    replies: tuple[Reply, ...],
    locale: str,
    translations: Translations,
    pressed_message_id: int | None = None,
    *,
    patience: Patience = PATIENT,
) -> list[int]:
    """Show replies in order; return the ids of the messages sent, for /wipe."""
    shown = await show_replies(
        bot, chat_id, replies, locale, translations, pressed_message_id, patience=patience
    )
    return shown.sent


async def show_replies(
    bot: Bot,
    chat_id: int,
    replies: tuple[Reply, ...],
    locale: str,
    translations: Translations,
    pressed_message_id: int | None = None,
    *,
    shown: Shown | None = None,
    patience: Patience = PATIENT,
) -> Shown:
    """Show replies in order; a reply marked ``edit_pressed`` replaces the pressed message.

    ``shown`` is filled as messages go out, so that a caller whose call fails half-way still
    knows which messages reached the chat (and must be deleted by /wipe).
    """
    shown = Shown() if shown is None else shown
    for reply in replies:
        text = render_text(reply, locale, translations)
        markup = keyboard(reply, locale, translations)
        if reply.edit_pressed and pressed_message_id is not None and len(text) <= 4096:
            edit = partial(
                bot.edit_message_text,
                text,
                chat_id=chat_id,
                message_id=pressed_message_id,
                reply_markup=markup,
            )
            try:
                await patiently(edit, patience)
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    log.info("edit refused (%s); sending instead", type(exc).__name__)
                    pressed_message_id = None
            if pressed_message_id is not None:
                shown.edited.append(pressed_message_id)
                if markup is not None:
                    shown.with_buttons.append(pressed_message_id)
                continue
        chunks = _chunks(text)
        for number, chunk in enumerate(chunks, start=1):
            last = number == len(chunks)
            send = partial(
                bot.send_message,
                chat_id,
                chunk,
                reply_markup=markup if last else None,
                protect_content=True,
            )
            message = await patiently(send, patience)
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
