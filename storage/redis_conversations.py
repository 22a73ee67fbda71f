"""Keep conversations in progress in Redis, shared by every worker, never persisted.

The same contract as :class:`storage.conversations.MemoryConversations`, for deployments with
several workers. Redis must keep nothing on disk: :meth:`RedisConversations.connect` refuses a
server whose ``save`` or ``appendonly`` setting would write RDB or AOF files
(docs/operations.md, "Redis"). Keys are opaque (keyed hashes of accounts); values are
server-key ciphertext, except flood counters, which Redis increments.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    RedisError,
    ResponseError,
)
from redis.exceptions import (
    ConnectionError as RedisConnectionError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)

from storage.conversations import Changes, Opened, Opening

log = logging.getLogger(__name__)

PREFIX: Final = "amanat:"
_GENERATION: Final = PREFIX + "generation"
_STATS: Final = PREFIX + "stats"
_SUBMISSIONS: Final = PREFIX + "submissions"

TURN_LEASE_MS: Final = 120_000
"""How long a worker may hold one conversation before another may take it (a dead worker)."""
TURN_WAIT_SECONDS: Final = 60.0
"""How long an update waits for the same person's update on another worker."""

# Give a conversation back only if this worker still holds it (its lease may have run out).
_RELEASE_TURN: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class TurnUnavailable(RuntimeError):
    """Another worker held the same conversation for longer than an update may wait."""


# Release held statistics atomically: only once enough submissions went by, all at once.
_TAKE_STATS: Final = """
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
if n < tonumber(ARGV[1]) then return {} end
local held = redis.call('LRANGE', KEYS[1], 0, -1)
if #held == 0 then return {} end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '0')
return held
"""


class PersistentRedis(RuntimeError):
    """Redis would write conversations to disk; Amanat refuses to use it."""


class RedisUnavailable(RuntimeError):
    """Redis could not be reached or refused us; the message is a fixed phrase, no URL."""


def _why_unavailable(exc: BaseException) -> str:
    """Say why connecting failed by exception type only: messages may quote host or user."""
    if isinstance(exc, AuthenticationError | AuthorizationError):
        return "Redis refused the login (user name or password in the URL)"
    if isinstance(exc, RedisTimeoutError | TimeoutError):
        return "the connection to Redis timed out"
    if isinstance(exc, RedisConnectionError | OSError):
        return "cannot connect to Redis: is it running, on that host and port?"
    return f"Redis failed ({type(exc).__name__})"


def _ms(moment: datetime) -> int:
    """Return a moment as Unix milliseconds (what PEXPIREAT takes)."""
    return int(moment.timestamp() * 1000)


