"""Let a person talk to the real bot in a terminal, with no Telegram token and no network.

The simulator starts the project's fake Bot API on 127.0.0.1, points the real PTB
``Application`` (built by :func:`bot.app.build_application`, exactly as in production) at it,
and plays one Telegram user: what you type is sent as a message, a number presses the button
with that number, ``/commands`` work as on Telegram. Everything the bot sends is printed with
its buttons, numbered once; edits are marked and deletions counted ("[the bot deleted 23
messages]"), so that ``/wipe`` shows what it did. This module must never talk to the real
Telegram.

Decision on logs: the terminal is the chat, and a log line between two messages reads like
part of it. So while the simulator runs, every log record goes to ``simulator.log`` in the data
folder (0600, appended; :func:`bot.logs.logging_to_file`) and none to the terminal; when a
warning or an error is logged, the chat says so in one line and names the file, so nothing
that matters goes unseen. (Stderr at WARNING and above was the alternative: it still lands on
the same terminal, in the middle of the chat, and hides the INFO lines that explain it.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from bot.app import build_application, open_services
from bot.devtools.devkeys import dev_key_path, dev_passphrase_path, ensure_dev_keys
from bot.devtools.fakeapi import ChatMessage, FakeBotApi, FakeUser
from bot.settings import Settings

QUIET_SECONDS = 0.3
SIMULATOR_LOG_FILE: Final = "simulator.log"
HELP = (
    "Amanat local simulator — you are a Telegram user talking to the bot.\n"
    "Type a message and press Enter; type a button's number to press it; /quit to leave.\n"
    "Commands work as on Telegram: /start, /report, /help, /language, /cancel, /status CODE,\n"
    "/safety, /wipe. /voice and /photo send a made-up voice note or photo, as a phone would.\n"
)

# A label the bot numbered itself ("1. Yes", "✅ 2. Money", in any digits, possibly wrapped in
# Unicode direction isolates): the simulator shows its own number instead of a second one.
_BIDI: Final = "\u200e\u200f\u2066\u2067\u2068\u2069"
_OWN_NUMBER: Final = re.compile(
    rf"^(?P<mark>✅ ?)?[{_BIDI}]*(?P<number>\d+)[{_BIDI}]*\.\s*(?P<label>.+)$", re.DOTALL
)


def simulator_log_path(settings: Settings) -> Path:
    """Where the simulator's log records go (in the data folder, beside the development keys)."""
    return settings.data_dir / SIMULATOR_LOG_FILE


@dataclass(frozen=True)
class PreparedSimulator:
    """Settings with development keys filled in, and what to tell the person about them."""

    settings: Settings
    intro: str


def prepare_simulator(settings: Settings, *, scrypt_n: int | None = None) -> PreparedSimulator:
    """Fill in development keys (made on the first run) and say where they are.

    The first run says that a key was made, where, and where its passphrase is: the admin
    commands prompt for it, and a newcomer would not otherwise know what to type. Raises
    :class:`bot.devtools.devkeys.DevKeysError` or ``OSError`` when the data folder is unusable.
    """
    key, passphrase = dev_key_path(settings), dev_passphrase_path(settings)
    making_key = not settings.admin_public_keys and not key.exists()
    filled = ensure_dev_keys(settings, scrypt_n=scrypt_n)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if settings.admin_public_keys:
        keys = "What you send is sealed to the keys in AMANAT_ADMIN_PUBLIC_KEYS.\n"
    elif making_key:
        keys = (
            f"First run: a development admin key was made at {key};\n"
            f"its passphrase is in {passphrase} (DEVELOPMENT ONLY).\n"
            "What you send is sealed to it: afterwards, `amanat admin queue` asks for that "
            "passphrase and opens it.\n"
        )
    else:
        keys = (
            f"What you send is sealed to the development key {key} "
            f"(passphrase in {passphrase}); `amanat admin queue` opens it.\n"
        )
    logs = f"Log lines go to {simulator_log_path(settings)}, not to this chat.\n"
    return PreparedSimulator(filled, keys + logs)


