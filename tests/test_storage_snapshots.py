"""Test the digest snapshot repository on SQLite and PostgreSQL: one sealed row per month."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.crypto.values import SealedBlob
from storage.db import unit_of_work
from storage.snapshots import DigestSnapshotRepository


async def test_a_month_keeps_its_first_snapshot(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        snapshots = DigestSnapshotRepository(session)
        assert await snapshots.get("2026-10") is None
        assert await snapshots.add("2026-10", SealedBlob(b"first"))
    async with unit_of_work(sessions) as session:
        snapshots = DigestSnapshotRepository(session)
        assert not await snapshots.add("2026-10", SealedBlob(b"second"))  # never overwritten
        assert await snapshots.add("2026-11", SealedBlob(b"november"))
    async with unit_of_work(sessions) as session:
        snapshots = DigestSnapshotRepository(session)
        assert await snapshots.get("2026-10") == SealedBlob(b"first")
        assert await snapshots.get("2026-11") == SealedBlob(b"november")


async def test_only_sealed_snapshots_of_a_month_are_accepted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        snapshots = DigestSnapshotRepository(session)
        with pytest.raises(TypeError):
            await snapshots.add("2026-10", b"plaintext")  # type: ignore[arg-type]
        for month in ("2026-10-31", "October", "2026-13"):
            with pytest.raises(ValueError, match="YYYY-MM") as caught:
                await snapshots.add(month, SealedBlob(b"x"))
            assert month not in str(caught.value)
            with pytest.raises(ValueError, match="YYYY-MM"):
                await snapshots.get(month)
