"""Own the schema: one declarative model per table, and the column types they share.

The layout is what a seized server learns (docs/design.md §3), so it is deliberately poor:

- ``drafts`` and ``language_prefs`` are keyed by the keyed pseudonym (HMAC hex), never by a
  Telegram id, and hold nothing else but server-key ciphertext, an expiry or a locale.
- ``reports`` holds no Telegram id, chat id, username, phone or pseudonym, no time finer than
  the day and no autoincrement counter; its content lives sealed in ``report_items``.
- ``stat_records`` has a random primary key, no report id, no foreign key and no timestamp.
- ``update_ledger`` holds HMACs of transport update ids, only until they expire.

On SQLite every table is created ``WITHOUT ROWID``: rows are stored in primary-key order, and
every primary key here is random or keyed, so the file keeps no insertion order (an ordinary
table's rowid would count reports and statistics in the order they arrived and link the two).

On PostgreSQL this does not hold: rows live in a heap in roughly insertion order, and each row's
``xmin`` names the transaction that wrote it, so a report and the statistics record committed
with it share an ``xmin``. ``StatsRepository.reshuffle`` rewrites the statistics table in one
transaction in random order to cut that link for rows written before it runs; dead tuples stay
on disk until ``VACUUM`` reclaims them.

This module must never gain a column that identifies a person or orders reports finer than the
day; ``tests/test_storage.py`` inspects the migrated schema for forbidden names.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.records import (
    FORMER_FORCES,
    LOCALE_MAX,
    RECEIPT_HASH_SIZE,
    REPORT_ID_MAX,
    REPORT_STATUSES,
    SHORT_TEXT_MAX,
    URGENCIES,
)

HEX_KEY_LENGTH = 64  # HMAC-SHA256 in hex: pseudonyms and update-ledger keys
STAT_ID_LENGTH = 32  # 16 random bytes in hex
MONTH_LENGTH = 7  # YYYY-MM

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_NO_ROWID = {"sqlite_with_rowid": False}


def _one_of(column: str, values: tuple[str, ...]) -> str:
    """Return a CHECK expression that admits only the given literals (ours, never input)."""
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC and hand them back aware; refuse naive ones.

    SQLite has no time zones: values are stored as UTC text of one fixed format, so comparing
    them in SQL is comparing instants. PostgreSQL stores ``timestamp with time zone``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; a naive datetime is a bug in the caller, not something to guess."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a naive datetime was given where an aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the backend gave back."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DraftRow(Base):
    """An in-progress conversation: server-key ciphertext under a pseudonym, with a TTL."""

    __tablename__ = "drafts"
    __table_args__ = (_NO_ROWID,)

    owner: Mapped[str] = mapped_column(String(HEX_KEY_LENGTH), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ReportRow(Base):
    """A submitted report: random id, day, urgency, status and a slow hash of its receipt."""

    __tablename__ = "reports"
    __table_args__ = (
        CheckConstraint(_one_of("status", REPORT_STATUSES), name="status"),
        _NO_ROWID,
    )

    id: Mapped[str] = mapped_column(String(REPORT_ID_MAX), primary_key=True, autoincrement=False)
    format_version: Mapped[int] = mapped_column(Integer)
    submitted_on: Mapped[date] = mapped_column(Date)
    urgent: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))
    receipt_hash: Mapped[bytes] = mapped_column(
        LargeBinary(RECEIPT_HASH_SIZE), unique=True, index=True
    )
    reporter_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))


class ReportItemRow(Base):
    """One sealed item of a report (an answer, a narrative, a voice note), no timestamps."""

    __tablename__ = "report_items"
    __table_args__ = (_NO_ROWID,)

    report_id: Mapped[str] = mapped_column(
        String(REPORT_ID_MAX), ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class StatRecordRow(Base):
    """One consenting report's coarse statistics, with nothing that leads back to it."""

    __tablename__ = "stat_records"
    __table_args__ = (
        CheckConstraint(_one_of("urgency", URGENCIES), name="urgency"),
        CheckConstraint(_one_of("former_forces", FORMER_FORCES), name="former_forces"),
        _NO_ROWID,
    )

    id: Mapped[str] = mapped_column(String(STAT_ID_LENGTH), primary_key=True)
    category: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX))
    party: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX))
    country: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX))
    province: Mapped[str | None] = mapped_column(String(SHORT_TEXT_MAX))
    month: Mapped[str] = mapped_column(String(MONTH_LENGTH))
    urgency: Mapped[str] = mapped_column(String(16))
    former_forces: Mapped[str] = mapped_column(String(16))


class LanguagePrefRow(Base):
    """The language a person chose, remembered under their pseudonym until ``expires_on``."""

    __tablename__ = "language_prefs"
    __table_args__ = (_NO_ROWID,)

    owner: Mapped[str] = mapped_column(String(HEX_KEY_LENGTH), primary_key=True)
    locale: Mapped[str] = mapped_column(String(LOCALE_MAX))
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)


class UpdateLedgerRow(Base):
    """A transport update already handled (HMAC of its id), kept until it expires."""

    __tablename__ = "update_ledger"
    __table_args__ = (_NO_ROWID,)

    key: Mapped[str] = mapped_column(String(HEX_KEY_LENGTH), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AttachmentChunkRow(Base):
    """One sealed chunk of an attachment stream (chunk 0 is the stream header).

    No foreign key to ``reports``: chunks arrive while the report is still a draft. Until the
    report is submitted, ``expires_on`` (a day, never a time) lets the purge job delete the
    chunks of drafts that were abandoned; submission clears it.
    """

    __tablename__ = "attachment_chunks"
    __table_args__ = (_NO_ROWID,)

    report_id: Mapped[str] = mapped_column(String(REPORT_ID_MAX), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    expires_on: Mapped[date | None] = mapped_column(Date, index=True)


class ReplyRow(Base):
    """An admin's answer to a reporter, sealed to the reporter's key (opened with the code)."""

    __tablename__ = "replies"
    __table_args__ = (_NO_ROWID,)

    report_id: Mapped[str] = mapped_column(
        String(REPORT_ID_MAX), ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    sent_on: Mapped[date] = mapped_column(Date)


class ReplyNoticeRow(Base):
    """How to tell one reporter that an answer is waiting: only for those who opted in.

    ``blob`` is server-key ciphertext of the transport, account and language, bound to the
    report; ``pending`` is set when an admin answers and cleared once the message went out;
    after ``expires_on`` the row is deleted, and with it the link between account and report.
    """

    __tablename__ = "reply_notices"
    __table_args__ = (_NO_ROWID,)

    report_id: Mapped[str] = mapped_column(
        String(REPORT_ID_MAX), ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    pending: Mapped[bool] = mapped_column(Boolean, index=True)
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)


class RateWindowRow(Base):
    """How many updates one pseudonym sent in the current window (flood protection only)."""

    __tablename__ = "rate_windows"
    __table_args__ = (_NO_ROWID,)

    owner: Mapped[str] = mapped_column(String(HEX_KEY_LENGTH), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, index=True)
    count: Mapped[int] = mapped_column(Integer)


class AuditEntryRow(Base):
    """One admin action, chained to the one before by a hash (``amanat audit verify``)."""

    __tablename__ = "audit_log"
    __table_args__ = (_NO_ROWID,)  # its order is its sequence number, on purpose

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date)
    admin: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX))
    action: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX))
    subject: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX))
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
