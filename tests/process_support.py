"""Run `amanat` as a real process against the fake Bot API, as a service manager would."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import sys
from pathlib import Path
from typing import IO, Any

from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.server import generate_server_secret
from bot.devtools.fakeapi import FakeBotApi

REPO = Path(__file__).resolve().parent.parent
PROGRAM = "from bot.cli.main import main; main()"
"""What `python -c` runs: the `amanat` console script, from this checkout."""


def bot_environment(
    server: FakeBotApi,
    tmp_path: Path,
    locales_dir: Path,
    admin_key: AdminPrivateKey,
    **values: str,
) -> dict[str, str]:
    """This process's environment without any Amanat setting, plus a bot aimed at ``server``:
    its token and URLs, an admin key, a new server secret, an SQLite file and a data folder in
    ``tmp_path``; ``values`` add or override variables."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AMANAT_", "TELEGRAM_", "DATABASE_URL"))
    }
    environment.update(
        {
            "PYTHONPATH": str(REPO),
            "TELEGRAM_BOT_TOKEN": server.token,
            "AMANAT_TELEGRAM_API_BASE_URL": server.base_url,
            "AMANAT_TELEGRAM_FILE_BASE_URL": server.base_file_url,
            "AMANAT_ADMIN_PUBLIC_KEYS": admin_key.public_key().to_text(),
            "AMANAT_SERVER_SECRET": base64.b64encode(generate_server_secret()).decode(),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'amanat.db'}",
            "AMANAT_DATA_DIR": str(tmp_path / "data"),
            "AMANAT_LOCALES_DIR": str(locales_dir),
            "AMANAT_LOG_LEVEL": "INFO",
        }
    )
    environment.update(values)
    return environment


def free_port() -> int:
    """A loopback port nobody listens on right now (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def start_amanat(
    environment: dict[str, str],
    folder: Path,
    *arguments: str,
    output: int | IO[Any] = asyncio.subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """Start ``amanat run`` (plus ``arguments``) in ``folder``, stdin not a terminal."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROGRAM,
        "run",
        *arguments,
        cwd=folder,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=output,
        stderr=output,
    )
