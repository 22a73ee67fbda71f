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
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.crypto.values import SealedBlob
from storage.attachments import AttachmentRepository
from storage.db import create_engine, normalise_database_url, session_factory, unit_of_work
from storage.migrate import alembic_config, upgrade_to_head, upgrade_to_head_async
from storage.models import NAMING_CONVENTION, Base
from storage.replies import ReplyNoticeRepository, ReplyRepository
from storage.repositories import (
    DraftRepository,
    LanguageRepository,
    NewItem,
    NewReport,
    RateLimitRepository,
    ReportRepository,
    StatRecord,
    StatsRepository,
    UpdateLedger,
)
from tests.storage_backends import (
    BACKENDS,
    PostgresUnavailable,
    ScratchPostgres,
    run_blocking,
    sqlite_url,
)

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
HEAD_REVISION = ScriptDirectory.from_config(alembic_config()).get_current_head()

ALL_TABLES = {
    "audit_log",
    "rate_windows",
    "reply_notices",
    "replies",
    "attachment_chunks",
    "drafts",
    "reports",
    "report_items",
    "stat_records",
    "language_prefs",
    "update_ledger",
}


KEPT = date(2099, 1, 1)  # a remembered language's expiry day, far off


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def scratch_postgres() -> Iterator[ScratchPostgres]:
    try:
        database = ScratchPostgres.create()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield database
    database.drop()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    database: ScratchPostgres = request.getfixturevalue("scratch_postgres")
    database.reset()
    return database.url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade_to_head_async(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


def owner() -> str:
    """A fresh pseudonym-shaped key (64 lowercase hex)."""
    return secrets.token_hex(32)


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
            await LanguageRepository(session).set(owner(), canary[:16], expires_on=KEPT)
            await ReportRepository(session).add(dataclasses.replace(first, items=[]))

    with pytest.raises(IntegrityError) as caught:
        await clash()
    assert first.id not in str(caught.value)
    assert canary[:16] not in str(caught.value)


# --- unit of work --------------------------------------------------------------------------


async def _committed_locale(engine: AsyncEngine, who: str) -> str | None:
    """Read what another connection sees, without queueing behind the open write transaction."""
    if engine.dialect.name == "sqlite":
        # A unit of work on SQLite holds the write lock from BEGIN IMMEDIATE; a plain WAL reader
        # does not need it and sees the last committed state.
        path = engine.url.database
        assert path is not None
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            row = connection.execute(
                "SELECT locale FROM language_prefs WHERE owner = ?", (who,)
            ).fetchone()
        return None if row is None else str(row[0])
    async with unit_of_work(session_factory(engine)) as other:
        return await LanguageRepository(other).get(who)


async def test_unit_of_work_commits_once_at_exit(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    who = owner()
    async with unit_of_work(sessions) as session:
        await LanguageRepository(session).set(who, "ps", expires_on=KEPT)
        assert await LanguageRepository(session).get(who) == "ps"
        assert await _committed_locale(engine, who) is None  # not yet committed
    assert await _committed_locale(engine, who) == "ps"


async def test_unit_of_work_rolls_back_everything_on_an_exception(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    who, new = owner(), report()

    class Boom(Exception):
        pass

    async def fail_after_writing() -> None:
        async with unit_of_work(sessions) as session:
            await LanguageRepository(session).set(who, "ps", expires_on=KEPT)
            await ReportRepository(session).add(new)
            await StatsRepository(session).add(stat())
            raise Boom

    with pytest.raises(Boom):
        await fail_after_writing()
    async with unit_of_work(sessions) as session:
        assert await LanguageRepository(session).get(who) is None
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


# --- drafts --------------------------------------------------------------------------------


async def test_drafts_put_get_replace_delete(sessions: async_sessionmaker[AsyncSession]) -> None:
    who = owner()
    async with unit_of_work(sessions) as session:
        drafts = DraftRepository(session)
        assert await drafts.get(who, now=NOW) is None
        await drafts.put(who, b"first", LATER)
        stored = await drafts.get(who, now=NOW)
        assert stored is not None
        assert (stored.blob, stored.expires_at) == (b"first", LATER)
        await drafts.put(who, b"second", LATER + timedelta(hours=1))
    async with unit_of_work(sessions) as session:
        drafts = DraftRepository(session)
        stored = await drafts.get(who, now=NOW)
        assert stored is not None
        assert stored.blob == b"second"
        assert stored.expires_at == LATER + timedelta(hours=1)
        assert stored.expires_at.tzinfo is not None
        assert "second" not in repr(stored)
        assert await drafts.delete(who) is True
        assert await drafts.delete(who) is False
        assert await drafts.get(who, now=NOW) is None


async def test_expired_draft_is_absent_and_dropped(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    who = owner()
    async with unit_of_work(sessions) as session:
        await DraftRepository(session).put(who, b"old", NOW)
    async with unit_of_work(sessions) as session:
        drafts = DraftRepository(session)
        assert await drafts.get(who, now=NOW - timedelta(seconds=1)) is not None
        assert await drafts.get(who, now=NOW) is None  # expires_at is exclusive
        assert await drafts.get(who) is None  # the real clock is long past 2025-03-14
    async with unit_of_work(sessions) as session:
        # get() deleted it: nothing is left for purge to find, even at the end of time.
        assert await DraftRepository(session).purge_expired(datetime.max.replace(tzinfo=UTC)) == 0


async def test_purge_removes_only_expired_drafts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old, fresh = owner(), owner()
    # Time zones other than UTC must compare as instants, not as text.
    kabul = datetime(
        2025, 3, 14, 16, 30, tzinfo=datetime.fromisoformat("2025-01-01T00:00+04:30").tzinfo
    )
    async with unit_of_work(sessions) as session:
        drafts = DraftRepository(session)
        await drafts.put(old, b"a", NOW - timedelta(minutes=1))
        await drafts.put(fresh, b"b", kabul + timedelta(minutes=1))  # 12:01 UTC
    async with unit_of_work(sessions) as session:
        assert await DraftRepository(session).purge_expired(NOW) == 1
    async with unit_of_work(sessions) as session:
        drafts = DraftRepository(session)
        assert await drafts.get(old, now=NOW - timedelta(hours=1)) is None
        stored = await drafts.get(fresh, now=NOW)
        assert stored is not None
        assert stored.expires_at == NOW + timedelta(minutes=1)


async def test_drafts_refuse_naive_times_raw_ids_and_text(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        drafts = DraftRepository(session)
        with pytest.raises(ValueError, match="timezone-aware"):
            await drafts.put(owner(), b"x", datetime(2025, 1, 1))
        with pytest.raises(ValueError, match="hex HMAC"):
            await drafts.put("123456789", b"x", LATER)  # a raw Telegram id
        with pytest.raises(TypeError):
            await drafts.put(owner(), "plaintext", LATER)  # type: ignore[arg-type]


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
        for record in records:
            await StatsRepository(session).add(record)
        await StatsRepository(session).add(stat())
    async with unit_of_work(sessions) as session:
        stored = await StatsRepository(session).all()
        ids = list((await session.execute(text("SELECT id FROM stat_records"))).scalars())
    assert sorted(stored, key=repr) == sorted([*records, stat()], key=repr)
    assert len(set(ids)) == 4
    for value in ids:
        assert len(value) == 32
        int(value, 16)  # 16 random bytes in hex
        assert value.lstrip("0") not in {"1", "2", "3", "4"}


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


async def test_stat_reshuffle_keeps_content_and_renews_ids(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    new = report()
    async with unit_of_work(sessions) as session:
        await ReportRepository(session).add(new)
        await StatsRepository(session).add(stat(party="smuggler"))
    async with unit_of_work(sessions) as session:
        await StatsRepository(session).add(stat())
    async with unit_of_work(sessions) as session:
        before = await StatsRepository(session).all()
        old_ids = set((await session.execute(text("SELECT id FROM stat_records"))).scalars())
    postgres = engine.dialect.name == "postgresql"
    if postgres:  # the leak reshuffle exists for: report and statistics share a transaction id
        assert await _xmin(sessions, "reports") <= await _xmin(sessions, "stat_records")
        assert len(await _xmin(sessions, "stat_records")) == 2
    async with unit_of_work(sessions) as session:
        assert await StatsRepository(session).reshuffle() == 2
    async with unit_of_work(sessions) as session:
        after = await StatsRepository(session).all()
        new_ids = set((await session.execute(text("SELECT id FROM stat_records"))).scalars())
    assert sorted(after, key=repr) == sorted(before, key=repr)
    assert not old_ids & new_ids
    if postgres:
        rewritten = await _xmin(sessions, "stat_records")
        assert len(rewritten) == 1
        assert not rewritten & await _xmin(sessions, "reports")


async def _xmin(sessions: async_sessionmaker[AsyncSession], table: str) -> set[str]:
    async with unit_of_work(sessions) as session:
        rows = await session.execute(text(f"SELECT xmin::text FROM {table}"))
        return set(rows.scalars())


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
    for table in ("reports", "report_items", "stat_records", "replies", "attachment_chunks"):
        for name, kind in schema[table]["columns"].items():
            assert "TIME" not in kind, f"{table}.{name} keeps a time"


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


# --- languages -----------------------------------------------------------------------------


async def test_language_is_upserted_and_forgotten(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    who, other = owner(), owner()
    async with unit_of_work(sessions) as session:
        languages = LanguageRepository(session)
        await languages.set(who, "fa_AF", expires_on=KEPT)
        await languages.set(who, "ps", expires_on=KEPT)
        await languages.set(other, "en", expires_on=KEPT)
    async with unit_of_work(sessions) as session:
        languages = LanguageRepository(session)
        assert await languages.get(who) == "ps"
        await languages.set(who, "en", expires_on=KEPT)
        assert await languages.get(who) == "en"
        assert await languages.delete(who) is True
        assert await languages.delete(who) is False
        assert await languages.get(who) is None
        assert await languages.get(other) == "en"
        with pytest.raises(ValueError, match="locale"):
            await languages.set(other, "", expires_on=KEPT)


async def test_a_remembered_language_is_forgotten_on_its_day(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A language says "this account used Amanat": it is kept for a while, not for ever."""
    who, later = owner(), owner()
    async with unit_of_work(sessions) as session:
        languages = LanguageRepository(session)
        await languages.set(who, "ps", expires_on=date(2027, 2, 1))
        await languages.set(later, "fa_AF", expires_on=date(2027, 3, 1))
        assert await languages.purge_expired(date(2027, 1, 31)) == 0
        assert await languages.purge_expired(date(2027, 2, 1)) == 1
        assert await languages.get(who) is None
        assert await languages.get(later) == "fa_AF"


# --- update ledger -------------------------------------------------------------------------


async def test_a_second_claim_is_refused_and_the_transaction_survives(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key, who = owner(), owner()
    async with unit_of_work(sessions) as session:
        ledger = UpdateLedger(session)
        assert await ledger.claim(key, LATER) is True
        assert await ledger.claim(key, LATER) is False
        await LanguageRepository(session).set(
            who, "ps", expires_on=KEPT
        )  # PostgreSQL would refuse if poisoned
    async with unit_of_work(sessions) as session:
        assert await UpdateLedger(session).claim(key, LATER) is False
        await LanguageRepository(session).set(who, "en", expires_on=KEPT)
    async with unit_of_work(sessions) as session:
        assert await LanguageRepository(session).get(who) == "en"


async def test_ledger_purge_forgets_expired_updates(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old, fresh = owner(), owner()
    async with unit_of_work(sessions) as session:
        await UpdateLedger(session).claim(old, NOW)
        await UpdateLedger(session).claim(fresh, LATER)
    async with unit_of_work(sessions) as session:
        assert await UpdateLedger(session).purge_expired(NOW) == 1
    async with unit_of_work(sessions) as session:
        assert await UpdateLedger(session).claim(old, LATER) is True
        assert await UpdateLedger(session).claim(fresh, LATER) is False


async def test_a_concurrent_claim_waits_for_the_first_and_loses(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = owner()
    claimed, release = asyncio.Event(), asyncio.Event()

    async def first() -> bool:
        async with unit_of_work(sessions) as session:
            won = await UpdateLedger(session).claim(key, LATER)
            claimed.set()
            await release.wait()
        return won

    async def second() -> bool:
        await claimed.wait()
        async with unit_of_work(sessions) as session:
            return await UpdateLedger(session).claim(key, LATER)

    one, two = asyncio.create_task(first()), asyncio.create_task(second())
    await claimed.wait()
    await asyncio.sleep(0.3)
    assert not two.done()  # blocked behind the uncommitted first claim
    release.set()
    assert (await one, await two) == (True, False)


async def test_a_rolled_back_claim_does_not_count(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = owner()

    async def claim_then_fail() -> None:
        async with unit_of_work(sessions) as session:
            assert await UpdateLedger(session).claim(key, LATER) is True
            raise RuntimeError("the handler failed before anything was acknowledged")

    with pytest.raises(RuntimeError, match="handler failed"):
        await claim_then_fail()
    async with unit_of_work(sessions) as session:
        assert await UpdateLedger(session).claim(key, LATER) is True


async def test_many_simultaneous_claims_have_exactly_one_winner(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key = owner()

    async def claim() -> bool:
        async with unit_of_work(sessions) as session:
            return await UpdateLedger(session).claim(key, LATER)

    results = await asyncio.gather(*(claim() for _ in range(6)))
    assert sorted(results) == [False] * 5 + [True]


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
            await StatsRepository(session).add(stat())
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


async def test_deleted_drafts_leave_no_bytes_in_sqlite_files(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    await upgrade_to_head_async(url)
    engine = create_engine(url)
    canary = b"DELETED-DRAFT-" + secrets.token_hex(16).encode()
    try:
        sessions = session_factory(engine)
        async with unit_of_work(sessions) as session:
            await DraftRepository(session).put(owner(), canary * 4, LATER)
        async with unit_of_work(sessions) as session:
            assert await DraftRepository(session).purge_expired(LATER) == 1
    finally:
        await engine.dispose()
    database = tmp_path / "amanat.db"
    with sqlite3.connect(database) as connection:  # what the next automatic checkpoint does
        connection.execute("PRAGMA journal_size_limit=0")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in (database, database.with_name("amanat.db-wal")):
        if path.exists():
            assert canary not in path.read_bytes(), path.name


# --- attachment chunks ---------------------------------------------------------------------


async def test_attachment_chunks_round_trip_in_order_and_are_kept_on_submit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    today = date(2026, 11, 25)
    chunks = [SealedBlob(bytes([n]) * 40) for n in range(40)]
    async with unit_of_work(sessions) as session:
        repository = AttachmentRepository(session)
        for seq, blob in enumerate(chunks):
            await repository.add_chunk("R1", 0, seq, blob, today)
        await repository.add_chunk("R1", 1, 0, SealedBlob(b"other"), today)
        await repository.add_chunk("R2", 0, 0, SealedBlob(b"another report"), today)
    async with unit_of_work(sessions) as session:
        repository = AttachmentRepository(session)
        assert [blob async for blob in repository.chunks("R1", 0)] == chunks
        assert await repository.indexes("R1") == [0, 1]
        await repository.keep("R1")
    async with unit_of_work(sessions) as session:
        repository = AttachmentRepository(session)
        # Abandoned drafts' chunks go once their day has passed; kept ones stay.
        assert await repository.purge_expired(today + timedelta(days=1)) == 1
        assert await repository.total_chunks("R1") == 41
        assert await repository.total_chunks("R2") == 0


async def test_attachment_chunks_are_dropped_by_report_or_index(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(sessions) as session:
        repository = AttachmentRepository(session)
        for index in (0, 1, 2):
            await repository.add_chunk("R1", index, 0, SealedBlob(b"x"), None)
        assert await repository.drop("R1", [1]) == 1
        assert await repository.indexes("R1") == [0, 2]
        assert await repository.drop("R1") == 2


def test_attachment_chunks_refuse_plaintext() -> None:
    async def add(session: AsyncSession) -> None:
        await AttachmentRepository(session).add_chunk("R1", 0, 0, b"plain", None)  # type: ignore[arg-type]

    with pytest.raises(TypeError):
        asyncio.run(add(None))  # type: ignore[arg-type]


async def test_overlapping_reshuffles_do_not_duplicate_records(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    record = StatRecord("recruit_armed", "broker", "IR", "tehran", "2026-03", "not_urgent", "yes")
    async with unit_of_work(sessions) as session:
        for _ in range(5):
            await StatsRepository(session).add(record)

    async def reshuffle() -> int:
        async with unit_of_work(sessions) as session:
            return await StatsRepository(session).reshuffle()

    first = sessions()
    transaction = await first.begin()
    await StatsRepository(first).reshuffle()
    second = asyncio.create_task(reshuffle())
    await asyncio.sleep(0.3)  # the second job starts while the first still holds its work
    await transaction.commit()
    await first.close()
    assert await second == 5
    async with unit_of_work(sessions) as session:
        assert len(await StatsRepository(session).all()) == 5


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


async def test_rate_windows_count_per_owner_and_restart_each_window(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    alice_key, bob_key = owner(), owner()
    async with unit_of_work(sessions) as session:
        limits = RateLimitRepository(session)
        assert [await limits.hit(alice_key, 100) for _ in range(3)] == [1, 2, 3]
        assert await limits.hit(bob_key, 100) == 1
        assert await limits.hit(alice_key, 101) == 1  # a new window starts again
    async with unit_of_work(sessions) as session:
        assert await RateLimitRepository(session).purge_before(101) == 1  # bob's old window


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
