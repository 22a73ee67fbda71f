"""Give tests a real database of each supported backend: a SQLite file or a scratch PostgreSQL.

PostgreSQL tests get a database of their own, created for the test session (named
``amanat_test_<unix time>_<random>``) and dropped at its end, so parallel runs never share
tables. A run that was killed cannot drop its database; the next run drops such leftovers once
they are older than a few hours and nobody is connected to them. Where
databases cannot be created, the shared ``test`` database is used and Amanat's tables are dropped
before each test. A test is skipped only when no server answers on 127.0.0.1:5432.

Everything here is synchronous on purpose: fixtures may call it while pytest-asyncio's loop is
not running, and each call runs its coroutine on a private thread with its own event loop.

The fixtures that use it are defined in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import asyncpg  # type: ignore[import-untyped]

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_MAINTENANCE_DB = "test"
BACKENDS = ("sqlite", "postgresql")
SCRATCH_PREFIX = "amanat_test_"
STALE_AFTER_SECONDS = 6 * 3600
_SCRATCH_NAME = re.compile(rf"{SCRATCH_PREFIX}(\d+)_[0-9a-f]+")

# Amanat's tables, dependants first, for the fallback that cannot drop a whole database.
_TABLES = (
    "audit_log",
    "consent_requests",
    "digest_deliveries",
    "digest_snapshots",
    "reply_notices",
    "replies",
    "report_files",
    "upload_chunks",
    "report_items",
    "reports",
    "stat_records",
    # Tables of revisions before 0009, which a test database may still hold.
    "attachment_chunks",
    "rate_windows",
    "drafts",
    "language_prefs",
    "update_ledger",
    "alembic_version",
)

T = TypeVar("T")


class PostgresUnavailable(Exception):
    """No PostgreSQL server answered: the PostgreSQL half of a suite is skipped."""


def run_blocking(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private thread, whatever loop the caller has."""

    def runner() -> T:
        async def main() -> T:
            return await make()

        return asyncio.run(main())

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner).result()


def sqlite_url(directory: Path) -> str:
    """Return the URL of a fresh SQLite file in ``directory``."""
    return f"sqlite+aiosqlite:///{directory / 'amanat.db'}"


def _dsn(database: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def _connect(database: str) -> asyncpg.Connection:
    """Connect, turning "nobody is listening" into PostgresUnavailable and nothing else."""
    try:
        return await asyncpg.connect(_dsn(database), timeout=5)
    except (OSError, TimeoutError, asyncpg.CannotConnectNowError) as exc:
        raise PostgresUnavailable(
            f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {type(exc).__name__}: {exc}"
        ) from exc


async def _drop_stale(connection: asyncpg.Connection) -> None:
    """Drop scratch databases left by killed runs: old, and with nobody connected."""
    names = await connection.fetch(
        "SELECT datname FROM pg_database WHERE datname LIKE $1", SCRATCH_PREFIX + "%"
    )
    for (name,) in names:
        match = _SCRATCH_NAME.fullmatch(name)
        if match is None or time.time() - int(match.group(1)) < STALE_AFTER_SECONDS:
            continue
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')  # fails if in use
        except asyncpg.ObjectInUseError:
            continue


@dataclass(frozen=True)
class ScratchPostgres:
    """One PostgreSQL database for one test session."""

    database: str
    owned: bool

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the scratch database."""
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"

    @classmethod
    def create(cls) -> ScratchPostgres:
        """Create a uniquely named database, or fall back to the shared one if not allowed."""

        async def create() -> ScratchPostgres:
            connection = await _connect(PG_MAINTENANCE_DB)
            name = f"{SCRATCH_PREFIX}{int(time.time())}_{secrets.token_hex(4)}"
            try:
                await _drop_stale(connection)
                await connection.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.InsufficientPrivilegeError:
                return cls(PG_MAINTENANCE_DB, owned=False)
            finally:
                await connection.close()
            return cls(name, owned=True)

        return run_blocking(create)

    def reset(self) -> None:
        """Leave the database empty: no Amanat table, no Alembic version."""

        async def reset() -> None:
            connection = await _connect(self.database)
            try:
                if self.owned:
                    await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
                else:
                    for table in _TABLES:
                        await connection.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
            finally:
                await connection.close()

        run_blocking(reset)

    def drop(self) -> None:
        """Drop the scratch database (never the shared one)."""
        if not self.owned:
            return

        async def drop() -> None:
            connection = await _connect(PG_MAINTENANCE_DB)
            try:
                await connection.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            finally:
                await connection.close()

        run_blocking(drop)
