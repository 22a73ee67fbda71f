"""Compose Amanat: one settings object in, one python-telegram-bot ``Application`` out.

This is the only place that creates engines, keys, translations and the intake service, and
wires them into handlers; every other module receives its collaborators. It must never create
module-level state, and it refuses to start without admin public keys (never a plaintext
fallback) or without compiled catalogs for every language.

Every reason not to start (a malformed key, a missing catalog, a database, Redis or Bot API
that cannot be reached) is raised as :class:`StartupError`, whose problems each name the
variable to fix and never a value, so that the command line prints them as lines instead of a
traceback. :func:`run_polling` stops on SIGTERM or SIGINT the way a deploy needs: updates in
flight are finished, polling ends, the SQLite WAL is checkpointed, one line is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from bot.adminapi.gate import Gate
from bot.adminapi.server import AdminApi
from bot.crypto.codes import new_receipt_code, new_report_id
from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import AdminPublicKey
from bot.crypto.sealer import AdminSealer
from bot.crypto.server import ServerKeys
from bot.health import WebhookHandler, WorkerServer
from bot.i18n.translations import SUPPORTED_LOCALES, CatalogError, Translations, compile_catalogs
from bot.intake.matching import build_label_index, make_option_matcher
from bot.intake.memory import ConversationMemory
from bot.intake.replies import answer_waiting_replies
from bot.intake.service import IntakeService
from bot.intake.texts import COMMAND_DESCRIPTIONS
from bot.intake.values import FlowConfig
from bot.metrics import Metrics
from bot.partners.channels import outbox_for
from bot.settings import Problem, Settings, environment_name
from handlers.errors import ErrorHandler
from handlers.groups import GroupHandlers
from handlers.intake import IntakeHandlers
from handlers.ordering import PerChatUpdateProcessor
from handlers.send import Patience, send_replies
from handlers.webhook import webhook_receiver
from storage.conversations import ConversationStore, MemoryConversations
from storage.db import (
    DatabaseUnavailable,
    checkpoint_wal,
    create_engine,
    database_answers,
    free_disk_bytes,
    job_lock,
    normalise_database_url,
    session_factory,
    unit_of_work,
    vacuum_transient_tables,
)
from storage.migrate import upgrade_to_head_async
from storage.redis_conversations import PersistentRedis, RedisConversations, RedisUnavailable
from storage.replies import ReplyNoticeRepository
from storage.repositories import (
    StatsRepository,
)
from storage.revocations import RevocationRepository
from storage.uploads import UploadRepository

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@dataclass(frozen=True)
class Services:
    """Everything the handlers need, built once per process."""

    settings: Settings
    engine: AsyncEngine
    translations: Translations
    intake: IntakeService
    server_keys: ServerKeys
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def patience(self) -> Patience:
        """How messages Telegram failed to take are tried again."""
        return Patience(
            attempts=self.settings.send_attempts, first_wait=self.settings.send_retry_seconds
        )


BOT_API_POOL_WAIT_SECONDS = 30.0
"""How long a send waits for a free Bot API connection before it counts as a failure."""

DATABASE_VARIABLE = environment_name("database_url")
TOKEN_VARIABLE = environment_name("telegram_bot_token")


class StartupError(Exception):
    """Amanat cannot start; each problem names the variable to fix, never its value.

    ``exit_code`` is 2 for a configuration that can never work as it is (the convention of
    the command line's invalid settings) and 1 for something outside that may come back (a
    database, Redis or the Bot API that cannot be reached).
    """

    def __init__(self, problems: Sequence[Problem], *, exit_code: int = 1) -> None:
        super().__init__("; ".join(str(problem) for problem in problems))
        self.problems = tuple(problems)
        self.exit_code = exit_code


def check_startup(settings: Settings) -> list[Problem]:
    """Find every problem of the configuration that shows before anything is opened.

    All at once, so that an operator fixes them in one go: malformed or duplicated admin
    keys, catalogs that cannot be loaded, an SQLite folder that cannot be made, a delivery
    channel without its secret or mail server.
    """
    return [
        *_admin_key_problems(settings.admin_public_keys),
        *_catalog_problems(settings),
        *_sqlite_folder_problems(settings.database_url),
        *delivery_problems(settings),
    ]


def delivery_problems(settings: Settings) -> list[Problem]:
    """What the server lacks to send by the channels its partners have.

    Checked here, when the server starts, not in the settings: admins' machines share
    AMANAT_PARTNERS (to issue and queue digests by channel) and must not hold the webhook
    secrets or the mail server's login. The delivery job's ``not-configured`` failure stays
    the guard while running.
    """
    problems = [
        Problem(
            environment_name("partner_webhook_secrets"),
            f"has no secret for {partner.name}, whose webhook_url is set",
        )
        for partner in settings.partners
        if partner.webhook_url is not None and partner.name not in settings.partner_webhook_secrets
    ]
    if any(partner.email for partner in settings.partners):
        problems.extend(
            Problem(
                environment_name(field), "is required: a partner in AMANAT_PARTNERS has an email"
            )
            for field, value in (
                ("smtp_host", settings.smtp_host),
                ("smtp_from", settings.smtp_from),
            )
            if value is None
        )
    return problems


def _admin_key_problems(texts: Sequence[str]) -> list[Problem]:
    """Name each malformed entry by position (the entries are public, but long), then the set."""
    variable = environment_name("admin_public_keys")
    problems: list[Problem] = []
    keys: list[AdminPublicKey] = []
    for position, text in enumerate(texts, start=1):
        try:
            keys.append(AdminPublicKey.from_text(text))
        except CryptoError:
            problems.append(
                Problem(
                    variable,
                    f"entry {position} is not an Amanat admin public key (amanat-admin-pk-v2:…, "
                    "as `amanat keys init` prints it)",
                )
            )
    ids = [key.key_id for key in keys]
    for key_id in sorted({key_id for key_id in ids if ids.count(key_id) > 1}):
        problems.append(Problem(variable, f"lists key {key_id} twice"))
    if keys and not problems:
        try:
            AdminSealer(keys)
        except CryptoError as exc:
            problems.append(Problem(variable, str(exc)))
    return problems


def _catalog_problems(settings: Settings) -> list[Problem]:
    """Refuse to start without every language: a reporter must never get untranslated text."""
    variable = environment_name("locales_dir")
    if not settings.locales_dir.is_dir():
        return [Problem(variable, f"the folder {settings.locales_dir} does not exist")]
    try:
        load_translations(settings)
    except (CatalogError, OSError) as exc:
        detail = str(exc) if isinstance(exc, CatalogError) else type(exc).__name__
        return [
            Problem(
                variable,
                f"the catalogs cannot be loaded: {detail} "
                f"(compile them with `amanat i18n compile {settings.locales_dir}`)",
            )
        ]
    return []


def _sqlite_folder_problems(url: str) -> list[Problem]:
    """See, without creating anything, whether the SQLite file's folder can be made."""
    try:
        parsed = make_url(normalise_database_url(url))
    except (ValueError, TypeError):
        return [Problem(DATABASE_VARIABLE, "is not a supported database URL")]
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return []
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return []
    folder = Path(parsed.database).parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        reason = f"{existing} is not a folder"
    elif not os.access(existing, os.W_OK | os.X_OK) and not folder.exists():
        reason = f"{existing} is not writable"
    else:
        return []
    return [
        Problem(DATABASE_VARIABLE, f"cannot make the folder {folder} for the SQLite file: {reason}")
    ]


