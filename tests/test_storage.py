"""Prove the storage contract on both backends: durability, unlinkability, sealed-only columns.

One suite, parametrized over SQLite (a file in tmp_path) and PostgreSQL (a scratch database on
127.0.0.1:5432, skipped only when no server answers). Every test runs against a schema built by
the real Alembic migrations, not by ``create_all``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import sqlite3
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.crypto.values import SealedBlob
from bot.partners.digest import build_digest, digest_of_margins
from storage.db import (
    checkpoint_wal,
    create_engine,
    normalise_database_url,
    session_factory,
    unit_of_work,
)
from storage.migrate import alembic_config, upgrade_to_head, upgrade_to_head_async
from storage.models import NAMING_CONVENTION, STAT_MARGIN_INDEXES, Base
from storage.records import NewFile
from storage.replies import ReplyNoticeRepository, ReplyRepository
from storage.repositories import (
    NewItem,
    NewReport,
    ReportRepository,
    StatRecord,
    StatsRepository,
)
from storage.uploads import UploadRepository
from tests.storage_backends import (
    ScratchPostgres,
    run_blocking,
    sqlite_url,
)

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
HEAD_REVISION = ScriptDirectory.from_config(alembic_config()).get_current_head()

ALL_TABLES = {
    "admin_revocations",
    "audit_log",
    "consent_requests",
    "digest_deliveries",
    "digest_snapshots",
    "reply_notices",
    "replies",
    "report_files",
    "reports",
    "report_items",
    "stat_records",
    "upload_chunks",
}


# --- fixtures ------------------------------------------------------------------------------


def upload_id() -> str:
    """A fresh random upload id, as the intake draws them."""
    return secrets.token_hex(16)


def report(
    report_id: str | None = None,
    *,
    day: date = date(2025, 3, 14),
    urgent: bool = False,
    items: int = 1,
) -> NewReport:
    return NewReport(
        id=report_id or secrets.token_hex(5).upper(),
        submitted_on=day,
        urgent=urgent,
        receipt_hash=secrets.token_bytes(32),
        items=[NewItem("answers", 0, SealedBlob(secrets.token_bytes(40)))]
        + [NewItem("narrative", i, SealedBlob(secrets.token_bytes(40))) for i in range(items - 1)],
    )


def stat(**overrides: Any) -> StatRecord:
    values: dict[str, Any] = {
        "category": "recruitment",
        "party": "foreign_military",
        "country": "iran",
        "province": "tehran",
        "month": "2025-03",
        "urgency": "not_urgent",
        "former_forces": "yes",
    }
    values.update(overrides)
    return StatRecord(**values)


# --- URLs and engines ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db"),
    ],
)
def test_database_urls_are_normalised_to_the_async_drivers(given: str, expected: str) -> None:
    assert normalise_database_url(given) == expected


@pytest.mark.parametrize(
    "given", ["mysql://u:hunter2@h/db", "postgresql+psycopg://u:hunter2@h/db", "hunter2", ""]
)
def test_unsupported_urls_are_refused_without_quoting_them(given: str) -> None:
    with pytest.raises(ValueError, match="unsupported database URL") as caught:
        normalise_database_url(given)
    assert "hunter2" not in str(caught.value)


async def test_sqlite_connections_are_durable_and_scrub_deleted_pages(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        async with engine.connect() as connection:
            values = {
                pragma: (await connection.exec_driver_sql(f"PRAGMA {pragma}")).scalar()
                for pragma in (
                    "journal_mode",
                    "synchronous",
                    "foreign_keys",
                    "secure_delete",
                    "temp_store",
                    "busy_timeout",
                    "journal_size_limit",
                )
            }
    finally:
        await engine.dispose()
    assert values == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL
        "foreign_keys": 1,
        "secure_delete": 1,
        "temp_store": 2,  # MEMORY
        "busy_timeout": 10_000,
        "journal_size_limit": 0,
    }


async def test_errors_do_not_quote_bound_parameters(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    canary = "CANARY" + secrets.token_hex(8)
    first = report()
    async with unit_of_work(sessions) as session:
        await ReportRepository(session).add(first)

    async def clash() -> None:
        async with unit_of_work(sessions) as session:
            await StatsRepository(session).add_batch([stat(province=canary[:16])])
            await ReportRepository(session).add(dataclasses.replace(first, items=[]))

    with pytest.raises(IntegrityError) as caught:
        await clash()
    assert first.id not in str(caught.value)
    assert canary[:16] not in str(caught.value)


# --- unit of work --------------------------------------------------------------------------


async def _committed(engine: AsyncEngine, report_id: str) -> bool:
    """Tell what another connection sees, without queueing behind the open write transaction."""
    if engine.dialect.name == "sqlite":
        # A unit of work on SQLite holds the write lock from BEGIN IMMEDIATE; a plain WAL reader
        # does not need it and sees the last committed state.
        path = engine.url.database
        assert path is not None
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            row = connection.execute("SELECT id FROM reports WHERE id = ?", (report_id,))
            return row.fetchone() is not None
    async with unit_of_work(session_factory(engine)) as other:
        return await ReportRepository(other).exists(report_id)


async def test_unit_of_work_commits_once_at_exit(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    new = report()
    async with unit_of_work(sessions) as session:
        await ReportRepository(session).add(new)
        assert await ReportRepository(session).exists(new.id)
        assert not await _committed(engine, new.id)  # not yet committed
    assert await _committed(engine, new.id)


async def test_unit_of_work_rolls_back_everything_on_an_exception(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    new = report()

    class Boom(Exception):
        pass

    async def fail_after_writing() -> None:
        async with unit_of_work(sessions) as session:
            await UploadRepository(session).add_chunk(upload_id(), 0, SealedBlob(b"x"), NOW.date())
            await ReportRepository(session).add(new)
            await StatsRepository(session).add_batch([stat()])
            raise Boom

    with pytest.raises(Boom):
        await fail_after_writing()
    async with unit_of_work(sessions) as session:
        count = await session.scalar(text("SELECT count(*) FROM upload_chunks"))
        assert count == 0
        assert not await ReportRepository(session).exists(new.id)
        assert await StatsRepository(session).all() == []


async def test_foreign_keys_are_enforced(sessions: async_sessionmaker[AsyncSession]) -> None:
    orphan = text(
        'INSERT INTO report_items (report_id, kind, "index", blob) VALUES (:r, :k, 0, :b)'
    ).bindparams(r="NOSUCHREPORT", k="answers", b=b"x")

    async def insert_orphan() -> None:
        async with unit_of_work(sessions) as session:
            await session.execute(orphan)

    with pytest.raises(IntegrityError):
        await insert_orphan()


# --- reports -------------------------------------------------------------------------------


async def test_report_round_trip(sessions: async_sessionmaker[AsyncSession]) -> None:
    new = report("ABCDEFGHJK", urgent=True, items=3)
    async with unit_of_work(sessions) as session:
        await ReportRepository(session).add(new)
    async with unit_of_work(sessions) as session:
        reports = ReportRepository(session)
        stored = await reports.get(new.id)
        assert stored is not None
        assert (stored.id, stored.submitted_on, stored.urgent, stored.status) == (
            new.id,
            new.submitted_on,
            True,
            "new",
        )
        assert stored.format_version == 1
        assert [(i.kind, i.index, i.blob) for i in stored.items] == sorted(
            (i.kind, i.index, i.blob) for i in new.items
        )
        assert all(isinstance(i.blob, SealedBlob) for i in stored.items)
        assert await reports.exists(new.id)
        assert not await reports.exists("NOSUCHID00")
        assert await reports.get("NOSUCHID00") is None
        assert await reports.find_by_receipt_hash(new.receipt_hash) == new.id
        assert await reports.find_by_receipt_hash(bytes(32)) is None


async def test_duplicate_report_id_or_receipt_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = report()
    async with unit_of_work(sessions) as session:
        await ReportRepository(session).add(first)
    for clash in (
        dataclasses.replace(report(), id=first.id),
        dataclasses.replace(report(), receipt_hash=first.receipt_hash),
    ):
        with pytest.raises(IntegrityError):
            async with unit_of_work(sessions) as session:
                await ReportRepository(session).add(clash)


async def test_queue_puts_urgent_first_then_newest_day(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old_urgent = report("OLDURGENT0", day=date(2025, 1, 1), urgent=True)
    new_urgent = report("NEWURGENT0", day=date(2025, 3, 1), urgent=True, items=3)
    newest = report("NEWEST0000", day=date(2025, 3, 10))
    oldest = report("OLDEST0000", day=date(2024, 12, 31))
    async with unit_of_work(sessions) as session:
        for new in (oldest, newest, old_urgent, new_urgent):
            await ReportRepository(session).add(new)
    async with unit_of_work(sessions) as session:
        reports = ReportRepository(session)
        queue = await reports.queue()
        assert [s.id for s in queue] == [new_urgent.id, old_urgent.id, newest.id, oldest.id]
        assert queue[0].item_count == 3
        assert queue[0].submitted_on == date(2025, 3, 1)
        assert queue[0].urgent is True
        assert {s.status for s in queue} == {"new"}
        page = await reports.queue(limit=2, offset=1)
        assert [s.id for s in page] == [old_urgent.id, newest.id]
        assert await reports.queue(status="closed") == []
        assert len(await reports.queue(status="new")) == 4
        with pytest.raises(ValueError, match="status"):
            await reports.queue(status="deleted")


def test_sealed_columns_refuse_anything_but_sealedblob() -> None:
    for plaintext in (b"my recruiter's phone", "my recruiter's phone", bytearray(b"x"), None):
        with pytest.raises(TypeError, match="SealedBlob"):
            NewItem("narrative", 0, plaintext)  # type: ignore[arg-type]


async def test_repository_rechecks_sealed_items(sessions: async_sessionmaker[AsyncSession]) -> None:
    new = report()
    object.__setattr__(new.items[0], "blob", b"plaintext slipped past the constructor")
    with pytest.raises(TypeError, match="SealedBlob"):
        async with unit_of_work(sessions) as session:
            await ReportRepository(session).add(new)
    async with unit_of_work(sessions) as session:
        assert not await ReportRepository(session).exists(new.id)


def test_new_report_refuses_time_of_day_and_bad_fields() -> None:
    good = report()
    with pytest.raises(TypeError, match="date"):
        dataclasses.replace(good, submitted_on=NOW)
    with pytest.raises(ValueError, match="receipt_hash"):
        dataclasses.replace(good, receipt_hash=b"short")
    with pytest.raises(ValueError, match="report id"):
        dataclasses.replace(good, id="X" * 17)
    with pytest.raises(ValueError, match="share"):
        dataclasses.replace(good, items=[good.items[0], good.items[0]])


# --- statistics ----------------------------------------------------------------------------


async def test_stat_records_round_trip_under_random_ids(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    records = [stat(), stat(province=None, urgency="urgent"), stat(former_forces="unsaid")]
    async with unit_of_work(sessions) as session:
        await StatsRepository(session).add_batch([*records, stat()])
    async with unit_of_work(sessions) as session:
        stored = await StatsRepository(session).all()
        ids = list((await session.execute(text("SELECT id FROM stat_records"))).scalars())
    assert sorted(stored, key=repr) == sorted([*records, stat()], key=repr)
    assert len(set(ids)) == 4
    for value in ids:
        assert len(value) == 32
        int(value, 16)  # 16 random bytes in hex
        assert value.lstrip("0") not in {"1", "2", "3", "4"}


async def test_the_database_counts_records_alike_for_a_digest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    october = [stat(), stat(), stat(province=None), stat(urgency="urgent")]
    september = [dataclasses.replace(stat(), month="2026-09")] * 3
    async with unit_of_work(sessions) as session:
        await StatsRepository(session).add_batch([*october, *september])
    async with unit_of_work(sessions) as session:
        everything = await StatsRepository(session).tally()
        one_month = await StatsRepository(session).tally(october[0].month)
    assert everything == Counter([*october, *september])
    assert one_month == Counter(october)
    async with unit_of_work(sessions) as session:
        margins = await StatsRepository(session).margins()
        october_margins = await StatsRepository(session).margins(october[0].month)
    assert margins.fields["month"] == Counter({"2025-03": 4, "2026-09": 3})
    assert margins.provinces == Counter({("iran", "tehran"): 6, ("iran", None): 1})
    assert digest_of_margins(margins, 3) == build_digest([*october, *september], 3)
    assert digest_of_margins(october_margins, 3) == build_digest(october, 3)


async def test_the_margins_walk_an_index_instead_of_sorting_the_records(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Each GROUP BY of the margins reads its field's index in order: on SQLite, where
    sorting a million records in memory took seconds (benchmarks/README.md), the plan must
    show the index and no temporary B-tree. Both backends carry exactly the indexes whose
    secrecy was weighed (``storage.models.STAT_MARGIN_INDEXES``)."""
    async with engine.connect() as connection:
        indexes = await connection.run_sync(lambda c: inspect(c).get_indexes("stat_records"))
    assert {tuple(index["column_names"]) for index in indexes} == set(STAT_MARGIN_INDEXES)
    assert not any(index["unique"] for index in indexes)
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL hashes its groups: nothing to sort, with or without an index
    statements: list[tuple[str, Any]] = []

    def seen(*args: Any) -> None:
        statements.append((args[2], args[3]))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        for month in (None, "2025-03"):
            async with unit_of_work(sessions) as session:
                await StatsRepository(session).margins(month)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    grouped = [(sql, parameters) for sql, parameters in statements if "GROUP BY" in sql]
    assert len(grouped) == 2 * len(STAT_MARGIN_INDEXES)
    async with engine.connect() as connection:
        for sql, parameters in grouped:
            plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
            steps = " | ".join(str(row[-1]) for row in plan)
            assert "USING COVERING INDEX ix_stat_records_month_" in steps, steps
            assert "TEMP B-TREE" not in steps, steps


