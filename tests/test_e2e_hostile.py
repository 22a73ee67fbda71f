"""Hostile input through the real Application: every kind of update, arbitrary text, forged
buttons, huge payloads. Nothing may raise, and every input gets an answer (issue 12).

Hypothesis writes scripts of actions a person (or a modified client) can take; each script
runs against a fresh Amanat and a strict fake Bot API, which also fails the test if the bot
makes a call Telegram would refuse. "Answered" means the bot wrote to the chat, edited or
deleted a message, or answered the button press, after that action.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.crypto.keyfile import AdminPrivateKey
from bot.devtools.fakeapi import FakeUser
from bot.settings import Settings
from tests.botapi_driver import RunningAmanat, running_amanat

WRITES = frozenset(
    {
        "sendmessage",
        "editmessagetext",
        "editmessagereplymarkup",
        "deletemessage",
        "deletemessages",
        "answercallbackquery",
    }
)

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=5000)
actions = st.one_of(
    st.tuples(st.just("text"), texts),
    st.tuples(
        st.just("text"), st.sampled_from(["بلی", "۱", "نخیر", "پښتو", "\u202e1\u202c", "🙂" * 50])
    ),
    st.tuples(
        st.just("command"),
        st.tuples(
            st.sampled_from(
                [
                    "start",
                    "report",
                    "status",
                    "cancel",
                    "wipe",
                    "help",
                    "safety",
                    "language",
                    "forget",
                    "nonsense",
                    "START",
                ]
            ),
            st.text(max_size=300),
        ),
    ),
    st.tuples(
        st.just("forged"), st.text(min_size=1, max_size=64).filter(lambda s: len(s.encode()) <= 64)
    ),
    st.tuples(st.just("press"), st.integers(min_value=0, max_value=9)),
    st.tuples(
        st.just("media"),
        st.sampled_from(
            ["sticker", "location", "contact", "voice", "photo", "document", "edit", "forward"]
        ),
    ),
)


async def act(user: FakeUser, action: tuple[str, Any]) -> int:
    kind, value = action
    if kind == "text":
        return await user.send_text(value)
    if kind == "command":
        name, argument = value
        return await user.send_command(name, argument)
    with_buttons = [m for m in user.bot_messages() if m.buttons]
    if kind in ("forged", "press") and not with_buttons:
        return await user.send_command("start")
    if kind == "forged":
        return await user.press_forged(value, with_buttons[-1])
    if kind == "press":
        message = with_buttons[-1]
        data = message.callback_data
        return await user.press(data[value % len(data)], message)
    if value == "edit" and not any(m.sender == "user" and m.text for m in user.chat_messages()):
        await user.send_text("first words")  # something to edit
    media = {
        "sticker": user.send_sticker,
        "location": lambda: user.send_location(34.52, 69.17),
        "contact": lambda: user.send_contact("+93700000000", "Someone"),
        "voice": lambda: user.send_voice(duration=3),
        "photo": lambda: user.send_photo(30_000),
        "document": lambda: user.send_document("paper.pdf", 5_000),
        "edit": lambda: user.edit_last_text("changed"),
        "forward": lambda: user.forward_text("forwarded words"),
    }
    return await media[value]()


async def run_script(amanat: RunningAmanat, script: list[tuple[str, Any]]) -> None:
    user = amanat.server.user(language_code="fa")
    for action in script:
        before = len(amanat.server.calls)
        update_id = await act(user, action)
        await amanat.driver.settle(update_id, timeout=30)
        assert amanat.driver.errors == [], (action, amanat.driver.errors)
        written = {c.method.lower() for c in amanat.server.calls[before:]} & WRITES
        assert written, f"no answer to {action[0]!r}"


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=st.lists(actions, min_size=1, max_size=8))
def test_hostile_scripts_never_raise_and_are_always_answered(
    script: list[tuple[str, Any]],
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    admin_key: AdminPrivateKey,
) -> None:
    async def go() -> None:
        async with running_amanat(make_settings) as amanat:
            await run_script(amanat, script)

    asyncio.run(go())
