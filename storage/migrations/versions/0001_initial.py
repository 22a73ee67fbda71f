"""Create Amanat's initial schema: drafts, reports, items, statistics, languages, ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

A frozen snapshot: never import storage.models here. On SQLite every table is WITHOUT ROWID,
so no table keeps the order in which rows arrived (see storage/models.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table, keyed by random or keyed ids only."""
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
        "language_prefs",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_language_prefs")),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "reports",
        sa.Column("id", sa.String(length=16), autoincrement=False, nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("receipt_hash", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'claimed', 'closed')", name=op.f("ck_reports_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_reports_receipt_hash"), "reports", ["receipt_hash"], unique=True)

    op.create_table(
        "report_items",
        sa.Column("report_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_items_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "kind", "index", name=op.f("pk_report_items")),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "stat_records",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=64), nullable=False),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("former_forces", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "former_forces IN ('yes', 'no', 'unsaid')",
            name=op.f("ck_stat_records_former_forces"),
        ),
        sa.CheckConstraint(
            "urgency IN ('urgent', 'not_urgent', 'unsaid')", name=op.f("ck_stat_records_urgency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_records")),
        sqlite_with_rowid=False,
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


def downgrade() -> None:
    """Drop every table (and with them every stored report: only for development)."""
    op.drop_index(op.f("ix_update_ledger_expires_at"), table_name="update_ledger")
    op.drop_table("update_ledger")
    op.drop_table("stat_records")
    op.drop_table("report_items")
    op.drop_index(op.f("ix_reports_receipt_hash"), table_name="reports")
    op.drop_table("reports")
    op.drop_table("language_prefs")
    op.drop_index(op.f("ix_drafts_expires_at"), table_name="drafts")
    op.drop_table("drafts")