def load_translations(settings: Settings) -> Translations:
    """Load every catalog, compiling a checkout's .po files first when their .mo is missing
    or stale (what the install step does); fail loudly when a catalog cannot be had."""
    try:
        return Translations.load(settings.locales_dir, SUPPORTED_LOCALES)
    except CatalogError:
        compile_catalogs(settings.locales_dir)
        return Translations.load(settings.locales_dir, SUPPORTED_LOCALES)


async def open_conversations(
    settings: Settings, clock: Callable[[], datetime] | None = None
) -> ConversationStore:
    """Open the volatile memory of conversations: Redis when configured, else this process."""
    if settings.redis_url is None:
        return MemoryConversations(clock)
    try:
        return await RedisConversations.connect(settings.redis_url.get_secret_value())
    except (RedisUnavailable, PersistentRedis) as exc:
        raise StartupError([Problem(environment_name("redis_url"), str(exc))]) from None


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    conversations: ConversationStore | None = None,
    clock: Callable[[], datetime] | None = None,
) -> AsyncIterator[Services]:
    """Migrate the database, load keys and catalogs, and close everything at the end.

    ``conversations`` lets a caller (the tests, a restart simulation) hand in the volatile
    store, which it then closes itself; by default it is opened from the settings and closed
    here. ``clock`` replaces the wall clock, for tests that move time.
    """
    if not settings.admin_public_keys:
        raise RuntimeError("no admin public key configured: nothing could be sealed")
    problems = check_startup(settings)
    if problems:
        raise StartupError(problems, exit_code=2)
    url = normalise_database_url(settings.database_url)
    try:
        await upgrade_to_head_async(url)
    except DatabaseUnavailable as exc:
        raise StartupError([Problem(DATABASE_VARIABLE, str(exc))]) from None
    except SQLAlchemyError as exc:
        reason = (
            f"migrating the database failed ({type(exc).__name__}): may its user create tables?"
        )
        raise StartupError([Problem(DATABASE_VARIABLE, reason)]) from None
    engine = create_engine(url)
    store = (
        conversations if conversations is not None else await open_conversations(settings, clock)
    )
    try:
        translations = load_translations(settings)
        keys = [AdminPublicKey.from_text(text) for text in settings.admin_public_keys]
        matcher = make_option_matcher(build_label_index(translations, SUPPORTED_LOCALES))
        config = FlowConfig(
            max_answer_chars=settings.max_answer_chars,
            max_attachment_bytes=settings.max_attachment_bytes,
            max_files_per_report=settings.max_files_per_report,
            max_report_file_bytes=settings.max_report_file_bytes,
            emergency_contacts=settings.emergency_contacts,
            draft_ttl_minutes=settings.draft_ttl_minutes,
            bot_username=settings.bot_username,
            verification_phrase=settings.verification_phrase,
            match_option=matcher,
        )
        server_keys = ServerKeys(settings.server_secret_bytes())
        memory = ConversationMemory(
            store, server_keys, timedelta(minutes=settings.draft_ttl_minutes)
        )
        intake = IntakeService(
            sessions=session_factory(engine),
            memory=memory,
            server_keys=server_keys,
            sealer=AdminSealer(keys),
            config=config,
            new_report_id=new_report_id,
            new_receipt_code=new_receipt_code,
            flood_limit=settings.flood_limit,
            clock=clock or (lambda: datetime.now(UTC)),
            free_disk=free_disk_bytes(engine),
            min_free_disk_bytes=settings.min_free_disk_bytes,
        )
        yield Services(settings, engine, translations, intake, server_keys)
    finally:
        if conversations is None:
            await store.close()
        await engine.dispose()


