"""A fake Telegram Bot API for tests and the local simulator: validating, recording, in-process.

This package owns everything the bot under test can observe of "Telegram": the HTTP API
(``server``), its state (``state``), the spec every call is checked against (``spec``,
``validation``, ``limits``, ``entities``), the methods (``methods``) and the people chatting
(``users``). It must never contact the real Telegram and never be imported by production code
paths other than the local simulator.
"""

from bot.devtools.fakeapi.server import FakeBotApi, RecordedCall, Violation
from bot.devtools.fakeapi.spec import BotApiSpec, load_vendored
from bot.devtools.fakeapi.state import Fault
from bot.devtools.fakeapi.users import Button, ChatMessage, FakeUser

__all__ = [
    "BotApiSpec",
    "Button",
    "ChatMessage",
    "FakeBotApi",
    "FakeUser",
    "Fault",
    "RecordedCall",
    "Violation",
    "load_vendored",
]
