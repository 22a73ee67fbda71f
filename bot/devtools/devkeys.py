"""Create, and reuse, the development keys of the embedded default (no Telegram token).

This module owns three files under ``settings.data_dir`` (a 0700 folder, 0600 files):

- ``dev-server.secret``: the server secret (32 random bytes, base64);
- ``dev-admin.key``: an admin private key, encrypted like any admin key file;
- ``dev-admin.passphrase``: that key's generated passphrase, marked DEVELOPMENT ONLY.

They let ``amanat run`` work on a fresh checkout with nothing configured, and let the admin
commands open what the simulator sealed. Decision: the admin commands never read the
passphrase file by themselves; they prompt like for a real key and only print where the
development passphrase is. One code path for passphrases, and nobody gets used to a key that
opens itself. This module must refuse to run when a Telegram token is set (real reports must
never be sealed to a key whose passphrase sits beside it), must never overwrite an existing
key, and must never print or log a secret.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Final

from pydantic import SecretStr

from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.server import generate_server_secret
from bot.settings import Settings

__all__ = [
    "DEV_KEY_FILE",
    "DEV_PASSPHRASE_FILE",
    "DEV_SECRET_FILE",
    "DevKeysError",
    "dev_key_path",
    "dev_passphrase_path",
    "ensure_dev_keys",
    "is_dev_key",
    "read_dev_passphrase",
]

DEV_SECRET_FILE: Final = "dev-server.secret"  # noqa: S105 (a file name)
DEV_KEY_FILE: Final = "dev-admin.key"
DEV_PASSPHRASE_FILE: Final = "dev-admin.passphrase"  # noqa: S105 (a file name)

_DEV_WARNING: Final = (
    "# DEVELOPMENT ONLY. This passphrase opens dev-admin.key in this folder.\n"
    "# Anyone who can read this file can read every report sealed to the development key.\n"
    "# Never let real reports reach a development key: with a Telegram token, run\n"
    "# `amanat keys init` on an admin's own machine and set AMANAT_ADMIN_PUBLIC_KEYS.\n"
)
_ALPHABET: Final = "abcdefghijkmnpqrstuvwxyz23456789"  # no l, o, 0 or 1 to misread
_PASSPHRASE_GROUPS: Final = 6
_PASSPHRASE_GROUP_LENGTH: Final = 5


class DevKeysError(RuntimeError):
    """Signal that development keys cannot (or must not) be created or reused."""


def dev_key_path(settings: Settings) -> Path:
    """Return where the development admin key lives."""
    return settings.data_dir / DEV_KEY_FILE


def dev_passphrase_path(settings: Settings) -> Path:
    """Return where the development key's passphrase lives."""
    return settings.data_dir / DEV_PASSPHRASE_FILE


def _new_passphrase() -> str:
    """Return 30 random characters (150 bits) in groups a developer can copy."""
    return "-".join(
        "".join(secrets.choice(_ALPHABET) for _ in range(_PASSPHRASE_GROUP_LENGTH))
        for _ in range(_PASSPHRASE_GROUPS)
    )


def _private_dir(path: Path) -> None:
    """Create the data folder readable by its owner only (an existing one is left as it is)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.is_dir():
        raise DevKeysError("the data folder is not a folder")


def _write_new(path: Path, data: bytes) -> None:
    """Write a new 0600 file, refusing to replace anything already there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def read_dev_passphrase(path: Path) -> str:
    """Read the passphrase file: the last line that is neither blank nor a comment."""
    lines = [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if len(lines) != 1:
        raise DevKeysError(f"{path} does not hold exactly one passphrase line")
    return lines[0]


def _server_secret(data_dir: Path) -> SecretStr:
    """Reuse the development server secret, or create it."""
    path = data_dir / DEV_SECRET_FILE
    if not path.exists():
        _write_new(path, base64.b64encode(generate_server_secret()) + b"\n")
    text = path.read_text(encoding="ascii").strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DevKeysError(f"{path} is not base64; delete it to start over") from None
    if len(raw) != 32:
        raise DevKeysError(f"{path} does not hold 32 bytes; delete it to start over")
    return SecretStr(text)


def _admin_public_key(data_dir: Path, scrypt_n: int | None) -> str:
    """Reuse the development admin key (checking its passphrase opens it), or create both."""
    key_path = data_dir / DEV_KEY_FILE
    passphrase_path = data_dir / DEV_PASSPHRASE_FILE
    if not key_path.exists():
        if passphrase_path.exists():
            raise DevKeysError(
                f"{passphrase_path} exists without {key_path.name}; delete it to start over"
            )
        passphrase = _new_passphrase()
        key = AdminPrivateKey.generate()
        key_file = (
            key.to_file_bytes(passphrase)
            if scrypt_n is None
            else key.to_file_bytes(passphrase, scrypt_n=scrypt_n)
        )
        _write_new(passphrase_path, (_DEV_WARNING + passphrase + "\n").encode("utf-8"))
        _write_new(key_path, key_file)
    if not passphrase_path.exists():
        raise DevKeysError(
            f"{key_path} exists but {passphrase_path.name} is missing; delete both to start over"
        )
    try:
        key = AdminPrivateKey.from_file_bytes(
            key_path.read_bytes(), read_dev_passphrase(passphrase_path)
        )
    except CryptoError:
        raise DevKeysError(
            f"{key_path} does not open with {passphrase_path.name}; delete both to start over"
        ) from None
    return key.public_key().to_text()


def ensure_dev_keys(settings: Settings, *, scrypt_n: int | None = None) -> Settings:
    """Fill a missing server secret and admin key from development files, creating them once.

    Only for the embedded default without a Telegram token; raises DevKeysError otherwise.
    Settings that already have a secret and admin keys are returned unchanged (no file is
    touched). ``scrypt_n`` lowers the key file's cost in tests only; the default is crypto's.
    """
    if settings.telegram_bot_token is not None:
        raise DevKeysError(
            "refusing to create development keys while a Telegram token is set: real reports "
            "must be sealed to keys made with `amanat keys init` on an admin's machine"
        )
    update: dict[str, object] = {}
    if settings.server_secret is None:
        _private_dir(settings.data_dir)
        update["server_secret"] = _server_secret(settings.data_dir)
    if not settings.admin_public_keys:
        _private_dir(settings.data_dir)
        update["admin_public_keys"] = (_admin_public_key(settings.data_dir, scrypt_n),)
    if not update:
        return settings
    return settings.model_copy(update=update)


def is_dev_key(settings: Settings, key_path: Path) -> bool:
    """Tell whether a key file is the development key of these settings."""
    return key_path.expanduser().resolve() == dev_key_path(settings).resolve()
