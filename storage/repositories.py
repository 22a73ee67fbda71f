"""Own every SQL statement Amanat runs: small repositories over one caller-owned session.

Each repository takes an ``AsyncSession`` inside the caller's unit of work
(:func:`storage.db.unit_of_work`) and never commits, rolls back or opens its own transaction.
Duplicates are handled with ``INSERT ... ON CONFLICT`` rather than by catching an
IntegrityError, which would leave the caller's transaction unusable on PostgreSQL. Sealed
columns accept only :class:`bot.crypto.SealedBlob` and raise ``TypeError`` for anything else:
never fall back to plaintext.

Nothing here logs or puts a value (ciphertext, receipt hash) into an exception message, and
nothing here stores anything keyed by or derived from a messenger account: conversations in
progress live in :mod:`storage.conversations`, in volatile memory.
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Collection, Sequence
from datetime import date
from typing import Final

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from bot.crypto.values import SealedBlob
from storage.models import ReportFileRow, ReportItemRow, ReportRow, StatRecordRow
from storage.records import (
    RECEIPT_HASH_SIZE,
    REPORT_STATUSES,
    STATUS_CLAIMED,
    STATUS_NEW,
    NewFile,
    NewItem,
    NewReport,
    ReportSummary,
    StatMargins,
    StatRecord,
    StoredItem,
    StoredReport,
    require_sealed,
)

__all__ = [
    "NewFile",
    "NewItem",
    "NewReport",
    "ReportRepository",
    "ReportSummary",
    "StatRecord",
    "StatsRepository",
    "StoredItem",
    "StoredReport",
]

_STAT_ID_BYTES: Final = 16
_MARGIN_ORDER: Final = ("category", "party", "country", "month", "urgency", "former_forces")
_MAX_PAGE: Final = 1000


async def _count(session: AsyncSession, statement: Executable) -> int:
    """Execute a DML statement with RETURNING and count the rows it touched."""
    return len((await session.execute(statement)).all())


_NEXT_NEW: Final = (
    select(ReportRow.id)
    .where(ReportRow.status == STATUS_NEW)
    .order_by(ReportRow.urgent.desc(), ReportRow.submitted_on, ReportRow.id)
    .limit(1)
)
"""The next new report: urgent first, then the longest waiting (the id breaks ties)."""


class ReportRepository:
    """Store submitted reports and their sealed items; read them back for triage and /status."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside the caller's session and transaction."""
        self._session = session

    async def add(self, report: NewReport) -> None:
        """Insert a report and its items; a duplicate id or receipt hash raises IntegrityError."""
        if not isinstance(report, NewReport):
            raise TypeError("add() takes a NewReport")
        for item in report.items:
            require_sealed(item.blob)
        await self._session.execute(
            insert(ReportRow).values(
                id=report.id,
                format_version=report.format_version,
                submitted_on=report.submitted_on,
                urgent=report.urgent,
                status=STATUS_NEW,
                receipt_hash=report.receipt_hash,
                reporter_key=report.reporter_key,
            )
        )
        if report.files:
            await self._session.execute(
                insert(ReportFileRow),
                [
                    {"report_id": report.id, "index": file.index, "upload_id": file.upload_id}
                    for file in report.files
                ],
            )
        if report.items:
            await self._session.execute(
                insert(ReportItemRow),
                [
                    {
                        "report_id": report.id,
                        "kind": item.kind,
                        "index": item.index,
                        "blob": item.blob.data,
                    }
                    for item in report.items
                ],
            )

    async def queue(
        self,
        *,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
        uncounted: Collection[str] = (),
    ) -> list[ReportSummary]:
        """List reports for triage: urgent first, then the newest day first.

        Each row counts the report's items except those of the ``uncounted`` kinds.
        """
        if status is not None and status not in REPORT_STATUSES:
            raise ValueError(f"status must be one of {REPORT_STATUSES}")
        if not 0 < limit <= _MAX_PAGE or offset < 0:
            raise ValueError(f"limit must be in 1..{_MAX_PAGE} and offset non-negative")
        item_count = (
            select(func.count())
            .where(ReportItemRow.report_id == ReportRow.id)
            .where(ReportItemRow.kind.not_in(list(uncounted)))
            .correlate(ReportRow)
            .scalar_subquery()
        )
        statement = select(
            ReportRow.id, ReportRow.submitted_on, ReportRow.urgent, ReportRow.status, item_count
        )
        if status is not None:
            statement = statement.where(ReportRow.status == status)
        statement = (
            statement.order_by(ReportRow.urgent.desc(), ReportRow.submitted_on.desc(), ReportRow.id)
            .limit(limit)
            .offset(offset)
        )
        rows = (await self._session.execute(statement)).all()
        return [
            ReportSummary(
                id=row[0], submitted_on=row[1], urgent=row[2], status=row[3], item_count=row[4]
            )
            for row in rows
        ]

    async def get(self, report_id: str) -> StoredReport | None:
        """Return a report with its sealed items in (kind, index) order, or None."""
        if not isinstance(report_id, str):
            raise TypeError("a report id is a string")
        row = await self._session.get(ReportRow, report_id, populate_existing=True)
        if row is None:
            return None
        items = (
            await self._session.scalars(
                select(ReportItemRow)
                .where(ReportItemRow.report_id == report_id)
                .order_by(ReportItemRow.kind, ReportItemRow.index)
            )
        ).all()
        files = (
            await self._session.execute(
                select(ReportFileRow.index, ReportFileRow.upload_id)
                .where(ReportFileRow.report_id == report_id)
                .order_by(ReportFileRow.index)
            )
        ).all()
        return StoredReport(
            id=row.id,
            format_version=row.format_version,
            submitted_on=row.submitted_on,
            urgent=row.urgent,
            status=row.status,
            items=tuple(
                StoredItem(kind=item.kind, index=item.index, blob=SealedBlob(item.blob))
                for item in items
            ),
            reporter_key=row.reporter_key,
            files=tuple(NewFile(index, upload_id) for index, upload_id in files),
        )

    async def item(self, report_id: str, kind: str, index: int) -> SealedBlob | None:
        """One sealed item of a report, without reading the others."""
        blob = await self._session.scalar(
            select(ReportItemRow.blob).where(
                ReportItemRow.report_id == report_id,
                ReportItemRow.kind == kind,
                ReportItemRow.index == index,
            )
        )
        return None if blob is None else SealedBlob(blob)

    async def add_item(self, report_id: str, kind: str, index: int, blob: SealedBlob) -> None:
        """Add one sealed item to a stored report (an admin's reply copy, for instance)."""
        require_sealed(blob)
        await self._session.execute(
            insert(ReportItemRow).values(
                report_id=report_id, kind=kind, index=index, blob=blob.data
            )
        )

    async def next_index(self, report_id: str, kind: str) -> int:
        """Return the index the report's next item of ``kind`` takes (0 for the first)."""
        highest = await self._session.scalar(
            select(func.max(ReportItemRow.index)).where(
                ReportItemRow.report_id == report_id, ReportItemRow.kind == kind
            )
        )
        return 0 if highest is None else int(highest) + 1

    async def next_file_index(self, report_id: str) -> int:
        """Return the attachment index the report's next file takes."""
        highest = await self._session.scalar(
            select(func.max(ReportFileRow.index)).where(ReportFileRow.report_id == report_id)
        )
        return 0 if highest is None else int(highest) + 1

    async def add_file(self, report_id: str, file: NewFile) -> None:
        """Claim one more upload for a stored report (a file the reporter sent afterwards)."""
        if not isinstance(file, NewFile):
            raise TypeError("add_file() takes a NewFile")
        await self._session.execute(
            insert(ReportFileRow).values(
                report_id=report_id, index=file.index, upload_id=file.upload_id
            )
        )

    async def set_status(self, report_id: str, status: str) -> bool:
        """Move a report to another status; False when there is no such report."""
        if status not in REPORT_STATUSES:
            raise ValueError("unknown report status")
        result = await self._session.execute(
            update(ReportRow).where(ReportRow.id == report_id).values(status=status)
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def claim_next(self) -> str | None:
        """Move the next new report (urgent first, then the longest waiting) to claimed.

        Two admins claiming at once get different reports: on PostgreSQL the row is taken
        ``FOR UPDATE SKIP LOCKED``, so the second skips the first one's row instead of waiting
        for it; SQLite takes its write lock when the transaction begins, so claims queue up.
        Returns the report id, or None when no report is new.
        """
        statement = _NEXT_NEW.with_for_update(skip_locked=True)
        report_id = await self._session.scalar(statement)
        if report_id is None:
            return None
        await self._session.execute(
            update(ReportRow).where(ReportRow.id == report_id).values(status=STATUS_CLAIMED)
        )
        return str(report_id)

    async def upload_of(self, report_id: str, index: int) -> str | None:
        """The upload that holds a report's file at ``index``, if it has one."""
        return await self._session.scalar(
            select(ReportFileRow.upload_id).where(
                ReportFileRow.report_id == report_id, ReportFileRow.index == index
            )
        )

    async def next_new(self) -> str | None:
        """The report :meth:`claim_next` would take now (urgent first, then the longest
        waiting), without taking it: an admin's machine signs the claim of this one."""
        return await self._session.scalar(_NEXT_NEW)

    async def claim(self, report_id: str) -> bool:
        """Move one report from new to claimed; False when it is not new (any more).

        The row's update lock orders two admins claiming it at once: the second finds it
        claimed already.
        """
        return await self._move(report_id, STATUS_NEW, STATUS_CLAIMED)

    async def release(self, report_id: str) -> bool:
        """Move one report from claimed back to new; False when it is not claimed."""
        return await self._move(report_id, STATUS_CLAIMED, STATUS_NEW)

    async def _move(self, report_id: str, source: str, target: str) -> bool:
        """Set ``target`` only where the report's status is still ``source``."""
        result = await self._session.execute(
            update(ReportRow)
            .where(ReportRow.id == report_id, ReportRow.status == source)
            .values(status=target)
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def submitted_on(self, report_id: str) -> date | None:
        """Return the day a report was stored, or None when there is no such report."""
        if not isinstance(report_id, str):
            raise TypeError("a report id is a string")
        return await self._session.scalar(
            select(ReportRow.submitted_on).where(ReportRow.id == report_id)
        )

    async def exists(self, report_id: str) -> bool:
        """Tell whether a report with this id was stored (ids are random; collisions are bugs)."""
        if not isinstance(report_id, str):
            raise TypeError("a report id is a string")
        found = await self._session.scalar(select(ReportRow.id).where(ReportRow.id == report_id))
        return found is not None

    async def ids_after(self, after: str | None = None, *, limit: int = 500) -> list[str]:
        """Return the next page of report ids in id order, for walking every report in pages.

        Keyset paging (``id > after``) keeps each page one short statement, so a caller can
        give every report its own unit of work; ids are random, so the order says nothing.
        """
        if after is not None and not isinstance(after, str):
            raise TypeError("a report id is a string")
        if not 0 < limit <= _MAX_PAGE:
            raise ValueError(f"limit must be in 1..{_MAX_PAGE}")
        statement = select(ReportRow.id).order_by(ReportRow.id).limit(limit)
        if after is not None:
            statement = statement.where(ReportRow.id > after)
        return list((await self._session.scalars(statement)).all())

    async def replace_item_blob(
        self, report_id: str, kind: str, index: int, blob: SealedBlob, *, expected: SealedBlob
    ) -> bool:
        """Swap one item's sealed blob for another, only if it still holds ``expected``.

        Re-keying re-wraps an item's data key and writes the result back; the compare-and-swap
        makes a concurrent change of the same item (another admin's run) lose nothing: the
        caller learns it from False and can run again. False also when there is no such item.
        """
        require_sealed(blob)
        require_sealed(expected)
        if not isinstance(report_id, str) or not isinstance(kind, str):
            raise TypeError("a report id and an item kind are strings")
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError("an item index is an int")
        statement = (
            update(ReportItemRow)
            .where(
                ReportItemRow.report_id == report_id,
                ReportItemRow.kind == kind,
                ReportItemRow.index == index,
                ReportItemRow.blob == expected.data,
            )
            .values(blob=blob.data)
            .returning(ReportItemRow.report_id)
            # get() reads with populate_existing, so no loaded object needs updating here.
            .execution_options(synchronize_session=False)
        )
        return await _count(self._session, statement) == 1

    async def find_by_receipt_hash(self, receipt_hash: bytes) -> str | None:
        """Return the id of the report whose receipt hashes to this value, or None."""
        if not isinstance(receipt_hash, bytes) or len(receipt_hash) != RECEIPT_HASH_SIZE:
            raise ValueError(f"a receipt hash is {RECEIPT_HASH_SIZE} bytes")
        return await self._session.scalar(
            select(ReportRow.id).where(ReportRow.receipt_hash == receipt_hash)
        )


class StatsRepository:
    """Store and read the anonymized statistics records; nothing here knows any report."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside the caller's session and transaction."""
        self._session = session

    async def add_batch(self, records: Sequence[StatRecord]) -> None:
        """Insert records in random order, each under a fresh random id.

        Call it only with a batch released by the volatile store, never in a report's
        transaction: on PostgreSQL rows sit in the heap in insertion order and share their
        transaction's ``xmin``, so the order and the transaction must say nothing. The same
        shuffled order goes into the indexes of ``stat_records``
        (``storage.models.STAT_MARGIN_INDEXES``), so their pages too can say at most which
        records came in one batch.
        """
        if not all(isinstance(record, StatRecord) for record in records):
            raise TypeError("add_batch() takes StatRecord values")
        shuffled = list(records)
        random.SystemRandom().shuffle(shuffled)
        self._session.add_all(_stat_row(record) for record in shuffled)
        await self._session.flush()

    async def margins(self, month: str | None = None) -> StatMargins:
        """Count the records by each field on its own (of one month, or all), in the database.

        A digest publishes one-way tables only, so it needs these counts and never the records.
        Each field is grouped together with the month, so that the GROUP BY walks that field's
        index (``storage.models.STAT_MARGIN_INDEXES``) instead of sorting every record: SQLite
        sorts in memory, since no temporary file may hold data, and at a million records the
        seven sorts took about six seconds where the five walks take about half a second
        (benchmarks/digest.py). The months are summed away here, and the month and country
        counts are sums of the category and place walks. An index rather than a table of
        counts kept up to date: it is the same records again, with no history (the docstring
        of ``STAT_MARGIN_INDEXES`` and benchmarks/README.md weigh the two).
        """
        row = StatRecordRow
        where = [] if month is None else [row.month == month]
        fields: dict[str, Counter[str]] = {name: Counter() for name in _MARGIN_ORDER}
        provinces: Counter[tuple[str, str | None]] = Counter()
        for field in ("category", "party", "urgency", "former_forces"):
            column = getattr(row, field)
            counted = await self._session.execute(
                select(row.month, column, func.count()).where(*where).group_by(row.month, column)
            )
            for at, value, n in counted:
                fields[field][str(value)] += int(n)
                if field == "category":
                    fields["month"][str(at)] += int(n)
        places = await self._session.execute(
            select(row.month, row.country, row.province, func.count())
            .where(*where)
            .group_by(row.month, row.country, row.province)
        )
        for _, country, province, n in places:
            fields["country"][str(country)] += int(n)
            provinces[(str(country), province)] += int(n)
        return StatMargins(fields, provinces)

    async def tally(self, month: str | None = None) -> Counter[StatRecord]:
        """Count the records alike (of one month, or all), in the database: a digest needs
        only how many of each, and a million records become a few hundred rows."""
        fields = (
            StatRecordRow.category,
            StatRecordRow.party,
            StatRecordRow.country,
            StatRecordRow.province,
            StatRecordRow.month,
            StatRecordRow.urgency,
            StatRecordRow.former_forces,
        )
        statement = select(*fields, func.count()).group_by(*fields)
        if month is not None:
            statement = statement.where(StatRecordRow.month == month)
        counted: Counter[StatRecord] = Counter()
        for (
            category,
            party,
            country,
            province,
            at,
            urgency,
            forces,
            n,
        ) in await self._session.execute(statement):
            counted[StatRecord(category, party, country, province, at, urgency, forces)] = int(n)
        return counted

    async def all(self) -> list[StatRecord]:
        """Return every record, in random-id order (which says nothing about arrival)."""
        rows = (await self._session.scalars(select(StatRecordRow).order_by(StatRecordRow.id))).all()
        return [
            StatRecord(
                category=row.category,
                party=row.party,
                country=row.country,
                province=row.province,
                month=row.month,
                urgency=row.urgency,
                former_forces=row.former_forces,
            )
            for row in rows
        ]


def _stat_row(record: StatRecord) -> StatRecordRow:
    """Build a row for a record under a fresh random 128-bit id."""
    return StatRecordRow(
        id=secrets.token_hex(_STAT_ID_BYTES),
        category=record.category,
        party=record.party,
        country=record.country,
        province=record.province,
        month=record.month,
        urgency=record.urgency,
        former_forces=record.former_forces,
    )
