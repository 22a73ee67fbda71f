"""Own the schema: one declarative model per table, and the column types they share.

The layout is what a seized server learns (docs/design.md §3), so it is deliberately poor:

- Nothing is keyed by, or derived from, a messenger account: conversations in progress live in
  volatile memory (:mod:`storage.conversations`), never here. The one exception is
  ``reply_notices``, which a reporter chooses after being told what it means.
- ``reports`` holds no Telegram id, chat id, username, phone or pseudonym, no time finer than
  the day and no autoincrement counter; its content lives sealed in ``report_items``.
- ``upload_chunks`` holds sealed attachment chunks under random upload ids, written while the
  reporter is still talking; ``report_files`` claims them for a report at submission.
- ``digest_deliveries`` (the outbox) holds digests already sealed to a partner's age key, under
  a random delivery id, with when each try is due: the only times finer than the day in the
  schema, and they are the team's sending times, never a reporter's.
- ``stat_records`` has a random primary key, no report id, no foreign key and no timestamp, and
  is written in shuffled batches long after (and never with) the reports it counts. Its
  indexes, one per counted field led by the month, copy nothing but its own coarse values
  (:data:`STAT_MARGIN_INDEXES`).

On SQLite every table is created ``WITHOUT ROWID``: rows are stored in primary-key order, and
every primary key here is random or keyed, so the file keeps no insertion order (an ordinary
table's rowid would count reports and statistics in the order they arrived and link the two).

On PostgreSQL rows live in a heap in roughly insertion order and each row's ``xmin`` names the
transaction that wrote it; this is why statistics are never written in a report's transaction
but in shuffled batches that at least *k* reports went by
(:meth:`storage.conversations.ConversationStore.take_stats`).

This module must never gain a column that identifies a person or orders reports finer than the
day; ``tests/test_storage.py`` inspects the migrated schema for forbidden names.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.records import (
    AUDIT_SUBJECT_MAX,
    FORMER_FORCES,
    RECEIPT_HASH_SIZE,
    REPORT_ID_MAX,
    REPORT_STATUSES,
    SHORT_TEXT_MAX,
    UPLOAD_ID_MAX,
    URGENCIES,
)

STAT_ID_LENGTH = 32  # 16 random bytes in hex
ADMIN_KEY_ID_LENGTH = 16  # hex digits of SHA-256 over the admin's X25519 public key
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


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


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


STAT_MARGIN_INDEXES: tuple[tuple[str, ...], ...] = (
    ("month", "category"),
    ("month", "party"),
    ("month", "country", "province"),
    ("month", "urgency"),
    ("month", "former_forces"),
)
"""The columns of each index on ``stat_records``: one per field a digest counts on its own.

A digest's margins (``StatsRepository.margins``) group by the month and one field; each such
GROUP BY walks its index in order instead of sorting every record, which SQLite does in
memory (``temp_store=MEMORY``: no temporary file may hold data), slowly at a million records
(benchmarks/README.md). The month and country margins come from the same walks.

What an index gives whoever takes the server: nothing the table does not hold. Each entry is
a copy of a record's coarse values under its random id, and an index keeps no history, only
the records there are now (unlike a table of counts updated in place, whose old row versions
would linger). How the entries sit on their pages can at most betray which records were
inserted in the same batch and in which order the batches came, since within a batch the
records go in freshly shuffled; PostgreSQL's ``xmin`` says that much of the table already,
and a batch is by design at least ``AMANAT_STATS_BATCH`` reports that went by
(:meth:`storage.repositories.StatsRepository.add_batch`).
"""


class StatRecordRow(Base):
    """One consenting report's coarse statistics, with nothing that leads back to it."""

    __tablename__ = "stat_records"
    __table_args__ = (
        CheckConstraint(_one_of("urgency", URGENCIES), name="urgency"),
        CheckConstraint(_one_of("former_forces", FORMER_FORCES), name="former_forces"),
        *(
            Index(f"ix_stat_records_{'_'.join(columns)}", *columns)
            for columns in STAT_MARGIN_INDEXES
        ),
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


class UploadChunkRow(Base):
    """One sealed chunk of an uploaded file (chunk 0 is the stream header), under a random id.

    Files arrive while the report is still a draft in volatile memory, so their chunks are
    stored under a random upload id that names nothing. A submitted report claims them in
    ``report_files``; unclaimed uploads are deleted after ``expires_on`` (a day, never a time).
    """

    __tablename__ = "upload_chunks"
    __table_args__ = (_NO_ROWID,)

    upload_id: Mapped[str] = mapped_column(String(UPLOAD_ID_MAX), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    blob: Mapped[bytes] = mapped_column(LargeBinary)
    expires_on: Mapped[date] = mapped_column(Date, index=True)


class ReportFileRow(Base):
    """A report's claim on one upload: attachment ``index`` of the report is that upload."""

    __tablename__ = "report_files"
    __table_args__ = (_NO_ROWID,)

    report_id: Mapped[str] = mapped_column(
        String(REPORT_ID_MAX), ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    upload_id: Mapped[str] = mapped_column(String(UPLOAD_ID_MAX), unique=True)


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


class AuditEntryRow(Base):
    """One admin action, chained to the one before by a hash (``amanat audit verify``)."""

    __tablename__ = "audit_log"
    __table_args__ = (_NO_ROWID,)  # its order is its sequence number, on purpose

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date)
    admin: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX))
    action: Mapped[str] = mapped_column(String(SHORT_TEXT_MAX))
    subject: Mapped[str] = mapped_column(String(AUDIT_SUBJECT_MAX))
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    """Ed25519 signature of the acting admin over the entry hash; None only for entries
    written before signatures existed (an unsigned prefix of the chain)."""


