"""Index stat_records by month and each counted field, so a digest's counts walk an index.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

A frozen snapshot: never import storage.models here. Counting a field grouped by month walks
its index in order instead of sorting every record (on SQLite in memory, since no temporary
file may hold data): at a million records a digest's counts take about half a second on
SQLite instead of about six (benchmarks/README.md). An index holds copies of the records'
own coarse values under their random ids and no history; storage/models.py
(``STAT_MARGIN_INDEXES``) says why that tells whoever takes the server nothing new.

Building them sorts the records already stored once: on SQLite in memory, on PostgreSQL within
``maintenance_work_mem`` or in the server's temporary files, which then hold nothing the
table's own files do not.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES: tuple[tuple[str, ...], ...] = (
    ("month", "category"),
    ("month", "party"),
    ("month", "country", "province"),
    ("month", "urgency"),
    ("month", "former_forces"),
)


def _name(columns: tuple[str, ...]) -> str:
    return f"ix_stat_records_{'_'.join(columns)}"


def upgrade() -> None:
    """Create one index per counted field, led by the month."""
    for columns in _INDEXES:
        op.create_index(op.f(_name(columns)), "stat_records", list(columns), unique=False)


def downgrade() -> None:
    """Drop the indexes (the records stay)."""
    for columns in reversed(_INDEXES):
        op.drop_index(op.f(_name(columns)), table_name="stat_records")
