"""Prove that whoever takes the server cannot tell who reported (docs/threat-model.md §1).

Each test plays a reporter through the real intake service and then looks where a seizure
looks: the SQLite files byte for byte; PostgreSQL's write-ahead log decoded with pg_waldump,
and the server's data directory and WAL segments read raw. They fail on the design where the
conversation lived in the database (drafts, languages, flood counters and the update ledger
keyed by a pseudonym, written in the submitting transaction with the statistics record).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.app import Services, open_services, purge_expired
from bot.intake.service import Inbound
from bot.intake.values import Attached, Command, Typed
from bot.settings import Settings
from storage.conversations import MemoryConversations
from tests.canary_support import Needle, files_written_since, find_in_files, new_canary
from tests.pg_forensics import Forensics, WalRecord, connect
from tests.storage_backends import ScratchPostgres
from tests.test_intake_service import Person, finish_report, start_story

REPORT_TABLES = frozenset({"reports", "report_items", "report_files", "reply_notices"})
VOICE = b"OggS" + b"a voice note, sealed before it is stored " * 400


async def send_voice(person: Person) -> None:
    """Send a voice note at the story question, as a Telegram adapter would hand it over."""

    async def fetch(file_ref: str) -> bytes:
        return VOICE

    person.update_id += 1
    handled = await person.services.intake.handle(
        Inbound(
            "telegram",
            person.user_id,
            Attached("voice", "file-1", len(VOICE)),
            person.update_id,
            person.hint,
            fetch,
        )
    )
    assert "Received and locked ({count}). Send more, or press Done." in [
        p.msgid for r in handled.replies for p in r.parts
    ]
    person.last = handled.replies


async def converse(person: Person) -> None:
    """Most of a conversation: start, answer, change language, ask for help, tell a story."""
    await start_story(person, new_canary("story"))
    await person.send(Typed(new_canary("more of the story")))
    await person.send(Command("help"))
    await person.send(Command("language"))
    await person.press("l:fa_AF")


# --------------------------------------------------------------------------- SQLite


def sqlite_files(folder: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.glob("amanat.db*"))
    }


async def test_a_conversation_leaves_the_sqlite_files_byte_for_byte_as_they_were(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    async with open_services(make_settings()) as services:
        before = sqlite_files(tmp_path)
        assert "amanat.db" in before
        person = Person(services, user_id=7_304_918_265)
        await converse(person)
        assert sqlite_files(tmp_path) == before, "the database was written before submission"
        await finish_report(person, {})
        assert sqlite_files(tmp_path) != before  # the submission itself is written


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture
async def on_postgres(
    make_settings: Callable[..., Settings], scratch_database: ScratchPostgres
) -> AsyncIterator[tuple[Services, Forensics]]:
    forensics = await Forensics.open(scratch_database)
    settings = make_settings(database_url=scratch_database.url, stats_batch=3)
    async with open_services(settings) as services:
        yield services, forensics


def tables(records: list[WalRecord]) -> set[str]:
    return {name for record in records for name in record.relations}


async def test_before_submission_postgresql_receives_no_write_but_sealed_uploads(
    on_postgres: tuple[Services, Forensics],
) -> None:
    services, forensics = on_postgres
    person = Person(services, user_id=7_304_918_266)
    start = await forensics.wal_position()
    await converse(person)
    talked = await forensics.wal_position()
    assert await forensics.records(start, talked) == [], "written before submission"
    await send_voice(person)
    uploaded = await forensics.records(talked, await forensics.wal_position())
    assert tables(uploaded) == {"upload_chunks"}
    assert len({record.xid for record in uploaded}) == 1, "one transaction holding nothing else"


async def test_the_submitting_transaction_touches_report_tables_only(
    on_postgres: tuple[Services, Forensics],
) -> None:
    services, forensics = on_postgres
    person = Person(services, user_id=7_304_918_267)
    await converse(person)
    await send_voice(person)
    start = await forensics.wal_position()
    await person.press(":d:")
    await finish_report(person, {})
    records = await forensics.records(start, await forensics.wal_position())
    [xid] = {record.xid for record in records if "reports" in record.relations}
    submitted = [record for record in records if record.xid == xid]
    assert tables(submitted) <= REPORT_TABLES, [r.line for r in submitted][:40]
    assert {"reports", "report_items", "report_files"} <= tables(submitted)
    assert "stat_records" not in tables(records), "statistics written with their report"

    # The statistics record is written later, in a batch, in a transaction of its own.
    for user_id in (7_304_918_268, 7_304_918_269):
        other = Person(services, user_id=user_id)
        await converse(other)
        await finish_report(other, {})
    start = await forensics.wal_position()
    await purge_expired(services)
    flushed = await forensics.records(start, await forensics.wal_position())
    batch = {record.xid for record in flushed if "stat_records" in record.relations}
    assert len(batch) == 1
    assert tables([r for r in flushed if r.xid in batch]) == {"stat_records"}


async def test_a_seized_postgresql_server_names_no_account(
    on_postgres: tuple[Services, Forensics],
) -> None:
    """Raw bytes of the database's files and of the WAL written meanwhile: no account."""
    services, forensics = on_postgres
    started = time.time() - 1
    memory = services.intake.memory
    needles: list[Needle] = []
    users = (7_304_918_270, 7_304_918_271, 7_304_918_272)
    for user_id in users:
        person = Person(services, user_id=user_id)
        await converse(person)
        key = memory.key("telegram", user_id)
        pseudonym = services.server_keys.pseudonym("telegram", user_id)
        state = await memory.store.load_state(key)
        draft = await memory.store.get_item(key, "draft")
        assert state is not None
        assert draft is not None
        needles += [
            Needle.integer(f"Telegram id {user_id}", user_id),
            Needle.text(f"pseudonym of {user_id}", pseudonym),
            Needle.binary(f"pseudonym bytes of {user_id}", bytes.fromhex(pseudonym)),
            Needle.text(f"conversation key of {user_id}", key),
            Needle.binary(f"conversation state of {user_id}", state[13:61]),
            Needle.binary(f"draft record of {user_id}", draft[13:61]),
        ]
        await send_voice(person)
        await person.press(":d:")
        await finish_report(person, {})
    await purge_expired(services)
    connection = await connect(forensics.database)
    try:
        await connection.execute("CHECKPOINT")  # every page of the database onto the disk
        oid = await connection.fetchval(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        )
        reports = await connection.fetchval("SELECT count(*) FROM reports")
    finally:
        await connection.close()
    assert reports == len(users)
    files = [p for p in (forensics.data_dir / "base" / str(oid)).rglob("*") if p.is_file()]
    files += files_written_since([forensics.data_dir / "pg_wal"], started, recursive=False)
    assert any(path.parent.name == "pg_wal" for path in files), "the WAL was not scanned"
    leaks = find_in_files(files, needles)
    assert not leaks, "; ".join(map(str, leaks))


# --------------------------------------------------------------------------- memory only


async def test_a_restart_of_the_memory_leaves_nothing_of_a_conversation(
    make_settings: Callable[..., Settings],
) -> None:
    """The embedded store is the process's memory: closing it forgets every conversation."""
    store = MemoryConversations()
    async with open_services(make_settings(), conversations=store) as services:
        person = Person(services, user_id=7_304_918_273)
        await converse(person)
        assert len(store) == 1
    await store.close()
    assert len(store) == 0
