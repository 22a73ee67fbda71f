"""Own database connections: engine construction, session factory and the unit of work.

Only two backends are supported: SQLite through aiosqlite (the embedded default) and PostgreSQL
through asyncpg (production). On SQLite every connection runs in WAL mode with
``synchronous=FULL`` (a commit that returned is on disk: "acknowledged means durable"),
foreign keys on, ``secure_delete`` on (freed pages are zeroed), temporary tables in memory (no
temp files) and a busy timeout; every transaction starts with ``BEGIN IMMEDIATE`` so that
concurrent writers queue on the busy timeout instead of failing mid-transaction. Within one
process they queue first on an asyncio lock, in arrival order (:func:`unit_of_work`): SQLite's
busy handler only sleeps and retries, so under a thousand people at once an unlucky writer
could wait out the whole timeout while later ones got in. Never use
SQLAlchemy's ``isolation_level`` execution option on these engines: resetting it hands
transaction control back to the driver. :func:`ensure_wal` finishes the switch to WAL for a
brand-new file that several processes open at once (``storage.migrate`` calls it).

This module must never log, never echo SQL, and never let bound parameters (ciphertext,
pseudonyms) reach an exception message: engines are built with ``hide_parameters=True``.
Database URLs may hold passwords, so no error message here quotes one. A database that cannot
be reached or opened raises :class:`DatabaseUnavailable`, whose message is a fixed phrase (an
SQLite file's path at most), so that every caller can print it as one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
import os
import shutil
import socket
import sqlite3
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

SQLITE_SCHEME: Final = "sqlite+aiosqlite"
POSTGRES_SCHEME: Final = "postgresql+asyncpg"

SQLITE_BUSY_TIMEOUT_MS: Final = 10_000

_SCHEMES: Final = {
    "sqlite": SQLITE_SCHEME,
    SQLITE_SCHEME: SQLITE_SCHEME,
    "postgresql": POSTGRES_SCHEME,
    "postgres": POSTGRES_SCHEME,
    POSTGRES_SCHEME: POSTGRES_SCHEME,
}

_SQLITE_WAL: Final = "PRAGMA journal_mode=WAL"
_WAL_ATTEMPTS: Final = 25

# Applied to every new SQLite connection, outside any transaction.
_SQLITE_PRAGMAS: Final = (
    # First, so that the pragmas below also wait for a lock instead of failing at once.
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
    _SQLITE_WAL,
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
    "PRAGMA temp_store=MEMORY",
    # Shrink the WAL back to nothing after each checkpoint reset, so old frames (ciphertext
    # and the order of past writes) do not linger in the -wal file.
    "PRAGMA journal_size_limit=0",
)


class DatabaseUnavailable(SQLAlchemyError):
    """The database could not be reached or opened; the message quotes no URL or password.

    An ``SQLAlchemyError``, so that code catching database errors around a unit of work keeps
    catching a connection lost while the bot runs.
    """


# Class names of the asyncpg errors a login can end with; matched by name so that this module
# does not import a driver for a backend that may not be in use.
_LOGIN_REFUSED: Final = frozenset(
    {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}
)
_NO_SUCH_DATABASE: Final = frozenset({"InvalidCatalogNameError"})


def _why_unavailable(exc: BaseException, sqlite_path: str | None) -> str:
    """Say in a fixed phrase why a connection failed: by exception type, never its message."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    names = {type(item).__name__ for item in chain}
    if names & _LOGIN_REFUSED:
        return "the database server refused the login (user name or password)"
    if names & _NO_SUCH_DATABASE:
        return "the database server has no such database: create it first"
    for item in chain:
        if isinstance(item, socket.gaierror):
            return "cannot connect to the database: its host name was not found"
        if isinstance(item, ConnectionRefusedError):
            return (
                "cannot connect to the database: connection refused (is the server running, "
                "on that host and port?)"
            )
        if isinstance(item, TimeoutError):
            return "cannot connect to the database: the connection timed out"
        if isinstance(item, sqlite3.Error):
            return f"cannot open the SQLite file {sqlite_path} ({type(item).__name__})"
        if isinstance(item, OSError):
            return f"cannot connect to the database ({type(item).__name__})"
    return f"cannot connect to the database ({type(exc).__name__})"


