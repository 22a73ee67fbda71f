"""SIGTERM and SIGINT stop ``amanat run`` cleanly: exit 0, one log line, an empty WAL (issue 12).

The bot runs as a real process against the project's fake Bot API (``AMANAT_TELEGRAM_API_BASE_URL``
points it there), the way a service manager runs it; the test then stops it with a signal
while an update is in flight.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from bot.crypto.keyfile import AdminPrivateKey
from tests.botapi_driver import strict_fake_api
from tests.process_support import bot_environment, free_port, start_amanat


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_finishes_in_flight_work_checkpoints_the_wal_and_exits_0(
    tmp_path: Path, locales_dir: Path, admin_key: AdminPrivateKey, stop: signal.Signals
) -> None:
    database = tmp_path / "amanat.db"
    worker_port, api_port = free_port(), free_port()
    async with strict_fake_api() as server:
        environment = bot_environment(
            server,
            tmp_path,
            locales_dir,
            admin_key,
            AMANAT_BOT_USERNAME="@Amanat_Test_Bot",  # the fake's name, in another case
            AMANAT_WORKER_PORT=str(worker_port),
            AMANAT_ADMIN_API_PORT=str(api_port),
        )
        bot = await start_amanat(environment, tmp_path)
        try:
            await server.wait_for(lambda: server.waiting_polls > 0, timeout=60)
            async with httpx.AsyncClient() as client:
                ready = await client.get(f"http://127.0.0.1:{worker_port}/readyz")
                api_alive = await client.get(f"http://127.0.0.1:{api_port}/healthz")
                unsigned = await client.get(f"http://127.0.0.1:{api_port}/v1/queue")
            assert ready.status_code == 200, ready.text
            assert api_alive.status_code == 200  # the admin API runs beside the bot
            assert unsigned.status_code == 401
            # Another connection writes, and stays open: closing the bot's own connections
            # then does not checkpoint by itself, only the bot's last checkpoint can.
            other = sqlite3.connect(database)
            try:
                other.execute("PRAGMA wal_autocheckpoint=0")
                other.execute("CREATE TABLE scratch (filler BLOB)")
                other.executemany(
                    "INSERT INTO scratch VALUES (?)", [(os.urandom(512),) for _ in range(500)]
                )
                other.commit()
                wal = database.with_name(database.name + "-wal")
                assert wal.stat().st_size > 100_000

                user = server.user()
                update_id = await user.send_command("start")
                await server.wait_until_fetched(update_id, timeout=30)
                bot.send_signal(stop)  # while /start is being handled
                stdout, stderr = await asyncio.wait_for(bot.communicate(), timeout=60)

                assert not wal.exists() or wal.stat().st_size == 0
            finally:
                other.close()
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
    log = stderr.decode()
    assert bot.returncode == 0, log
    assert "Traceback" not in log
    stopped = [line for line in log.splitlines() if "Amanat stopped" in line]
    assert len(stopped) == 1, log
    assert stopped[0].endswith(
        f"Amanat stopped on {stop.name}: updates in flight finished, polling ended, "
        "SQLite WAL truncated"
    )
    assert stdout == b""
    # The update fetched before the signal was answered, not dropped.
    assert [call for call in server.calls_to("sendMessage") if call.ok]
    assert user.bot_messages()
