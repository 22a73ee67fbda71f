"""Add admin_revocations: keys a lead locked out of the admin API.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

A frozen snapshot: never import storage.models here. A row names an admin key id (public,
16 hex digits), the day it was revoked and the lead who did it; it holds nothing about
reporters.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table of revoked admin keys."""
    op.create_table(
        "admin_revocations",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("revoked_on", sa.Date(), nullable=False),
        sa.Column("revoked_by", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_admin_revocations")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Drop the revocations."""
    op.drop_table("admin_revocations")
