"""Keep conversations in progress in volatile memory: never on disk, never in the database.

Everything Amanat knows about a person before they submit (the draft with its sealed items,
the chosen language, the ids of chat messages for /wipe, flood counters, which updates were
already handled) lives here, and nowhere durable (docs/design.md §3.1). Two backends share one
contract (``tests/test_storage_conversations.py`` runs it on both):

- :class:`MemoryConversations`, the process's own memory: the embedded default. A restart
  loses every conversation in progress, and the bot says so to whoever comes back.
- :class:`storage.redis_conversations.RedisConversations`, for several workers: Redis with
  persistence off (no RDB, no AOF), so a restart of Redis loses them the same way.

The store sees only opaque keys and opaque values: the service hands in keyed hashes of
accounts and server-key ciphertext (:meth:`bot.crypto.server.ServerKeys.seal_volatile`), so a
dump of the store names nobody and reads nothing without the server secret. Flood counters are
the one plain value (Redis increments them); they count updates under an opaque key.

Statistics records wait here too: writing one in the same transaction as its report, or right
after it, would pair the two on disk. They are released only in batches that at least
``min_submissions`` reports have passed through (:meth:`take_stats`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Opening:
    """What an update reads before its step: the ledger claim, the flood count, two records."""

    item: str
    """The item read with the state: the draft record."""
    update_key: str | None = None
    """Claim this update (duplicate deliveries), remembered until ``update_expires_at``."""
    update_expires_at: datetime | None = None
    window: int | None = None
    """Count the update in this flood window (None: not counted, e.g. a wipe)."""
    window_ends: datetime | None = None


@dataclass(frozen=True)
class Opened:
    """What :meth:`ConversationStore.open_update` read, all at once."""

    first_delivery: bool
    """False when the update key was already claimed: a duplicate, handled before."""
    count: int | None
    """The update's number in its flood window, or None when not counted."""
    state: bytes | None
    item: bytes | None


@dataclass(frozen=True)
class Changes:
    """What an update writes after its step, applied in this order."""

    state: bytes
    state_expires_at: datetime
    drop_items: tuple[str, ...] | None = ()
    """Items to forget first; None forgets every item of the draft."""
    put_items: Mapping[str, bytes] = field(default_factory=dict)
    items_expire_at: datetime | None = None
    messages: tuple[bytes, ...] = ()
    messages_expire_at: datetime | None = None

    def __post_init__(self) -> None:
        """An item or message without an expiry would outlive the draft or the chat."""
        if self.put_items and self.items_expire_at is None:
            raise ValueError("items need items_expire_at")
        if self.messages and self.messages_expire_at is None:
            raise ValueError("messages need messages_expire_at")


class ConversationStore(Protocol):
    """What the intake service needs of volatile memory; every value is ciphertext."""

    async def started_at(self) -> datetime:
        """Return when this store's memory began: conversations older than that are lost."""

    async def load_state(self, key: str) -> bytes | None:
        """Return the conversation's small state, or None if there is none (or it expired)."""

    async def save_state(self, key: str, value: bytes, *, expires_at: datetime) -> None:
        """Replace the conversation's small state; it is forgotten at ``expires_at``."""

    async def put_item(self, key: str, name: str, value: bytes, *, expires_at: datetime) -> None:
        """Add or replace one sealed item of the draft; items expire with the draft."""

    async def get_item(self, key: str, name: str) -> bytes | None:
        """Return one item of the draft, or None."""

    async def items(self, key: str) -> dict[str, bytes]:
        """Return every sealed item of the draft, by name."""

    async def drop_items(self, key: str, names: Iterable[str] | None = None) -> None:
        """Forget some items of the draft, or all of them (``names=None``)."""

    async def add_messages(
        self, key: str, values: Iterable[bytes], *, expires_at: datetime
    ) -> None:
        """Remember chat message ids (sealed) for /wipe, until ``expires_at``."""

    async def take_messages(self, key: str) -> list[bytes]:
        """Return and forget every remembered message id, in the order they were added."""

    async def forget(self, key: str) -> None:
        """Forget everything about the conversation (state, items, message ids)."""

    async def count_update(self, key: str, window: int, *, expires_at: datetime) -> int:
        """Count one more update in a flood window; return the count so far."""

    async def first_delivery(self, update_key: str, *, expires_at: datetime) -> bool:
        """Tell whether this update is seen for the first time (and remember it until then)."""

    async def open_update(self, key: str, opening: Opening) -> Opened:
        """Claim, count and read what an update needs, in one round trip where possible.

        A duplicate is counted in the flood window like any delivery; the caller answers
        nothing to it.
        """

    async def write(self, key: str, changes: Changes) -> None:
        """Write what an update changed, in one round trip where possible."""

    async def queue_stat(self, value: bytes) -> None:
        """Hold one sealed statistics record until a batch may be written."""

    async def count_submission(self) -> None:
        """Note that one more report was submitted (statistics or not): the batch's cover."""

    async def take_stats(self, min_submissions: int) -> list[bytes]:
        """Release every held record once ``min_submissions`` reports went by, else nothing."""

    async def sweep(self) -> None:
        """Drop what has expired (Redis does this itself)."""

    async def answers(self) -> bool:
        """Tell whether the store can be used right now (for /readyz)."""
        ...

    def turn(self, key: str) -> AbstractAsyncContextManager[None]:
        """Hold the conversation ``key`` for one update: no other update of it runs meanwhile."""
        ...

    async def close(self) -> None:
        """Release connections; the memory is gone with the process anyway."""


