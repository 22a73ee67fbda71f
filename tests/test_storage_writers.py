"""SQLite writers of one process take turns in arrival order (issue 12).

With a thousand people at once, many units of work wanted SQLite's write lock together; each
waited in SQLite's busy handler, which only sleeps and retries, and a few waited out the whole
busy timeout: "database is locked", and the reporter was asked to send again. The busy
timeout is shortened here so that a wait longer than it shows within a second.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

import storage.db
from storage.db import create_engine, session_factory, unit_of_work

SHORT_BUSY_TIMEOUT_MS = 100
HELD_SECONDS = 0.5
"""How long each writer keeps the lock: five times the shortened busy timeout."""


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    pragmas = tuple(
        f"PRAGMA busy_timeout={SHORT_BUSY_TIMEOUT_MS}" if p.startswith("PRAGMA busy_timeout") else p
        for p in storage.db._SQLITE_PRAGMAS
    )
    monkeypatch.setattr(storage.db, "_SQLITE_PRAGMAS", pragmas)


@pytest.mark.usefixtures("short_busy_timeout")
async def test_writers_wait_their_turn_longer_than_the_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'amanat.db'}")
    try:
        sessions = session_factory(engine)
        order: list[int] = []

        async def write(number: int) -> None:
            async with unit_of_work(sessions) as session:
                await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock
                order.append(number)
                await asyncio.sleep(HELD_SECONDS)

        writers = []
        for number in range(3):
            writers.append(asyncio.create_task(write(number)))
            await asyncio.sleep(0.01)  # arrive one after the other
        await asyncio.gather(*writers)  # none ran into "database is locked"
        assert order == [0, 1, 2]
    finally:
        await engine.dispose()


async def test_a_unit_of_work_inside_another_fails_at_once(tmp_path: Path) -> None:
    """Nested, the inner one would wait for the outer one for ever; it says so instead."""
    engine = create_engine(f"sqlite:///{tmp_path / 'amanat.db'}")
    try:
        sessions = session_factory(engine)
        async with unit_of_work(sessions):
            with pytest.raises(RuntimeError, match="inside another"):
                async with unit_of_work(sessions):
                    pass
        async with unit_of_work(sessions) as session:  # and the queue is free again
            assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