def _connect_or_explain(sqlite_path: str | None) -> Callable[..., Any]:
    """Open each new driver connection, turning a failure into :class:`DatabaseUnavailable`."""

    def connect(dialect: Dialect, _record: ConnectionPoolEntry, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            raise DatabaseUnavailable(_why_unavailable(exc, sqlite_path)) from None

    return connect


def normalise_database_url(url: str) -> str:
    """Map the URL forms operators write onto the one async driver per backend we ship.

    ``sqlite:///x.db`` becomes ``sqlite+aiosqlite:///x.db``; ``postgresql://`` and
    ``postgres://`` become ``postgresql+asyncpg://``. Any other scheme or driver is refused.
    """
    if not isinstance(url, str):
        raise TypeError("a database URL is a string")
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in _SCHEMES:
        # Only the scheme is quoted: the rest may hold a password.
        shown = scheme if separator and len(scheme) <= 40 else "<none>"
        raise ValueError(
            f"unsupported database URL scheme {shown!r}: use sqlite:/// or postgresql://"
        )
    return f"{_SCHEMES[scheme.lower()]}://{rest}"


def free_disk_bytes(engine: AsyncEngine) -> Callable[[], int] | None:
    """Return a probe of the room left on the SQLite file's disk; None for a database server.

    A PostgreSQL server's disk is not ours to look at: watch it with the server's own tools.
    """
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    folder = Path(engine.url.database).resolve().parent
    return lambda: shutil.disk_usage(folder).free


def create_engine(url: str) -> AsyncEngine:
    """Build an async engine with the durability and hygiene settings of its backend."""
    url = normalise_database_url(url)
    sqlite = url.startswith(SQLITE_SCHEME)
    sqlite_path = make_url(url).database if sqlite else None
    if sqlite:
        _private_sqlite_file(url)
    # Pre-ping only where a server can restart under us; a file cannot.
    engine = create_async_engine(url, hide_parameters=True, pool_pre_ping=not sqlite)
    event.listen(engine.sync_engine, "do_connect", _connect_or_explain(sqlite_path))
    if sqlite:
        event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        setattr(engine.sync_engine, _WRITER_QUEUE, asyncio.Lock())
    return engine


_WRITER_QUEUE: Final = "amanat_writer_queue"
"""Attribute of a SQLite engine: the lock its units of work take in turn (AsyncEngine has
``__slots__``, its sync engine does not)."""


def _writer_queue(sessions: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    bind = sessions.kw.get("bind")
    engine = bind.sync_engine if isinstance(bind, AsyncEngine) else None
    lock = getattr(engine, _WRITER_QUEUE, None)
    return lock if isinstance(lock, asyncio.Lock) else None


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file readable by this user only (0600) before SQLite does (0644).

    SQLite gives its ``-wal`` and ``-shm`` files the main file's permissions, so they follow.
    An existing file is tightened; a new folder is made 0700. A folder or file that cannot be
    made raises :class:`DatabaseUnavailable` naming the path and the reason.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot create the folder {path.parent} for the SQLite file ({_os_reason(exc)})"
        ) from None
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(descriptor)
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot open the SQLite file {path} ({_os_reason(exc)})"
        ) from None


def _os_reason(exc: OSError) -> str:
    """The operating system's reason (e.g. "Permission denied"), or the exception's type."""
    return exc.strerror or type(exc).__name__


def _configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    """Take transaction control away from the driver and apply the connection pragmas."""
    # The sqlite3 driver's legacy mode would skip BEGIN before SELECT and SAVEPOINT; SQLAlchemy
    # emits BEGIN itself instead (see _begin_immediate).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            try:
                cursor.execute(pragma)
            except sqlite3.OperationalError:
                # Turning a brand-new file to WAL needs an exclusive lock and does not wait for
                # it; when another process is doing the same, go on (durability holds in either
                # journal mode) and let ensure_wal() finish the switch with retries.
                if pragma != _SQLITE_WAL:
                    raise
    finally:
        cursor.close()


async def ensure_wal(connection: AsyncConnection) -> None:
    """Make sure a SQLite file is in WAL mode, retrying while another process switches it.

    Call on a connection that has not begun a transaction (the journal mode cannot change
    inside one); a no-op on PostgreSQL and for in-memory databases.
    """
    if connection.dialect.name != "sqlite":
        return
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is None:
        raise RuntimeError("the SQLite connection is closed")
    for attempt in range(_WAL_ATTEMPTS):
        try:
            async with driver.execute(_SQLITE_WAL) as cursor:
                row = await cursor.fetchone()
            if row is not None and str(row[0]).lower() in {"wal", "memory"}:
                return
        except sqlite3.OperationalError:
            pass
        await asyncio.sleep(0.02 * (attempt + 1))
    raise RuntimeError("could not switch the SQLite database to WAL mode")


