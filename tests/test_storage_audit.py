"""Prove the signed audit log through real storage, on SQLite and PostgreSQL.

Entries are appended with ``AuditRepository`` and real admin keys; the attacks are what a
database writer without any admin's private key can do in SQL: delete, insert, reorder and
edit rows, recompute every hash, strip signatures. Each must fail ``verify`` (or, for removed
newest entries, fail it against a head kept elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.crypto.audit import GENESIS, Verdict, entry_hash, verify
from bot.crypto.keyfile import AdminPrivateKey
from storage.audit import AuditRepository
from storage.db import create_engine, ensure_wal, session_factory, unit_of_work
from storage.migrate import alembic_config, upgrade_to_head_async

DAY = date(2026, 11, 25)
Sessions = async_sessionmaker[AsyncSession]
Row = tuple[date, str, str, str, bytes | None]  # day, admin, action, subject, signature


def keys_of(*admins: AdminPrivateKey) -> dict[str, bytes]:
    """The signing keys `verify` takes: key id to raw Ed25519 public key."""
    return {a.public_key().key_id: a.public_key().signing or b"" for a in admins}


async def act(sessions: Sessions, admin: AdminPrivateKey, action: str, subject: str) -> None:
    """Append one entry as the CLI does: named and signed by the acting admin."""
    async with unit_of_work(sessions) as session:
        await AuditRepository(session).append(
            DAY, admin.public_key().key_id, action, subject, signer=admin.sign_audit_entry
        )


async def check(sessions: Sessions, keys: dict[str, bytes], head: bytes | None = None) -> Verdict:
    """Read the chain back from the database and verify it."""
    async with unit_of_work(sessions) as session:
        entries = await AuditRepository(session).entries()
    return verify(entries, keys, head)


async def read_rows(sessions: Sessions) -> list[Row]:
    """Read the log as a database writer does, with plain SQL."""
    async with unit_of_work(sessions) as session:
        result = await session.execute(
            text("SELECT day, admin, action, subject, signature FROM audit_log ORDER BY seq")
        )
        # SQLite hands a raw SELECT's dates back as text, PostgreSQL as dates.
        return [(_day(r[0]), r[1], r[2], r[3], r[4]) for r in result]


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


async def rewrite(sessions: Sessions, transform: Callable[[list[Row]], Sequence[Row]]) -> None:
    """Replace the log by a transformed one, renumbered and with every hash recomputed."""
    rows = list(transform(await read_rows(sessions)))
    async with unit_of_work(sessions) as session:
        await session.execute(text("DELETE FROM audit_log"))
        previous = GENESIS
        for seq, (day, admin, action, subject, signature) in enumerate(rows, start=1):
            digest = entry_hash(previous, seq, day, admin, action, subject)
            await session.execute(
                text(
                    "INSERT INTO audit_log (seq, day, admin, action, subject, prev_hash, hash, "
                    "signature) VALUES (:seq, :day, :admin, :action, :subject, :prev, :hash, "
                    ":signature)"
                ),
                {
                    "seq": seq, "day": day, "admin": admin, "action": action,
                    "subject": subject, "prev": previous, "hash": digest, "signature": signature,
                },
            )  # fmt: skip
            previous = digest


async def three_actions(sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey) -> None:
    """Alice shows a report, Bob (the rogue) exports it, Alice shows another."""
    await act(sessions, alice, "show", "7K3M9Q2X1A")
    await act(sessions, bob, "export", "7K3M9Q2X1A")
    await act(sessions, alice, "show", "8H2N4P6R0B")


async def test_appends_are_signed_and_read_back(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    await three_actions(sessions, alice, bob)
    async with unit_of_work(sessions) as session:
        entries = await AuditRepository(session).entries()
    assert [e.seq for e in entries] == [1, 2, 3]
    for entry, signer in zip(entries, (alice, bob, alice), strict=True):
        assert isinstance(entry.signature, bytes)
        assert entry.signature == signer.sign_audit_entry(entry.hash)
    verdict = verify(entries, keys_of(alice, bob))
    assert verdict.problem is None
    assert (verdict.entries, verdict.signed, verdict.unsigned) == (3, 3, 0)


async def test_append_refuses_a_signer_that_returns_no_signature(
    sessions: Sessions, alice: AdminPrivateKey
) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        async with unit_of_work(sessions) as session:
            await AuditRepository(session).append(
                DAY, alice.public_key().key_id, "show", "R", signer=lambda digest: digest
            )
    assert await read_rows(sessions) == []


async def test_the_reviews_attack_is_caught(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    """Bob's export deleted, a route added in Alice's name, every hash recomputed."""
    await three_actions(sessions, alice, bob)
    alice_id = alice.public_key().key_id

    def forge(rows: list[Row]) -> list[Row]:
        kept = [row for row in rows if row[2] != "export"]
        return [*kept, (DAY, alice_id, "route", "7K3M9Q2X1A kabul-ngo", None)]

    await rewrite(sessions, forge)
    verdict = await check(sessions, keys_of(alice, bob))
    assert verdict.problem == f"entry 2 does not carry a valid signature of admin {alice_id}"


async def test_a_forged_entry_signed_by_another_admin_is_caught(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    await three_actions(sessions, alice, bob)
    alice_id = alice.public_key().key_id
    async with unit_of_work(sessions) as session:
        entries = await AuditRepository(session).entries()
    digest = entry_hash(entries[-1].hash, 4, DAY, alice_id, "route", "7K3M9Q2X1A kabul-ngo")
    forged = (DAY, alice_id, "route", "7K3M9Q2X1A kabul-ngo", bob.sign_audit_entry(digest))
    await rewrite(sessions, lambda rows: [*rows, forged])
    verdict = await check(sessions, keys_of(alice, bob))
    assert verdict.problem == f"entry 4 does not carry a valid signature of admin {alice_id}"


async def test_deleting_a_middle_entry_and_rechaining_is_caught(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    await three_actions(sessions, alice, bob)
    await rewrite(sessions, lambda rows: [rows[0], rows[2]])
    verdict = await check(sessions, keys_of(alice, bob))
    assert verdict.problem is not None
    assert verdict.problem.startswith("entry 2 does not carry a valid signature")


async def test_reordering_and_rechaining_is_caught(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    await three_actions(sessions, alice, bob)
    await rewrite(sessions, lambda rows: [rows[0], rows[2], rows[1]])
    verdict = await check(sessions, keys_of(alice, bob))
    assert verdict.problem is not None
    assert verdict.problem.startswith("entry 2 does not carry a valid signature")


async def test_truncation_is_caught_only_against_the_earlier_head(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    await three_actions(sessions, alice, bob)
    head = (await check(sessions, keys_of(alice, bob))).head
    async with unit_of_work(sessions) as session:
        await session.execute(text("DELETE FROM audit_log WHERE seq > 1"))
    assert (await check(sessions, keys_of(alice, bob))).problem is None
    verdict = await check(sessions, keys_of(alice, bob), head)
    assert verdict.problem is not None
    assert "expected head is not in the chain" in verdict.problem


async def test_an_unsigned_entry_after_signed_ones_is_caught(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    await three_actions(sessions, alice, bob)
    async with unit_of_work(sessions) as session:
        await session.execute(text("UPDATE audit_log SET signature = NULL WHERE seq = 3"))
    verdict = await check(sessions, keys_of(alice, bob))
    assert verdict.problem == "entry 3 is not signed, but an entry before it is"


def _upgrade_to(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def test_an_unsigned_prefix_from_before_0009_then_signed_entries_verifies(
    database_url: str, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    """Entries written before migration 0009 stay unsigned; the first signed one pins them."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await ensure_wal(connection)
            await connection.run_sync(_upgrade_to, "0008")
        legacy: list[dict[str, Any]] = []
        previous = GENESIS
        for seq, (admin, action) in enumerate(
            [("operator", "purge"), (alice.public_key().key_id, "show")], start=1
        ):
            digest = entry_hash(previous, seq, DAY, admin, action, "legacy")
            legacy.append(
                {"seq": seq, "day": DAY, "admin": admin, "action": action, "subject": "legacy",
                 "prev": previous, "hash": digest}
            )  # fmt: skip
            previous = digest
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO audit_log (seq, day, admin, action, subject, prev_hash, hash) "
                    "VALUES (:seq, :day, :admin, :action, :subject, :prev, :hash)"
                ),
                legacy,
            )
    finally:
        await engine.dispose()
    await upgrade_to_head_async(database_url)
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        await act(sessions, bob, "show", "7K3M9Q2X1A")
        verdict = await check(sessions, keys_of(alice, bob))
        assert verdict.problem is None
        assert (verdict.entries, verdict.signed, verdict.unsigned) == (3, 1, 2)

        def edit_prefix(rows: list[Row]) -> list[Row]:
            return [(DAY, "operator", "purge", "edited", None), *rows[1:]]

        await rewrite(sessions, edit_prefix)
        verdict = await check(sessions, keys_of(alice, bob))
        assert verdict.problem is not None
        assert verdict.problem.startswith("entry 3 does not carry a valid signature")
    finally:
        await engine.dispose()


async def test_a_revoked_admins_entry_needs_that_admins_key(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    await act(sessions, carol, "show", "7K3M9Q2X1A")
    await act(sessions, alice, "rekey", "1:0123456789abcdef")
    carol_id = carol.public_key().key_id
    verdict = await check(sessions, keys_of(alice, bob))
    assert verdict.problem == f"entry 1: no signing key configured for admin {carol_id}"
    assert (await check(sessions, keys_of(alice, bob, carol))).problem is None
