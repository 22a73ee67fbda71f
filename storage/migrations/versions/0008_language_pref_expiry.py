"""Give remembered languages an expiry day: "this account used Amanat" is not kept for ever.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

A frozen snapshot: never import storage.models here. Languages remembered before this revision
have no expiry day; the purge job deletes them at its next run (people are asked again, or
Telegram's own language setting is used).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add language_prefs.expires_on (a day) and index it for the purge job."""
    with op.batch_alter_table("language_prefs") as batch:
        batch.add_column(sa.Column("expires_on", sa.Date(), nullable=True))
        batch.create_index(batch.f("ix_language_prefs_expires_on"), ["expires_on"], unique=False)


def downgrade() -> None:
    """Drop the expiry day."""
    with op.batch_alter_table("language_prefs") as batch:
        batch.drop_index(batch.f("ix_language_prefs_expires_on"))
        batch.drop_column("expires_on")
