"""Add attachment_chunks: sealed chunks of voice notes, photos and files.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

A frozen snapshot: never import storage.models here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the chunk table, keyed by the random report id, with day-only expiry."""
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


def downgrade() -> None:
    """Drop the chunk table (and every stored attachment: only for development)."""
    op.drop_index(op.f("ix_attachment_chunks_expires_on"), table_name="attachment_chunks")
    op.drop_table("attachment_chunks")
