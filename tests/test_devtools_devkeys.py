"""Test the development keys: created once with tight permissions, reused, refused in production."""

from __future__ import annotations

import base64
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.server import generate_server_secret
from bot.devtools.devkeys import (
    DEV_KEY_FILE,
    DEV_PASSPHRASE_FILE,
    DEV_SECRET_FILE,
    DevKeysError,
    ensure_dev_keys,
    read_dev_passphrase,
)
from bot.settings import Settings

FAST_N = 2**10


@pytest.fixture
def bare(make_settings: Callable[..., Settings]) -> Settings:
    """Settings as on a fresh checkout: no token, no secret, no admin key."""
    return make_settings(admin_public_keys=(), server_secret=None)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_run_creates_private_files_and_fills_the_settings(bare: Settings) -> None:
    filled = ensure_dev_keys(bare, scrypt_n=FAST_N)
    data = bare.data_dir
    assert mode(data) == 0o700
    for name in (DEV_SECRET_FILE, DEV_KEY_FILE, DEV_PASSPHRASE_FILE):
        assert mode(data / name) == 0o600, name
    assert filled.server_secret is not None
    assert base64.b64decode(filled.server_secret.get_secret_value()) == filled.server_secret_bytes()
    assert len(filled.server_secret_bytes()) == 32
    passphrase_file = (data / DEV_PASSPHRASE_FILE).read_text()
    assert "DEVELOPMENT ONLY" in passphrase_file
    passphrase = read_dev_passphrase(data / DEV_PASSPHRASE_FILE)
    assert len(passphrase) >= 12
    key = AdminPrivateKey.from_file_bytes((data / DEV_KEY_FILE).read_bytes(), passphrase)
    assert filled.admin_public_keys == (key.public_key().to_text(),)
    # The original object is frozen and untouched.
    assert bare.server_secret is None
    assert bare.admin_public_keys == ()


def test_later_runs_reuse_the_same_keys_without_rewriting(bare: Settings) -> None:
    first = ensure_dev_keys(bare, scrypt_n=FAST_N)
    files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in bare.data_dir.iterdir()}
    second = ensure_dev_keys(bare, scrypt_n=FAST_N)
    assert second.admin_public_keys == first.admin_public_keys
    assert first.server_secret is not None
    assert second.server_secret is not None
    assert second.server_secret_bytes() == first.server_secret_bytes()
    assert {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in bare.data_dir.iterdir()
    } == files


def test_a_telegram_token_refuses_development_keys(
    make_settings: Callable[..., Settings],
) -> None:
    production = make_settings(telegram_bot_token="123456:ABC")
    with pytest.raises(DevKeysError, match="Telegram token"):
        ensure_dev_keys(production)
    assert not production.data_dir.exists()


def test_configured_settings_are_returned_as_they_are(
    make_settings: Callable[..., Settings],
) -> None:
    configured = make_settings()
    assert ensure_dev_keys(configured) is configured
    assert not configured.data_dir.exists()


def test_only_what_is_missing_is_generated(make_settings: Callable[..., Settings]) -> None:
    with_keys = make_settings(server_secret=None)
    filled = ensure_dev_keys(with_keys)
    assert filled.admin_public_keys == with_keys.admin_public_keys
    assert filled.server_secret is not None
    assert sorted(p.name for p in with_keys.data_dir.iterdir()) == [DEV_SECRET_FILE]

    secret = base64.b64encode(generate_server_secret()).decode()
    with_secret = make_settings(admin_public_keys=(), server_secret=secret)
    filled = ensure_dev_keys(with_secret, scrypt_n=FAST_N)
    assert filled.server_secret is not None
    assert filled.server_secret.get_secret_value() == secret
    assert len(filled.admin_public_keys) == 1


def test_a_key_without_its_passphrase_is_refused(bare: Settings) -> None:
    ensure_dev_keys(bare, scrypt_n=FAST_N)
    (bare.data_dir / DEV_PASSPHRASE_FILE).unlink()
    with pytest.raises(DevKeysError, match="missing"):
        ensure_dev_keys(bare)


def test_a_passphrase_that_does_not_open_the_key_is_refused(bare: Settings) -> None:
    ensure_dev_keys(bare, scrypt_n=FAST_N)
    path = bare.data_dir / DEV_PASSPHRASE_FILE
    path.write_text("# DEVELOPMENT ONLY\nnot-the-passphrase\n")
    with pytest.raises(DevKeysError, match="does not open") as caught:
        ensure_dev_keys(bare)
    assert "not-the-passphrase" not in str(caught.value)


def test_a_damaged_secret_file_is_refused(bare: Settings) -> None:
    ensure_dev_keys(bare, scrypt_n=FAST_N)
    (bare.data_dir / DEV_SECRET_FILE).write_text(base64.b64encode(b"short").decode())
    with pytest.raises(DevKeysError, match="32 bytes"):
        ensure_dev_keys(bare)
