"""Test ``amanat audit verify | list`` and ``amanat keys public`` with Typer's CliRunner.

Admin actions are logged by the real commands (``admin mark``) with real key files on a
migrated SQLite file; the attacks are plain SQL by someone who can write the database but
holds no admin's private key, recomputing every hash as the security review's attacker did.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.audit import GENESIS, entry_hash
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import ItemRef
from bot.settings import Settings
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head
from storage.records import NewItem, NewReport
from storage.repositories import ReportRepository

FAST_N = 2**10
PASSPHRASE = "a long enough passphrase"
REPORT = "7K3M9Q2X1A"
Row = tuple[str, str, str, str, bytes | None]  # day, admin, action, subject, signature


@dataclass
class World:
    """A migrated SQLite file, key files for each admin, and settings the CLI reads."""

    settings: Settings
    database: Path
    key_files: dict[str, Path]

    def invoke(self, *args: str, input: str | None = None) -> Result:
        settings = self.settings
        config = CliConfig(load_settings=lambda: settings, scrypt_n=FAST_N)
        return CliRunner().invoke(
            create_app(config), list(args), input=input, env={PASSPHRASE_ENV: None}
        )

    def configure(self, *current: str, former: Sequence[str] = ()) -> None:
        update = {"admin_public_keys": current, "former_admin_public_keys": tuple(former)}
        self.settings = self.settings.model_copy(update=update)

    def mark(self, who: str, status: str) -> None:
        """Log one action through the real command, signed with ``who``'s key file."""
        key = ("--key", str(self.key_files[who]))
        result = self.invoke("admin", "mark", REPORT, status, *key, input=f"{PASSPHRASE}\n")
        assert result.exit_code == 0, result.output

    def verify(self, *args: str) -> Result:
        return self.invoke("audit", "verify", *args)

    def sql(self, statement: str, parameters: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.database) as connection:
            return connection.execute(statement, tuple(parameters)).fetchall()

    def rewrite(self, transform: Callable[[list[Row]], Sequence[Row]]) -> None:
        """Replace the log by a transformed one, renumbered, with every hash recomputed."""
        rows = self.sql("SELECT day, admin, action, subject, signature FROM audit_log ORDER BY seq")
        new = transform([(str(r[0]), str(r[1]), str(r[2]), str(r[3]), _blob(r[4])) for r in rows])
        with sqlite3.connect(self.database) as connection:
            connection.execute("DELETE FROM audit_log")
            previous = GENESIS
            for seq, (day, admin, action, subject, signature) in enumerate(new, start=1):
                digest = entry_hash(previous, seq, date.fromisoformat(day), admin, action, subject)
                connection.execute(
                    "INSERT INTO audit_log (seq, day, admin, action, subject, prev_hash, hash, "
                    "signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (seq, day, admin, action, subject, previous, digest, signature),
                )
                previous = digest


def _blob(value: object) -> bytes | None:
    assert value is None or isinstance(value, bytes)
    return value


def public(key: AdminPrivateKey) -> str:
    return key.public_key().to_text()


def v1(key: AdminPrivateKey) -> str:
    return AdminPublicKey(key.public_key().raw).to_text()


def key_id(key: AdminPrivateKey) -> str:
    return key.public_key().key_id


def store_report(settings: Settings, *admins: AdminPrivateKey) -> None:
    sealer = AdminSealer([admin.public_key() for admin in admins])
    blob = sealer.seal_for_admins(b'{"v": 1}', ItemRef(REPORT, "answers", 0))
    report = NewReport(
        REPORT, date(2026, 11, 25), False, os.urandom(32), [NewItem("answers", 0, blob)]
    )

    async def add() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                await ReportRepository(session).add(report)
        finally:
            await engine.dispose()

    asyncio.run(add())


@pytest.fixture
def world(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    alice: AdminPrivateKey,
    bob: AdminPrivateKey,
    carol: AdminPrivateKey,
) -> World:
    database = tmp_path / "amanat.db"
    settings = make_settings(
        database_url=f"sqlite:///{database}", admin_public_keys=(public(alice), public(bob))
    )
    upgrade_to_head(settings.database_url)
    store_report(settings, alice, bob)
    key_files = {}
    for name, key in (("alice", alice), ("bob", bob), ("carol", carol)):
        path = tmp_path / f"{name}.key"
        path.write_bytes(key.to_file_bytes(PASSPHRASE, scrypt_n=FAST_N))
        key_files[name] = path
    return World(settings, database, key_files)