def button_lines(labels: Sequence[str]) -> list[str]:
    """Number buttons once: ``[1] Yes`` where the bot's own label says ``1. Yes``.

    The bot's number is dropped only when it is the button's position, so the number shown
    is always the one to type.
    """
    lines = []
    for position, label in enumerate(labels, start=1):
        shown = label
        own = _OWN_NUMBER.match(label)
        if own is not None and int(own["number"]) == position:
            shown = f"{own['mark'] or ''}{own['label']}"
        lines.append(f"   [{position}] {shown}")
    return lines


class Transcript:
    """Print what changed in the chat since last time: new bot messages, edits, deletions."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self._write = write
        self._seen: dict[int, tuple[str | None, tuple[object, ...]]] = {}
        self._deleted = 0
        self.buttons: list[str] = []

    def show(self, messages: list[ChatMessage], deleted: int = 0) -> None:
        """Print deletions, then new or changed bot messages; keep the newest keyboard.

        ``messages`` are the chat's visible messages (both sides); ``deleted`` is how many
        messages of the chat were deleted so far.
        """
        if deleted > self._deleted:
            count = deleted - self._deleted
            self._write(f"\n[the bot deleted {count} message{'' if count == 1 else 's'}]\n")
        self._deleted = deleted
        for message in messages:
            if message.sender != "bot":
                continue
            snapshot = (message.text, message.buttons)
            before = self._seen.get(message.message_id)
            if before == snapshot:
                continue
            self._seen[message.message_id] = snapshot
            text = message.text or f"[{message.kind}]"
            if before is None:
                self._write(f"\n🤖 {text}\n")
            elif before[0] != message.text:
                self._write(f"\n🤖 (edited) {text}\n")
            else:  # the same text: only say which message, not all of it again
                change = "buttons changed" if message.buttons else "buttons removed"
                self._write(f"\n🤖 ({change}) {_first_line(text)}\n")
            for line in button_lines(message.button_texts):
                self._write(f"{line}\n")
        with_buttons = [m for m in messages if m.sender == "bot" and m.callback_data]
        self.buttons = with_buttons[-1].callback_data if with_buttons else []


def _first_line(text: str, limit: int = 60) -> str:
    """The first non-empty line of a message, shortened: enough to recognise it."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), text)
    return line if len(line) <= limit else line[: limit - 1] + "…"