def test_stat_records_refuse_finer_or_unknown_values() -> None:
    for bad in (
        {"month": "2025-03-14"},
        {"month": "۲۰۲۵-03"},
        {"month": "2025-13"},
        {"urgency": "very"},
        {"former_forces": "maybe"},
        {"category": ""},
        {"province": "x" * 65},
    ):
        with pytest.raises(ValueError, match="must"):
            stat(**bad)


async def test_a_batch_of_statistics_is_written_in_random_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The rows' order on disk must not be the order the reports came in."""
    batch = [stat(province=f"p{n:02d}") for n in range(40)]
    async with unit_of_work(sessions) as session:
        await StatsRepository(session).add_batch(batch)
        rows = await session.execute(text("SELECT province FROM stat_records"))
        stored = list(rows.scalars())
    assert sorted(stored) == sorted(r.province for r in batch if r.province)
    orders = set()
    for _ in range(3):
        async with unit_of_work(sessions) as session:
            await session.execute(text("DELETE FROM stat_records"))
            await StatsRepository(session).add_batch(batch)
            rows = await session.execute(text("SELECT province FROM stat_records ORDER BY id"))
            orders.add(tuple(rows.scalars()))
    assert len(orders) > 1  # fresh random ids each time: 40! orders, so no repeat in practice


