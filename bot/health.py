"""Serve /healthz, /readyz and /metrics on the worker's port, and the webhook when there is one.

A reverse proxy or a service manager asks /healthz whether the process is alive, /readyz
whether it should get traffic (the database and the conversation store answer, and the worker
is not stopping), and Prometheus scrapes /metrics. None of these answers says anything about a
person: the readiness body names the failing dependency only, never a URL (it may hold a
password) or an error message (it may quote one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from bot.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]
"""A readiness check: True when its dependency answers."""

WebhookHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class WorkerServer:
    """The worker's own HTTP endpoint: health, readiness, metrics, and optionally a webhook."""

    checks: Mapping[str, Check]
    metrics: Metrics
    host: str = "127.0.0.1"
    port: int = 0
    webhook: tuple[str, WebhookHandler] | None = None
    """The path the reverse proxy forwards Telegram's webhook to, and who takes it."""
    stopping: bool = False
    """Set when the worker begins to stop: /readyz then says 503 so traffic goes elsewhere."""
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)

    @property
    def address(self) -> tuple[str, int]:
        """The host and port actually listened on (a free port when 0 was asked)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the worker server is not running")
        host, port = self._runner.addresses[0][:2]
        return str(host), int(port)

    async def start(self) -> None:
        """Listen; the access log stays off (paths and addresses are nobody's business)."""
        app = web.Application(client_max_size=2 * 1024 * 1024)
        app.router.add_get("/healthz", self._alive)
        app.router.add_get("/readyz", self._ready)
        app.router.add_get("/metrics", self._metrics)
        if self.webhook is not None:
            path, handler = self.webhook
            app.router.add_post(path, handler)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        host, port = self.address
        log.info("worker endpoint listening on %s:%d", host, port)

    async def stop(self) -> None:
        """Stop listening; requests in flight are finished first."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _alive(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _ready(self, request: web.Request) -> web.Response:
        results = {name: await check() for name, check in sorted(self.checks.items())}
        body: dict[str, object] = {
            name: "ok" if ok else "not answering" for name, ok in results.items()
        }
        ready = all(results.values()) and not self.stopping
        if self.stopping:
            body["worker"] = "stopping"
        return web.Response(
            text=json.dumps(body, sort_keys=True),
            status=200 if ready else 503,
            content_type="application/json",
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})
