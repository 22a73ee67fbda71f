"""Append to and read the admins' hash-chained, signed audit log; all its SQL lives here.

Appends are serialised (SQLite's write lock; a table lock on PostgreSQL) so two admins never
fork the chain, and each is signed by the acting admin's key (``docs/crypto.md`` §14): this
module only stores what the signer returns, it never holds a key. Like every repository it
takes a session and never commits.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto.audit import GENESIS, SIGNATURE_SIZE, AuditEntry, Signer, entry_hash
from storage.models import AuditEntryRow


class AuditRepository:
    """The chain of admin actions, oldest first."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(
        self, day: date, admin: str, action: str, subject: str, *, signer: Signer
    ) -> AuditEntry:
        """Add one entry after the current head, signed by ``signer`` (the admin it names).

        ``signer`` is the acting admin key's ``sign_audit_entry``: it signs the entry hash.
        """
        if self._session.get_bind().dialect.name == "postgresql":
            await self._session.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
        last = await self._session.scalar(
            select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(1)
        )
        seq = 1 if last is None else last.seq + 1
        prev = GENESIS if last is None else last.hash
        digest = entry_hash(prev, seq, day, admin, action, subject)
        signature = signer(digest)
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
            raise ValueError("an audit signature is 64 bytes")
        row = AuditEntryRow(
            seq=seq,
            day=day,
            admin=admin,
            action=action,
            subject=subject,
            prev_hash=prev,
            hash=digest,
            signature=signature,
        )
        self._session.add(row)
        await self._session.flush()
        return AuditEntry(seq, day, admin, action, subject, prev, digest, signature)

    async def head(self) -> tuple[int, bytes]:
        """Return the newest entry's number and hash: (0, 32 zero bytes) before the first."""
        last = await self._session.scalar(
            select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(1)
        )
        return (0, GENESIS) if last is None else (last.seq, last.hash)

    async def about(self, subject: str, actions: Collection[str]) -> list[AuditEntry]:
        """The entries of these actions on this subject (e.g. a report's notes), oldest first."""
        rows = await self._session.scalars(
            select(AuditEntryRow)
            .where(AuditEntryRow.subject == subject, AuditEntryRow.action.in_(list(actions)))
            .order_by(AuditEntryRow.seq)
        )
        return [
            AuditEntry(r.seq, r.day, r.admin, r.action, r.subject, r.prev_hash, r.hash, r.signature)
            for r in rows
        ]

    async def entries_after(self, seq: int, limit: int) -> list[AuditEntry]:
        """Up to ``limit`` entries after number ``seq``, in order: one page of the chain."""
        rows = await self._session.scalars(
            select(AuditEntryRow)
            .where(AuditEntryRow.seq > seq)
            .order_by(AuditEntryRow.seq)
            .limit(limit)
        )
        return [
            AuditEntry(r.seq, r.day, r.admin, r.action, r.subject, r.prev_hash, r.hash, r.signature)
            for r in rows
        ]

    async def latest_of(self, admin: str, actions: Collection[str]) -> AuditEntry | None:
        """The newest entry this admin chained with one of ``actions``, if any."""
        row = await self._session.scalar(
            select(AuditEntryRow)
            .where(AuditEntryRow.admin == admin, AuditEntryRow.action.in_(list(actions)))
            .order_by(AuditEntryRow.seq.desc())
            .limit(1)
        )
        if row is None:
            return None
        return AuditEntry(
            row.seq,
            row.day,
            row.admin,
            row.action,
            row.subject,
            row.prev_hash,
            row.hash,
            row.signature,
        )

    async def entries(self) -> list[AuditEntry]:
        """Return every entry in sequence order, each with its signature (None if unsigned)."""
        rows = await self._session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq))
        return [
            AuditEntry(r.seq, r.day, r.admin, r.action, r.subject, r.prev_hash, r.hash, r.signature)
            for r in rows
        ]
