"""Give reply notices an expiry day: the account ↔ report link is kept for a limited time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

A frozen snapshot: never import storage.models here. Notices stored before this revision have
no expiry day; the purge job deletes them at its next run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add reply_notices.expires_on (a day) and index it for the purge job."""
    with op.batch_alter_table("reply_notices") as batch:
        batch.add_column(sa.Column("expires_on", sa.Date(), nullable=True))
        batch.create_index(batch.f("ix_reply_notices_expires_on"), ["expires_on"], unique=False)


def downgrade() -> None:
    """Drop the expiry day."""
    with op.batch_alter_table("reply_notices") as batch:
        batch.drop_index(batch.f("ix_reply_notices_expires_on"))
        batch.drop_column("expires_on")
