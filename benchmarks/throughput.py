"""Measure the whole bot under load: N people completing full reports at once, against an echo bot.

Run ``python benchmarks/throughput.py`` (100 people, then 1,000) or ``--quick`` (a smoke run
with 5). Each simulated person talks to the real python-telegram-bot ``Application`` through
the project's fake Bot API on loopback, exactly as in the end-to-end tests: /start, the
language, every question (a short story typed where it is asked), Send. Latency is measured
from injecting an update to the end of its handling (its last reply sent).

The baseline, measured in the same run with the same people and pacing, is a bare
python-telegram-bot bot that answers every message or button with one message and one button
(and answers the press), handling updates concurrently like Amanat. Each person does the same
actions, kind for kind, as in the report: a command, then presses and typed text in the
report's order. Amanat's sending limit is lifted here
(``AMANAT_OVERALL_MESSAGES_PER_SECOND``) so the figure is the bot's own capacity, not
Telegram's 30 messages a second.

Set-ups: the embedded default (SQLite file, conversations in memory) and, where the local
services answer, PostgreSQL + Redis with one polling worker, one webhook worker and three.
It prints readable figures and, last, one JSON object with ``ratio``, ``p99_ms`` and
``echo_p99_ms`` per set-up. It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import resource
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from bot.app import Services, build_application, open_services, worker_server
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.server import generate_server_secret
from bot.devtools.fakeapi import ChatMessage, FakeBotApi, FakeUser
from bot.settings import Settings
from handlers.webhook import webhook_receiver
from tests.botapi_driver import SETTLE_GROUP, AnyApplication, BotDriver, running_bot

REDIS_URL = "redis://127.0.0.1:6379/13"
ACTION_TIMEOUT = 300.0
WEBHOOK_URL = "https://bot.example.org/telegram"
WEBHOOK_SECRET = "benchmark-webhook-secret"  # a loopback benchmark's own value
WEBHOOK_CONNECTIONS = 40
"""Telegram's default ``max_connections``: how many webhook requests it keeps open at once."""


@dataclass
class Run:
    """What one set-up measured."""

    people: int
    updates: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    sending: list[float] = field(default_factory=list)
    """Latencies of Send alone: the report is sealed and stored, with one scrypt run."""
    others: list[float] = field(default_factory=list)
    """Latencies of every other action."""
    apologies: int = 0
    """People whose chat shows an apology ("Sorry, …"): each was asked to try again."""
    kinds: list[str] = field(default_factory=list)
    """The first person's actions, in order: "command", "text" or "press"."""

    @property
    def latencies(self) -> list[float]:
        """Every action's latency."""
        return self.sending + self.others

    def figures(self) -> dict[str, float]:
        latencies = self.latencies
        others = self.others or latencies

        def percentile(latencies: list[float], share: float) -> float:
            ordered = sorted(latencies)
            return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 1)

        return {
            "updates_per_s": round(self.updates / self.seconds, 1),
            "p50_ms": percentile(latencies, 0.50),
            "p95_ms": percentile(latencies, 0.95),
            "p99_ms": percentile(latencies, 0.99),
            "p99_without_send_ms": percentile(others, 0.99),
            "send_p50_ms": percentile(self.sending or latencies, 0.50),
            "cpu_ms_per_update": round(self.cpu_seconds * 1000 / self.updates, 2),
            "apologies": self.apologies,
        }


class Timed:
    """Inject one person's actions and time each until the bot finished handling it."""

    def __init__(self, driver: BotDriver, run: Run, kinds: list[str] | None = None) -> None:
        self.driver = driver
        self.run = run
        self.kinds = kinds
        """Where this person's action kinds are noted (the first person's only)."""

    async def __call__(self, action: Awaitable[int], kind: str, *, sending: bool = False) -> None:
        if self.kinds is not None:
            self.kinds.append(kind)
        started = time.perf_counter()
        update_id = await action
        await self.driver.settle(update_id, timeout=ACTION_TIMEOUT)
        latency = time.perf_counter() - started
        (self.run.sending if sending else self.run.others).append(latency)
        self.run.updates += 1


COMMAND, TEXT, PRESS = "command", "text", "press"


def newest_with_buttons(user: FakeUser) -> ChatMessage:
    return next(m for m in reversed(user.bot_messages()) if m.buttons)