class DigestSnapshotRow(Base):
    """The counts of one month, taken when its first digest was issued (sealed to admins).

    Every later digest of that month, to any partner, renders this snapshot: two digests of
    one month can never differ, so they can never be subtracted from each other.
    """

    __tablename__ = "digest_snapshots"
    __table_args__ = (_NO_ROWID,)

    month: Mapped[str] = mapped_column(String(MONTH_LENGTH), primary_key=True)
    blob: Mapped[bytes] = mapped_column(LargeBinary)


class ConsentRequestRow(Base):
    """A question waiting for a reporter: may the team share this case with a partner?

    Only that a question waits, and since which day; the answer is sealed to the admins as an
    item of the report, and the row deleted.
    """

    __tablename__ = "consent_requests"
    __table_args__ = (_NO_ROWID,)

    report_id: Mapped[str] = mapped_column(
        String(REPORT_ID_MAX), ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    asked_on: Mapped[date] = mapped_column(Date)


class AdminRevocationRow(Base):
    """An admin key a lead locked out of the admin API, from this day, and which lead."""

    __tablename__ = "admin_revocations"
    __table_args__ = (_NO_ROWID,)

    key_id: Mapped[str] = mapped_column(String(ADMIN_KEY_ID_LENGTH), primary_key=True)
    revoked_on: Mapped[date] = mapped_column(Date)
    revoked_by: Mapped[str] = mapped_column(String(ADMIN_KEY_ID_LENGTH))


DELIVERY_ID_LENGTH = 32  # 16 random bytes in hex
PARTNER_NAME_LENGTH = 40
SHA256_HEX_LENGTH = 64
DELIVERY_CHANNELS = ("telegram", "email", "webhook")
DELIVERY_STATUSES = ("queued", "sending", "delivered", "failed")
DELIVERY_ERRORS = (
    "refused",
    "unavailable",
    "timeout",
    "tls",
    "login",
    "rate-limited",
    "blocked",
    "too-large",
    "not-configured",
    "interrupted",
    "error",
)
"""Why a delivery try failed, as a kind: never the receiver's text, which could carry anything."""


class DigestDeliveryRow(Base):
    """One digest on its way to one partner by one channel: the outbox.

    ``bundle`` is the age file only the partner opens (emptied once delivered); ``id`` is the
    delivery id receivers drop duplicates by. ``next_attempt_at`` is when the next try is due,
    or, while ``sending``, when the claim lapses (a worker that died mid-send).
    """

    __tablename__ = "digest_deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("channel", DELIVERY_CHANNELS), name="channel"),
        CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status"),
        CheckConstraint(_one_of("last_error", DELIVERY_ERRORS), name="last_error"),
        _NO_ROWID,
    )

    id: Mapped[str] = mapped_column(String(DELIVERY_ID_LENGTH), primary_key=True)
    partner: Mapped[str] = mapped_column(String(PARTNER_NAME_LENGTH))
    channel: Mapped[str] = mapped_column(String(16))
    month: Mapped[str] = mapped_column(String(MONTH_LENGTH))
    bundle: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(16))
    enqueued_on: Mapped[date] = mapped_column(Date)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
