"""Drive a real python-telegram-bot Application against the fake Bot API, without sleeps.

``running_bot`` starts the Application with long polling against a :class:`FakeBotApi` and
stops it cleanly; the :class:`BotDriver` it yields knows when the bot has *finished* an update:
a ``TypeHandler`` in the last handler group marks each update id, and PTB's
``Application.process_update`` runs the groups in order and awaits each blocking handler, so
the mark comes after every blocking handler of earlier groups. (A handler raising
``ApplicationHandlerStop`` skips later groups; ``settle`` then times out and says so.)
Test-only: it must never point an Application at the real Telegram.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.app import Services, build_application, open_services
from bot.devtools.fakeapi import ChatMessage, FakeBotApi, FakeUser
from bot.i18n.translations import locale_from_telegram
from bot.settings import Settings

SETTLE_GROUP = 10**6
POLL_TIMEOUT_SECONDS = 1

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def application_builder(server: FakeBotApi) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """Return a builder already aimed at the fake server (token, API and file URLs)."""
    return (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
    )


class BotDriver:
    """Feed a running bot updates and wait until it has fully handled each one."""

    def __init__(self, application: AnyApplication, server: FakeBotApi) -> None:
        if not application.bot.base_url.startswith(server.base_url):
            raise ValueError("the application does not talk to this fake Bot API")
        self.application = application
        self.server = server
        self.processed: set[int] = set()
        self.errors: list[BaseException] = []
        self._condition = asyncio.Condition()

    async def mark_processed(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Last-group handler: the update went through every earlier group."""
        if isinstance(update, Update):
            async with self._condition:
                self.processed.add(update.update_id)
                self._condition.notify_all()

    async def record_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Error handler: keep what a handler raised so a test can fail on it."""
        if context.error is not None:
            self.errors.append(context.error)

    async def settle(self, update_id: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has finished handling ``update_id``."""
        async with self._condition:
            try:
                await asyncio.wait_for(
                    self._condition.wait_for(lambda: update_id in self.processed), timeout
                )
            except TimeoutError:
                raise TimeoutError(
                    f"update {update_id} was not fully processed within {timeout} s (a handler "
                    "raising ApplicationHandlerStop skips the settle group)"
                ) from None

    async def run(self, user: FakeUser, action: Awaitable[int]) -> list[ChatMessage]:
        """Perform a user action, settle it, return the bot messages it left in the chat.

        That is the new messages and the older ones whose text it changed: a pressed answer
        turns its question into the next one in place.
        """
        before = user.last_message_id
        texts = {m.message_id: m.text for m in user.bot_messages()}
        update_id = await action
        await self.settle(update_id)
        return [
            message
            for message in user.bot_messages()
            if message.message_id > before
            or (message.message_id in texts and texts[message.message_id] != message.text)
        ]

    async def say(self, user: FakeUser, text: str) -> list[ChatMessage]:
        """The user sends a text; return the bot's new visible messages."""
        return await self.run(user, user.send_text(text))

    async def command(self, user: FakeUser, command: str, args: str = "") -> list[ChatMessage]:
        """The user sends a command; return the bot's new visible messages."""
        return await self.run(user, user.send_command(command, args))

    async def press(
        self, user: FakeUser, button: str, message: int | ChatMessage | None = None
    ) -> list[ChatMessage]:
        """The user presses a button; return the bot's new visible messages."""
        return await self.run(user, user.press(button, message))


@asynccontextmanager
async def strict_fake_api(**options: Any) -> AsyncIterator[FakeBotApi]:
    """Run a fake Bot API; on a clean exit, fail if the bot made any call Telegram refuses.

    Use it as a fixture body so a test fails at teardown even when the bot swallowed the 400.
    """
    server = FakeBotApi(**options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
    server.assert_no_violations()


@asynccontextmanager
async def running_bot(
    application: AnyApplication,
    server: FakeBotApi,
    *,
    poll_timeout: int = POLL_TIMEOUT_SECONDS,
    capture_errors: bool = True,
) -> AsyncIterator[BotDriver]:
    """Run ``application`` with long polling against ``server``; stop it on exit."""
    driver = BotDriver(application, server)
    marker = TypeHandler(Update, driver.mark_processed)
    application.add_handler(marker, group=SETTLE_GROUP)
    if capture_errors:
        application.add_error_handler(driver.record_error)
    try:
        await application.initialize()
        try:
            await application.start()
            try:
                updater = application.updater
                if updater is None:
                    raise RuntimeError("the application was built without an updater")
                await updater.start_polling(poll_interval=0, timeout=poll_timeout)
                try:
                    yield driver
                finally:
                    if updater.running:
                        await updater.stop()
            finally:
                await application.stop()
        finally:
            await application.shutdown()
    finally:
        application.remove_handler(marker, group=SETTLE_GROUP)
        if capture_errors:
            application.remove_error_handler(driver.record_error)


@dataclass
class RunningAmanat:
    """Amanat as built by its composition root, running against a strict fake Telegram."""

    server: FakeBotApi
    driver: BotDriver
    settings: Settings
    services: Services

    @property
    def engine(self) -> AsyncEngine:
        return self.services.engine

    async def start(self, user: FakeUser) -> list[ChatMessage]:
        """The user sends /start and picks a language; return the bot's new visible messages.

        Every first contact shows the language picker; this reporter chooses the language
        their Telegram setting suggests (``fa`` → Dari, ``ps`` → Pashto), or English.
        """
        shown = await self.driver.command(user, "start")
        picker = next((m for m in reversed(shown) if m.buttons), None)
        if picker is None or not any(d.startswith("l:") for d in picker.callback_data):
            return shown
        locale = locale_from_telegram(user.user.get("language_code")) or "en"
        return await self.driver.press(user, f"l:{locale}", picker)


@asynccontextmanager
async def running_amanat(
    make_settings: Callable[..., Settings],
    *,
    clock: Callable[[], datetime] | None = None,
    **overrides: object,
) -> AsyncIterator[RunningAmanat]:
    """Build Amanat from settings aimed at a fresh fake Bot API and run it by long polling.

    ``clock`` replaces the wall clock of the conversations, for tests that move time.
    """
    async with strict_fake_api() as server:
        settings = make_settings(
            telegram_api_base_url=server.base_url,
            telegram_file_base_url=server.base_file_url,
            **overrides,
        )
        async with open_services(settings, clock=clock) as services:
            application = build_application(services, token=server.token)
            async with running_bot(application, server) as driver:
                yield RunningAmanat(server, driver, settings, services)