# --- what a seized server learns from the schema -------------------------------------------


def _describe(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        table: {
            "columns": {c["name"]: str(c["type"]).upper() for c in inspector.get_columns(table)},
            "foreign_keys": inspector.get_foreign_keys(table),
        }
        for table in inspector.get_table_names()
    }


async def test_schema_holds_no_identity_no_time_and_no_link(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        schema = await connection.run_sync(_describe)
    assert set(schema) == ALL_TABLES | {"alembic_version"}
    forbidden = {
        "telegram_id", "user_id", "chat_id", "username", "phone", "pseudonym", "owner",
        "created_at", "updated_at", "submitted_at", "timestamp", "report_id", "rowid",
    }  # fmt: skip
    for table, described in schema.items():  # nothing anywhere is keyed by an account
        assert not {"owner", "pseudonym", "user_id", "chat_id"} & set(described["columns"]), table
    reports = schema["reports"]["columns"]
    stats = schema["stat_records"]["columns"]
    assert not forbidden & set(reports)
    assert not forbidden & set(stats)
    assert set(reports) == {
        "id",
        "format_version",
        "submitted_on",
        "urgent",
        "status",
        "receipt_hash",
        "reporter_key",  # a public key derived from the receipt code: no identity
    }
    assert set(stats) == {
        "id", "category", "party", "country", "province", "month", "urgency", "former_forces",
    }  # fmt: skip
    assert schema["stat_records"]["foreign_keys"] == []
    assert reports["submitted_on"] == "DATE"
    # The one exception: the outbox keeps when the team's digests are due and went out
    # (backoff needs seconds); it holds nothing of a reporter, no report and no account.
    timed = {("digest_deliveries", "next_attempt_at"), ("digest_deliveries", "delivered_at")}
    outbox = schema["digest_deliveries"]
    assert outbox["foreign_keys"] == []
    assert not forbidden & set(outbox["columns"])
    for table in ALL_TABLES:
        for name, kind in schema[table]["columns"].items():
            assert "TIME" not in kind or (table, name) in timed, f"{table}.{name} keeps a time"


async def test_no_table_counts_arrivals(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            for table in ALL_TABLES:
                sql = (
                    await connection.execute(
                        text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:t"),
                        {"t": table},
                    )
                ).scalar_one()
                assert sql.rstrip().endswith("WITHOUT ROWID"), table
            exists = await connection.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name='sqlite_sequence'")
            )
            assert exists.scalar_one() == 0  # no AUTOINCREMENT anywhere
        else:
            sequences = await connection.execute(
                text("SELECT count(*) FROM pg_class WHERE relkind = 'S'")
            )
            assert sequences.scalar_one() == 0  # no serial or identity column anywhere


# --- migrations ----------------------------------------------------------------------------


def _schema_diff(connection: Connection, metadata: Any = Base.metadata) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_schema_diff) == []
        # The comparison can fail: a model column the migration lacks shows up as a diff.
        drifted = MetaData(naming_convention=NAMING_CONVENTION)
        for table in Base.metadata.sorted_tables:
            table.to_metadata(drifted)
        drifted.tables["stat_records"].append_column(Column("report_id", String(16)))
        diff = await connection.run_sync(_schema_diff, drifted)
    assert [entry[0] for entry in diff] == ["add_column"]