@dataclass
class _Expiring:
    """A value and when it is forgotten."""

    value: bytes
    expires_at: datetime


@dataclass
class _Conversation:
    """One conversation's volatile record in process memory."""

    state: _Expiring | None = None
    items: dict[str, _Expiring] = field(default_factory=dict)
    messages: list[_Expiring] = field(default_factory=list)

    def empty(self) -> bool:
        """Tell whether nothing is left to keep."""
        return self.state is None and not self.items and not self.messages


class MemoryConversations:
    """Keep conversations in this process's memory: the embedded default, one worker only.

    Expired values are dropped when touched and by :meth:`sweep` (the purge job), so an
    abandoned conversation does not stay in memory past its lifetime.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        """Start empty; ``clock`` is injectable so tests can move time."""
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._started = self._clock()
        self._conversations: dict[str, _Conversation] = {}
        self._floods: dict[tuple[str, int], _Expiring] = {}
        self._deliveries: dict[str, datetime] = {}
        self._stats: list[bytes] = []
        self._submissions = 0
        self._turns: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        """Show sizes only."""
        return f"MemoryConversations(<{len(self._conversations)} conversations>)"

    async def started_at(self) -> datetime:
        """Return when this process started keeping conversations."""
        return self._started

    def _live(self, key: str) -> _Conversation | None:
        """Return the key's record, its state dropped if expired; None when nothing is left.

        Items and message ids are checked when read and by :meth:`sweep`, not here: a long
        story must not make every update walk all of its items.
        """
        record = self._conversations.get(key)
        if record is None:
            return None
        if record.state is not None and record.state.expires_at <= self._clock():
            record.state = None
        if record.empty():
            del self._conversations[key]
            return None
        return record

    def _prune(self, key: str) -> _Conversation | None:
        """Drop every expired part of the key's record (reads of whole lists, and sweeps)."""
        record = self._live(key)
        if record is None:
            return None
        now = self._clock()
        record.items = {k: v for k, v in record.items.items() if v.expires_at > now}
        record.messages = [m for m in record.messages if m.expires_at > now]
        return self._live(key)

    def _record(self, key: str) -> _Conversation:
        return self._live(key) or self._conversations.setdefault(key, _Conversation())

    async def load_state(self, key: str) -> bytes | None:
        """Return the live state, if any."""
        record = self._live(key)
        return record.state.value if record is not None and record.state is not None else None

    async def save_state(self, key: str, value: bytes, *, expires_at: datetime) -> None:
        """Replace the state."""
        self._record(key).state = _Expiring(bytes(value), expires_at)

    async def put_item(self, key: str, name: str, value: bytes, *, expires_at: datetime) -> None:
        """Add or replace one item."""
        self._record(key).items[name] = _Expiring(bytes(value), expires_at)

    async def get_item(self, key: str, name: str) -> bytes | None:
        """Return one live item."""
        record = self._live(key)
        item = record.items.get(name) if record is not None else None
        if item is None or item.expires_at <= self._clock():
            return None
        return item.value

    async def items(self, key: str) -> dict[str, bytes]:
        """Return the live items."""
        record = self._prune(key)
        return {} if record is None else {k: v.value for k, v in record.items.items()}

    async def drop_items(self, key: str, names: Iterable[str] | None = None) -> None:
        """Forget the named items, or all."""
        record = self._live(key)
        if record is None:
            return
        if names is None:
            record.items.clear()
        else:
            for name in names:
                record.items.pop(name, None)
        self._live(key)

    async def add_messages(
        self, key: str, values: Iterable[bytes], *, expires_at: datetime
    ) -> None:
        """Append message ids."""
        self._record(key).messages.extend(_Expiring(bytes(v), expires_at) for v in values)

    async def take_messages(self, key: str) -> list[bytes]:
        """Return and forget the message ids."""
        record = self._prune(key)
        if record is None:
            return []
        taken = [m.value for m in record.messages]
        record.messages.clear()
        self._live(key)
        return taken

    async def forget(self, key: str) -> None:
        """Drop the whole record."""
        self._conversations.pop(key, None)

    async def count_update(self, key: str, window: int, *, expires_at: datetime) -> int:
        """Count an update in its window."""
        counted = self._floods.get((key, window))
        count = int(counted.value) + 1 if counted is not None else 1
        self._floods[(key, window)] = _Expiring(str(count).encode(), expires_at)
        return count

    async def first_delivery(self, update_key: str, *, expires_at: datetime) -> bool:
        """Remember an update key; tell whether it was new."""
        now = self._clock()
        seen = self._deliveries.get(update_key)
        if seen is not None and seen > now:
            return False
        self._deliveries[update_key] = expires_at
        return True

    async def open_update(self, key: str, opening: Opening) -> Opened:
        """Nothing to batch in process memory: the single operations, in order."""
        first = True
        if opening.update_key is not None:
            if opening.update_expires_at is None:
                raise ValueError("an update key needs update_expires_at")
            first = await self.first_delivery(
                opening.update_key, expires_at=opening.update_expires_at
            )
        count = None
        if opening.window is not None:
            if opening.window_ends is None:
                raise ValueError("a flood window needs window_ends")
            count = await self.count_update(key, opening.window, expires_at=opening.window_ends)
        state = await self.load_state(key)
        return Opened(first, count, state, await self.get_item(key, opening.item))

    async def write(self, key: str, changes: Changes) -> None:
        """Nothing to batch in process memory: the single operations, in order."""
        if changes.drop_items is None or changes.drop_items:
            await self.drop_items(key, changes.drop_items)
        await self.save_state(key, changes.state, expires_at=changes.state_expires_at)
        if changes.put_items and changes.items_expire_at is not None:
            for name, value in changes.put_items.items():
                await self.put_item(key, name, value, expires_at=changes.items_expire_at)
        if changes.messages and changes.messages_expire_at is not None:
            await self.add_messages(key, changes.messages, expires_at=changes.messages_expire_at)

    async def queue_stat(self, value: bytes) -> None:
        """Hold a record."""
        self._stats.append(bytes(value))

    async def count_submission(self) -> None:
        """Count a submission."""
        self._submissions += 1

    async def take_stats(self, min_submissions: int) -> list[bytes]:
        """Release the held records once enough reports went by."""
        async with self._lock:
            if self._submissions < min_submissions or not self._stats:
                return []
            taken, self._stats, self._submissions = self._stats, [], 0
            return taken

    async def sweep(self) -> None:
        """Drop everything expired now, so abandoned conversations leave memory on time."""
        now = self._clock()
        for key in list(self._conversations):
            self._prune(key)
        self._floods = {k: v for k, v in self._floods.items() if v.expires_at > now}
        self._deliveries = {k: v for k, v in self._deliveries.items() if v > now}

    def __len__(self) -> int:
        """Count the conversations held (for tests and benchmarks)."""
        return len(self._conversations)

    async def answers(self) -> bool:
        """This process's memory always answers while the process runs."""
        return True

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """One conversation's updates, one at a time, in this process (the only one)."""
        lock = self._turns.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if self._waiting[key] == 0:
                del self._waiting[key]
                del self._turns[key]

    async def close(self) -> None:
        """Forget everything: nothing of it may outlive the process."""
        self._conversations.clear()
        self._floods.clear()
        self._deliveries.clear()
        self._stats.clear()