def head_of(result: Result) -> str:
    [line] = [line for line in result.stdout.splitlines() if line.startswith("Head: ")]
    return line.removeprefix("Head: ")


# --- verify --------------------------------------------------------------------------------


def test_verify_checks_every_signature_and_prints_the_head(world: World) -> None:
    world.mark("alice", "claimed")
    world.mark("bob", "closed")
    result = world.verify()
    assert result.exit_code == 0, result.output
    assert "2 entries, chain intact." in result.stdout
    assert "Signed: 2 of 2" in result.stdout
    assert "No unsigned prefix." in result.stdout
    [signature] = world.sql("SELECT signature FROM audit_log WHERE seq = 2")[0]
    assert isinstance(signature, bytes)
    assert len(head_of(result)) == 64
    listed = world.invoke("audit", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.count(" signed  ") == 2
    assert f"signed    status   {REPORT} closed" in listed.stdout


def test_the_reviews_attack_fails_verify(world: World, alice: AdminPrivateKey) -> None:
    """A rogue admin's entry deleted, a route added in Alice's name, every hash recomputed."""
    world.mark("alice", "claimed")
    world.mark("bob", "closed")  # the rogue admin's action, to be hidden
    world.mark("alice", "new")

    def forge(rows: list[Row]) -> list[Row]:
        kept = [rows[0], rows[2]]
        return [*kept, (kept[-1][0], key_id(alice), "route", f"{REPORT} kabul-ngo", None)]

    world.rewrite(forge)
    result = world.verify()
    assert result.exit_code == 1
    assert "chain intact" not in result.output
    assert (
        f"the audit log does not verify: entry 2 does not carry a valid signature of admin "
        f"{key_id(alice)}"
    ) in result.output


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(lambda rows: [rows[0], rows[2]], id="delete-middle"),
        pytest.param(lambda rows: [rows[0], rows[2], rows[1]], id="reorder"),
        pytest.param(lambda rows: [rows[1], rows[0], rows[2]], id="reorder-first"),
    ],
)
def test_rechained_deletions_and_reorderings_fail_verify(
    world: World, attack: Callable[[list[Row]], list[Row]]
) -> None:
    for who, status in (("alice", "claimed"), ("bob", "closed"), ("alice", "new")):
        world.mark(who, status)
    world.rewrite(attack)
    result = world.verify()
    assert result.exit_code == 1
    assert "does not carry a valid signature of admin" in result.output


def test_a_forged_signed_entry_in_another_admins_name_fails(
    world: World, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    world.mark("alice", "claimed")
    [(day, last)] = world.sql("SELECT day, hash FROM audit_log WHERE seq = 1")
    assert isinstance(last, bytes)
    subject = f"{REPORT} kabul-ngo"
    digest = entry_hash(last, 2, date.fromisoformat(str(day)), key_id(alice), "route", subject)
    world.rewrite(
        lambda rows: [
            *rows,
            (str(day), key_id(alice), "route", subject, bob.sign_audit_entry(digest)),
        ]
    )
    result = world.verify()
    assert result.exit_code == 1
    assert f"entry 2 does not carry a valid signature of admin {key_id(alice)}" in result.output


def test_truncation_passes_alone_and_fails_against_the_earlier_head(world: World) -> None:
    for who, status in (("alice", "claimed"), ("bob", "closed"), ("alice", "new")):
        world.mark(who, status)
    earlier = head_of(world.verify())
    world.sql("DELETE FROM audit_log WHERE seq = 3")
    alone = world.verify()
    assert alone.exit_code == 0, alone.output
    assert "2 entries, chain intact." in alone.stdout
    against = world.verify("--expect-head", earlier)
    assert against.exit_code == 1
    assert "the expected head is not in the chain" in against.output
    current = head_of(alone)
    world.mark("bob", "closed")
    later = world.verify("--expect-head", current.upper())
    assert later.exit_code == 0, later.output
    assert "The expected head is entry 2; 1 entries came after it." in later.stdout


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, "00" * 31, "00" * 33])
def test_a_malformed_expected_head_is_refused(world: World, bad: str) -> None:
    result = world.verify("--expect-head", bad)
    assert result.exit_code == 2
    assert "64 hex digits" in result.output


