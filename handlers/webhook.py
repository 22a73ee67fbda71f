"""Take Telegram's webhook requests: check the secret, hand the update to the application.

Only Telegram knows the secret token given to ``setWebhook``; a request without it (anyone who
found the URL) is refused before its body is read, and nothing of it is logged but the fact.
A body that is not an update is refused without a trace of its content. While the worker
stops, requests get 503, so Telegram delivers them again, to another worker or after the
restart, instead of losing them.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web
from telegram import Bot, Update

log = logging.getLogger(__name__)

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)

Enqueue = Callable[[Update], Awaitable[None]]
"""Put an update on the application's queue (``application.update_queue.put``)."""


def webhook_receiver(
    bot: Bot,
    enqueue: Enqueue,
    secret: str,
    stopping: Callable[[], bool],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Build the aiohttp handler of the webhook path."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("a webhook request without the right secret token was refused")
            return web.Response(status=403)
        if stopping():
            return web.Response(status=503, headers={"Retry-After": "1"})
        try:
            data: Any = json.loads(await request.read())
            update = Update.de_json(data, bot) if isinstance(data, dict) else None
        except Exception as exc:  # any malformed body: refused, never a 500 with a traceback
            log.warning("a webhook body that is not an update was refused (%s)", type(exc).__name__)
            return web.Response(status=400)
        if update is None:
            log.warning("a webhook body that is not an update was refused")
            return web.Response(status=400)
        await enqueue(update)
        return web.Response(status=200)

    return receive
