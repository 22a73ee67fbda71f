"""Append to and read the admins' hash-chained audit log; all its SQL lives here.

Appends are serialised (SQLite's write lock; a table lock on PostgreSQL) so two admins never
fork the chain. Like every repository it takes a session and never commits.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto.audit import GENESIS, AuditEntry, entry_hash
from storage.models import AuditEntryRow


class AuditRepository:
    """The chain of admin actions, oldest first."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, day: date, admin: str, action: str, subject: str) -> AuditEntry:
        """Add one entry after the current head."""
        if self._session.get_bind().dialect.name == "postgresql":
            await self._session.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
        last = await self._session.scalar(
            select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(1)
        )
        seq = 1 if last is None else last.seq + 1
        prev = GENESIS if last is None else last.hash
        digest = entry_hash(prev, seq, day, admin, action, subject)
        row = AuditEntryRow(
            seq=seq,
            day=day,
            admin=admin,
            action=action,
            subject=subject,
            prev_hash=prev,
            hash=digest,
        )
        self._session.add(row)
        await self._session.flush()
        return AuditEntry(seq, day, admin, action, subject, prev, digest)

    async def entries(self) -> list[AuditEntry]:
        """Return every entry in sequence order."""
        rows = await self._session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq))
        return [
            AuditEntry(r.seq, r.day, r.admin, r.action, r.subject, r.prev_hash, r.hash)
            for r in rows
        ]