async def _version(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return list(rows.scalars())
    finally:
        await engine.dispose()


async def test_upgrade_is_idempotent_and_keeps_data(database_url: str) -> None:
    await upgrade_to_head_async(database_url)
    engine = create_engine(database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            await StatsRepository(session).add_batch([stat()])
    finally:
        await engine.dispose()
    await upgrade_to_head_async(database_url)
    # The synchronous entry point, as a command line calls it (no loop running in its thread).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(upgrade_to_head, database_url).result()
    assert await _version(database_url) == [HEAD_REVISION]
    engine = create_engine(database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            assert await StatsRepository(session).all() == [stat()]
    finally:
        await engine.dispose()


async def test_workers_starting_together_migrate_once(database_url: str) -> None:
    # Separate processes, as separate bot workers are (Alembic's context is per process).
    program = (
        "import sys; from storage.migrate import upgrade_to_head; upgrade_to_head(sys.argv[1])"
    )
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", program, database_url, cwd=REPO, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    for worker in workers:
        _, stderr = await worker.communicate()
        assert worker.returncode == 0, stderr.decode()[-2000:]
    assert await _version(database_url) == [HEAD_REVISION]


def test_run_blocking_works_beside_a_test_loop() -> None:
    assert run_blocking(lambda: asyncio.sleep(0, result=42)) == 42


async def test_dropped_uploads_leave_no_bytes_in_sqlite_files(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await upgrade_to_head_async(url)
    engine = create_engine(url)
    canary = b"DROPPED-UPLOAD-" + secrets.token_hex(16).encode()
    try:
        sessions = session_factory(engine)
        gone = upload_id()
        async with unit_of_work(sessions) as session:
            await UploadRepository(session).add_chunk(gone, 0, SealedBlob(canary * 4), NOW.date())
        async with unit_of_work(sessions) as session:
            assert await UploadRepository(session).drop([gone]) == 1
    finally:
        await engine.dispose()
    database = tmp_path / "amanat.db"
    with sqlite3.connect(database) as connection:  # what the next automatic checkpoint does
        connection.execute("PRAGMA journal_size_limit=0")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in (database, database.with_name("amanat.db-wal")):
        if path.exists():
            assert canary not in path.read_bytes(), path.name


async def test_the_sqlite_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "fresh")
    await upgrade_to_head_async(url)
    engine = create_engine(url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            await ReportRepository(session).add(report())
        files = list((tmp_path / "fresh").iterdir())
        assert {f.name for f in files} >= {"amanat.db", "amanat.db-wal"}
        for path in files:
            assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"
        assert (tmp_path / "fresh").stat().st_mode & 0o077 == 0
    finally:
        await engine.dispose()
    loose = tmp_path / "loose.db"
    loose.touch(mode=0o644)
    await create_engine(sqlite_url(tmp_path).replace("amanat.db", "loose.db")).dispose()
    assert loose.stat().st_mode & 0o077 == 0  # an existing file is tightened


async def test_uploads_round_trip_in_order_and_claimed_ones_survive_the_purge(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    today = date(2026, 11, 25)
    kept, abandoned, other = upload_id(), upload_id(), upload_id()
    chunks = [SealedBlob(bytes([n]) * 40) for n in range(40)]
    async with unit_of_work(sessions) as session:
        uploads = UploadRepository(session)
        for seq, blob in enumerate(chunks):
            await uploads.add_chunk(kept, seq, blob, today)
        await uploads.add_chunk(abandoned, 0, SealedBlob(b"abandoned"), today)
        await uploads.add_chunk(other, 0, SealedBlob(b"not yet due"), today + timedelta(days=3))
    claim = dataclasses.replace(report("CLAIMFILE1"), files=[NewFile(0, kept)])
    async with unit_of_work(sessions) as session:
        await ReportRepository(session).add(claim)
    async with unit_of_work(sessions) as session:
        uploads = UploadRepository(session)
        assert [blob async for blob in uploads.chunks(kept)] == chunks
        assert await uploads.header(kept) == chunks[0]
        stored = await ReportRepository(session).get("CLAIMFILE1")
        assert stored is not None
        assert stored.files == (NewFile(0, kept),)
        # Uploads nobody claimed go once their day has passed; claimed ones stay.
        assert await uploads.purge_unclaimed(today + timedelta(days=1)) == 1
        assert await uploads.total_chunks(kept) == 40
        assert await uploads.total_chunks(abandoned) == 0
        assert await uploads.total_chunks(other) == 1
        assert await uploads.drop([kept]) == 0  # a claimed upload is never dropped


def test_uploads_refuse_plaintext_and_odd_ids() -> None:
    async def add(blob: object, name: str) -> None:
        await UploadRepository(None).add_chunk(name, 0, blob, date(2026, 1, 1))  # type: ignore[arg-type]

    with pytest.raises(TypeError):
        asyncio.run(add(b"plain", upload_id()))
    with pytest.raises(ValueError, match="upload id"):
        asyncio.run(add(SealedBlob(b"x"), "../../etc/passwd"))


async def test_replies_are_sealed_ordered_and_dated_by_day(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        await ReportRepository(session).add(report("RPLY000001"))
        replies = ReplyRepository(session)
        assert await replies.next_index("RPLY000001") == 0
        await replies.add("RPLY000001", 0, SealedBlob(b"first"), date(2026, 11, 25))
        await replies.add("RPLY000001", 1, SealedBlob(b"second"), date(2026, 11, 26))
        assert await replies.next_index("RPLY000001") == 2
        with pytest.raises(TypeError):
            await replies.add("RPLY000001", 2, b"plain", date(2026, 11, 26))  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await replies.add("RPLY000001", 2, SealedBlob(b"x"), datetime.now(UTC))  # type: ignore[arg-type]
    async with unit_of_work(sessions) as session:
        stored = await ReplyRepository(session).for_report("RPLY000001")
    assert [(r.index, r.blob.data) for r in stored] == [(0, b"first"), (1, b"second")]


async def test_reply_notices_wait_until_sent(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(sessions) as session:
        await ReportRepository(session).add(report("NOTE000001"))
        notices = ReplyNoticeRepository(session)
        assert await notices.mark_pending("NOBODY0000") is False
        await notices.add("NOTE000001", b"locked contact", date(2027, 2, 23))
        assert await notices.pending() == []
        assert await notices.mark_pending("NOTE000001") is True
    async with unit_of_work(sessions) as session:
        notices = ReplyNoticeRepository(session)
        assert await notices.pending() == [("NOTE000001", b"locked contact")]
        await notices.mark_sent("NOTE000001")
        assert await notices.pending() == []
        assert await notices.purge_expired(date(2027, 2, 22)) == 0
        assert await notices.purge_expired(date(2027, 2, 23)) == 1  # the link is gone
        assert await notices.mark_pending("NOTE000001") is False


async def test_claims_take_urgent_then_longest_waiting_reports_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        reports = ReportRepository(session)
        await reports.add(report("CLAIMOLD01", day=date(2025, 1, 2)))
        await reports.add(report("CLAIMNEW01", day=date(2025, 3, 4)))
        await reports.add(report("CLAIMURG01", day=date(2025, 3, 5), urgent=True))
        await reports.add(report("CLAIMDONE1", day=date(2025, 1, 1)))
        await reports.set_status("CLAIMDONE1", "closed")
    claimed = []
    for _ in range(4):
        async with unit_of_work(sessions) as session:
            claimed.append(await ReportRepository(session).claim_next())
    assert claimed == ["CLAIMURG01", "CLAIMOLD01", "CLAIMNEW01", None]
    async with unit_of_work(sessions) as session:
        statuses = {s.id: s.status for s in await ReportRepository(session).queue()}
    assert statuses == {
        "CLAIMOLD01": "claimed",
        "CLAIMNEW01": "claimed",
        "CLAIMURG01": "claimed",
        "CLAIMDONE1": "closed",
    }


async def test_two_admins_claiming_at_once_get_different_reports(
    scratch_postgres: ScratchPostgres,
) -> None:
    """PostgreSQL: the second claim skips the row the first one holds, instead of waiting.

    (SQLite serialises writers when a transaction begins, so it has no concurrent claim.)
    """
    scratch_postgres.reset()
    await upgrade_to_head_async(scratch_postgres.url)
    engine = create_engine(scratch_postgres.url)
    try:
        await _claim_concurrently(session_factory(engine))
    finally:
        await engine.dispose()


async def _claim_concurrently(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(sessions) as session:
        for name in ("CONCUR0001", "CONCUR0002"):
            await ReportRepository(session).add(report(name, day=date(2025, 1, 2)))
    async with unit_of_work(sessions) as first, unit_of_work(sessions) as second:
        mine = await ReportRepository(first).claim_next()
        theirs = await asyncio.wait_for(ReportRepository(second).claim_next(), timeout=5)
    assert {mine, theirs} == {"CONCUR0001", "CONCUR0002"}


async def test_a_checkpoint_a_reader_blocks_is_retried_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long reader keeps old pages in the WAL; that must be said, not silently ignored."""
    monkeypatch.setattr("storage.db.CHECKPOINT_PAUSE_SECONDS", 0.01)
    url = sqlite_url(tmp_path)
    await upgrade_to_head_async(url)
    engine = create_engine(url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            await ReportRepository(session).add(report())
        reader = sqlite3.connect(tmp_path / "amanat.db")
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM reports").fetchone()  # holds a WAL snapshot
        async with unit_of_work(session_factory(engine)) as session:
            await ReportRepository(session).add(report())  # a frame the reader may not lose
        with caplog.at_level("WARNING", logger="storage.db"):
            assert await checkpoint_wal(engine) is False
        assert "could not be truncated" in caplog.text
        reader.rollback()
        reader.close()
        assert await checkpoint_wal(engine) is True
        assert (tmp_path / "amanat.db-wal").stat().st_size == 0
    finally:
        await engine.dispose()
