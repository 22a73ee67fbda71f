"""Refuse every chat that is not private: a report is only safe one to one.

This module owns the answer given in groups, supergroups and channels. It must never pass a
group's messages to the intake, and never repeat what was written there.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import BaseHandler, ContextTypes, MessageHandler, filters

from bot.i18n.translations import Translations, locale_from_telegram
from bot.intake.replies import group_chat_replies
from handlers.send import send_replies


@dataclass(frozen=True)
class GroupHandlers:
    """Answer in groups that the bot works only in private chats."""

    translations: Translations

    async def on_group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Say where to go instead, in the sender's language when Telegram tells it."""
        chat = update.effective_chat
        user = update.effective_user
        if chat is None:
            return
        locale = locale_from_telegram(user.language_code if user else None) or "en"
        await send_replies(context.bot, chat.id, group_chat_replies(), locale, self.translations)

    def handlers(self) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
        """Return the handler for group messages that reach the bot (commands, mentions)."""
        return [
            MessageHandler(
                filters.ChatType.GROUPS & filters.UpdateType.MESSAGE, self.on_group_message
            )
        ]
