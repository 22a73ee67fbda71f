"""Record and read admin keys a lead locked out of the admin API; all its SQL lives here.

Like every repository it takes a session and never commits.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AdminRevocationRow


class RevocationRepository:
    """Revoked admin key ids, with the day and the lead who revoked each."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def revoke(self, key_id: str, day: date, by: str) -> bool:
        """Lock a key out; False when it was revoked already (nothing changes)."""
        if await self.is_revoked(key_id):
            return False
        self._session.add(AdminRevocationRow(key_id=key_id, revoked_on=day, revoked_by=by))
        await self._session.flush()
        return True

    async def is_revoked(self, key_id: str) -> bool:
        """Tell whether a lead revoked this key."""
        found = await self._session.scalar(
            select(AdminRevocationRow.key_id).where(AdminRevocationRow.key_id == key_id)
        )
        return found is not None

    async def all(self) -> dict[str, date]:
        """Every revoked key id with the day it was revoked."""
        rows = await self._session.execute(
            select(AdminRevocationRow.key_id, AdminRevocationRow.revoked_on)
        )
        return {key_id: day for key_id, day in rows.all()}