def _begin_immediate(connection: Connection) -> None:
    """Start every SQLite transaction holding the write lock, so it cannot fail half-way."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory every unit of work draws from."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Run one transaction: commit once on a clean exit, roll back on any exception.

    Repositories never commit; whoever opens the unit of work decides when work is durable,
    and may acknowledge it to a person only after this context manager has exited cleanly.
    On SQLite a unit of work holds the write lock from its first statement, and units of
    work of one process take turns in arrival order: never open one inside another, the
    inner one would wait for ever.
    """
    queue = _writer_queue(sessions)
    if queue is not None and _IN_UNIT_OF_WORK.get():
        raise RuntimeError("a SQLite unit of work was opened inside another")
    token = _IN_UNIT_OF_WORK.set(queue is not None)
    try:
        async with queue or contextlib.nullcontext(), sessions() as session, session.begin():
            yield session
    finally:
        _IN_UNIT_OF_WORK.reset(token)


_IN_UNIT_OF_WORK: Final = contextvars.ContextVar("amanat_in_sqlite_unit_of_work", default=False)
"""Set while this task's context holds a SQLite unit of work: a nested one fails at once."""


# Tables whose rows die: reply notices (the one place an account is kept, by the reporter's
# choice) and uploads nobody claimed. On PostgreSQL a deleted row stays on disk as a dead
# tuple until VACUUM removes it.
TRANSIENT_TABLES: Final = ("reply_notices", "upload_chunks")


async def vacuum_transient_tables(engine: AsyncEngine) -> None:
    """On PostgreSQL, VACUUM the short-lived tables now, so their dead rows leave the disk.

    Autovacuum would get there too, but on a quiet server only after many minutes; an expired
    notice in the meantime still says which account asked about which report.
    VACUUM cannot run inside a transaction, hence the autocommit connection. A no-op on
    SQLite, which overwrites deleted content at once (``secure_delete``).
    """
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.exec_driver_sql("VACUUM " + ", ".join(TRANSIENT_TABLES))


CHECKPOINT_ATTEMPTS: Final = 5
CHECKPOINT_PAUSE_SECONDS: Final = 0.2


async def checkpoint_wal(engine: AsyncEngine) -> bool:
    """Copy committed pages from the ``-wal`` file into the database and truncate it.

    Until a checkpoint, the WAL keeps each commit's pages in arrival order; truncating it
    regularly leaves a seized disk less history. A reader in the middle of a transaction
    makes SQLite answer "busy" and leave the WAL as it is: then try again a few times, and
    say so in the log if it still could not. Returns whether the WAL was truncated (always
    True on PostgreSQL, where there is nothing to do).
    """
    if engine.dialect.name != "sqlite":
        return True
    for attempt in range(CHECKPOINT_ATTEMPTS):
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            if driver is None:
                raise RuntimeError("the SQLite connection is closed")
            async with driver.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                row = await cursor.fetchone()
        if row is not None and row[0] == 0:
            return True
        if attempt + 1 < CHECKPOINT_ATTEMPTS:
            await asyncio.sleep(CHECKPOINT_PAUSE_SECONDS)
    log.warning("the SQLite WAL could not be truncated: a reader held it; trying next run")
    return False


async def database_answers(engine: AsyncEngine, timeout: float = 2.0) -> bool:  # noqa: ASYNC109
    """Tell whether the database answers a trivial query in time (for /readyz).

    A failure is an answer (False), never an exception: driver messages may quote the URL.
    """
    try:
        async with asyncio.timeout(timeout), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError):
        return False
    return True


@asynccontextmanager
async def job_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Run a background job on one worker at a time: yield whether this one holds it.

    On PostgreSQL a session advisory lock, taken without waiting on a connection of its own
    in autocommit (an open transaction would hold back the VACUUM the purge job runs) and
    released with it, so a worker that dies releases it too. Another worker holding it means
    this run is skipped: the job comes round again. SQLite serves one process only, which
    always holds it.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    digest = hashlib.sha256(f"amanat-job:{name}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        taken = bool(
            (
                await autocommit.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
            ).scalar()
        )
        try:
            yield taken
        finally:
            if taken:
                await autocommit.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
