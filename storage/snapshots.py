"""Keep the one sealed snapshot of counts per month that every digest of that month renders.

A month's first ``amanat digest issue`` stores what it counted, sealed to the admins, and every
later issue of the month renders exactly that (:mod:`bot.partners.snapshot`). The row is keyed
by the month alone and holds nothing but ciphertext. Like every repository this one takes the
caller's session and never commits; a second snapshot of a month is never written over the
first (``INSERT ... ON CONFLICT DO NOTHING``, not a caught IntegrityError).
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto.values import SealedBlob
from storage.models import DigestSnapshotRow
from storage.records import require_sealed

_MONTH: Final = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def _require_month(month: object) -> str:
    """Accept ``YYYY-MM`` only; the value is never quoted back."""
    if not isinstance(month, str) or not _MONTH.fullmatch(month):
        raise ValueError("a snapshot month must be YYYY-MM")
    return month


class DigestSnapshotRepository:
    """Store and read the sealed snapshot of each month that has been issued."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside the caller's session and transaction."""
        self._session = session

    async def get(self, month: str) -> SealedBlob | None:
        """Return the month's sealed snapshot, or None when it was never issued."""
        blob = await self._session.scalar(
            select(DigestSnapshotRow.blob).where(DigestSnapshotRow.month == _require_month(month))
        )
        return None if blob is None else SealedBlob(blob)

    async def add(self, month: str, blob: SealedBlob) -> bool:
        """Store the month's first snapshot; False, changing nothing, when it has one already.

        Two admins issuing the same month at once must not both believe theirs is the first:
        the one whose insert does nothing is told so and can start again.
        """
        values = {"month": _require_month(month), "blob": require_sealed(blob).data}
        dialect = self._session.get_bind().dialect.name
        if dialect == "sqlite":
            lite = sqlite.insert(DigestSnapshotRow).values(values).on_conflict_do_nothing()
            result = await self._session.execute(lite.returning(DigestSnapshotRow.month))
        elif dialect == "postgresql":
            pg = postgresql.insert(DigestSnapshotRow).values(values).on_conflict_do_nothing()
            result = await self._session.execute(pg.returning(DigestSnapshotRow.month))
        else:
            raise RuntimeError("unsupported database dialect")
        return result.first() is not None

    async def months(self) -> list[str]:
        """Return every month that has a snapshot, oldest first."""
        rows = await self._session.scalars(
            select(DigestSnapshotRow.month).order_by(DigestSnapshotRow.month)
        )
        return list(rows.all())

    async def replace(self, month: str, blob: SealedBlob, *, expected: SealedBlob) -> bool:
        """Swap a snapshot's sealing (re-wrapped to new admin keys) only if it is unchanged."""
        result = await self._session.execute(
            update(DigestSnapshotRow)
            .where(
                DigestSnapshotRow.month == _require_month(month),
                DigestSnapshotRow.blob == require_sealed(expected).data,
            )
            .values(blob=require_sealed(blob).data)
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]
