"""Own every SQL statement Amanat runs: small repositories over one caller-owned session.

Each repository takes an ``AsyncSession`` inside the caller's unit of work
(:func:`storage.db.unit_of_work`) and never commits, rolls back or opens its own transaction.
Duplicates are handled with ``INSERT ... ON CONFLICT`` rather than by catching an
IntegrityError, which would leave the caller's transaction unusable on PostgreSQL. Sealed
columns accept only :class:`bot.crypto.SealedBlob` and raise ``TypeError`` for anything else:
never fall back to plaintext.

Nothing here logs or puts a value (ciphertext, pseudonym, receipt hash) into an exception
message. Pseudonyms and ledger keys must be 64-character lowercase hex (HMAC-SHA256), which also
keeps a raw Telegram id from ever being stored by mistake.
"""

from __future__ import annotations

import random
import re
import secrets
from datetime import UTC, date, datetime
from typing import Final, TypeAlias

from sqlalchemy import case, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from bot.crypto.values import SealedBlob
from storage.models import (
    HEX_KEY_LENGTH,
    Base,
    DraftRow,
    LanguagePrefRow,
    RateWindowRow,
    ReportItemRow,
    ReportRow,
    StatRecordRow,
    UpdateLedgerRow,
)
from storage.records import (
    LOCALE_MAX,
    RECEIPT_HASH_SIZE,
    REPORT_STATUSES,
    STATUS_CLAIMED,
    STATUS_NEW,
    NewItem,
    NewReport,
    ReportSummary,
    StatRecord,
    StoredDraft,
    StoredItem,
    StoredReport,
    require_sealed,
)

__all__ = [
    "DraftRepository",
    "LanguageRepository",
    "NewItem",
    "NewReport",
    "ReportRepository",
    "ReportSummary",
    "StatRecord",
    "StatsRepository",
    "StoredDraft",
    "StoredItem",
    "StoredReport",
    "UpdateLedger",
]

_HEX_KEY = re.compile(f"[0-9a-f]{{{HEX_KEY_LENGTH}}}")
_STAT_ID_BYTES: Final = 16
_MAX_PAGE: Final = 1000

_Insert: TypeAlias = sqlite.Insert | postgresql.Insert


def _require_hex_key(value: object, what: str) -> str:
    """Accept only an HMAC-SHA256 hex digest, so no raw identifier can become a key."""
    if not isinstance(value, str) or not _HEX_KEY.fullmatch(value):
        raise ValueError(f"{what} must be a {HEX_KEY_LENGTH}-character lowercase hex HMAC")
    return value


def _require_aware(value: object, what: str) -> datetime:
    """Refuse a naive or non-datetime value before it reaches SQL."""
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return value


