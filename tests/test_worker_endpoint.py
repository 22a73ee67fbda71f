"""The worker's endpoint: /healthz, /readyz and /metrics, over real HTTP on loopback (issue 12).

Readiness is checked against real dependencies: the test's SQLite file and memory store, and
a PostgreSQL URL on a port nobody listens on for the failing case. Metrics are read after a
whole report went through the real Application, and must hold no id of anyone.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import httpx

from bot.app import worker_server
from bot.health import WorkerServer
from bot.metrics import Metrics
from bot.settings import Settings
from storage.db import create_engine, database_answers, normalise_database_url
from tests.benchmark_support import run_quick
from tests.botapi_driver import running_amanat
from tests.test_e2e_telegram import receipt_code, walk_report


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def get(server: WorkerServer, path: str) -> httpx.Response:
    host, port = server.address
    async with httpx.AsyncClient() as client:
        return await client.get(f"http://{host}:{port}{path}")


async def test_alive_ready_and_metrics_answer_while_the_bot_runs(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_amanat(make_settings) as h:
        endpoint = worker_server(h.services)
        await endpoint.start()
        try:
            user = h.server.user(language_code="en")
            await h.start(user)
            receipt_code(await walk_report(h, user, {"narrative": "what happened"}))
            alive = await get(endpoint, "/healthz")
            ready = await get(endpoint, "/readyz")
            scraped = await get(endpoint, "/metrics")
            endpoint.stopping = True
            stopping = await get(endpoint, "/readyz")
        finally:
            await endpoint.stop()
    assert (alive.status_code, alive.json()) == (200, {"status": "alive"})
    assert (ready.status_code, ready.json()) == (200, {"conversations": "ok", "database": "ok"})
    assert stopping.status_code == 503
    assert stopping.json()["worker"] == "stopping"
    text = scraped.text
    assert scraped.status_code == 200
    assert re.search(r'^amanat_updates_total\{kind="callback_query"\} [1-9]', text, re.M), text
    assert re.search(r"^amanat_reports_submitted_total 1\.0$", text, re.M), text
    assert re.search(r"^amanat_update_handling_seconds_count [1-9]", text, re.M), text
    for identifier in (str(user.user_id), str(user.chat_id)):
        assert identifier not in text  # no id of anyone, in any label or value


async def test_a_database_that_does_not_answer_makes_the_worker_not_ready(
    make_settings: Callable[..., Settings],
) -> None:
    """The body names the dependency only: never its URL, which may hold a password."""
    url = f"postgresql://amanat:SECRETPASS@127.0.0.1:{closed_port()}/amanat"
    engine = create_engine(normalise_database_url(url))

    async def database() -> bool:
        return await database_answers(engine)

    endpoint = WorkerServer(checks={"database": database}, metrics=Metrics())
    await endpoint.start()
    try:
        answer = await get(endpoint, "/readyz")
    finally:
        await endpoint.stop()
        await engine.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"database": "not answering"}
    assert "SECRETPASS" not in answer.text


def test_an_unknown_update_kind_is_counted_as_other_never_as_a_new_label() -> None:
    metrics = Metrics()
    metrics.count_update("123456789")  # as if an id had slipped in
    text = metrics.exposition().decode()
    assert "123456789" not in text
    assert 'amanat_updates_total{kind="other"} 1.0' in text


def test_the_throughput_benchmark_runs_and_names_its_figures() -> None:
    """Its quick mode only: the figures are measured, never asserted."""
    figures = run_quick("throughput.py")
    run = figures["embedded_5"]
    for name in ("updates_per_s", "p99_ms", "echo_p99_ms", "ratio", "cpu_ms_per_update"):
        assert name in run
    assert run["actions_per_person"] >= 15  # a whole report, not a few presses
    if "postgres_redis_1_worker_5" in figures:  # PostgreSQL and Redis answered
        webhooks = figures["postgres_redis_3_webhook_workers_5"]
        assert webhooks["actions_per_person"] == run["actions_per_person"]
