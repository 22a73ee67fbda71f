"""`amanat unlock` keeps the key with a local agent for a while; `amanat lock` ends it.

Real agent processes, a real Unix socket in a private folder, the real command line.
"""

from __future__ import annotations

import base64
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.agent import answer_for, socket_path
from bot.cli.common import CliConfig
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.settings import Settings
from storage.migrate import upgrade_to_head
from tests.test_cli import (
    CANARY_STORY_1,
    FAST_N,
    REPORT_A,
    TEST_PASSPHRASE,
    World,
    sealed_report,
    store,
)


@pytest.fixture
def unlocked_world(
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    """A migrated database with one report, an admin key file, and agents kept in tmp_path."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    settings = make_settings()
    upgrade_to_head(settings.database_url)
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(TEST_PASSPHRASE, scrypt_n=FAST_N))
    config = CliConfig(load_settings=lambda: settings, scrypt_n=FAST_N)
    world = World(settings, key_file, CliRunner(), config)
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    yield world
    world.invoke("lock", "--key", str(world.key_file))  # never leave an agent behind


def test_one_passphrase_for_a_working_session_then_lock(
    unlocked_world: World, admin_key: AdminPrivateKey
) -> None:
    world = unlocked_world
    key = ("--key", str(world.key_file))
    unlocked = world.invoke("unlock", *key, input=f"{TEST_PASSPHRASE}\n")
    assert unlocked.exit_code == 0, unlocked.output
    assert "is unlocked for 60 minutes" in unlocked.stdout
    path = socket_path(admin_key.public_key().key_id)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for _ in range(2):  # no input at all: a passphrase prompt would fail
        shown = world.invoke("admin", "show", REPORT_A, *key)
        assert shown.exit_code == 0, shown.output
        assert CANARY_STORY_1 in shown.stdout
    noted = world.invoke("admin", "note", REPORT_A, *key, input="signed by the agent\n")
    assert noted.exit_code == 0, noted.output
    verified = world.invoke("audit", "verify")  # the agent's signatures hold
    assert verified.exit_code == 0, verified.output
    locked = world.invoke("lock", *key)
    assert f"Key {admin_key.public_key().key_id} is locked." in locked.stdout
    assert not path.exists()
    asked = world.invoke("admin", "show", REPORT_A, *key)  # the passphrase again
    assert asked.exit_code != 0
    assert CANARY_STORY_1 not in asked.output


def test_a_wrong_passphrase_starts_no_agent(
    unlocked_world: World, admin_key: AdminPrivateKey
) -> None:
    refused = unlocked_world.invoke(
        "unlock", "--key", str(unlocked_world.key_file), input="not the passphrase\n"
    )
    assert refused.exit_code == 1
    assert "wrong passphrase" in refused.output
    assert not socket_path(admin_key.public_key().key_id).exists()


def test_the_agent_stops_by_itself_when_the_time_is_up(
    unlocked_world: World, admin_key: AdminPrivateKey
) -> None:
    key = ("--key", str(unlocked_world.key_file))
    started = unlocked_world.invoke(
        "unlock", *key, "--minutes", "0.01", input=f"{TEST_PASSPHRASE}\n"
    )
    assert started.exit_code == 0, started.output
    path = socket_path(admin_key.public_key().key_id)
    deadline = time.monotonic() + 20
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not path.exists()


def test_the_agent_signs_only_amanat_messages_and_never_gives_the_key(
    admin_key: AdminPrivateKey,
) -> None:
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    assert "error" in answer_for(admin_key, {"op": "sign", "message": b64(b"pay 100 dollars")})
    signed = answer_for(
        admin_key, {"op": "sign", "message": b64(b"AMANAT-AUDIT-SIG-1" + bytes(32))}
    )
    assert "signature" in signed
    for question in ({"op": "private"}, {"op": "export"}, "nonsense", {"op": "exchange"}):
        answer = answer_for(admin_key, question)
        assert set(answer) == {"error"}, question
