"""Add digest_deliveries: the outbox of digests on their way to partners.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10

A frozen snapshot: never import storage.models here. A row holds a digest already sealed to
the partner's age key (the server cannot open it), the partner's name, the channel, the
month, and how its delivery stands: status, tries, when the next is due, the kind of the last
failure (never a text) and when it was delivered.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("telegram", "email", "webhook")
STATUSES = ("queued", "sending", "delivered", "failed")
ERRORS = (
    "refused",
    "unavailable",
    "timeout",
    "tls",
    "login",
    "rate-limited",
    "blocked",
    "too-large",
    "not-configured",
    "interrupted",
    "error",
)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


def upgrade() -> None:
    """Create the outbox."""
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("partner", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("bundle", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=16), nullable=True),
        sa.Column("enqueued_on", sa.Date(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_one_of("channel", CHANNELS), name=op.f("ck_digest_deliveries_channel")),
        sa.CheckConstraint(_one_of("status", STATUSES), name=op.f("ck_digest_deliveries_status")),
        sa.CheckConstraint(
            _one_of("last_error", ERRORS), name=op.f("ck_digest_deliveries_last_error")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_deliveries")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_digest_deliveries_status"), "digest_deliveries", ["status"], unique=False
    )


def downgrade() -> None:
    """Drop the outbox (digests still queued are lost: deliver or re-issue them first)."""
    op.drop_index(op.f("ix_digest_deliveries_status"), table_name="digest_deliveries")
    op.drop_table("digest_deliveries")
