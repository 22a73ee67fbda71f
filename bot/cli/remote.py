"""Run ``amanat admin`` work through the admin API instead of the database.

An admin machine configured with ``AMANAT_ADMIN_API_URL`` needs no database URL: requests are
signed with the admin's key, and what comes back (metadata, ciphertext) is opened here.
Every failure is one line and exit 1, naming what to check, never a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

from bot.admin.opening import ReportUnreadable
from bot.admin.redaction import RedactionRefused
from bot.adminapi.client import AdminApiClient, ApiRefused
from bot.cli.common import CliError, fail
from bot.crypto.keyfile import AdminPrivateKey
from bot.partners.routing import RoutingRefused

T = TypeVar("T")


def run_api(url: str, key: AdminPrivateKey, work: Callable[[AdminApiClient], Awaitable[T]]) -> T:
    """Run ``work`` with a signed client of the admin API at ``url``."""

    async def go() -> T:
        async with AdminApiClient(url, key) as client:
            return await work(client)

    try:
        return asyncio.run(go())
    except ApiRefused as refused:
        fail(f"the admin API refused: {refused.reason}")
    except (CliError, ReportUnreadable, RoutingRefused, RedactionRefused) as exc:
        fail(str(exc))
    except (aiohttp.ClientError, OSError, TimeoutError):
        fail("cannot reach the admin API at AMANAT_ADMIN_API_URL: is the server up?")
