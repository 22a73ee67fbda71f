"""A worker killed with SIGKILL at random points: no acknowledged report is lost or doubled.

The bot runs as a real process (long polling, the embedded default) against the fake Bot
API; a dozen simulated people each try to file one report. Each reads the newest message
with buttons, presses, and waits for the bot's answer to that press (a newer message, or the
message changed) before pressing again, starting over after 3 s of silence. Meanwhile the
process is killed with SIGKILL three times at random moments and started again on the same
database and secret. At the end every receipt code a person saw must open exactly one stored
report (issue 12). Reports stored but never acknowledged (the bot died between the commit and
the receipt) are allowed: conversations are volatile by design, so such a reporter files
again.

A first version of the simulated person pressed whatever was newest when the bot answered
slowly: after a restart it acted on the answer to its previous press while the next was in
flight, and stayed one question behind, every press "from an older message". The bot was
right each time; people wait for the answer to what they pressed.
"""

from __future__ import annotations

import asyncio
import base64
import random
import re
import signal
from pathlib import Path

from sqlalchemy import select

from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.server import ServerKeys, generate_server_secret
from bot.devtools.fakeapi import ChatMessage, FakeBotApi, FakeUser
from storage.db import create_engine, normalise_database_url, session_factory, unit_of_work
from storage.models import ReportRow
from tests.botapi_driver import strict_fake_api
from tests.process_support import bot_environment, start_amanat

PEOPLE = 12
KILLS = 3
SILENCE = 3.0
"""Seconds without a new message after which a person starts over (the bot was killed)."""
READING = 0.3
"""Seconds a person looks at the screen before pressing: the bot's turn is over by then."""
CODE = re.compile(r"\d{4}-\d{4}-\d{4}-\d{4}-\d{4}")


def codes_seen(user: FakeUser) -> set[str]:
    return {code for m in user.bot_messages() for code in CODE.findall(m.text or "")}


def snapshot(message: ChatMessage) -> tuple[int, str | None, tuple[str, ...]]:
    """What a person sees of a message: a ticked option changes a button's label only."""
    return message.message_id, message.text, (*message.callback_data, *message.button_texts)


async def answer_to(server: FakeBotApi, update_id: int) -> None:
    """Wait for the bot's answer to one update: fetched, then the chat quiet for a moment.

    A bot killed meanwhile never answers: the person then starts over after its silence.
    """
    try:
        await server.wait_until_fetched(update_id, timeout=SILENCE)
    except TimeoutError:
        return
    seen = -1
    while seen != len(server.calls):
        seen = len(server.calls)
        await asyncio.sleep(READING)


async def file_one_report(server: FakeBotApi, user: FakeUser, deadline: float) -> set[str]:
    """React to the newest message with buttons until a receipt code shows."""
    loop = asyncio.get_running_loop()
    acted: tuple[int, str | None, tuple[str, ...]] | None = None
    toggled: set[int] = set()
    last_change = loop.time()
    await user.send_command("start")
    while not codes_seen(user):
        if loop.time() > deadline:
            shown = [
                (m.sender, (m.text or "")[:30], m.callback_data[:2])
                for m in user.chat_messages()[-14:]
            ]
            raise TimeoutError(f"this person never got a receipt; last shown: {shown}")
        await asyncio.sleep(0.05)
        with_buttons = [m for m in user.bot_messages() if m.buttons]
        newest = with_buttons[-1] if with_buttons else None
        if newest is None or snapshot(newest) == acted:
            if loop.time() - last_change > SILENCE:  # the bot fell silent: start over
                acted, last_change = None, loop.time()
                await user.send_command("start")
            continue
        # Read before pressing, as a person does: the bot may still be sending this turn.
        seen = snapshot(newest), len(user.bot_messages())
        await asyncio.sleep(READING)
        with_buttons = [m for m in user.bot_messages() if m.buttons]
        if not with_buttons or (snapshot(with_buttons[-1]), len(user.bot_messages())) != seen:
            continue
        if codes_seen(user):  # the receipt came while reading: done, never press its wipe
            break
        acted, last_change = snapshot(newest), loop.time()
        data = newest.callback_data
        if any(":t:" in d for d in data):
            wanted = ":d:" if newest.message_id in toggled else ":t:"
            toggled.add(newest.message_id)
        else:
            wanted = next(
                (
                    fragment
                    for fragment in (":send:", "l:en", "m:continue", "m:report")
                    if any(fragment in d for d in data)
                ),
                ":s:" if any(d.endswith(":s:") for d in data) else data[0],
            )
        choice = next(d for d in data if wanted in d)
        try:
            update_id = await user.press(choice, newest)
        except LookupError:  # the message changed under us; look again
            acted = None
            continue
        await answer_to(server, update_id)
    return codes_seen(user)


async def test_sigkill_at_random_points_loses_no_acknowledged_report(
    tmp_path: Path, locales_dir: Path, admin_key: AdminPrivateKey
) -> None:
    secret = generate_server_secret()
    database = f"sqlite:///{tmp_path / 'amanat.db'}"  # as bot_environment sets it
    async with strict_fake_api() as server:
        environment = bot_environment(
            server,
            tmp_path,
            locales_dir,
            admin_key,
            AMANAT_SERVER_SECRET=base64.b64encode(secret).decode(),
            AMANAT_LOG_LEVEL="WARNING",
        )

        async def start() -> asyncio.subprocess.Process:
            started = len(server.calls_to("getMe"))
            process = await start_amanat(environment, tmp_path, output=asyncio.subprocess.DEVNULL)
            await server.wait_for(
                lambda: len(server.calls_to("getMe")) > started and server.waiting_polls > 0,
                timeout=60,
            )
            return process

        bot = await start()
        try:
            people = [server.user(language_code="en") for _ in range(PEOPLE)]
            deadline = asyncio.get_running_loop().time() + 120
            filing = asyncio.gather(*(file_one_report(server, user, deadline) for user in people))
            chance = random.Random(20261203)
            for _ in range(KILLS):
                await asyncio.sleep(chance.uniform(0.5, 2.5))
                bot.send_signal(signal.SIGKILL)
                await bot.wait()
                bot = await start()
            acknowledged = await filing
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
                await asyncio.wait_for(bot.wait(), timeout=60)
    assert all(len(codes) == 1 for codes in acknowledged), acknowledged
    keys = ServerKeys(secret)
    engine = create_engine(normalise_database_url(database))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            hashes = list(await session.scalars(select(ReportRow.receipt_hash)))
    finally:
        await engine.dispose()
    for codes in acknowledged:
        (code,) = codes
        assert hashes.count(keys.receipt_hash(code)) == 1, code  # present, and once
    assert len(hashes) >= PEOPLE
