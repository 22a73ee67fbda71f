"""Log failures without content, and tell the person that nothing they gave was lost.

PTB's ``errorhandlerbot.py`` sends the whole update to a chat; here only the update id and the
exception type are logged, because exception messages may quote what people wrote.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.i18n.translations import Translations, locale_from_telegram
from bot.intake.replies import error_replies
from bot.metrics import Metrics
from handlers.intake import TRANSPORT
from handlers.send import PATIENT, Patience, send_replies

log = logging.getLogger(__name__)


RememberMessages = Callable[[str, int, list[int]], Awaitable[None]]
"""Note message ids for /wipe: (transport, user id, ids); `IntakeService.remember_messages`."""

LocaleOf = Callable[[str, int], Awaitable[str | None]]
"""The language a person chose, if remembered: (transport, user id); `IntakeService.locale_of`."""


@dataclass(frozen=True)
class ErrorHandler:
    """Answer errors in the user's language; log nothing that could identify them.

    The apology, and the message that failed, are noted for /wipe like any other message:
    a wiped chat must not keep "something went wrong" from a bot people hide that they use.
    """

    translations: Translations
    remember: RememberMessages | None = None
    locale_of: LocaleOf | None = None
    patience: Patience = PATIENT
    metrics: Metrics | None = None

    async def __call__(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the update id and exception type, then apologise in a private chat."""
        error = context.error
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("update %s failed: %s", update_id, type(error).__name__)
        if self.metrics is not None:
            self.metrics.count_error(error)
        if not isinstance(update, Update):
            return
        chat = update.effective_chat
        user = update.effective_user
        if chat is None or chat.type != "private":
            return
        chosen = None
        if self.locale_of is not None and user is not None:
            try:
                chosen = await self.locale_of(TRANSPORT, user.id)
            except Exception as exc:  # the apology must go out even if memory fails
                log.error("no language for update %s: %s", update_id, type(exc).__name__)
        hint = locale_from_telegram(user.language_code if user else None)
        locale = chosen or hint or "en"
        sent: list[int] = []
        try:
            sent = await send_replies(
                context.bot,
                chat.id,
                error_replies(),
                locale,
                self.translations,
                patience=self.patience,
            )
        except TelegramError as exc:
            log.error("could not apologise for update %s: %s", update_id, type(exc).__name__)
        failed = [update.message.message_id] if update.message is not None else []
        if self.remember is not None and user is not None and (sent or failed):
            await self.remember(TRANSPORT, user.id, failed + sent)
