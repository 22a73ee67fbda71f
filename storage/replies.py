"""Store admins' replies to reporters, sealed to the reporter's key; all their SQL lives here.

Like every repository it takes a session, never commits, and accepts only sealed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto.values import SealedBlob
from storage.models import ReplyNoticeRow, ReplyRow


@dataclass(frozen=True)
class StoredReply:
    """One sealed reply, its place and its day."""

    index: int
    sent_on: date
    blob: SealedBlob


class ReplyRepository:
    """Replies of one report, in the order they were written."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_index(self, report_id: str) -> int:
        """Return the index the next reply of this report takes."""
        highest = await self._session.scalar(
            select(func.max(ReplyRow.index)).where(ReplyRow.report_id == report_id)
        )
        return 0 if highest is None else int(highest) + 1

    async def add(self, report_id: str, index: int, blob: SealedBlob, sent_on: date) -> None:
        """Store one reply (sealed to the reporter) under the given index."""
        if not isinstance(blob, SealedBlob):
            raise TypeError("replies must be sealed")
        if type(sent_on) is not date:
            raise TypeError("sent_on is a day, never a time")
        self._session.add(
            ReplyRow(report_id=report_id, index=index, blob=blob.data, sent_on=sent_on)
        )
        await self._session.flush()

    async def for_report(self, report_id: str) -> list[StoredReply]:
        """Return every reply of a report, oldest first."""
        rows = await self._session.scalars(
            select(ReplyRow).where(ReplyRow.report_id == report_id).order_by(ReplyRow.index)
        )
        return [StoredReply(row.index, row.sent_on, SealedBlob(row.blob)) for row in rows]


class ReplyNoticeRepository:
    """Locked contact details of reporters who asked to hear when an answer comes."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, report_id: str, blob: bytes, expires_on: date) -> None:
        """Store a notice for a report at submission (the reporter opted in), until a day."""
        self._session.add(
            ReplyNoticeRow(report_id=report_id, blob=blob, pending=False, expires_on=expires_on)
        )
        await self._session.flush()

    async def delete(self, report_ids: Sequence[str]) -> int:
        """Stop the notices of these reports (the reporter wiped the chat they would go to)."""
        if not report_ids:
            return 0
        result = await self._session.execute(
            delete(ReplyNoticeRow).where(ReplyNoticeRow.report_id.in_(list(report_ids)))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def purge_expired(self, today: date) -> int:
        """Delete notices whose day has come (and any from before expiry days existed)."""
        result = await self._session.execute(
            delete(ReplyNoticeRow).where(
                or_(ReplyNoticeRow.expires_on.is_(None), ReplyNoticeRow.expires_on <= today)
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def mark_pending(self, report_id: str) -> bool:
        """Flag that an answer waits; False when the reporter did not opt in."""
        result = await self._session.execute(
            update(ReplyNoticeRow).where(ReplyNoticeRow.report_id == report_id).values(pending=True)
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def pending(self, limit: int = 50, after: str = "") -> list[tuple[str, bytes]]:
        """Return notices waiting to be sent, in report id order after ``after``.

        Paged by id, not by a bare limit: notices that stay pending (a Telegram outage, a
        notice this server's key cannot open) must not hide the ones behind them forever.
        """
        rows = await self._session.execute(
            select(ReplyNoticeRow.report_id, ReplyNoticeRow.blob)
            .where(ReplyNoticeRow.pending.is_(True), ReplyNoticeRow.report_id > after)
            .order_by(ReplyNoticeRow.report_id)
            .limit(limit)
        )
        return [(report_id, blob) for report_id, blob in rows.all()]

    async def mark_sent(self, report_id: str) -> None:
        """Clear the flag once the message went out."""
        await self._session.execute(
            update(ReplyNoticeRow)
            .where(ReplyNoticeRow.report_id == report_id)
            .values(pending=False)
        )