async def report(user: FakeUser, timed: Timed) -> None:
    """One person's whole report, answered as the end-to-end tests answer it."""
    await timed(user.send_command("start"), COMMAND)
    await timed(user.press("l:en", newest_with_buttons(user)), PRESS)
    await timed(user.press(_data(user, "m:report"), newest_with_buttons(user)), PRESS)
    for _ in range(60):
        message = newest_with_buttons(user)
        data = message.callback_data
        if any(":send:" in d for d in data):
            await timed(user.press(_data(user, ":send:"), message), PRESS, sending=True)
            return
        if "your own words" in (message.text or ""):
            await timed(user.send_text("They called twice and promised a job in Russia."), TEXT)
            await timed(user.press(_data(user, ":d:"), newest_with_buttons(user)), PRESS)
        elif any(":t:" in d for d in data):
            await timed(user.press(_data(user, ":t:money"), message), PRESS)
            await timed(user.press(_data(user, ":d:"), newest_with_buttons(user)), PRESS)
        elif any(d.endswith(":s:") for d in data):
            await timed(user.press(_data(user, ":s:"), message), PRESS)
        else:
            await timed(user.press(data[0], message), PRESS)
    raise RuntimeError("the summary never came")


def _data(user: FakeUser, fragment: str) -> str:
    return next(d for d in newest_with_buttons(user).callback_data if fragment in d)


async def echo_actions(user: FakeUser, timed: Timed, kinds: Sequence[str]) -> None:
    """The report's actions, kind for kind, against the echo bot: the same workload.

    The first session alternated typed text and presses; a report is mostly presses (19 of
    21), which cost the echo bot two calls where typed text costs one, so that baseline did
    less work per update than the same actions would have.
    """
    for kind in kinds:
        if kind == COMMAND:
            await timed(user.send_command("start"), kind)
        elif kind == TEXT:
            await timed(user.send_text("some words"), kind)
        else:
            await timed(user.press("next", newest_with_buttons(user)), kind)


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()
    if update.effective_chat is None:
        return
    await context.bot.send_message(
        update.effective_chat.id,
        "echo",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="next")]]),
    )


async def measure(
    people: int,
    go: Callable[[FakeUser, Timed], Awaitable[None]],
    driver: BotDriver,
    server: FakeBotApi,
) -> Run:
    run = Run(people)
    users = [server.user(language_code="en") for _ in range(people)]
    timers = [Timed(driver, run, run.kinds if not n else None) for n in range(people)]
    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(go(user, timed) for user, timed in zip(users, timers, strict=True)))
    run.seconds = time.perf_counter() - started
    run.cpu_seconds = time.process_time() - cpu
    run.apologies = sum(
        any((m.text or "").startswith("Sorry") for m in user.bot_messages()) for user in users
    )
    return run