@dataclass(frozen=True)
class Purged:
    """What one run of the purge job did (counts only)."""

    statistics: int
    uploads: int
    notices: int


async def purge_expired(services: Services) -> Purged:
    """Forget what has expired, write held statistics in a batch, and clean the disk.

    Statistics records wait in volatile memory until at least ``stats_batch`` reports went
    by, then are written together, shuffled, in a transaction of their own: neither the
    transaction, nor the time, nor the order pairs a record with its report. Uploads nobody
    claimed and expired notices are deleted; SQLite's WAL is truncated and, on PostgreSQL,
    the dead rows of the tables that had deletions are vacuumed away.
    """
    now = datetime.now(UTC)
    memory = services.intake.memory
    await memory.store.sweep()
    records = await memory.take_stats(services.settings.stats_batch)
    sessions = session_factory(services.engine)
    if records:
        async with unit_of_work(sessions) as session:
            await StatsRepository(session).add_batch(records)
    async with unit_of_work(sessions) as session:
        uploads = await UploadRepository(session).purge_unclaimed(now.date())
        notices = await ReplyNoticeRepository(session).purge_expired(now.date())
    await checkpoint_wal(services.engine)
    try:
        await vacuum_transient_tables(services.engine)
    except SQLAlchemyError as exc:  # e.g. the database user does not own the tables
        log.warning("VACUUM failed (%s): dead rows stay until autovacuum", type(exc).__name__)
    return Purged(len(records), uploads, notices)