class RedisConversations:
    """Keep conversations in a Redis server with persistence off."""

    def __init__(self, client: Redis) -> None:
        """Take a connected client; use :meth:`connect` to check the server first."""
        self._redis = client

    def __repr__(self) -> str:
        """Name the backend only; the URL may hold a password."""
        return "RedisConversations(<redis>)"

    @classmethod
    async def connect(cls, url: str) -> RedisConversations:
        """Connect, refuse a server that persists, and note when this memory began.

        A server that cannot be reached raises :class:`RedisUnavailable` (one line for the
        operator, never the URL, which may hold a password); one that persists,
        :class:`PersistentRedis`.
        """
        try:
            client: Redis = Redis.from_url(url, decode_responses=False)
        except ValueError:
            raise RedisUnavailable("is not a Redis URL the client can read") from None
        try:
            await check_not_persistent(client)
            await client.set(_GENERATION, datetime.now(UTC).isoformat().encode(), nx=True)
        except (RedisError, OSError) as exc:
            await client.aclose()
            raise RedisUnavailable(_why_unavailable(exc)) from None
        except BaseException:
            await client.aclose()
            raise
        return cls(client)

    async def answers(self) -> bool:
        """Ping Redis; a failure is an answer (False), never an exception with the URL."""
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), timeout=2))
        except (RedisError, OSError, TimeoutError):
            return False

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """Hold one conversation across every worker sharing this Redis, for one update.

        A lease (``SET NX PX``) with a random token: a worker that dies frees it after
        ``TURN_LEASE_MS``, and a worker only ever deletes its own.
        """
        name = f"{PREFIX}turn:{key}"
        token = secrets.token_bytes(16)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TURN_WAIT_SECONDS
        while not await self._redis.set(name, token, nx=True, px=TURN_LEASE_MS):
            if loop.time() > deadline:
                raise TurnUnavailable("another worker held this conversation too long")
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            await self._redis.eval(_RELEASE_TURN, 1, name, token)

    async def started_at(self) -> datetime:
        """Return when this Redis memory began (set by the first worker to connect)."""
        raw = await self._redis.get(_GENERATION)
        if raw is None:  # Redis restarted under a running worker: its memory is new
            now = datetime.now(UTC)
            await self._redis.set(_GENERATION, now.isoformat().encode(), nx=True)
            raw = await self._redis.get(_GENERATION) or now.isoformat().encode()
        return datetime.fromisoformat(raw.decode() if isinstance(raw, bytes) else raw)

    async def load_state(self, key: str) -> bytes | None:
        """Return the state, if any."""
        value = await self._redis.get(PREFIX + "s:" + key)
        return None if value is None else _raw(value)

    async def save_state(self, key: str, value: bytes, *, expires_at: datetime) -> None:
        """Replace the state, expiring at ``expires_at``."""
        await self._redis.set(PREFIX + "s:" + key, value, pxat=_ms(expires_at))

    async def put_item(self, key: str, name: str, value: bytes, *, expires_at: datetime) -> None:
        """Add one item to the draft's hash and move the hash's expiry."""
        items = PREFIX + "i:" + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(items, name, value)
            pipe.pexpireat(items, _ms(expires_at))
            await pipe.execute()

    async def get_item(self, key: str, name: str) -> bytes | None:
        """Return one item of the draft."""
        value = await self._redis.hget(PREFIX + "i:" + key, name)
        return None if value is None else _raw(value)

    async def items(self, key: str) -> dict[str, bytes]:
        """Return every item of the draft."""
        found: dict[Any, Any] = await self._redis.hgetall(PREFIX + "i:" + key)
        return {bytes(name).decode(): bytes(value) for name, value in found.items()}

    async def drop_items(self, key: str, names: Iterable[str] | None = None) -> None:
        """Forget some items, or all."""
        items = PREFIX + "i:" + key
        if names is None:
            await self._redis.delete(items)
            return
        listed = list(names)
        if listed:
            await self._redis.hdel(items, *listed)

    async def add_messages(
        self, key: str, values: Iterable[bytes], *, expires_at: datetime
    ) -> None:
        """Append message ids and move the list's expiry."""
        listed = list(values)
        if not listed:
            return
        messages = PREFIX + "m:" + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(messages, *listed)
            pipe.pexpireat(messages, _ms(expires_at))
            await pipe.execute()

    async def take_messages(self, key: str) -> list[bytes]:
        """Return and forget the message ids, atomically."""
        messages = PREFIX + "m:" + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.lrange(messages, 0, -1)
            pipe.delete(messages)
            taken, _ = await pipe.execute()
        return [bytes(value) for value in taken]

    async def forget(self, key: str) -> None:
        """Drop state, items and message ids."""
        await self._redis.delete(PREFIX + "s:" + key, PREFIX + "i:" + key, PREFIX + "m:" + key)

    async def count_update(self, key: str, window: int, *, expires_at: datetime) -> int:
        """Increment the window's counter."""
        counter = f"{PREFIX}f:{key}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.pexpireat(counter, _ms(expires_at))
            count, _ = await pipe.execute()
        return int(count)

    async def first_delivery(self, update_key: str, *, expires_at: datetime) -> bool:
        """Claim an update key; only the first claim succeeds, across every worker."""
        claimed = await self._redis.set(
            PREFIX + "u:" + update_key, b"1", nx=True, pxat=_ms(expires_at)
        )
        return bool(claimed)

    async def open_update(self, key: str, opening: Opening) -> Opened:
        """Claim the update, count it and read the state and the draft: one round trip.

        A pipeline without MULTI: the person's turn already keeps other workers out, and
        the claim and the count stand on their own.
        """
        async with self._redis.pipeline(transaction=False) as pipe:
            if opening.update_key is not None:
                if opening.update_expires_at is None:
                    raise ValueError("an update key needs update_expires_at")
                pipe.set(
                    PREFIX + "u:" + opening.update_key,
                    b"1",
                    nx=True,
                    pxat=_ms(opening.update_expires_at),
                )
            if opening.window is not None:
                if opening.window_ends is None:
                    raise ValueError("a flood window needs window_ends")
                counter = f"{PREFIX}f:{key}:{opening.window}"
                pipe.incr(counter)
                pipe.pexpireat(counter, _ms(opening.window_ends))
            pipe.get(PREFIX + "s:" + key)
            pipe.hget(PREFIX + "i:" + key, opening.item)
            results = list(await pipe.execute())
        first = bool(results.pop(0)) if opening.update_key is not None else True
        count = None
        if opening.window is not None:
            count = int(results.pop(0))
            results.pop(0)
        state, item = results
        return Opened(
            first,
            count,
            None if state is None else _raw(state),
            None if item is None else _raw(item),
        )

    async def write(self, key: str, changes: Changes) -> None:
        """Apply an update's changes in one MULTI: a worker that dies leaves all or none."""
        items = PREFIX + "i:" + key
        async with self._redis.pipeline(transaction=True) as pipe:
            if changes.drop_items is None:
                pipe.delete(items)
            elif changes.drop_items:
                pipe.hdel(items, *changes.drop_items)
            pipe.set(PREFIX + "s:" + key, changes.state, pxat=_ms(changes.state_expires_at))
            if changes.put_items and changes.items_expire_at is not None:
                fields: dict[Any, Any] = dict(changes.put_items)
                pipe.hset(items, mapping=fields)
                pipe.pexpireat(items, _ms(changes.items_expire_at))
            if changes.messages and changes.messages_expire_at is not None:
                messages = PREFIX + "m:" + key
                pipe.rpush(messages, *changes.messages)
                pipe.pexpireat(messages, _ms(changes.messages_expire_at))
            await pipe.execute()

    async def queue_stat(self, value: bytes) -> None:
        """Hold a record."""
        await self._redis.rpush(_STATS, value)

    async def count_submission(self) -> None:
        """Count a submission."""
        await self._redis.incr(_SUBMISSIONS)

    async def take_stats(self, min_submissions: int) -> list[bytes]:
        """Release the held records atomically once enough reports went by."""
        held = await self._redis.eval(_TAKE_STATS, 2, _STATS, _SUBMISSIONS, min_submissions)
        return [bytes(value) for value in held]

    async def sweep(self) -> None:
        """Nothing to do: Redis expires keys itself."""

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


