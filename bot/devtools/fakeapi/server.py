"""Own the fake Telegram Bot API HTTP server that tests and the local simulator talk to.

An in-process aiohttp server on loopback answering ``/bot<token>/<method>`` (JSON, form or
multipart bodies, method names case-insensitive) and ``/file/bot<token>/<path>`` downloads.
Every call is validated against the Bot API spec and recorded; a call the real API would refuse
as malformed is answered with Telegram's 400 *and* kept in :attr:`FakeBotApi.violations`, so a
test fails even when the bot swallowed the error. ``getUpdates`` long-polls for real.

It must never listen on anything but the address it was given (loopback by default), never log
request paths (they carry the token) or message content, and never share state between
instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot.devtools.fakeapi.limits import limit_problems
from bot.devtools.fakeapi.methods import Methods, NotImplementedInFake
from bot.devtools.fakeapi.spec import BotApiSpec, ObjectSpec, load_vendored
from bot.devtools.fakeapi.state import DEFAULT_UPDATE_TYPES, ApiError, ChatState, JsonDict, World
from bot.devtools.fakeapi.users import FakeUser
from bot.devtools.fakeapi.validation import CallValidator, UploadedFile

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_POLL_SECONDS = 50
WEBHOOK_TIMEOUT = aiohttp.ClientTimeout(total=10)
ChatType = Literal["private", "group", "supergroup"]


@dataclass(frozen=True)
class RecordedCall:
    """One Bot API call as the fake saw and answered it."""

    method: str
    params: Mapping[str, Any]
    status: int
    response: Mapping[str, Any]
    at: float = field(default_factory=time.monotonic)
    """When the fake answered it (monotonic seconds): how fast the bot sent, never what."""

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return bool(self.response.get("ok"))

    @property
    def result(self) -> Any:
        """The call's result (None for a failed call)."""
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        """The error description of a failed call."""
        description = self.response.get("description")
        return None if description is None else str(description)


@dataclass(frozen=True)
class Violation:
    """A call the real Bot API would refuse as malformed: a bug in the bot."""

    method: str
    description: str
    problems: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.method}: {'; '.join(self.problems) or self.description}"