def build_application(
    services: Services, *, token: str | None = None, polling: bool = True
) -> AnyApplication:
    """Build the PTB application with every handler bound to ``services``.

    ``polling=False`` builds it without an updater: in webhook mode updates arrive through
    the worker's endpoint (:func:`run_webhook`).
    """
    settings = services.settings
    secret = token or (
        settings.telegram_bot_token.get_secret_value() if settings.telegram_bot_token else None
    )
    if secret is None:
        raise RuntimeError("no Telegram token and no simulator token given")
    builder = (
        ApplicationBuilder()
        .token(secret)
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .concurrent_updates(PerChatUpdateProcessor(settings.concurrent_updates, services.metrics))
        # httpcore checks every open connection on each request (has_expired polls its
        # socket): with 16 open that scan is already about a tenth of the CPU under load,
        # and it grows with each connection a slow Telegram keeps busy. Telegram accepts
        # about 30 messages a second, so python-telegram-bot's 256 would add cost, not
        # speed. A send waits for a free connection rather than fail.
        .connection_pool_size(settings.bot_api_connections)
        .pool_timeout(BOT_API_POOL_WAIT_SECONDS)
        # Telegram's limits: 30 messages a second overall, 20 a minute in a group. Retries
        # are ours (handlers/send.py), so the limiter itself never retries a 429.
        .rate_limiter(
            AIORateLimiter(overall_max_rate=settings.overall_messages_per_second, max_retries=0)
        )
        .post_init(_post_init(services))
    )
    if not polling:
        builder = builder.updater(None)
    application = builder.build()
    for handler in GroupHandlers(services.translations).handlers():
        application.add_handler(handler)
    patience = services.patience
    intake = IntakeHandlers(services.intake, services.translations, patience, services.metrics)
    for handler in intake.handlers():
        application.add_handler(handler)
    application.add_error_handler(
        ErrorHandler(
            services.translations,
            services.intake.remember_messages,
            services.intake.locale_of,
            patience,
            services.metrics,
        )
    )
    if application.job_queue is not None:
        jobs = application.job_queue
        every = timedelta(minutes=1)
        purge = _purge_job(services)
        jobs.run_repeating(purge, timedelta(minutes=10), first=timedelta(seconds=5), name="purge")
        notices = _notice_job(services)
        jobs.run_repeating(notices, every, first=timedelta(seconds=10), name="notices")
        deliveries = _delivery_job(services)
        jobs.run_repeating(deliveries, every, first=timedelta(seconds=20), name="deliveries")
    return application