class _Keyboard:
    """Read lines from the terminal on a daemon thread, one whenever the chat asks for one.

    Not on the event loop's default executor: a thread blocked there on ``readline`` is
    joined when the loop closes, so Ctrl-C would hang until Enter. A daemon thread is left
    behind instead; it reads its own unbuffered copy of a real stdin's descriptor, so that it
    never holds the lock of ``sys.stdin``'s buffer while the interpreter shuts down.
    """

    def __init__(self, stdin: TextIO, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._wanted = threading.Semaphore(0)
        self._closed = False
        self._read, self._release = _line_reader(stdin)
        threading.Thread(target=self._run, name="simulator-keyboard", daemon=True).start()

    async def readline(self) -> str:
        """The next line typed, or "" at the end of input."""
        self._wanted.release()
        return await self._lines.get()

    def close(self) -> None:
        """Let the thread end, unless it is blocked in a read (then it dies with the process)."""
        self._closed = True
        self._wanted.release()

    def _run(self) -> None:
        try:
            while True:
                self._wanted.acquire()
                if self._closed:
                    return
                try:
                    line = self._read()
                except (OSError, ValueError):
                    line = ""
                try:
                    self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
                except RuntimeError:  # the loop is closed: nobody waits for this line
                    return
                if not line:
                    return
        finally:
            self._release()


def _line_reader(stdin: TextIO) -> tuple[Callable[[], str], Callable[[], None]]:
    """Read lines from ``stdin``: a stream without a descriptor (tests) as it is, a real one
    through an unbuffered duplicate of its descriptor. Returns the reader and its closer."""
    try:
        descriptor = stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return stdin.readline, lambda: None
    raw = os.fdopen(os.dup(descriptor), "rb", buffering=0)
    encoding = getattr(stdin, "encoding", None) or "utf-8"

    def readline() -> str:
        return raw.readline().decode(encoding, errors="replace")

    return readline, raw.close


class _WarningCounter(logging.Handler):
    """Count warnings and errors logged while the simulator runs, to say so in the chat."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def _settle(server: FakeBotApi, update_id: int) -> None:
    """Wait until the bot fetched the update and then stayed quiet for a moment."""
    await server.wait_until_fetched(update_id, timeout=30)
    seen = -1
    while seen != len(server.calls):
        seen = len(server.calls)
        await asyncio.sleep(QUIET_SECONDS)


async def _act(user: FakeUser, line: str, buttons: list[str]) -> int:
    text = line.strip()
    if text.isdecimal() and 1 <= int(text) <= len(buttons):
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
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    language_code: str | None = None,
    intro: str = "",
) -> None:
    """Run the bot against a local fake Telegram and chat with it on the terminal.

    ``settings`` must hold a server secret and admin keys (:func:`prepare_simulator` fills
    them); ``intro`` is printed after the help, e.g. where the development key is. ``stdin``
    and ``stdout`` default to the streams of the moment of the call (not of the import), so
    that a test runner's replaced streams are used.
    """
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    server = FakeBotApi(username="amanat_local_bot")
    await server.start()
    local = settings.model_copy(
        update={
            "telegram_api_base_url": server.base_url,
            "telegram_file_base_url": server.base_file_url,
        }
    )
    loop = asyncio.get_running_loop()
    warnings = _WarningCounter()
    root = logging.getLogger()
    root.addHandler(warnings)
    try:
        async with open_services(local) as services:
            application = build_application(services, token=server.token)
            async with application:
                await application.start()
                assert application.updater is not None
                await application.updater.start_polling(poll_interval=0, timeout=1)
                try:
                    chat = _Chat(server, stdout, warnings, simulator_log_path(settings))
                    await chat.run(stdin, language_code, loop, intro)
                finally:
                    await application.updater.stop()
                    await application.stop()
    finally:
        root.removeHandler(warnings)
        await server.stop()


@dataclass
class _Chat:
    """One person's terminal chat with the bot."""

    server: FakeBotApi
    stdout: TextIO
    warnings: _WarningCounter
    log_path: Path
    noted: int = 0

    async def run(
        self,
        stdin: TextIO,
        language_code: str | None,
        loop: asyncio.AbstractEventLoop,
        intro: str,
    ) -> None:
        user = self.server.user(first_name="You", language_code=language_code)
        transcript = Transcript(self.stdout.write)
        self.stdout.write(HELP + intro)
        keyboard = _Keyboard(stdin, loop)
        try:
            await self._talk(user, transcript, keyboard)
        finally:
            keyboard.close()

    async def _talk(self, user: FakeUser, transcript: Transcript, keyboard: _Keyboard) -> None:
        update_id = await user.send_command("start")
        while True:
            await _settle(self.server, update_id)
            transcript.show(user.chat_messages(), user.deleted_count())
            self._note_warnings()
            self.stdout.write("\n> ")
            self.stdout.flush()
            line = await keyboard.readline()
            if not line or line.strip() in ("/quit", "/exit"):
                self.stdout.write("\nBye.\n")
                return
            if not line.strip():
                update_id = 0
                continue
            update_id = await _act(user, line, transcript.buttons)

    def _note_warnings(self) -> None:
        """Say in one line that warnings or errors were logged, and where to read them."""
        new = self.warnings.count - self.noted
        if new > 0:
            self.noted = self.warnings.count
            plural = "" if new == 1 else "s"
            self.stdout.write(
                f"\n[{new} warning{plural} or error{plural} logged: see {self.log_path}]\n"
            )
