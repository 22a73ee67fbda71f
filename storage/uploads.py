"""Store sealed uploads: files sealed chunk by chunk while the reporter is still talking.

This repository owns all SQL of ``upload_chunks`` and ``report_files``. A file is written under
a random upload id, in a transaction that holds nothing else, so nothing on disk says which
conversation or which report it belongs to until a report claims it at submission
(:meth:`storage.repositories.ReportRepository.add` writes the claim). Unclaimed uploads are
deleted after their expiry day. Like every repository it takes a session, never commits, and
accepts only :class:`bot.crypto.values.SealedBlob`: a file is never stored in the clear.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import date

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto.values import SealedBlob
from storage.models import ReportFileRow, UploadChunkRow
from storage.records import require_sealed, require_upload_id

CHUNKS_PER_READ = 16


class UploadRepository:
    """Sealed chunks of uploaded files, by upload id and chunk number (0 is the header)."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside the caller's session and transaction."""
        self._session = session

    async def add_chunk(self, upload_id: str, seq: int, blob: SealedBlob, expires_on: date) -> None:
        """Store one sealed chunk; the upload is deleted after ``expires_on`` unless claimed."""
        require_upload_id(upload_id)
        require_sealed(blob)
        self._session.add(
            UploadChunkRow(upload_id=upload_id, seq=seq, blob=blob.data, expires_on=expires_on)
        )
        await self._session.flush()

    def chunks(self, upload_id: str) -> AsyncIterator[SealedBlob]:
        """Yield the sealed chunks of one upload in order, a few rows at a time."""
        return paged_chunks(lambda seq: self.chunk_batch(upload_id, seq))

    async def chunk_batch(self, upload_id: str, from_seq: int) -> list[tuple[int, SealedBlob]]:
        """Up to CHUNKS_PER_READ chunks from ``from_seq`` on, with their numbers: a caller
        that streams them far away reads each batch in a transaction of its own."""
        rows = (
            await self._session.scalars(
                select(UploadChunkRow)
                .where(UploadChunkRow.upload_id == upload_id, UploadChunkRow.seq >= from_seq)
                .order_by(UploadChunkRow.seq)
                .limit(CHUNKS_PER_READ)
            )
        ).all()
        return [(row.seq, SealedBlob(row.blob)) for row in rows]

    async def header(self, upload_id: str) -> SealedBlob | None:
        """Return an upload's stream header (chunk 0), or None if there is no such upload."""
        blob = await self._session.scalar(
            select(UploadChunkRow.blob).where(
                UploadChunkRow.upload_id == upload_id, UploadChunkRow.seq == 0
            )
        )
        return None if blob is None else SealedBlob(blob)

    async def drop(self, upload_ids: Iterable[str]) -> int:
        """Delete uploads nobody claimed (an answer changed, a draft abandoned)."""
        ids = [require_upload_id(upload_id) for upload_id in upload_ids]
        if not ids:
            return 0
        claimed = select(ReportFileRow.upload_id).where(ReportFileRow.upload_id.in_(ids))
        result = await self._session.execute(
            delete(UploadChunkRow).where(
                UploadChunkRow.upload_id.in_(ids), UploadChunkRow.upload_id.not_in(claimed)
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def purge_unclaimed(self, today: date) -> int:
        """Delete the chunks of uploads past their expiry day that no report claimed."""
        claimed = exists().where(ReportFileRow.upload_id == UploadChunkRow.upload_id)
        result = await self._session.execute(
            delete(UploadChunkRow).where(UploadChunkRow.expires_on < today, ~claimed)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def total_chunks(self, upload_id: str) -> int:
        """Count an upload's stored chunks (for admins and tests)."""
        count = await self._session.scalar(
            select(func.count()).where(UploadChunkRow.upload_id == upload_id)
        )
        return int(count or 0)

    async def replace_header(
        self, upload_id: str, blob: SealedBlob, *, expected: SealedBlob
    ) -> bool:
        """Swap a stream header only if it is still ``expected`` (a concurrent change wins)."""
        require_sealed(blob)
        require_sealed(expected)
        result = await self._session.execute(
            update(UploadChunkRow)
            .where(
                UploadChunkRow.upload_id == upload_id,
                UploadChunkRow.seq == 0,
                UploadChunkRow.blob == expected.data,
            )
            .values(blob=blob.data)
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


async def paged_chunks(
    batch: Callable[[int], Awaitable[list[tuple[int, SealedBlob]]]],
) -> AsyncIterator[SealedBlob]:
    """Yield an upload's chunks in order, asking ``batch(from_seq)`` for each batch of rows.

    In one session (:meth:`UploadRepository.chunks`) or in a short transaction per batch,
    for a caller that streams them far away (the admin API).
    """
    seq = 0
    while True:
        rows = await batch(seq)
        for _, blob in rows:
            yield blob
        if len(rows) < CHUNKS_PER_READ:
            return
        seq = rows[-1][0] + 1
