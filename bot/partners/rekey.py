"""Re-wrap the months' digest snapshots when the admin key set changes, like the reports.

A snapshot is sealed to the admins (docs/crypto.md §15.1). Re-wrapping keeps its content
bytes, so its pin in the audit chain still matches; without it, an admin added later could
not issue an old month again, and a rotated-away key would leave every snapshot closed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.rekey import Problem, rewrap_item
from bot.crypto.items import rewrap_for_admins
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.partners.months import Month
from bot.partners.snapshot import snapshot_ref
from storage.db import unit_of_work
from storage.snapshots import DigestSnapshotRepository


async def rewrap_snapshots(
    sessions: async_sessionmaker[AsyncSession],
    keys: Sequence[AdminPrivateKey],
    target: Sequence[AdminPublicKey],
    *,
    execute: bool,
) -> tuple[int, list[str]]:
    """Re-wrap every month's snapshot to ``target``; return how many, and the months left over.

    Without ``execute`` nothing is written. A snapshot none of ``keys`` opens, or one that was
    altered, is left as it is and named.
    """
    async with unit_of_work(sessions) as session:
        months = await DigestSnapshotRepository(session).months()
    rewrapped = 0
    left: list[str] = []
    for month in months:
        async with unit_of_work(sessions) as session:
            snapshots = DigestSnapshotRepository(session)
            sealed = await snapshots.get(month)
            if sealed is None:
                continue
            ref = snapshot_ref(Month.parse(month))
            new = rewrap_item(rewrap_for_admins, sealed, ref, keys, target)
            if isinstance(new, Problem):
                left.append(month)
            elif not execute or await snapshots.replace(month, new, expected=sealed):
                rewrapped += 1
            else:
                left.append(month)
    return rewrapped, left
