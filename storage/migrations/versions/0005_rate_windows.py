"""Add rate_windows: a per-pseudonym update counter for the current window (floods).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

A frozen snapshot: never import storage.models here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the counter table: pseudonym, window number, count."""
    op.create_table(
        "rate_windows",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_rate_windows")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_rate_windows_window"), "rate_windows", ["window"], unique=False)


def downgrade() -> None:
    """Drop the counters."""
    op.drop_index(op.f("ix_rate_windows_window"), table_name="rate_windows")
    op.drop_table("rate_windows")
