"""Feed private-chat updates to the intake service and show what it answers.

Thin by design: classify the update, call :class:`bot.intake.IntakeService`, send the replies.
It must never read or log message content itself, and never answer before the service has
committed.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass

from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from bot.i18n.translations import Translations, locale_from_telegram, use_locale
from bot.intake.replies import wipe_failed_replies
from bot.intake.service import FileFetcher, Inbound, IntakeService
from bot.metrics import Metrics
from handlers.events import event_from_update
from handlers.send import (
    PATIENT,
    Patience,
    Shown,
    delete_messages,
    retire_buttons,
    show_replies,
)

log = logging.getLogger(__name__)

TRANSPORT = "telegram"
LIVE_BUTTONS = "live_buttons"
"""Key in PTB's per-chat memory: the messages whose buttons can still be pressed (ids only)."""


def _fetcher(context: ContextTypes.DEFAULT_TYPE) -> FileFetcher:
    """Download a file by id into memory (Bot API files are at most 20 MB); never to disk."""

    async def fetch(file_id: str) -> bytes:
        file = await context.bot.get_file(file_id)
        return bytes(await file.download_as_bytearray())

    return fetch


@dataclass(frozen=True)
class IntakeHandlers:
    """The private-chat handlers, bound to their collaborators (no module singletons)."""

    service: IntakeService
    translations: Translations
    patience: Patience = PATIENT
    metrics: Metrics | None = None

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Run one update through the flow and show the replies."""
        event = event_from_update(update)
        user = update.effective_user
        chat = update.effective_chat
        if event is None or user is None or chat is None:
            return
        query = update.callback_query
        if query is not None:
            with suppress(BadRequest):  # an expired query id must not stop the answer itself
                await query.answer()
        handled = await self.service.handle(
            Inbound(
                transport=TRANSPORT,
                user_id=user.id,
                event=event,
                update_id=update.update_id,
                language_hint=locale_from_telegram(user.language_code),
                fetch_file=_fetcher(context),
                message_id=update.message.message_id if update.message else None,
            )
        )
        if handled.duplicate:
            return
        if handled.submitted and self.metrics is not None:
            self.metrics.reports_submitted.inc()
        pressed = query.message.message_id if query is not None and query.message else None
        replies = handled.replies
        if handled.wiping:
            kept = await delete_messages(context.bot, chat.id, handled.wipe)
            if kept:  # Telegram failed: keep them for the next /wipe, and say so
                await self.service.remember_messages(TRANSPORT, user.id, kept)
                replies = wipe_failed_replies()
            if context.chat_data is not None:
                context.chat_data.pop(LIVE_BUTTONS, None)
            if not replies:
                return  # an empty chat is the answer
            pressed = None  # the pressed message is gone
        shown = Shown()
        try:
            with use_locale(handled.locale):
                await show_replies(
                    context.bot,
                    chat.id,
                    replies,
                    handled.locale,
                    self.translations,
                    pressed,
                    shown=shown,
                    patience=self.patience,
                )
        except TelegramError as exc:
            # What did reach the chat is noted for /wipe, whatever happens next.
            await self.service.remember_messages(TRANSPORT, user.id, shown.sent)
            if handled.receipt is None or isinstance(exc, BadRequest | Forbidden):
                raise
            # The report is stored: its receipt waits for the person's next message,
            # instead of an apology that asks them to start again.
            await self.service.keep_undelivered_receipt(TRANSPORT, user.id, handled.receipt)
            log.warning(
                "a receipt was not delivered (%s); kept for the next message", type(exc).__name__
            )
            return
        sent = shown.sent
        if shown.with_buttons and context.chat_data is not None:
            live = context.chat_data.get(LIVE_BUTTONS, [])
            # An edited message already has the buttons the edit gave it (often none).
            old = [i for i in live if i not in shown.with_buttons and i not in shown.edited]
            context.chat_data[LIVE_BUTTONS] = shown.with_buttons
            await retire_buttons(context.bot, chat.id, old)
        message = update.message
        if handled.delete_user_message and message is not None:
            with suppress(BadRequest, Forbidden):  # already gone or too old
                await message.delete()
        await self.service.remember_messages(TRANSPORT, user.id, sent)

    def handlers(self) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
        """Return the handlers for private chats, in matching order."""
        private = filters.ChatType.PRIVATE
        return [
            MessageHandler(private & filters.UpdateType.MESSAGE, self.on_update),
            MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, self.on_update),
            CallbackQueryHandler(self.on_update),
        ]
