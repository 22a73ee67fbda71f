"""Several workers on one Redis never handle one person's updates at the same time (issue 12).

Two services built from the same settings stand for two webhook workers behind a proxy that
spreads one person's quick messages over both. Without a turn held in Redis both would read
the same draft and one message would be lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text

from bot.app import open_services
from bot.intake.texts import RECEIVED_MANY, RESTARTED
from bot.intake.values import Typed
from bot.settings import Settings
from storage.db import create_engine
from tests.storage_backends import ScratchPostgres
from tests.test_intake_service import Person, fill_report, start_story, stored_reports
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


async def test_the_bot_recovers_when_postgresql_kills_its_connections_and_redis_restarts(
    make_settings: Callable[..., Settings], scratch_postgres: ScratchPostgres
) -> None:
    """Mid-report, every connection of the bot is terminated and Redis forgets everything:
    without a restart, the next update works, the person is told their unsent answers are
    gone, and a new report is stored."""
    client = await redis_or_skip()
    scratch_postgres.reset()
    settings = make_settings(database_url=scratch_postgres.url, redis_url=REDIS_URL)
    async with open_services(settings) as services:
        person = Person(services, user_id=626_262)
        await fill_report(person, {"narrative": "the first report"})  # connections in the pool
        await start_story(person, "a second story")
        engine = create_engine(scratch_postgres.url)
        try:
            async with engine.connect() as admin:
                killed = await admin.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                assert (killed.scalar() or 0) >= 1
        finally:
            await engine.dispose()
        await client.flushdb()  # what a Redis restart leaves: nothing
        told = await person.send(Typed("more of the story"))
        assert RESTARTED in [p.msgid for r in told.replies for p in r.parts]
        handled = await fill_report(person, {"narrative": "the report again"})
        assert any(
            p.msgid == "Thank you. Your report is saved and locked."
            for r in handled.replies
            for p in r.parts
        )
        assert len(await stored_reports(services)) == 2
    await client.aclose()
