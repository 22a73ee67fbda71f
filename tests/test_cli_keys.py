"""Test ``amanat keys add-admin | revoke | rotate`` with Typer's CliRunner on migrated SQLite files.

Reports are sealed with the real ``AdminSealer``; after each command every item is opened (or
refused) with the real keys, straight from the database the command wrote.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.admin.rekey import ReportOutcome
from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.errors import NotARecipient
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import ItemRef
from bot.devtools.devkeys import dev_passphrase_path, ensure_dev_keys, read_dev_passphrase
from bot.settings import Settings
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head
from storage.records import NewItem, NewReport, StoredReport
from storage.repositories import ReportRepository
from tests.api_support import admin_laptop, api_in_a_thread

FAST_N = 2**10
ALICE_PASS = "alice's long passphrase"
NEW_PASS = "a brand new long passphrase"
REPORT_A = "7K3M9Q2X1A"
REPORT_B = "8H2N4P6R0B"
ITEMS = (("answers", 0), ("recruiter_contact", 0), ("narrative", 0), ("narrative", 1))


def plaintext(report_id: str, kind: str, index: int) -> bytes:
    return f"CANARY {report_id} {kind} {index} داستان".encode()


@dataclass
class Admins:
    alice: AdminPrivateKey
    bob: AdminPrivateKey
    carol: AdminPrivateKey


@pytest.fixture
def admins(admin_key: AdminPrivateKey) -> Admins:
    return Admins(admin_key, AdminPrivateKey.generate(), AdminPrivateKey.generate())


@dataclass
class World:
    """A migrated database, Alice's key file, and a CLI whose settings list ``configured``."""

    settings: Settings
    alice_file: Path
    tmp: Path
    after_report: Callable[[ReportOutcome], None] | None = None
    api_url: str | None = None
    """Set when Alice's machine works through the admin API, with no database URL."""

    def configure(self, *keys: AdminPrivateKey) -> None:
        texts = tuple(key.public_key().to_text() for key in keys)
        self.settings = self.settings.model_copy(update={"admin_public_keys": texts})

    def invoke(self, *args: str, input: str | None = None) -> Result:
        settings = self.settings
        if self.api_url is not None:
            settings = admin_laptop(settings, self.api_url, self.tmp)
        config = CliConfig(
            load_settings=lambda: settings, scrypt_n=FAST_N, after_report=self.after_report
        )
        return CliRunner().invoke(
            create_app(config), list(args), input=input, env={PASSPHRASE_ENV: None}
        )

    def run(self, work: Callable[[ReportRepository], object]) -> object:
        async def go() -> object:
            engine = create_engine(self.settings.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as session:
                    return await work(ReportRepository(session))  # type: ignore[misc]
            finally:
                await engine.dispose()

        return asyncio.run(go())

    def store(self, report_id: str, *recipients: AdminPrivateKey) -> None:
        sealer = AdminSealer([key.public_key() for key in recipients])
        items = [
            NewItem(
                kind,
                index,
                sealer.seal_for_admins(
                    plaintext(report_id, kind, index), ItemRef(report_id, kind, index)
                ),
            )
            for kind, index in ITEMS
        ]
        report = NewReport(report_id, date(2026, 11, 25), False, os.urandom(32), items)

        async def add(reports: ReportRepository) -> None:
            await reports.add(report)

        self.run(add)

    def load(self, report_id: str) -> StoredReport:
        async def get(reports: ReportRepository) -> StoredReport | None:
            return await reports.get(report_id)

        found = self.run(get)
        assert isinstance(found, StoredReport)
        return found

    def opens(self, report_id: str, key: AdminPrivateKey) -> bool:
        """True if the key opens every item of the report, False if none; else the test fails."""
        results = set()
        for item in self.load(report_id).items:
            ref = ItemRef(report_id, item.kind, item.index)
            try:
                assert open_with_admin_key(item.blob, ref, key) == plaintext(
                    report_id, item.kind, item.index
                )
                results.add(True)
            except NotARecipient:
                results.add(False)
        assert len(results) == 1
        return results.pop()


def database_world(tmp_path: Path, make_settings: Callable[..., Settings], admins: Admins) -> World:
    """Alice's machine on the server's database."""
    settings = make_settings()
    upgrade_to_head(settings.database_url)
    alice_file = tmp_path / "keys" / "alice.key"
    alice_file.parent.mkdir(mode=0o700)
    alice_file.write_bytes(admins.alice.to_file_bytes(ALICE_PASS, scrypt_n=FAST_N))
    return World(settings, alice_file, tmp_path)


@pytest.fixture(name="database_world")
def database_world_fixture(
    tmp_path: Path, make_settings: Callable[..., Settings], admins: Admins
) -> World:
    """Development keys exist only beside the embedded database: those tests use this."""
    return database_world(tmp_path, make_settings, admins)


@pytest.fixture(params=["database", "api"])
def world(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    admins: Admins,
) -> Iterator[World]:
    """Alice re-keys on the database, or as a lead through the admin API."""
    world = database_world(tmp_path, make_settings, admins)
    if request.param == "database":
        yield world
        return
    alice = admins.alice.public_key()
    server = world.settings.model_copy(
        update={"admin_public_keys": (alice.to_text(),), "lead_admin_keys": (alice.key_id,)}
    )
    with api_in_a_thread(server) as (url, _):
        world.api_url = url
        yield world
    assert not (tmp_path / "no-such-folder").exists()


def config_line(*keys: AdminPublicKey) -> str:
    return "AMANAT_ADMIN_PUBLIC_KEYS=" + ",".join(key.to_text() for key in keys)


def content_parts(world: World, *report_ids: str) -> dict[tuple[str, str, int], bytes]:
    """Each item's nonce and ciphertext: the part a re-wrap must never change."""
    parts = {}
    for report_id in report_ids:
        for item in world.load(report_id).items:
            size = 12 + len(plaintext(report_id, item.kind, item.index)) + 16
            parts[(report_id, item.kind, item.index)] = item.blob.data[-size:]
    return parts


def all_blobs(world: World, *report_ids: str) -> list[bytes]:
    return [item.blob.data for rid in report_ids for item in world.load(rid).items]


def assert_clean(result: Result, *secrets: str) -> None:
    assert "CANARY" not in result.output
    for secret in secrets:
        assert secret not in result.output


# --- add-admin -----------------------------------------------------------------------------


def test_add_admin_is_a_dry_run_by_default(world: World, admins: Admins) -> None:
    world.configure(admins.alice)
    world.store(REPORT_A, admins.alice)
    world.store(REPORT_B, admins.alice)
    before = all_blobs(world, REPORT_A, REPORT_B)
    bob = admins.bob.public_key()
    result = world.invoke(
        "keys", "add-admin", bob.to_text(), "--key", str(world.alice_file), input=f"{ALICE_PASS}\n"
    )
    assert result.exit_code == 0, result.output
    assert "Would re-wrap 8 items in 2 reports to 2 admin keys" in result.stdout
    assert "--execute" in result.stdout
    assert config_line(admins.alice.public_key(), bob) in result.stdout
    assert all_blobs(world, REPORT_A, REPORT_B) == before
    assert not world.opens(REPORT_A, admins.bob)
    assert_clean(result, ALICE_PASS)


def test_add_admin_lets_the_new_key_open_everything_and_keeps_the_content(
    world: World, admins: Admins
) -> None:
    world.configure(admins.alice)
    world.store(REPORT_A, admins.alice)
    world.store(REPORT_B, admins.alice)
    content = content_parts(world, REPORT_A, REPORT_B)
    bob = admins.bob.public_key()
    args = ("keys", "add-admin", bob.to_text(), "--key", str(world.alice_file), "--execute")
    result = world.invoke(*args, input=f"{ALICE_PASS}\n")
    assert result.exit_code == 0, result.output
    assert "Re-wrapped 8 items in 2 reports to 2 admin keys" in result.stdout
    assert f"{admins.alice.public_key().key_id}, {bob.key_id}" in result.stdout
    assert config_line(admins.alice.public_key(), bob) in result.stdout
    for report_id in (REPORT_A, REPORT_B):
        assert world.opens(report_id, admins.bob)
        assert world.opens(report_id, admins.alice)
        assert not world.opens(report_id, admins.carol)
    assert content_parts(world, REPORT_A, REPORT_B) == content
    assert_clean(result, ALICE_PASS)

    # Once the setting lists Bob, the same command is a catch-up run for late reports.
    world.configure(admins.alice, admins.bob)
    world.store("0000000001", admins.alice)
    again = world.invoke(*args, input=f"{ALICE_PASS}\n")
    assert again.exit_code == 0, again.output
    assert "already in AMANAT_ADMIN_PUBLIC_KEYS" in again.stdout
    assert world.opens("0000000001", admins.bob)


def test_add_admin_refuses_a_malformed_key_before_asking_a_passphrase(world: World) -> None:
    result = world.invoke("keys", "add-admin", "amanat-admin-pk-v1:nope", "--execute")
    assert result.exit_code == 1
    assert "not an Amanat admin public key" in result.output
    assert "Passphrase" not in result.output


def test_items_the_key_cannot_open_are_named_and_exit_1(world: World, admins: Admins) -> None:
    world.configure(admins.alice, admins.carol)
    world.store(REPORT_A, admins.alice, admins.carol)
    world.store(REPORT_B, admins.carol)
    result = world.invoke(
        "keys",
        "add-admin",
        admins.bob.public_key().to_text(),
        "--key",
        str(world.alice_file),
        "--execute",
        input=f"{ALICE_PASS}\n",
    )
    assert result.exit_code == 1, result.output
    assert f"report {REPORT_B}: 4 items not sealed to your key" in result.output
    assert "4 items in 1 reports were left as they were" in result.output
    assert "an admin whose key opens them must run the same command" in result.output
    assert "Re-wrapped 4 items in 2 reports" in result.stdout
    assert world.opens(REPORT_A, admins.bob)
    assert not world.opens(REPORT_B, admins.bob)


def test_an_empty_setting_is_refused_unless_the_key_is_the_development_key(
    world: World, admins: Admins
) -> None:
    world.configure()
    result = world.invoke(
        "keys",
        "add-admin",
        admins.bob.public_key().to_text(),
        "--key",
        str(world.alice_file),
        input=f"{ALICE_PASS}\n",
    )
    assert result.exit_code == 2
    assert "AMANAT_ADMIN_PUBLIC_KEYS is empty" in result.output


def test_in_development_the_current_set_is_the_development_key(
    database_world: World, admins: Admins, make_settings: Callable[..., Settings]
) -> None:
    world = database_world
    bare = make_settings(admin_public_keys=(), server_secret=None)
    dev = ensure_dev_keys(bare, scrypt_n=FAST_N)
    dev_public = AdminPublicKey.from_text(dev.admin_public_keys[0])
    world.settings = bare
    sealer = AdminSealer([dev_public])
    report = NewReport(
        REPORT_A,
        date(2026, 11, 25),
        False,
        os.urandom(32),
        [
            NewItem(
                "answers",
                0,
                sealer.seal_for_admins(
                    plaintext(REPORT_A, "answers", 0), ItemRef(REPORT_A, "answers", 0)
                ),
            )
        ],
    )

    async def add(reports: ReportRepository) -> None:
        await reports.add(report)

    world.run(add)
    passphrase = read_dev_passphrase(dev_passphrase_path(dev))
    bob = admins.bob.public_key()
    result = world.invoke("keys", "add-admin", bob.to_text(), "--execute", input=f"{passphrase}\n")
    assert result.exit_code == 0, result.output
    assert config_line(dev_public, bob) in result.stdout
    assert world.opens(REPORT_A, admins.bob)


# --- revoke --------------------------------------------------------------------------------


def test_revoke_leaves_the_revoked_key_nothing_and_says_what_it_cannot_do(
    world: World, admins: Admins
) -> None:
    world.configure(admins.alice, admins.bob, admins.carol)
    world.store(REPORT_A, admins.alice, admins.bob, admins.carol)
    world.store(REPORT_B, admins.alice, admins.bob, admins.carol)
    content = content_parts(world, REPORT_A, REPORT_B)
    bob_id = admins.bob.public_key().key_id
    result = world.invoke(
        "keys",
        "revoke",
        bob_id.upper(),
        "--key",
        str(world.alice_file),
        "--execute",
        input=f"{ALICE_PASS}\n",
    )
    assert result.exit_code == 0, result.output
    assert config_line(admins.alice.public_key(), admins.carol.public_key()) in result.stdout
    assert "applies to NEW reports only once the server's" in result.stdout
    assert "backups made before the re-wrap can still be opened" in result.stdout
    for report_id in (REPORT_A, REPORT_B):
        assert not world.opens(report_id, admins.bob)
        assert world.opens(report_id, admins.alice)
        assert world.opens(report_id, admins.carol)
    assert content_parts(world, REPORT_A, REPORT_B) == content
    assert_clean(result, ALICE_PASS)


def test_revoke_dry_run_changes_nothing(world: World, admins: Admins) -> None:
    world.configure(admins.alice, admins.bob)
    world.store(REPORT_A, admins.alice, admins.bob)
    before = all_blobs(world, REPORT_A)
    result = world.invoke(
        "keys",
        "revoke",
        admins.bob.public_key().to_text(),
        "--key",
        str(world.alice_file),
        input=f"{ALICE_PASS}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Would re-wrap 4 items in 1 reports to 1 admin keys" in result.stdout
    assert all_blobs(world, REPORT_A) == before
    assert world.opens(REPORT_A, admins.bob)


@pytest.mark.parametrize(
    ("configured", "revoked", "message"),
    [
        (("alice", "bob"), "alice", "the key you are using"),
        (("alice",), "alice", "the key you are using"),
        (("bob",), "bob", "last admin key"),
        (("alice", "bob"), "not-a-key", "name the key by its key id"),
    ],
)
def test_revoke_refuses_to_lock_everyone_out(
    world: World, admins: Admins, configured: Sequence[str], revoked: str, message: str
) -> None:
    keys = {"alice": admins.alice, "bob": admins.bob}
    world.configure(*(keys[name] for name in configured))
    world.store(REPORT_A, *(keys[name] for name in configured))
    before = all_blobs(world, REPORT_A)
    name = keys[revoked].public_key().key_id if revoked in keys else revoked
    result = world.invoke(
        "keys", "revoke", name, "--key", str(world.alice_file), "--execute", input=f"{ALICE_PASS}\n"
    )
    assert result.exit_code == 1
    assert message in result.output
    assert all_blobs(world, REPORT_A) == before


def test_revoke_refuses_a_key_id_that_names_no_admin_here(world: World, admins: Admins) -> None:
    world.configure(admins.alice, admins.bob)
    world.store(REPORT_A, admins.alice, admins.bob)
    before = all_blobs(world, REPORT_A)
    typo = world.invoke(
        "keys", "revoke", "0000000000000000", "--key", str(world.alice_file), "--execute",
        input=f"{ALICE_PASS}\n",
    )  # fmt: skip
    assert typo.exit_code == 1
    assert "key 0000000000000000 is not an admin key here" in typo.output
    assert all_blobs(world, REPORT_A) == before


def test_revoke_takes_a_former_admins_key_off_old_reports(world: World, admins: Admins) -> None:
    """Carol left the configuration earlier; her key is listed as a former admin's."""
    world.configure(admins.alice, admins.bob)
    world.store(REPORT_A, admins.alice, admins.bob, admins.carol)
    world.settings = world.settings.model_copy(
        update={"former_admin_public_keys": (admins.carol.public_key().to_text(),)}
    )
    result = world.invoke(
        "keys", "revoke", admins.carol.public_key().key_id, "--key", str(world.alice_file),
        "--execute", input=f"{ALICE_PASS}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert not world.opens(REPORT_A, admins.carol)
    assert world.opens(REPORT_A, admins.bob)


# --- rotate --------------------------------------------------------------------------------


def rotate(world: World, out: Path, *extra: str, input: str) -> Result:
    return world.invoke(
        "keys", "rotate", "--key", str(world.alice_file), "--out", str(out), *extra, input=input
    )


def new_key(out: Path) -> AdminPrivateKey:
    return AdminPrivateKey.from_file_bytes(out.read_bytes(), NEW_PASS)


def test_rotate_moves_every_item_to_the_new_key(world: World, admins: Admins) -> None:
    world.configure(admins.alice, admins.bob)
    world.store(REPORT_A, admins.alice, admins.bob)
    world.store(REPORT_B, admins.alice, admins.bob)
    content = content_parts(world, REPORT_A, REPORT_B)
    out = world.tmp / "keys" / "alice-2.key"
    result = rotate(world, out, "--execute", input=f"{ALICE_PASS}\n{NEW_PASS}\n{NEW_PASS}\n")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    fresh = new_key(out)
    assert f"New key id: {fresh.public_key().key_id}" in result.stdout
    assert config_line(fresh.public_key(), admins.bob.public_key()) in result.stdout
    assert "--resume --execute" in result.stdout
    for report_id in (REPORT_A, REPORT_B):
        assert world.opens(report_id, fresh)
        assert not world.opens(report_id, admins.alice)
        assert world.opens(report_id, admins.bob)
    assert content_parts(world, REPORT_A, REPORT_B) == content
    assert_clean(result, ALICE_PASS, NEW_PASS)


def test_rotate_dry_run_writes_no_key_and_changes_nothing(world: World, admins: Admins) -> None:
    world.configure(admins.alice)
    world.store(REPORT_A, admins.alice)
    before = all_blobs(world, REPORT_A)
    out = world.tmp / "keys" / "alice-2.key"
    result = rotate(world, out, input=f"{ALICE_PASS}\n")
    assert result.exit_code == 0, result.output
    assert "Would re-wrap 4 items in 1 reports" in result.stdout
    assert not out.exists()
    assert all_blobs(world, REPORT_A) == before
    assert "AMANAT_ADMIN_PUBLIC_KEYS=" not in result.stdout
    # The rehearsal key is thrown away: its id would name a key nobody will ever hold.
    assert "to 1 admin keys: your new key (its id is known once --execute makes it)" in (
        result.stdout
    )
    assert not re.search(r"admin keys: [0-9a-f]{16}", result.stdout)


def test_rotate_writes_next_to_the_old_key_by_default(world: World, admins: Admins) -> None:
    world.configure(admins.alice)
    world.store(REPORT_A, admins.alice)
    result = world.invoke(
        "keys",
        "rotate",
        "--key",
        str(world.alice_file),
        "--execute",
        input=f"{ALICE_PASS}\n{NEW_PASS}\n{NEW_PASS}\n",
    )
    assert result.exit_code == 0, result.output
    out = world.alice_file.with_name("alice.new.key")
    assert world.opens(REPORT_A, new_key(out))


def test_rotate_refuses_a_short_new_passphrase_before_touching_anything(
    world: World, admins: Admins
) -> None:
    world.configure(admins.alice)
    world.store(REPORT_A, admins.alice)
    before = all_blobs(world, REPORT_A)
    out = world.tmp / "keys" / "alice-2.key"
    result = rotate(world, out, "--execute", input=f"{ALICE_PASS}\nshort\nshort\n")
    assert result.exit_code == 1
    assert "shorter than 12 characters" in result.output
    assert not out.exists()
    assert all_blobs(world, REPORT_A) == before


class Interrupted(Exception):
    """Stands for a crash or a Ctrl-C between two reports."""


def test_an_interrupted_rotation_is_finished_with_resume(world: World, admins: Admins) -> None:
    world.configure(admins.alice, admins.bob)
    ids = (REPORT_A, REPORT_B, "0000000001")
    for report_id in ids:
        world.store(report_id, admins.alice, admins.bob)
    out = world.tmp / "keys" / "alice-2.key"

    def crash(outcome: ReportOutcome) -> None:
        raise Interrupted

    world.after_report = crash
    crashed = rotate(world, out, "--execute", input=f"{ALICE_PASS}\n{NEW_PASS}\n{NEW_PASS}\n")
    assert isinstance(crashed.exception, Interrupted)
    fresh = new_key(out)  # written before the first item was sealed to it
    done = [world.opens(report_id, fresh) for report_id in ids]
    assert done == [False, False, True]  # reports go in id order: 0000000001 first
    for report_id in ids:
        assert world.opens(report_id, fresh) != world.opens(report_id, admins.alice)
        assert world.opens(report_id, admins.bob)

    world.after_report = None
    again = rotate(world, out, "--execute", input=f"{ALICE_PASS}\n{NEW_PASS}\n{NEW_PASS}\n")
    assert again.exit_code == 1
    assert "pass --resume" in again.output
    resumed = rotate(world, out, "--resume", "--execute", input=f"{ALICE_PASS}\n{NEW_PASS}\n")
    assert resumed.exit_code == 0, resumed.output
    assert "Re-wrapped 12 items in 3 reports" in resumed.stdout
    for report_id in ids:
        assert world.opens(report_id, fresh)
        assert not world.opens(report_id, admins.alice)
    assert new_key(out).public_key() == fresh.public_key()

    # After the server switched to the new set, a last --resume run still works (catch-up).
    world.configure(fresh, admins.bob)
    late = "0000000002"
    world.store(late, admins.alice, admins.bob)
    last = rotate(world, out, "--resume", "--execute", input=f"{ALICE_PASS}\n{NEW_PASS}\n")
    assert last.exit_code == 0, last.output
    assert "finishes an earlier rotation" in last.stdout
    assert world.opens(late, fresh)
    assert not world.opens(late, admins.alice)


def test_resume_needs_the_new_key_file(world: World, admins: Admins) -> None:
    world.configure(admins.alice)
    out = world.tmp / "keys" / "missing.key"
    result = rotate(world, out, "--resume", "--execute", input=f"{ALICE_PASS}\n")
    assert result.exit_code == 1
    assert "no key file at" in result.output
    assert "Passphrase" not in result.output