def test_an_unsigned_entry_after_signed_ones_fails(world: World) -> None:
    world.mark("alice", "claimed")
    world.mark("bob", "closed")
    world.sql("UPDATE audit_log SET signature = NULL WHERE seq = 2")
    result = world.verify()
    assert result.exit_code == 1
    assert "entry 2 is not signed, but an entry before it is" in result.output


def test_stripping_every_signature_fails_against_the_kept_unsigned_count(world: World) -> None:
    """With no signature left the whole chain looks like a legacy prefix: the count shows it."""
    world.mark("alice", "claimed")
    world.mark("bob", "closed")
    kept = world.verify()
    assert "No unsigned prefix." in kept.stdout
    world.sql("UPDATE audit_log SET signature = NULL")
    stripped = world.verify()
    assert stripped.exit_code == 0, stripped.output  # alone, it cannot tell
    assert "Unsigned prefix: entries 1 to 2" in stripped.stdout
    caught = world.verify("--expect-head", head_of(kept), "--expect-unsigned", "0")
    assert caught.exit_code == 1
    assert "2 entries are unsigned where 0 were: signatures were removed" in caught.output


def test_an_unsigned_prefix_then_signed_entries_verifies(
    world: World, alice: AdminPrivateKey
) -> None:
    """Entries written before migration 0009 carry no signature; they come first."""
    previous = GENESIS
    for seq, (admin, action) in enumerate(
        [("operator", "purge"), (key_id(alice), "show")], start=1
    ):
        digest = entry_hash(previous, seq, date(2026, 11, 1), admin, action, "legacy")
        world.sql(
            "INSERT INTO audit_log (seq, day, admin, action, subject, prev_hash, hash) "
            "VALUES (?, '2026-11-01', ?, ?, 'legacy', ?, ?)",
            (seq, admin, action, previous, digest),
        )
        previous = digest
    world.mark("bob", "closed")
    result = world.verify()
    assert result.exit_code == 0, result.output
    assert "3 entries, chain intact." in result.stdout
    assert "Signed: 1 of 3" in result.stdout
    assert "Unsigned prefix: entries 1 to 2" in result.stdout
    listed = world.invoke("audit", "list").stdout
    assert listed.count(" unsigned  ") == 2


