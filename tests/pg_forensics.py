"""Look at a PostgreSQL server the way whoever seizes it would: its files and its WAL.

``pg_waldump`` decodes the write-ahead log between two positions, so a test can say exactly
which relations of its scratch database a stretch of activity wrote, and which relations one
transaction touched. Other databases on the same server write WAL too; every record here is
filtered by the scratch database's OID. Tests that need this skip, with the reason, where the
server's data directory or ``pg_waldump`` is not reachable from the test process.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from tests.storage_backends import PG_HOST, PG_PORT, PG_USER, ScratchPostgres

_RECORD = re.compile(r"\btx:\s+(\d+),.*?\bdesc:\s+(.*)")
FIRST_NORMAL_OID = 16384
"""Relations below this are system catalogs: a transaction that only reads them may still
prune or set hint bits on their pages (schema, never content), so they are left out."""
_RELATION = re.compile(r"\brel (\d+)/(\d+)/(\d+)")


@dataclass(frozen=True)
class WalRecord:
    """One decoded WAL record of the scratch database: its transaction and relation names."""

    xid: int
    relations: frozenset[str]
    line: str


class Forensics:
    """The scratch database's server, read from the outside."""

    def __init__(self, database: ScratchPostgres, data_dir: Path, waldump: str) -> None:
        self.database = database
        self.data_dir = data_dir
        self.waldump = waldump

    @classmethod
    async def open(cls, database: ScratchPostgres) -> Forensics:
        """Find the data directory and a pg_waldump of the server's version, or skip."""
        connection = await connect(database)
        try:
            data_dir = Path(await connection.fetchval("SHOW data_directory"))
            version = int(await connection.fetchval("SHOW server_version_num")) // 10000
        finally:
            await connection.close()
        if not (data_dir / "pg_wal").is_dir():
            pytest.skip(f"the server's data directory {data_dir} is not readable here")
        candidates = [
            Path(f"/usr/lib/postgresql/{version}/bin/pg_waldump"),
            Path(shutil.which("pg_waldump") or "/nonexistent"),
        ]
        waldump = next((str(p) for p in candidates if p.is_file()), None)
        if waldump is None:
            pytest.skip(f"pg_waldump for PostgreSQL {version} is not installed")
        return cls(database, data_dir, waldump)

    async def wal_position(self) -> str:
        """Return the WAL position written so far (what pg_waldump can read from the files)."""
        connection = await connect(self.database)
        try:
            return str(await connection.fetchval("SELECT pg_current_wal_lsn()::text"))
        finally:
            await connection.close()

    async def relation_names(self) -> tuple[int, dict[int, str]]:
        """Return the database's OID and a name for every relfilenode in it.

        Indexes and TOAST tables are named after the table they serve, so a test can speak of
        tables only.
        """
        connection = await connect(self.database)
        try:
            oid = int(
                await connection.fetchval(
                    "SELECT oid FROM pg_database WHERE datname = current_database()"
                )
            )
            classes = await connection.fetch(
                "SELECT oid::bigint, relname, relfilenode::bigint, reltoastrelid::bigint"
                " FROM pg_class"
            )
            indexes = await connection.fetch(
                "SELECT indexrelid::bigint, indrelid::bigint FROM pg_index"
            )
        finally:
            await connection.close()
        name = {int(row["oid"]): str(row["relname"]) for row in classes}
        table_of = {int(row["indexrelid"]): int(row["indrelid"]) for row in indexes}
        table_of.update(
            {int(row["reltoastrelid"]): int(row["oid"]) for row in classes if row["reltoastrelid"]}
        )

        def base(relation: int) -> int:
            # An index of a TOAST table of a table: follow both steps back to the table.
            while relation in table_of:
                relation = table_of[relation]
            return relation

        return oid, {
            int(row["relfilenode"]): name[base(int(row["oid"]))]
            for row in classes
            if row["relfilenode"]
        }

    async def records(self, start: str, end: str) -> list[WalRecord]:
        """Decode the WAL between two positions; keep the records of the scratch database."""
        if start == end:
            return []
        oid, names = await self.relation_names()
        result = await asyncio.to_thread(
            subprocess.run,
            [self.waldump, "-p", str(self.data_dir / "pg_wal"), "-s", start, "-e", end],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0 and not result.stdout:
            pytest.fail(f"pg_waldump failed: {result.stderr[-500:]}")
        found: list[WalRecord] = []
        for line in result.stdout.splitlines():
            record = _RECORD.search(line)
            if record is None:
                continue
            relations = {
                names.get(int(node), f"relfilenode {node}")
                for _, database, node in _RELATION.findall(line)
                if int(database) == oid and int(node) >= FIRST_NORMAL_OID
            }
            if relations:
                found.append(WalRecord(int(record.group(1)), frozenset(relations), line))
        return found

    def files(self) -> list[Path]:
        """Every file of the server a seizure takes that may hold this database's bytes."""
        paths = [p for p in (self.data_dir / "pg_wal").iterdir() if p.is_file()]
        paths += [p for p in (self.data_dir / "base").rglob("*") if p.is_file()]
        return paths


async def connect(database: ScratchPostgres) -> asyncpg.Connection:
    """Connect to the scratch database as the superuser the tests use."""
    return await asyncpg.connect(
        f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database.database}", timeout=5
    )