def settings_for(folder: str, key: AdminPrivateKey, server: FakeBotApi, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{folder}/amanat.db",
        "data_dir": Path(folder) / "data",
        "admin_public_keys": (key.public_key().to_text(),),
        "server_secret": base64.b64encode(generate_server_secret()).decode(),
        "telegram_api_base_url": server.base_url,
        "telegram_file_base_url": server.base_file_url,
        "overall_messages_per_second": 1000,
        "min_free_disk_bytes": 0,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def amanat_run(people: int, extra: dict[str, Any]) -> Run:
    key = AdminPrivateKey.generate()
    with tempfile.TemporaryDirectory() as folder:
        async with FakeBotApi() as server:
            settings = settings_for(folder, key, server, **extra)
            async with open_services(settings) as services:
                application = build_application(services, token=server.token)
                async with running_bot(application, server) as driver:
                    return await measure(people, report, driver, server)


@asynccontextmanager
async def webhook_workers(
    workers: Sequence[tuple[Services, AnyApplication]], server: FakeBotApi
) -> AsyncIterator[BotDriver]:
    """Run applications as webhook workers behind one round-robin "proxy" (the fake's pushers).

    Each worker serves its webhook on its own endpoint (:func:`bot.app.worker_server`, on a
    free port), as ``amanat run --webhook`` does; the fake Bot API plays Telegram with 40
    connections and spreads the updates over the workers. One driver sees every worker
    finish its updates.
    """
    driver = BotDriver(workers[0][1], server)
    async with AsyncExitStack() as stack:
        origins = []
        for services, application in workers:
            application.add_handler(TypeHandler(Update, driver.mark_processed), group=SETTLE_GROUP)
            await application.initialize()
            stack.push_async_callback(application.shutdown)
            await application.start()
            stack.push_async_callback(application.stop)
            receive = webhook_receiver(
                application.bot, application.update_queue.put, WEBHOOK_SECRET, lambda: False
            )
            endpoint = worker_server(services, webhook=(urlsplit(WEBHOOK_URL).path, receive))
            await endpoint.start()
            stack.push_async_callback(endpoint.stop)
            host, port = endpoint.address
            origins.append(f"http://{host}:{port}")
        await workers[0][1].bot.set_webhook(WEBHOOK_URL, secret_token=WEBHOOK_SECRET)
        server.deliver_webhooks_to(*origins, connections=WEBHOOK_CONNECTIONS)
        yield driver


async def amanat_webhook_run(people: int, extra: dict[str, Any], workers: int) -> Run:
    """Amanat as ``workers`` webhook workers, each with its own services, on one database."""
    key = AdminPrivateKey.generate()
    with tempfile.TemporaryDirectory() as folder:
        async with FakeBotApi() as server, AsyncExitStack() as stack:
            settings = settings_for(folder, key, server, **extra)
            started = []
            for _ in range(workers):
                services = await stack.enter_async_context(open_services(settings))
                application = build_application(services, token=server.token, polling=False)
                started.append((services, application))
            async with webhook_workers(started, server) as driver:
                return await measure(people, report, driver, server)


async def echo_run(people: int, kinds: Sequence[str]) -> Run:
    async with FakeBotApi() as server:
        application = (
            ApplicationBuilder()
            .token(server.token)
            .base_url(server.base_url)
            .base_file_url(server.base_file_url)
            .concurrent_updates(64)
            .build()
        )
        application.add_handler(TypeHandler(Update, _echo))
        async with running_bot(application, server) as driver:

            async def go(user: FakeUser, timed: Timed) -> None:
                await echo_actions(user, timed, kinds)

            return await measure(people, go, driver, server)


@asynccontextmanager
async def postgres_and_redis() -> AsyncIterator[dict[str, Any] | None]:
    """A scratch PostgreSQL database and an empty Redis database, or None where none answers."""
    from redis.asyncio import Redis

    from tests.storage_backends import PostgresUnavailable, ScratchPostgres

    try:
        database = ScratchPostgres.create()
    except PostgresUnavailable:
        yield None
        return
    client: Redis = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
        await client.flushdb()
    except OSError:
        database.drop()
        yield None
        return
    finally:
        await client.aclose()
    try:
        yield {"database_url": database.url, "redis_url": REDIS_URL}
    finally:
        database.drop()


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


async def main_async(sizes: list[int], only: list[str] | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"people": sizes}
    setups: list[tuple[str, bool, int]] = [("embedded", False, 0)]
    async with postgres_and_redis() as shared:
        services_answer = shared is not None
    if services_answer:
        setups.append(("postgres_redis_1_worker", True, 0))
        setups.append(("postgres_redis_1_webhook_worker", True, 1))
        setups.append(("postgres_redis_3_webhook_workers", True, 3))
    else:
        print("PostgreSQL or Redis does not answer: only the embedded default is measured")
    setups = [setup for setup in setups if not only or setup[0] in only]
    for people in sizes:
        for name, on_services, webhook_workers_count in setups:
            # Each run on an empty database: rows sealed to an earlier run's keys would
            # only be noise (and warnings) in this one's jobs.
            scratch = postgres_and_redis() if on_services else contextlib.nullcontext(None)
            async with scratch as fresh:
                extra = fresh or {}
                if webhook_workers_count:
                    amanat = await amanat_webhook_run(people, extra, webhook_workers_count)
                else:
                    amanat = await amanat_run(people, extra)
                actions = round(amanat.updates / people)
                echo = await echo_run(people, amanat.kinds)
                mine, theirs = amanat.figures(), echo.figures()
                ratio = round(mine["updates_per_s"] / theirs["updates_per_s"], 3)
                label = f"{name}_{people}"
                results[label] = {
                    **mine,
                    "echo_updates_per_s": theirs["updates_per_s"],
                    "echo_p50_ms": theirs["p50_ms"],
                    "echo_p99_ms": theirs["p99_ms"],
                    "echo_cpu_ms_per_update": theirs["cpu_ms_per_update"],
                    "ratio": ratio,
                    "p99_ratio": round(mine["p99_ms"] / max(theirs["p99_ms"], 0.1), 2),
                    "actions_per_person": actions,
                    "peak_rss_mb": peak_rss_mb(),
                }
                print(
                    f"{label}: {mine['updates_per_s']} updates/s against the echo bot's "
                    f"{theirs['updates_per_s']} (ratio {ratio}); p50/p95/p99 "
                    f"{mine['p50_ms']}/{mine['p95_ms']}/{mine['p99_ms']} ms against "
                    f"{theirs['p50_ms']}/{theirs['p95_ms']}/{theirs['p99_ms']} ms; "
                    f"CPU {mine['cpu_ms_per_update']} ms per update against "
                    f"{theirs['cpu_ms_per_update']}; {actions} actions per person; "
                    f"p99 without Send {mine['p99_without_send_ms']} ms, Send p50 "
                    f"{mine['send_p50_ms']} ms; {mine['apologies']} people asked to try again; "
                    f"peak RSS of this process so far {peak_rss_mb()} MiB"
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 people: a smoke run")
    parser.add_argument("--people", type=int, nargs="*", help="sizes to run (default 100 1000)")
    parser.add_argument(
        "--setups", nargs="*", help="set-ups to run by name (default: all that can run)"
    )
    args = parser.parse_args()
    sizes = [5] if args.quick else (args.people or [100, 1000])
    results = asyncio.run(main_async(sizes, args.setups))
    print(json.dumps({**results, "quick": args.quick}))


if __name__ == "__main__":
    main()
