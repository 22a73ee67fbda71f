"""Several workers on one Redis never handle one person's updates at the same time (issue 12).

Two services built from the same settings stand for two webhook workers behind a proxy that
spreads one person's quick messages over both. Without a turn held in Redis both would read
the same draft and one message would be lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.app import open_services
from bot.intake.texts import RECEIVED_MANY
from bot.intake.values import Typed
from bot.settings import Settings
from tests.test_intake_service import Person, start_story
from tests.test_storage_conversations import REDIS_URL, redis_or_skip


async def test_two_workers_take_turns_with_one_persons_messages(
    make_settings: Callable[..., Settings],
) -> None:
    client = await redis_or_skip()
    await client.aclose()
    settings = make_settings(redis_url=REDIS_URL)
    async with open_services(settings) as first, open_services(settings) as second:
        person = Person(first, user_id=515_151)
        await start_story(person, "part 1")
        on_second = Person(second, user_id=515_151)
        on_second.update_id = person.update_id + 100
        sends = [(person if n % 2 else on_second).send(Typed(f"part {n}")) for n in range(2, 12)]
        handled = await asyncio.gather(*sends)
    counts = sorted(
        int(str(value))
        for one in handled
        for reply in one.replies
        for part in reply.parts
        if part.msgid == RECEIVED_MANY
        for name, value in part.params
        if name == "count"
    )
    assert counts == list(range(2, 12)), counts  # each message counted once, none lost
