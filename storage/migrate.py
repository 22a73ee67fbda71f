"""Own schema upgrades: run Alembic to head, programmatically, from the installed package.

The migration scripts are found next to this module (not relative to the working directory)
and the Alembic configuration is built in code, so an installed ``amanat`` needs no
``alembic.ini``. Upgrading is idempotent and safe on every start, also with several workers
starting at once: the whole upgrade is one transaction, serialized by ``BEGIN IMMEDIATE`` on
SQLite and by a transaction-scoped advisory lock on PostgreSQL (see ``migrations/env.py``).

Alembic keeps its migration context per process, so one process must never run two upgrades
at the same time (they would deadlock on the lock above); separate processes may.

This module must never log or print the database URL: it may hold a password.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from storage.db import create_engine, ensure_wal

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
HEAD: Final = "head"


def alembic_config(connection: Connection | None = None) -> Config:
    """Build the Alembic configuration in code; pass a connection to migrate through it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    """Upgrade through a connection the caller owns (run inside ``run_sync``)."""
    command.upgrade(alembic_config(connection), HEAD)


async def upgrade_to_head_async(url: str) -> None:
    """Bring the database at ``url`` to the newest schema, from inside an event loop."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await ensure_wal(connection)
            await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()


def upgrade_to_head(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; call only where no loop is running."""
    asyncio.run(upgrade_to_head_async(url))
