"""Store sealed attachment chunks: write them as they are sealed, read them in order, purge.

This repository owns all SQL of ``attachment_chunks``. Like every repository it takes a
session and never commits, and it accepts only :class:`bot.crypto.SealedBlob` values: an
attachment is never stored in the clear.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto.values import SealedBlob
from storage.models import AttachmentChunkRow

CHUNKS_PER_READ = 16


class AttachmentRepository:
    """Sealed chunks of the attachments of one report, by attachment index and chunk number."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_chunk(
        self, report_id: str, index: int, seq: int, blob: SealedBlob, expires_on: date | None
    ) -> None:
        """Store one sealed chunk (``seq`` 0 is the stream header)."""
        if not isinstance(blob, SealedBlob):
            raise TypeError("attachment chunks must be sealed")
        self._session.add(
            AttachmentChunkRow(
                report_id=report_id, index=index, seq=seq, blob=blob.data, expires_on=expires_on
            )
        )
        await self._session.flush()

    async def chunks(self, report_id: str, index: int) -> AsyncIterator[SealedBlob]:
        """Yield the sealed chunks of one attachment in order, a few rows at a time."""
        seq = 0
        while True:
            rows = (
                await self._session.scalars(
                    select(AttachmentChunkRow)
                    .where(
                        AttachmentChunkRow.report_id == report_id,
                        AttachmentChunkRow.index == index,
                        AttachmentChunkRow.seq >= seq,
                    )
                    .order_by(AttachmentChunkRow.seq)
                    .limit(CHUNKS_PER_READ)
                )
            ).all()
            for row in rows:
                yield SealedBlob(row.blob)
            if len(rows) < CHUNKS_PER_READ:
                return
            seq = rows[-1].seq + 1

    async def indexes(self, report_id: str) -> list[int]:
        """Return the attachment indexes stored for a report."""
        result = await self._session.scalars(
            select(AttachmentChunkRow.index)
            .where(AttachmentChunkRow.report_id == report_id)
            .distinct()
            .order_by(AttachmentChunkRow.index)
        )
        return list(result.all())

    async def keep(self, report_id: str) -> None:
        """Keep a submitted report's attachments for good (clear their expiry)."""
        await self._session.execute(
            update(AttachmentChunkRow)
            .where(AttachmentChunkRow.report_id == report_id)
            .values(expires_on=None)
        )

    async def drop(self, report_id: str, indexes: list[int] | None = None) -> int:
        """Delete a draft's attachments (all, or the given indexes); return chunks deleted."""
        statement = delete(AttachmentChunkRow).where(AttachmentChunkRow.report_id == report_id)
        if indexes is not None:
            statement = statement.where(AttachmentChunkRow.index.in_(indexes))
        result = await self._session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def purge_expired(self, today: date) -> int:
        """Delete chunks of abandoned drafts whose expiry day has passed."""
        result = await self._session.execute(
            delete(AttachmentChunkRow).where(AttachmentChunkRow.expires_on < today)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def total_chunks(self, report_id: str) -> int:
        """Count a report's stored chunks (for admins and tests)."""
        count = await self._session.scalar(
            select(func.count()).where(AttachmentChunkRow.report_id == report_id)
        )
        return int(count or 0)

    async def headers(self, report_id: str) -> list[tuple[int, SealedBlob]]:
        """Return each attachment's stream header (chunk 0), by index: what key changes re-wrap."""
        rows = await self._session.execute(
            select(AttachmentChunkRow.index, AttachmentChunkRow.blob)
            .where(AttachmentChunkRow.report_id == report_id, AttachmentChunkRow.seq == 0)
            .order_by(AttachmentChunkRow.index)
        )
        return [(index, SealedBlob(blob)) for index, blob in rows.all()]

    async def replace_header(
        self, report_id: str, index: int, blob: SealedBlob, *, expected: SealedBlob
    ) -> bool:
        """Swap a stream header only if it is still ``expected`` (a concurrent change wins)."""
        if not isinstance(blob, SealedBlob) or not isinstance(expected, SealedBlob):
            raise TypeError("stream headers must be sealed")
        result = await self._session.execute(
            update(AttachmentChunkRow)
            .where(
                AttachmentChunkRow.report_id == report_id,
                AttachmentChunkRow.index == index,
                AttachmentChunkRow.seq == 0,
                AttachmentChunkRow.blob == expected.data,
            )
            .values(blob=blob.data)
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]
