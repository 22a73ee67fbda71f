"""Add replies to reporters: the reporter's public reply key and the sealed replies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

A frozen snapshot: never import storage.models here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the public reply key column and the replies table (day-only dates)."""
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("reporter_key", sa.LargeBinary(length=32), nullable=True))
    op.create_table(
        "replies",
        sa.Column("report_id", sa.String(length=16), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_replies_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "index", name=op.f("pk_replies")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Drop replies and the reply key (only for development)."""
    op.drop_table("replies")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("reporter_key")
