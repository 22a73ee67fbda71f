"""Run Alembic migrations for Amanat, online through a caller's connection or a fresh engine.

``storage.migrate`` passes a live connection in ``config.attributes["connection"]``. From the
command line (``alembic -c storage/alembic.ini -x url=sqlite:///dev.db upgrade head``) the URL
comes from ``-x url=...`` and a fresh async engine is built with :func:`storage.db.create_engine`.

The whole upgrade runs in one transaction (``transactional_ddl``: SQLite's DDL is transactional
because ``storage.db`` issues BEGIN itself), serialized against other workers: ``BEGIN
IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on PostgreSQL.

Future SQLite migrations that alter a table use batch mode, which recreates the table: pass
``table_kwargs={"sqlite_with_rowid": False}`` so it stays ``WITHOUT ROWID`` (the schema test
checks this). Nothing here may log the URL.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from storage.db import create_engine, normalise_database_url
from storage.models import Base

# Any fixed 64-bit number, the same in every worker: "amanat-migrations" as a key.
_ADVISORY_LOCK_KEY = 0x616D616E6174


def _url() -> str:
    """Read the database URL given with ``-x url=...``."""
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise RuntimeError("give the database URL with: alembic -x url=... <command>")
    return normalise_database_url(url)


def _run_offline() -> None:
    """Print the SQL of the upgrade instead of running it (``alembic upgrade head --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=Base.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_with(connection: Connection) -> None:
    """Run every pending migration in one transaction, holding the migration lock."""
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        transactional_ddl=True,
        render_as_batch=sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK_KEY})")
        context.run_migrations()


async def _run_online() -> None:
    """Build an engine from the URL, migrate through one connection, dispose of it."""
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_with)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    _run_offline()
elif (given := context.config.attributes.get("connection")) is not None:
    _run_with(given)
else:
    asyncio.run(_run_online())