class FakeBotApi:
    """A validating, recording fake of the Telegram Bot API for one bot."""

    def __init__(
        self,
        *,
        token: str | None = None,
        username: str = "amanat_test_bot",
        first_name: str = "Amanat",
        spec: BotApiSpec | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        bot_id = 7_000_000_000 + secrets.randbelow(1_000_000_000)
        self._token = token or f"{bot_id}:{secrets.token_urlsafe(26)}"
        head = self._token.split(":", 1)[0]
        if not head.isdigit() or ":" not in self._token:
            raise ValueError("a bot token looks like <bot id>:<secret>")
        self._spec = spec or load_vendored()
        self._validator = CallValidator(self._spec)
        bot_user: JsonDict = {
            "id": int(head),
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._world = World(bot_user, clock)
        self._methods = Methods(self._world)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._address: tuple[str, int] | None = None
        self._stopping = False
        self._poll_generation = 0
        self._waiting_polls = 0
        self._next_user_id = 100_000_001
        self._next_group_id = 4_000_000_001
        self.calls: list[RecordedCall] = []
        self.violations: list[Violation] = []
        self.webhook_statuses: list[int] = []
        """The HTTP status of every webhook delivery tried, in order (0: no answer)."""
        self._webhook_origins: tuple[str, ...] = ()
        self._pushers: list[asyncio.Task[None]] = []
        self._in_flight: set[int] = set()
        """Update ids one delivery connection has taken and not finished."""
        self._next_origin = 0
        self._calls_open = 0
        self.most_calls_at_once = 0
        """The most calls other than getUpdates handled at the same moment: over HTTP/1.1,
        how many connections the bot had busy at once."""

    @property
    def token(self) -> str:
        """The bot token the fake accepts (give it to the Application under test)."""
        return self._token

    @property
    def spec(self) -> BotApiSpec:
        """The spec calls are validated against."""
        return self._spec

    @property
    def world(self) -> World:
        """Everything the fake remembers (chats, messages, files, pending updates)."""
        return self._world

    @property
    def bot_user(self) -> JsonDict:
        """The bot's own User object."""
        return dict(self._world.bot_user)

    @property
    def waiting_polls(self) -> int:
        """How many getUpdates requests are waiting for updates right now."""
        return self._waiting_polls

    @property
    def base_url(self) -> str:
        """The URL for ``ApplicationBuilder().base_url(...)``, e.g. http://127.0.0.1:PORT/bot."""
        return f"{self._origin()}/bot"

    @property
    def base_file_url(self) -> str:
        """The URL for ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self._origin()}/file/bot"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (a free port by default)."""
        if self._runner is not None:
            raise RuntimeError("the fake Bot API is already running")
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._download)
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound = runner.addresses[0]
        self._address = (str(bound[0]), int(bound[1]))
        self._stopping = False

    async def stop(self) -> None:
        """End pending long polls and webhook deliveries, and stop listening."""
        self._stopping = True
        await self._notify()
        for pusher in self._pushers:
            pusher.cancel()
        for pusher in self._pushers:
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
        self._pushers = []
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None

    def deliver_webhooks_to(self, *origins: str, connections: int = 1) -> None:
        """Play Telegram and the reverse proxy: post webhook updates to ``origins``.

        Telegram posts each update to the https URL given to ``setWebhook`` with its secret
        token; a proxy forwards the path to a worker. The fake posts to an origin (plain
        http on loopback) plus that URL's path, and tries an update again until a worker
        answers 200, as Telegram does. With one connection (the default) updates go one at a
        time in order; Telegram opens up to ``max_connections`` (40 by default) at once, and
        so many ``connections`` do the same here, each update to the next origin in turn, the
        way a round-robin proxy spreads them over several workers.
        """
        if not origins or connections < 1:
            raise ValueError("give at least one origin and one connection")
        self._webhook_origins = tuple(origin.rstrip("/") for origin in origins)
        while len(self._pushers) < connections:
            self._pushers.append(asyncio.create_task(self._push_webhooks()))

    def _untaken(self) -> dict[str, Any] | None:
        return next((u for u in self._world.pending if u["update_id"] not in self._in_flight), None)

    async def _push_webhooks(self) -> None:
        world = self._world
        async with aiohttp.ClientSession() as session:
            while not self._stopping:
                async with self._changed:
                    await self._changed.wait_for(
                        lambda: (
                            self._stopping
                            or bool(world.webhook_url and self._untaken() is not None)
                        )
                    )
                if self._stopping:
                    return
                update = self._untaken()
                if update is None:
                    continue
                self._in_flight.add(update["update_id"])
                origin = self._webhook_origins[self._next_origin % len(self._webhook_origins)]
                self._next_origin += 1
                url = origin + (urlsplit(world.webhook_url).path or "/")
                headers = {"X-Telegram-Bot-Api-Secret-Token": world.webhook_secret}
                status = 0
                try:
                    async with session.post(
                        url, data=_dumps(update), headers=headers, timeout=WEBHOOK_TIMEOUT
                    ) as response:
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                finally:
                    self._in_flight.discard(update["update_id"])
                self.webhook_statuses.append(status)
                if status == 200:
                    world.pending = [u for u in world.pending if u is not update]
                    world.highest_fetched = max(world.highest_fetched, update["update_id"])
                    await self._notify()
                else:
                    await asyncio.sleep(0.2)  # Telegram tries again a little later

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def user(
        self,
        user_id: int | None = None,
        first_name: str = "Test",
        *,
        language_code: str | None = "fa",
        username: str | None = None,
        chat_type: ChatType = "private",
        chat_id: int | None = None,
        chat_title: str = "Test group",
    ) -> FakeUser:
        """Create a person who writes to the bot privately, or in a group when asked."""
        if user_id is None:
            user_id = self._next_user_id
            self._next_user_id += 1
        user: JsonDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        chat: JsonDict
        if chat_type == "private":
            if chat_id is not None and chat_id != user_id:
                raise ValueError("a private chat's id is the user's id")
            chat = {"id": user_id, "type": "private", "first_name": first_name}
            if username is not None:
                chat["username"] = username
        else:
            if chat_id is None:
                number = self._next_group_id
                self._next_group_id += 1
                chat_id = -(1_000_000_000_000 + number) if chat_type == "supergroup" else -number
            if chat_id >= 0:
                raise ValueError("group chat ids are negative")
            chat = {"id": chat_id, "type": chat_type, "title": chat_title}
        return FakeUser(self, user, chat)

    async def inject(self, kind: str, payload: JsonDict) -> int:
        """Queue an update of ``kind`` after checking it against the spec; return its id."""
        problems = self._validator.object_problems("Update", {"update_id": 1, kind: payload})
        if problems:
            raise ValueError(f"the injected update is not a valid Update: {problems}")
        update_id = self._world.add_update(kind, payload)
        await self._notify()
        return update_id

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline per wait is the point
    ) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every call and update."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                raise TimeoutError(f"the condition did not hold within {timeout} s") from None

    async def wait_until_fetched(
        self,
        update_id: int,
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline per wait is the point
    ) -> None:
        """Wait until the bot has received ``update_id`` through getUpdates."""
        await self.wait_for(lambda: self._world.highest_fetched >= update_id, timeout)

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Every recorded call of one method (case-insensitive)."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def unanswered_callback_queries(self) -> list[str]:
        """Ids of button presses the bot never answered (clients show a spinner)."""
        return [q.query_id for q in self._world.callback_queries.values() if not q.answered]

    def assert_no_violations(self) -> None:
        """Fail with every violation listed; call it at test teardown."""
        if self.violations:
            listed = "\n".join(f"  - {violation}" for violation in self.violations)
            raise AssertionError(f"the bot made calls the Bot API refuses:\n{listed}")

    def _origin(self) -> str:
        if self._address is None:
            raise RuntimeError("the fake Bot API is not running; await start() first")
        host, port = self._address
        return f"http://{host}:{port}"

    def _token_ok(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self._token.encode())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.Response:
        counted = request.match_info["method"].lower() != "getupdates"
        if counted:
            self._calls_open += 1
            self.most_calls_at_once = max(self.most_calls_at_once, self._calls_open)
        try:
            return await self._handle_call(request)
        finally:
            if counted:
                self._calls_open -= 1

    async def _handle_call(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        if not self._token_ok(request.match_info["token"]):
            return await self._refuse(name, {}, 401, "Unauthorized", ("wrong bot token",))
        method = self._spec.method(name)
        if method is None:
            return await self._refuse(name, {}, 404, "Not Found", ("unknown method",))
        try:
            raw = await _read_parameters(request, method)
        except ValueError as exc:
            problem = str(exc)
            return await self._refuse(method.name, {}, 400, f"Bad Request: {problem}", (problem,))
        params, problems = self._validator.parameters(method, raw)
        if not problems:
            problems = limit_problems(method.name, params)
        if problems:
            description = f"Bad Request: {problems[0]}"
            return await self._refuse(method.name, params, 400, description, tuple(problems))
        chat = self._chat_for(params)
        if chat is not None and chat.latency > 0:
            await asyncio.sleep(chat.latency)
        fault = chat.take_fault(method.name) if chat is not None else None
        if fault is not None and fault.kind == "dropped":
            return await self._drop(request, method.name, params)
        try:
            if fault is not None and fault.kind != "answer_lost":
                raise fault.error()
            result = await self._call(method.name, params)
        except ApiError as exc:
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters is not None:
                body["parameters"] = exc.parameters
            return await self._answer(method.name, params, exc.status, body)
        except NotImplementedInFake as exc:
            problem = f"not implemented in the fake Bot API ({exc})"
            description = f"Not Implemented: {problem}"
            return await self._refuse(method.name, params, 501, description, (problem,))
        except Exception as exc:
            # A bug in the fake itself: make the test fail, then let aiohttp answer 500.
            problem = f"the fake Bot API failed ({type(exc).__name__})"
            self.violations.append(Violation(method.name, "Internal Server Error", (problem,)))
            raise
        if fault is not None:  # answer_lost: handled, and the answer never arrives
            await self._answer(method.name, params, 200, {"ok": True, "result": result})
            return await self._drop(request, method.name, params, recorded=True)
        return await self._answer(method.name, params, 200, {"ok": True, "result": result})

    def _chat_for(self, params: Mapping[str, Any]) -> ChatState | None:
        """The chat a call writes to or reads, if it names one the fake knows."""
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int | str):
            return None
        try:
            return self._world.find_chat(chat_id)
        except ApiError:
            return None

    async def _drop(
        self,
        request: web.Request,
        method: str,
        params: Mapping[str, Any],
        *,
        recorded: bool = False,
    ) -> web.Response:
        """Close the connection without an answer, as a flaky network does."""
        if not recorded:
            self.calls.append(RecordedCall(method, dict(params), 0, {"dropped": True}))
            await self._notify()
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=204)

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getUpdates":
            return await self._get_updates(params)
        handler = self._methods.handler(method)
        if handler is None:
            raise NotImplementedInFake(method)
        return handler(params)

    async def _get_updates(self, params: dict[str, Any]) -> list[JsonDict]:
        world = self._world
        if world.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            world.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
        offset: int | None = params.get("offset")
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        timeout = min(max(int(params.get("timeout", 0)), 0), MAX_POLL_SECONDS)
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._changed:
            self._waiting_polls += 1
            self._changed.notify_all()
            try:
                while True:
                    updates = world.poll(offset, limit)
                    remaining = deadline - loop.time()
                    superseded = generation != self._poll_generation
                    if updates or self._stopping or superseded or remaining <= 0:
                        break
                    try:
                        await asyncio.wait_for(self._changed.wait(), remaining)
                    except TimeoutError:
                        continue
            finally:
                self._waiting_polls -= 1
        if updates:
            world.highest_fetched = max(world.highest_fetched, updates[-1]["update_id"])
        return copy.deepcopy(updates)

    async def _refuse(
        self,
        method: str,
        params: Mapping[str, Any],
        status: int,
        description: str,
        problems: tuple[str, ...],
    ) -> web.Response:
        self.violations.append(Violation(method, description, problems))
        body = {"ok": False, "error_code": status, "description": description}
        return await self._answer(method, params, status, body)

    async def _answer(
        self, method: str, params: Mapping[str, Any], status: int, body: JsonDict
    ) -> web.Response:
        self.calls.append(RecordedCall(method, dict(params), status, copy.deepcopy(body)))
        await self._notify()
        return web.json_response(body, status=status, dumps=_dumps)

    async def _download(self, request: web.Request) -> web.Response:
        if not self._token_ok(request.match_info["token"]):
            self.violations.append(Violation("file download", "Unauthorized", ("wrong token",)))
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        stored = self._world.files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.Response(body=stored.read(), content_type="application/octet-stream")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _read_parameters(request: web.Request, method: ObjectSpec) -> dict[str, object]:
    """Merge query string and body (JSON, form or multipart) into raw parameters."""
    raw: dict[str, object] = dict(request.query)
    if not request.body_exists:
        return raw
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ValueError("can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise ValueError("the JSON request body must be an object")
        raw.update(body)
        return raw
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise ValueError("unsupported request content type")
    form = await request.post()
    attachments: dict[str, UploadedFile] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            uploaded = UploadedFile(value.filename, value.content_type, value.file.read())
            if key in method.fields:
                raw[key] = uploaded
            else:
                attachments[key] = uploaded
        else:
            raw[key] = str(value)
    referenced = " ".join(v for v in raw.values() if isinstance(v, str))
    for key in attachments:
        if f"attach://{key}" not in referenced:
            raise ValueError(f'file part "{key}" is neither a parameter nor attached')
    return raw