def test_a_revoked_admins_entries_verify_only_with_former_admin_keys(
    world: World, alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    world.configure(public(alice), public(bob), public(carol))
    world.mark("carol", "claimed")
    world.mark("alice", "closed")
    world.configure(public(alice), public(bob))  # Carol revoked
    revoked = world.verify()
    assert revoked.exit_code == 1
    assert f"entry 1: no signing key configured for admin {key_id(carol)}" in revoked.output
    world.configure(public(alice), public(bob), former=[public(carol)])
    former = world.verify()
    assert former.exit_code == 0, former.output
    assert "Signed: 2 of 2" in former.stdout
    world.configure(public(alice), public(bob), former=[v1(carol)])
    old_line = world.verify()
    assert old_line.exit_code == 1
    assert f"note: key {key_id(carol)} is configured as a v1 line" in old_line.output


def test_former_admin_keys_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, carol: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    monkeypatch.delenv("AMANAT_FORMER_ADMIN_PUBLIC_KEYS", raising=False)
    assert Settings(_env_file=None).former_admin_public_keys == ()
    monkeypatch.setenv("AMANAT_FORMER_ADMIN_PUBLIC_KEYS", f"{public(carol)}, {v1(bob)}\n")
    settings = Settings(_env_file=None)
    assert settings.former_admin_public_keys == (public(carol), v1(bob))


def test_malformed_admin_key_settings_are_refused_by_position(
    world: World, alice: AdminPrivateKey
) -> None:
    world.configure(public(alice), former=["amanat-admin-pk-v2:SECRET-LOOKING"])
    result = world.verify()
    assert result.exit_code == 2
    assert "entry 1 of AMANAT_FORMER_ADMIN_PUBLIC_KEYS" in result.output
    assert "SECRET-LOOKING" not in result.output


def test_an_entry_by_an_admin_configured_as_a_v1_line_cannot_verify(
    world: World, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    world.mark("alice", "claimed")
    world.configure(v1(alice), public(bob))
    result = world.verify()
    assert result.exit_code == 1
    assert f"note: key {key_id(alice)} is configured as a v1 line" in result.output
    assert "amanat keys public" in result.output
    assert f"entry 1: no signing key configured for admin {key_id(alice)}" in result.output


# --- keys public, and revocations that keep the revoked key's line ---------------------------


def test_keys_public_prints_the_v2_line_of_a_key_file(world: World, alice: AdminPrivateKey) -> None:
    result = world.invoke(
        "keys", "public", "--key", str(world.key_files["alice"]), input=f"{PASSPHRASE}\n"
    )
    assert result.exit_code == 0, result.output
    assert public(alice) in result.stdout.splitlines()  # the line alone, to copy
    assert public(alice).startswith("amanat-admin-pk-v2:")
    assert key_id(alice) in result.output
    assert PASSPHRASE not in result.output
    wrong = world.invoke(
        "keys", "public", "--key", str(world.key_files["alice"]), input="not the passphrase\n"
    )
    assert wrong.exit_code == 1
    assert "amanat-admin-pk" not in wrong.stdout


def test_keys_init_prints_a_v2_line(world: World, tmp_path: Path) -> None:
    out = tmp_path / "fresh.key"
    result = world.invoke("keys", "init", "--out", str(out), input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    key = AdminPrivateKey.from_file_bytes(out.read_bytes(), PASSPHRASE)
    assert f"AMANAT_ADMIN_PUBLIC_KEYS={public(key)}" in result.stdout


def test_revoking_prints_the_former_admin_keys_setting(
    world: World, alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    world.configure(public(alice), public(bob), former=[public(carol)])
    result = world.invoke(
        "keys", "revoke", key_id(bob), "--key", str(world.key_files["alice"]),
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"AMANAT_ADMIN_PUBLIC_KEYS={public(alice)}\n" in result.stdout
    assert f"AMANAT_FORMER_ADMIN_PUBLIC_KEYS={public(carol)},{public(bob)}\n" in result.stdout


def test_revoking_a_v1_line_keeps_it_and_says_it_cannot_check_signatures(
    world: World, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    world.configure(public(alice), v1(bob), former=[v1(bob)])
    result = world.invoke(
        "keys", "revoke", key_id(bob), "--key", str(world.key_files["alice"]),
        input=f"{PASSPHRASE}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"AMANAT_FORMER_ADMIN_PUBLIC_KEYS={v1(bob)}\n" in result.stdout
    assert f"note: key {key_id(bob)} is configured as a v1 line" in result.stdout


def test_rotating_prints_the_old_keys_v2_line_as_a_former_admin_key(
    world: World, alice: AdminPrivateKey, bob: AdminPrivateKey, tmp_path: Path
) -> None:
    world.configure(v1(alice), public(bob))
    new_file = tmp_path / "alice.new.key"
    result = world.invoke(
        "keys", "rotate", "--key", str(world.key_files["alice"]), "--out", str(new_file),
        "--execute", input=f"{PASSPHRASE}\n{PASSPHRASE}\n{PASSPHRASE}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    new = AdminPrivateKey.from_file_bytes(new_file.read_bytes(), PASSPHRASE)
    assert f"AMANAT_ADMIN_PUBLIC_KEYS={public(new)},{public(bob)}\n" in result.stdout
    assert f"AMANAT_FORMER_ADMIN_PUBLIC_KEYS={public(alice)}\n" in result.stdout  # v2: known
    world.configure(public(new), public(bob), former=[public(alice)])
    verified = world.verify()  # the rekey entry, signed by the old key, still verifies
    assert verified.exit_code == 0, verified.output
    assert "Signed: 1 of 1" in verified.stdout


def test_verify_without_any_configured_key_says_why_signed_entries_fail(world: World) -> None:
    world.mark("alice", "claimed")
    world.configure()
    result = world.verify()
    assert result.exit_code == 1
    assert "AMANAT_ADMIN_PUBLIC_KEYS is empty here" in result.output
    assert "entry 1: no signing key configured for admin" in result.output