def _insert(session: AsyncSession, model: type[Base]) -> _Insert:
    """Return the dialect's INSERT, which knows ON CONFLICT on both supported backends."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return sqlite.insert(model)
    if dialect == "postgresql":
        return postgresql.insert(model)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


async def _count(session: AsyncSession, statement: Executable) -> int:
    """Execute a DML statement with RETURNING and count the rows it touched."""
    return len((await session.execute(statement)).all())


class DraftRepository:
    """Keep one expiring, server-key-encrypted draft per pseudonym."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside the caller's session and transaction."""
        self._session = session

    async def get(self, owner: str, *, now: datetime | None = None) -> StoredDraft | None:
        """Return the owner's draft, or None if there is none or it has expired (then drop it)."""
        _require_hex_key(owner, "a draft owner")
        now = _require_aware(now, "now") if now is not None else datetime.now(UTC)
        row = await self._session.get(DraftRow, owner, populate_existing=True)
        if row is None:
            return None
        if row.expires_at <= now:
            await self.delete(owner)
            return None
        return StoredDraft(blob=row.blob, expires_at=row.expires_at)

    async def put(self, owner: str, blob: bytes, expires_at: datetime) -> None:
        """Create or replace the owner's draft."""
        _require_hex_key(owner, "a draft owner")
        if not isinstance(blob, bytes):
            raise TypeError("a draft blob is server-key ciphertext bytes")
        _require_aware(expires_at, "expires_at")
        statement = _insert(self._session, DraftRow).values(
            owner=owner, blob=blob, expires_at=expires_at
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[DraftRow.owner],
                set_={"blob": statement.excluded.blob, "expires_at": statement.excluded.expires_at},
            )
        )

    async def delete(self, owner: str) -> bool:
        """Delete the owner's draft; tell whether there was one."""
        _require_hex_key(owner, "a draft owner")
        statement = delete(DraftRow).where(DraftRow.owner == owner).returning(DraftRow.owner)
        return await _count(self._session, statement) > 0

    async def purge_expired(self, now: datetime) -> int:
        """Delete every draft that expired at or before ``now``; return how many."""
        _require_aware(now, "now")
        statement = delete(DraftRow).where(DraftRow.expires_at <= now).returning(DraftRow.owner)
        return await _count(self._session, statement)


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
        self, *, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ReportSummary]:
        """List reports for triage: urgent first, then the newest day first."""
        if status is not None and status not in REPORT_STATUSES:
            raise ValueError(f"status must be one of {REPORT_STATUSES}")
        if not 0 < limit <= _MAX_PAGE or offset < 0:
            raise ValueError(f"limit must be in 1..{_MAX_PAGE} and offset non-negative")
        item_count = (
            select(func.count())
            .where(ReportItemRow.report_id == ReportRow.id)
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
        )

    async def add_item(self, report_id: str, kind: str, index: int, blob: SealedBlob) -> None:
        """Add one sealed item to a stored report (an admin's reply copy, for instance)."""
        require_sealed(blob)
        await self._session.execute(
            insert(ReportItemRow).values(
                report_id=report_id, kind=kind, index=index, blob=blob.data
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
        statement = (
            select(ReportRow.id)
            .where(ReportRow.status == STATUS_NEW)
            .order_by(ReportRow.urgent.desc(), ReportRow.submitted_on, ReportRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        report_id = await self._session.scalar(statement)
        if report_id is None:
            return None
        await self._session.execute(
            update(ReportRow).where(ReportRow.id == report_id).values(status=STATUS_CLAIMED)
        )
        return str(report_id)

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

    async def add(self, record: StatRecord) -> None:
        """Insert one record under a fresh random id (never a counter, never the report id)."""
        if not isinstance(record, StatRecord):
            raise TypeError("add() takes a StatRecord")
        self._session.add(_stat_row(record))
        await self._session.flush()

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

    async def reshuffle(self) -> int:
        """Rewrite every record under a new random id, in random order; return how many.

        On PostgreSQL this gives all records the same ``xmin`` and a heap order unrelated to
        arrival, cutting the link to the report committed in the same transaction. The
        records' content does not change. Run it periodically, then let VACUUM reclaim space.
        """
        if self._session.get_bind().dialect.name == "postgresql":
            # Two workers' purge jobs may overlap: without this lock each DELETE misses the
            # other's fresh inserts and the records double. Inserts wait a moment meanwhile.
            await self._session.execute(text("LOCK TABLE stat_records IN SHARE ROW EXCLUSIVE MODE"))
        records = await self.all()
        await self._session.execute(delete(StatRecordRow))
        random.SystemRandom().shuffle(records)
        self._session.add_all(_stat_row(record) for record in records)
        await self._session.flush()
        return len(records)


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


class LanguageRepository:
    """Remember the language a person chose, under their pseudonym."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside the caller's session and transaction."""
        self._session = session

    async def get(self, owner: str) -> str | None:
        """Return the remembered locale, or None."""
        _require_hex_key(owner, "a language owner")
        return await self._session.scalar(
            select(LanguagePrefRow.locale).where(LanguagePrefRow.owner == owner)
        )

    async def set(self, owner: str, locale: str, *, expires_on: date) -> None:
        """Create or replace the remembered locale, kept until ``expires_on``."""
        _require_hex_key(owner, "a language owner")
        if not isinstance(locale, str) or not 0 < len(locale) <= LOCALE_MAX:
            raise ValueError(f"a locale is a non-empty string of at most {LOCALE_MAX} characters")
        statement = _insert(self._session, LanguagePrefRow).values(
            owner=owner, locale=locale, expires_on=expires_on
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[LanguagePrefRow.owner],
                set_={"locale": statement.excluded.locale, "expires_on": expires_on},
            )
        )

    async def purge_expired(self, today: date) -> int:
        """Forget languages whose day has come (and any from before expiry days existed)."""
        statement = (
            delete(LanguagePrefRow)
            .where(or_(LanguagePrefRow.expires_on.is_(None), LanguagePrefRow.expires_on <= today))
            .returning(LanguagePrefRow.owner)
        )
        return await _count(self._session, statement)

    async def delete(self, owner: str) -> bool:
        """Forget the remembered locale; tell whether there was one."""
        _require_hex_key(owner, "a language owner")
        statement = (
            delete(LanguagePrefRow)
            .where(LanguagePrefRow.owner == owner)
            .returning(LanguagePrefRow.owner)
        )
        return await _count(self._session, statement) > 0


class UpdateLedger:
    """Remember which transport updates were handled, so a re-delivery is not acted on twice."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside the caller's session and transaction."""
        self._session = session

    async def claim(self, key: str, expires_at: datetime) -> bool:
        """Record the update; True the first time, False if it was already claimed.

        ``INSERT ... ON CONFLICT DO NOTHING`` never raises on a duplicate, so the caller's
        transaction stays usable on PostgreSQL. A concurrent claimer of the same key waits for
        the first to commit or roll back, so exactly one of them gets True.
        """
        _require_hex_key(key, "an update-ledger key")
        _require_aware(expires_at, "expires_at")
        statement = (
            _insert(self._session, UpdateLedgerRow)
            .values(key=key, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=[UpdateLedgerRow.key])
            .returning(UpdateLedgerRow.key)
        )
        return await _count(self._session, statement) == 1

    async def purge_expired(self, now: datetime) -> int:
        """Forget every update whose entry expired at or before ``now``; return how many."""
        _require_aware(now, "now")
        statement = (
            delete(UpdateLedgerRow)
            .where(UpdateLedgerRow.expires_at <= now)
            .returning(UpdateLedgerRow.key)
        )
        return await _count(self._session, statement)


class RateLimitRepository:
    """Count each pseudonym's updates per window, to answer floods without stalling others."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def hit(self, owner: str, window: int) -> int:
        """Count one more update in ``window`` and return the count (1 in a new window)."""
        _require_hex_key(owner, "a rate owner")
        statement = _insert(self._session, RateWindowRow).values(
            owner=owner, window=window, count=1
        )
        counted = statement.on_conflict_do_update(
            index_elements=[RateWindowRow.owner],
            set_={
                "count": case(
                    (RateWindowRow.window == statement.excluded.window, RateWindowRow.count + 1),
                    else_=1,
                ),
                "window": statement.excluded.window,
            },
        ).returning(RateWindowRow.count)
        return int((await self._session.execute(counted)).scalar_one())

    async def purge_before(self, window: int) -> int:
        """Forget counters of windows that ended: nobody's activity is kept longer."""
        result = await self._session.execute(
            delete(RateWindowRow).where(RateWindowRow.window < window)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