Job = Callable[[ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]
"""A job queue callback."""


def _once_across_workers(services: Services, name: str, work: Job) -> Job:
    """Run ``work`` on one worker at a time (``storage.db.job_lock``), counting each run.

    Every worker schedules every job; the one that holds the lock does the work, the others
    count a skip. So each purge runs once, and each notice and each delivery try goes out once.
    """

    async def run(context: ContextTypes.DEFAULT_TYPE) -> None:
        async with job_lock(services.engine, name) as mine:
            if not mine:
                services.metrics.count_job(name, "skipped")
                return
            async with _counted(services.metrics, name):
                await work(context)

    return run


def _delivery_job(services: Services) -> Job:
    """Send due digests from the outbox (bot/partners/delivery.py)."""

    async def deliver(context: ContextTypes.DEFAULT_TYPE) -> None:
        outbox = outbox_for(services.settings, services.engine, services.translations, context.bot)
        await outbox.run()

    return _once_across_workers(services, "deliveries", deliver)


async def deliver_reply_notices(services: Services, bot: Bot) -> int:
    """Tell opted-in reporters that an answer waits; return how many messages went out.

    The notice holds only how to reach the chat and in which language; the answer itself
    stays sealed to the reporter's code and is read with /status. A notice is cleared only
    when it went out or Telegram refused it for good (the person blocked the bot); after an
    outage it is tried again at the next run, and one this server's key cannot open (a
    changed ``AMANAT_DATA_DIR`` or server secret) is kept and reported, never dropped.
    """
    sessions = session_factory(services.engine)
    sent = unreadable = 0
    after = ""
    while True:
        async with unit_of_work(sessions) as session:
            notices = await ReplyNoticeRepository(session).pending(after=after)
        if not notices:
            break
        after = notices[-1][0]
        for report_id, blob in notices:
            try:
                contact = json.loads(services.server_keys.open_notice(blob, report_id))
                locale = contact["locale"] if contact["locale"] in SUPPORTED_LOCALES else "en"
                transport, chat = contact["transport"], int(contact["user_id"])
            except (CryptoError, ValueError, KeyError, TypeError):
                unreadable += 1
                continue
            if transport != "telegram":
                continue  # another messenger's adapter delivers it
            try:
                replies = answer_waiting_replies()
                ids = await send_replies(
                    bot, chat, replies, locale, services.translations, patience=services.patience
                )
            except (Forbidden, BadRequest) as exc:
                # Blocked or deleted account: trying again would never reach anyone.
                log.warning("a reply notice was refused by Telegram: %s", type(exc).__name__)
            except TelegramError as exc:  # an outage, a timeout, a 429: next run tries again
                log.warning("a reply notice waits for the next try: %s", type(exc).__name__)
                continue
            else:
                # Noted for /wipe like every other message of the chat.
                await services.intake.remember_messages("telegram", chat, ids)
                sent += 1
            async with unit_of_work(sessions) as session:
                await ReplyNoticeRepository(session).mark_sent(report_id)
    if unreadable:
        log.warning(
            "%d reply notices cannot be opened with this server's key and are kept; "
            "check AMANAT_DATA_DIR and AMANAT_SERVER_SECRET (docs/operations.md)",
            unreadable,
        )
    return sent


def _notice_job(services: Services) -> Job:
    """Tell opted-in reporters that an answer waits."""

    async def deliver(context: ContextTypes.DEFAULT_TYPE) -> None:
        await deliver_reply_notices(services, context.bot)

    return _once_across_workers(services, "notices", deliver)


@asynccontextmanager
async def _counted(metrics: Metrics, job: str) -> AsyncIterator[None]:
    """Count a job's run as ``ok`` or ``failed`` (the failure still reaches the error handler)."""
    try:
        yield
    except BaseException:
        metrics.count_job(job, "failed")
        raise
    metrics.count_job(job, "ok")


def _purge_job(services: Services) -> Job:
    """Release statistics batches and delete what has expired."""

    async def purge(_: ContextTypes.DEFAULT_TYPE) -> None:
        done = await purge_expired(services)
        if done.statistics or done.uploads or done.notices:
            log.info(
                "wrote %d statistics records; deleted %d upload chunks and %d notices",
                done.statistics,
                done.uploads,
                done.notices,
            )

    return _once_across_workers(services, "purge", purge)


def _post_init(services: Services) -> Callable[[AnyApplication], Coroutine[Any, Any, None]]:
    async def post_init(application: AnyApplication) -> None:
        """Publish the command menu in every language, so people see it in their own."""
        scope = BotCommandScopeAllPrivateChats()
        for locale in SUPPORTED_LOCALES:
            commands = [
                BotCommand(name, services.translations.gettext(locale, description)[:256])
                for name, description in COMMAND_DESCRIPTIONS.items()
            ]
            language = None if locale == "en" else locale.split("_")[0]
            await application.bot.set_my_commands(commands, scope=scope, language_code=language)

    return post_init


async def run_polling(settings: Settings) -> None:
    """Run the bot against Telegram (or the configured Bot API) with long polling.

    Returns after SIGTERM or SIGINT once the stop is clean: updates already fetched are
    finished (PTB's ``Application.stop`` drains its queue and waits for jobs), polling ends
    and confirms what was handled, then a last checkpoint empties the SQLite WAL, so a deploy
    leaves neither half-handled updates nor a WAL full of recent commits behind. A Bot API
    that cannot be reached or refuses the token at start is a :class:`StartupError`.
    """
    await _serve(settings, webhook=None)


DEFAULT_WORKER_PORT = 8080
"""Where a webhook worker listens when AMANAT_WORKER_PORT is not set."""


async def run_webhook(settings: Settings) -> None:
    """Run the bot behind a reverse proxy: Telegram posts updates to AMANAT_WEBHOOK_URL.

    The worker's endpoint takes the webhook path (checking Telegram's secret token) next to
    /healthz, /readyz and /metrics. Several workers may run behind one proxy; each registers
    the same webhook at start, and none deletes it at stop. On SIGTERM the worker answers
    503 to new webhook requests (Telegram delivers them again), finishes the updates it took,
    checkpoints, and exits 0.
    """
    url, secret = settings.webhook_url, settings.webhook_secret
    missing = [
        Problem(environment_name(name), "is required with --webhook")
        for name, value in (("webhook_url", url), ("webhook_secret", secret))
        if value is None
    ]
    if missing or url is None or secret is None:
        raise StartupError(missing, exit_code=2)
    await _serve(settings, webhook=(url, secret.get_secret_value()))


async def _serve(settings: Settings, *, webhook: tuple[str, str] | None) -> None:
    """Take updates by long polling, or at ``webhook`` (its URL and secret), until a signal.

    Both ways start and stop alike: the services, the true name checked, the command menu,
    the worker's endpoint (always with a webhook, else only when AMANAT_WORKER_PORT is set),
    and on SIGTERM or SIGINT /readyz saying 503 while the updates taken are finished, then a
    last checkpoint and one log line.
    """
    async with _stop_signals() as stopped, open_services(settings) as services:
        application = build_application(services, polling=webhook is None)
        async with _telegram_reachable(settings):
            await application.initialize()
        endpoint = worker_server(services)
        api = admin_api(services)
        if webhook is not None:
            url, secret = webhook
            endpoint.port = (
                settings.worker_port if settings.worker_port is not None else DEFAULT_WORKER_PORT
            )
            receiver = webhook_receiver(
                application.bot, application.update_queue.put, secret, lambda: endpoint.stopping
            )
            endpoint.webhook = (urlsplit(url).path or "/", receiver)
        try:
            _check_true_username(settings, application.bot.username)
            async with _telegram_reachable(settings):
                # PTB calls post_init only from its own run_polling; this loop is ours.
                if application.post_init is not None:
                    await application.post_init(application)
                await application.start()
                if webhook is not None or settings.worker_port is not None:
                    await endpoint.start()
                if settings.admin_api_port is not None:
                    await api.start(settings.admin_api_host, settings.admin_api_port)
                if webhook is None:
                    assert application.updater is not None
                    await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
                else:
                    await application.bot.set_webhook(
                        webhook[0], secret_token=webhook[1], allowed_updates=Update.ALL_TYPES
                    )
            log.info(
                "Amanat is polling" if webhook is None else "Amanat takes updates at its webhook"
            )
            reason = await stopped
            # /readyz says 503 while the updates in flight finish; new webhook requests too,
            # so Telegram sends them again.
            endpoint.stopping = True
        finally:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()  # finishes the updates already taken
            await application.shutdown()
            await endpoint.stop()
            await api.stop()
        wal = await _last_checkpoint(services.engine)
        ended = "polling ended" if webhook is None else "webhook closed"
        log.info("Amanat stopped on %s: updates in flight finished, %s%s", reason, ended, wal)


def _check_true_username(settings: Settings, token_username: str) -> None:
    """Refuse to tell people a name that is not this bot's: they would trust the wrong one."""
    variable = environment_name("bot_username")
    if not settings.bot_username:
        log.warning(
            "%s is not set: /start and /safety cannot name the one true bot (docs/operations.md)",
            variable,
        )
        return
    told = settings.bot_username.removeprefix("@").casefold()
    if told != token_username.casefold():
        raise StartupError(
            [
                Problem(
                    variable,
                    f"this token belongs to @{token_username}, not to the name this setting "
                    "tells people to trust",
                )
            ],
            exit_code=2,
        )


def admin_api(services: Services, *, clock: Callable[[], datetime] | None = None) -> AdminApi:
    """The admin API, admitting the configured admins' signed requests (bot/adminapi).

    Nonces are remembered in the conversation store, so every worker sharing one Redis
    refuses a request another already took.
    """
    settings = services.settings
    keys = [AdminPublicKey.from_text(text) for text in settings.admin_public_keys]
    store = services.intake.memory.store

    async def claim(name: str, until: datetime) -> bool:
        return await store.first_delivery(name, expires_at=until)

    async def revoked(key_id: str) -> bool:
        async with unit_of_work(session_factory(services.engine)) as session:
            return await RevocationRepository(session).is_revoked(key_id)

    leads = frozenset(settings.lead_admin_keys)
    lead_keys = [key for key in keys if key.key_id in leads]
    gate = Gate(
        {key.key_id: key for key in keys},
        leads,
        claim,
        store.started_at,
        clock or (lambda: datetime.now(UTC)),
        revoked,
    )
    return AdminApi(
        services.engine,
        gate,
        services.intake.sealer,
        lead_ids=leads,
        admin_ids=tuple(key.key_id for key in keys),
        lead_sealer=AdminSealer(lead_keys) if lead_keys else None,
        partners=settings.partners,
        clock=clock or (lambda: datetime.now(UTC)),
    )


def worker_server(
    services: Services, webhook: tuple[str, WebhookHandler] | None = None
) -> WorkerServer:
    """The worker's endpoint, checking the database and the conversation store for /readyz."""
    settings = services.settings

    async def database() -> bool:
        return await database_answers(services.engine)

    return WorkerServer(
        checks={"database": database, "conversations": services.intake.memory.store.answers},
        metrics=services.metrics,
        host=settings.worker_host,
        port=settings.worker_port or 0,
        webhook=webhook,
    )


async def _last_checkpoint(engine: AsyncEngine) -> str:
    """Empty the SQLite WAL once nothing writes any more; say how it went, for the log line."""
    truncated = await checkpoint_wal(engine)
    if engine.dialect.name != "sqlite":
        return ""
    return (
        ", SQLite WAL truncated" if truncated else ", SQLite WAL NOT truncated (a reader held it)"
    )


@asynccontextmanager
async def _stop_signals() -> AsyncIterator[asyncio.Future[str]]:
    """Turn SIGTERM and SIGINT into a future naming the signal, instead of a killed process.

    Outside the main thread (or where the loop cannot handle signals) nothing is installed
    and the future never completes: the caller is then stopped by cancellation.
    """
    loop = asyncio.get_running_loop()
    received: asyncio.Future[str] = loop.create_future()

    def on_signal(name: str) -> None:
        if not received.done():
            received.set_result(name)

    installed: list[signal.Signals] = []
    for number in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(number, on_signal, number.name)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(number)
    try:
        yield received
    finally:
        for number in installed:
            loop.remove_signal_handler(number)
        received.cancel()


@asynccontextmanager
async def _telegram_reachable(settings: Settings) -> AsyncIterator[None]:
    """Turn the Bot API's refusals at start into one problem naming the variable to check."""
    try:
        yield
    except InvalidToken:
        raise StartupError(
            [
                Problem(
                    TOKEN_VARIABLE,
                    "the Bot API refused this token (revoked, or mistyped): copy it again "
                    "from @BotFather",
                )
            ]
        ) from None
    except NetworkError as exc:
        host = urlsplit(settings.telegram_api_base_url).hostname or "the Bot API"
        raise StartupError(
            [
                Problem(
                    environment_name("telegram_api_base_url"),
                    f"cannot reach the Bot API at {host} ({type(exc).__name__}): check this "
                    "machine's network, or this setting",
                )
            ]
        ) from None
