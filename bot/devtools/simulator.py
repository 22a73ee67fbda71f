"""Let a person talk to the real bot in a terminal, with no Telegram token and no network.

The simulator starts the project's fake Bot API on 127.0.0.1, points the real PTB
``Application`` (built by :func:`bot.app.build_application`, exactly as in production) at it,
and plays one Telegram user: what you type is sent as a message, a number presses the button
with that number, ``/commands`` work as on Telegram. Everything the bot sends is printed with
its buttons. This module must never talk to the real Telegram.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TextIO

from bot.app import build_application, open_services
from bot.devtools.fakeapi import ChatMessage, FakeBotApi, FakeUser
from bot.settings import Settings

QUIET_SECONDS = 0.3
HELP = (
    "Amanat local simulator — you are a Telegram user talking to the bot.\n"
    "Type a message and press Enter; type a button's number to press it; /quit to leave.\n"
    "/voice and /photo send a made-up voice note or photo, as a phone would.\n"
)


class Transcript:
    """Print what changed in the chat since last time: new bot messages and edits."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write
        self._seen: dict[int, tuple[str | None, tuple[object, ...]]] = {}
        self.buttons: list[str] = []

    def show(self, messages: list[ChatMessage]) -> None:
        """Print new or changed bot messages; number the buttons of the latest keyboard."""
        for message in messages:
            snapshot = (message.text, message.buttons)
            if self._seen.get(message.message_id) == snapshot:
                continue
            marker = "(edited) " if message.message_id in self._seen else ""
            self._seen[message.message_id] = snapshot
            self._write(f"\n🤖 {marker}{message.text or '[' + message.kind + ']'}\n")
            if message.buttons:
                self.buttons = message.callback_data
                for number, label in enumerate(message.button_texts, start=1):
                    self._write(f"   [{number}] {label}\n")


async def _settle(server: FakeBotApi, update_id: int) -> None:
    """Wait until the bot fetched the update and then stayed quiet for a moment."""
    await server.wait_until_fetched(update_id, timeout=30)
    seen = -1
    while seen != len(server.calls):
        seen = len(server.calls)
        await asyncio.sleep(QUIET_SECONDS)


async def _act(user: FakeUser, line: str, buttons: list[str]) -> int:
    text = line.strip()
    if text.isdigit() and 1 <= int(text) <= len(buttons):
        return await user.press(buttons[int(text) - 1])
    if text == "/voice":
        return await user.send_voice(duration=4)
    if text == "/photo":
        return await user.send_photo(40_000)
    if text.startswith("/"):
        command, _, args = text[1:].partition(" ")
        return await user.send_command(command, args.strip())
    return await user.send_text(text)


async def run_simulator(
    settings: Settings,
    *,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    language_code: str | None = None,
) -> None:
    """Run the bot against a local fake Telegram and chat with it on the terminal."""
    server = FakeBotApi(username="amanat_local_bot")
    await server.start()
    local = settings.model_copy(
        update={
            "telegram_api_base_url": server.base_url,
            "telegram_file_base_url": server.base_file_url,
        }
    )
    loop = asyncio.get_running_loop()
    try:
        async with open_services(local) as services:
            application = build_application(services, token=server.token)
            async with application:
                await application.start()
                assert application.updater is not None
                await application.updater.start_polling(poll_interval=0, timeout=1)
                try:
                    await _chat(server, stdin, stdout, language_code, loop)
                finally:
                    await application.updater.stop()
                    await application.stop()
    finally:
        await server.stop()


async def _chat(
    server: FakeBotApi,
    stdin: TextIO,
    stdout: TextIO,
    language_code: str | None,
    loop: asyncio.AbstractEventLoop,
) -> None:
    user = server.user(first_name="You", language_code=language_code)
    transcript = Transcript(stdout.write)
    stdout.write(HELP)
    update_id = await user.send_command("start")
    while True:
        await _settle(server, update_id)
        transcript.show(user.bot_messages())
        stdout.write("\n> ")
        stdout.flush()
        line = await loop.run_in_executor(None, stdin.readline)
        if not line or line.strip() in ("/quit", "/exit"):
            stdout.write("\nBye.\n")
            return
        if not line.strip():
            update_id = 0
            continue
        update_id = await _act(user, line, transcript.buttons)
