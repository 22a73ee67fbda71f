"""Add consent_requests: the team asked a reporter whether their case may go to a partner.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

A frozen snapshot: never import storage.models here. The row says only that a question waits
for a report, and since which day; the reporter's answer is sealed to the admins as an item of
the report (``referral_consent``) and the row is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the table of questions waiting for a reporter's answer."""
    op.create_table(
        "consent_requests",
        sa.Column("report_id", sa.String(length=16), nullable=False),
        sa.Column("asked_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_consent_requests_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_consent_requests")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Drop the waiting questions."""
    op.drop_table("consent_requests")