async def check_not_persistent(client: Redis) -> None:
    """Refuse a Redis that would write conversations to disk (RDB snapshots or AOF).

    Managed services may forbid CONFIG; then the check cannot be made, and the operator is
    warned that the guarantee rests on their configuration alone.
    """
    try:
        save: dict[Any, Any] = await client.config_get("save")
        appendonly: dict[Any, Any] = await client.config_get("appendonly")
    except ResponseError:
        log.warning("Redis does not allow CONFIG GET: cannot check that persistence is off")
        return
    save_value = _text(save.get(b"save", save.get("save", b"")))
    aof_value = _text(appendonly.get(b"appendonly", appendonly.get("appendonly", b"no")))
    if save_value.strip() or aof_value.strip().lower() == "yes":
        raise PersistentRedis(
            "Redis persistence is on (save or appendonly): conversations would reach the "
            'disk. Run Redis with --save "" --appendonly no (docs/operations.md)'
        )


def _raw(value: bytes | str) -> bytes:
    """Return what Redis gave as bytes (the client is made with decode_responses=False)."""
    return value if isinstance(value, bytes) else value.encode()


def _text(value: object) -> str:
    """Read a CONFIG value that may come back as bytes or str."""
    return value.decode() if isinstance(value, bytes) else str(value)
