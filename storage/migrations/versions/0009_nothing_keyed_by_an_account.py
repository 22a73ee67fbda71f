"""Nothing keyed by an account on disk; uploads under random ids; signed audit; digest snapshots.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

A frozen snapshot: never import storage.models here.

- ``drafts``, ``language_prefs``, ``rate_windows`` and ``update_ledger`` go: conversations in
  progress now live in volatile memory. Drafts in progress at the upgrade are lost (the bot
  tells people so when they come back).
- ``attachment_chunks`` becomes ``upload_chunks`` under random upload ids, claimed by a report
  in ``report_files``. Chunks of submitted reports move under the upload id
  ``<report id>.<index>`` (their stream binding still names the report, so they open as
  before); chunks of drafts that were never sent are dropped.
- ``audit_log`` gains each entry's Ed25519 signature (entries written before stay unsigned:
  ``amanat audit verify`` accepts them only as a prefix pinned by the first signed entry).
- ``digest_snapshots`` keeps one sealed snapshot of counts per month; ``audit_log.subject``
  grows to 128 characters, room for a digest's partner, month and snapshot hash.

Old row versions of the dropped tables stay in the write-ahead log, its archives and backups
made before the upgrade (docs/operations.md, "Upgrading to 0009").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MIGRATED_UPLOAD_ID = "attachment_chunks.report_id || '.' || CAST(attachment_chunks.\"index\" AS VARCHAR)"
_SUBMITTED = (
    "attachment_chunks.expires_on IS NULL "
    "AND attachment_chunks.report_id IN (SELECT id FROM reports)"
)


def upgrade() -> None:
    """Create uploads and claims, move submitted chunks, drop what an account keyed."""
    op.create_table(
        "upload_chunks",
        sa.Column("upload_id", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("upload_id", "seq", name=op.f("pk_upload_chunks")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_upload_chunks_expires_on"), "upload_chunks", ["expires_on"], unique=False
    )
    op.create_table(
        "report_files",
        sa.Column("report_id", sa.String(length=16), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("upload_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_files_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "index", name=op.f("pk_report_files")),
        sa.UniqueConstraint("upload_id", name=op.f("uq_report_files_upload_id")),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO upload_chunks (upload_id, seq, blob, expires_on) "
        f"SELECT {_MIGRATED_UPLOAD_ID}, attachment_chunks.seq, attachment_chunks.blob, "
        f"CURRENT_DATE FROM attachment_chunks WHERE {_SUBMITTED}"
    )
    op.execute(
        'INSERT INTO report_files (report_id, "index", upload_id) '
        f'SELECT DISTINCT attachment_chunks.report_id, attachment_chunks."index", '
        f"{_MIGRATED_UPLOAD_ID} FROM attachment_chunks WHERE {_SUBMITTED}"
    )
    op.drop_index(op.f("ix_attachment_chunks_expires_on"), table_name="attachment_chunks")
    op.drop_table("attachment_chunks")
    op.drop_index(op.f("ix_drafts_expires_at"), table_name="drafts")
    op.drop_table("drafts")
    op.drop_index(op.f("ix_language_prefs_expires_on"), table_name="language_prefs")
    op.drop_table("language_prefs")
    op.drop_index(op.f("ix_rate_windows_window"), table_name="rate_windows")
    op.drop_table("rate_windows")
    op.drop_index(op.f("ix_update_ledger_expires_at"), table_name="update_ledger")
    op.drop_table("update_ledger")
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("signature", sa.LargeBinary(length=64), nullable=True))
        batch.alter_column(
            "subject", existing_type=sa.String(length=64), type_=sa.String(length=128)
        )
    op.create_table(
        "digest_snapshots",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_digest_snapshots")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Go back to 0008's tables: claimed uploads return to attachment_chunks; volatile state
    tables come back empty; signatures and snapshots are dropped."""
    op.drop_table("digest_snapshots")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("signature")
        batch.alter_column(
            "subject", existing_type=sa.String(length=128), type_=sa.String(length=64)
        )
    op.create_table(
        "update_ledger",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_update_ledger")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_update_ledger_expires_at"), "update_ledger", ["expires_at"], unique=False
    )
    op.create_table(
        "rate_windows",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_rate_windows")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_rate_windows_window"), "rate_windows", ["window"], unique=False)
    op.create_table(
        "language_prefs",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_language_prefs")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_language_prefs_expires_on"), "language_prefs", ["expires_on"], unique=False
    )
    op.create_table(
        "drafts",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_drafts")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_drafts_expires_at"), "drafts", ["expires_at"], unique=False)
    op.create_table(
        "attachment_chunks",
        sa.Column("report_id", sa.String(length=16), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("report_id", "index", "seq", name=op.f("pk_attachment_chunks")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_attachment_chunks_expires_on"), "attachment_chunks", ["expires_on"], unique=False
    )
    # Only uploads moved by upgrade() can go back: their stream binding names the report.
    op.execute(
        'INSERT INTO attachment_chunks (report_id, "index", seq, blob, expires_on) '
        'SELECT report_files.report_id, report_files."index", upload_chunks.seq, '
        "upload_chunks.blob, NULL FROM report_files JOIN upload_chunks "
        "ON upload_chunks.upload_id = report_files.upload_id "
        "WHERE report_files.upload_id = report_files.report_id || '.' || "
        'CAST(report_files."index" AS VARCHAR)'
    )
    op.drop_table("report_files")
    op.drop_index(op.f("ix_upload_chunks_expires_on"), table_name="upload_chunks")
    op.drop_table("upload_chunks")
