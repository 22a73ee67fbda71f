"""Add reply_notices: a locked way to tell an opted-in reporter that an answer is waiting.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

A frozen snapshot: never import storage.models here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the notices table: report id, server-key ciphertext, a pending flag."""
    op.create_table(
        "reply_notices",
        sa.Column("report_id", sa.String(length=16), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_reply_notices_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_reply_notices")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_reply_notices_pending"), "reply_notices", ["pending"], unique=False)


def downgrade() -> None:
    """Drop the notices (only for development)."""
    op.drop_index(op.f("ix_reply_notices_pending"), table_name="reply_notices")
    op.drop_table("reply_notices")
