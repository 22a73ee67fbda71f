"""Run the admin API in its own thread and event loop, as a server beside an admin's laptop.

The command line under test runs ``asyncio.run`` itself, exactly as on an admin's machine, so
the server cannot share its loop.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from bot.app import Services, admin_api, open_services
from bot.settings import Settings

T = TypeVar("T")


@contextmanager
def api_in_a_thread(
    settings: Settings, prepare: Callable[[Services], Awaitable[T]] | None = None
) -> Iterator[tuple[str, T | None]]:
    """Serve the admin API of ``settings`` on a free loopback port; yield (URL, what
    ``prepare`` returned after running on the fresh services)."""
    started: queue.Queue[tuple[str, T | None, asyncio.AbstractEventLoop, asyncio.Event]]
    started = queue.Queue()

    async def serve() -> None:
        async with open_services(settings) as services:
            prepared = await prepare(services) if prepare is not None else None
            api = admin_api(services)
            await api.start("127.0.0.1", 0)
            try:
                host, port = api.address
                stop = asyncio.Event()
                started.put((f"http://{host}:{port}", prepared, asyncio.get_running_loop(), stop))
                await stop.wait()
            finally:
                await api.stop()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    url, prepared, loop, stop = started.get(timeout=60)
    try:
        yield url, prepared
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=60)


NOWHERE = "no-such-folder"
"""The folder an admin machine's database URL points into: it never exists, so a command that
touched a database would fail, or leave the folder behind for the test to see."""


def admin_laptop(server: Settings, url: str, folder: Path) -> Settings:
    """An admin's machine: the server's settings, naming the admin API at ``url``, no usable
    database, and none of the server's delivery secrets (webhook secrets, the mail server's
    login), which admins' machines must not hold (docs/operations.md §4i)."""
    nowhere = f"sqlite:///{folder / NOWHERE / 'none.db'}"
    laptop = {
        **server.model_dump(),
        "admin_api_url": url,
        "database_url": nowhere,
        "partner_webhook_secrets": {},
        "smtp_host": None,
        "smtp_user": None,
        "smtp_password": None,
        "smtp_from": None,
    }
    return Settings(_env_file=None, **laptop)  # type: ignore[call-arg]  # checked as loaded
