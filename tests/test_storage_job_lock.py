"""Background jobs run on one worker at a time (issue 12): a PostgreSQL advisory lock.

Two engines stand for two workers on the same database; SQLite, one process only, always
holds the lock.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from storage.db import create_engine, job_lock
from tests.storage_backends import ScratchPostgres, sqlite_url


async def test_a_second_worker_skips_a_job_the_first_is_running(
    scratch_postgres: ScratchPostgres,
) -> None:
    first, second = create_engine(scratch_postgres.url), create_engine(scratch_postgres.url)
    try:
        async with job_lock(first, "notices") as mine:
            assert mine
            async with job_lock(second, "notices") as theirs:
                assert not theirs  # the first worker is sending the notices
            async with job_lock(second, "purge") as other_job:
                assert other_job  # another job's lock is another lock
        async with job_lock(second, "notices") as later:
            assert later  # released when the first run ended
    finally:
        await first.dispose()
        await second.dispose()


async def test_the_lock_holds_no_transaction_open_that_would_stall_vacuum(
    scratch_postgres: ScratchPostgres,
) -> None:
    engine = create_engine(scratch_postgres.url)
    try:
        async with job_lock(engine, "purge") as mine, engine.connect() as probe:
            assert mine
            idle = await probe.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
                )
            )
            assert idle.scalar() == 0
    finally:
        await engine.dispose()


async def test_with_sqlite_the_one_process_always_holds_it(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    try:
        async with job_lock(engine, "notices") as mine, job_lock(engine, "notices") as again:
            assert mine
            assert again
    finally:
        await engine.dispose()
