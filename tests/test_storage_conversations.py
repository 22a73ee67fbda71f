"""One contract for both volatile conversation stores: process memory and Redis.

The Redis cases run against the server at 127.0.0.1:6379 (database 15, emptied before each
test) and are skipped, with the reason, only where no Redis answers there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from storage.conversations import (
    Changes,
    ConversationStore,
    MemoryConversations,
    Opened,
    Opening,
)
from storage.redis_conversations import (
    PersistentRedis,
    RedisConversations,
    check_not_persistent,
)

REDIS_URL = "redis://127.0.0.1:6379/15"
KEY = "a" * 64
OTHER = "b" * 64


def later(minutes: int = 60) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


async def redis_or_skip() -> Redis:
    client: Redis = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as exc:
        await client.aclose()
        pytest.skip(f"no Redis answers at 127.0.0.1:6379 ({type(exc).__name__})")
    await client.flushdb()
    return client


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ConversationStore]:
    if request.param == "memory":
        memory = MemoryConversations()
        yield memory
        await memory.close()
        return
    client = await redis_or_skip()
    await client.aclose()
    redis = await RedisConversations.connect(REDIS_URL)
    yield redis
    await redis.close()


async def test_state_round_trips_and_is_per_key(store: ConversationStore) -> None:
    assert await store.load_state(KEY) is None
    await store.save_state(KEY, b"one", expires_at=later())
    await store.save_state(OTHER, b"two", expires_at=later())
    assert await store.load_state(KEY) == b"one"
    await store.save_state(KEY, b"three", expires_at=later())
    assert await store.load_state(KEY) == b"three"
    assert await store.load_state(OTHER) == b"two"


async def test_items_are_added_one_by_one_and_dropped(store: ConversationStore) -> None:
    for index in range(3):
        await store.put_item(KEY, f"story:{index}", bytes([index]) * 5, expires_at=later())
    assert await store.items(KEY) == {f"story:{i}": bytes([i]) * 5 for i in range(3)}
    assert await store.get_item(KEY, "story:2") == bytes([2]) * 5
    assert await store.get_item(KEY, "story:9") is None
    await store.drop_items(KEY, ["story:1"])
    assert set(await store.items(KEY)) == {"story:0", "story:2"}
    await store.drop_items(KEY)
    assert await store.items(KEY) == {}


async def test_messages_are_taken_once_in_order(store: ConversationStore) -> None:
    await store.add_messages(KEY, [b"1", b"2"], expires_at=later())
    await store.add_messages(KEY, [b"3"], expires_at=later())
    assert await store.take_messages(KEY) == [b"1", b"2", b"3"]
    assert await store.take_messages(KEY) == []


async def test_forget_drops_everything_of_one_key(store: ConversationStore) -> None:
    await store.save_state(KEY, b"s", expires_at=later())
    await store.put_item(KEY, "x:0", b"i", expires_at=later())
    await store.add_messages(KEY, [b"m"], expires_at=later())
    await store.save_state(OTHER, b"keep", expires_at=later())
    await store.forget(KEY)
    assert await store.load_state(KEY) is None
    assert await store.items(KEY) == {}
    assert await store.take_messages(KEY) == []
    assert await store.load_state(OTHER) == b"keep"


async def test_expired_values_are_gone(store: ConversationStore) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    await store.save_state(KEY, b"old", expires_at=past)
    await store.put_item(KEY, "x:0", b"old", expires_at=past)
    await store.add_messages(KEY, [b"1"], expires_at=past)
    await store.sweep()
    assert await store.load_state(KEY) is None
    assert await store.items(KEY) == {}
    assert await store.take_messages(KEY) == []


async def test_flood_counts_per_window(store: ConversationStore) -> None:
    counts = [await store.count_update(KEY, 7, expires_at=later()) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert await store.count_update(KEY, 8, expires_at=later()) == 1
    assert await store.count_update(OTHER, 7, expires_at=later()) == 1


async def test_an_update_is_first_only_once(store: ConversationStore) -> None:
    assert await store.first_delivery("u1", expires_at=later())
    assert not await store.first_delivery("u1", expires_at=later())
    assert await store.first_delivery("u2", expires_at=later())


async def test_an_update_opens_with_its_claim_its_count_and_both_records(
    store: ConversationStore,
) -> None:
    opening = Opening("draft", "u1", later(), window=7, window_ends=later())
    assert await store.open_update(KEY, opening) == Opened(True, 1, None, None)
    await store.save_state(KEY, b"persona", expires_at=later())
    await store.put_item(KEY, "draft", b"record", expires_at=later())
    again = await store.open_update(KEY, opening)
    assert again == Opened(False, 2, b"persona", b"record")  # a duplicate counts as a delivery
    uncounted = Opening("draft", "u2", later())  # a wipe: claimed, not counted
    assert await store.open_update(KEY, uncounted) == Opened(True, None, b"persona", b"record")
    assert await store.count_update(KEY, 7, expires_at=later()) == 3
    assert await store.open_update(KEY, Opening("draft")) == Opened(
        True, None, b"persona", b"record"
    )


async def test_an_update_writes_its_changes_in_order(store: ConversationStore) -> None:
    await store.put_item(KEY, "story:0", b"old", expires_at=later())
    await store.put_item(KEY, "story:1", b"gone", expires_at=later())
    await store.write(
        KEY,
        Changes(
            b"state",
            later(),
            drop_items=("story:0", "story:1"),
            put_items={"story:0": b"new", "draft": b"record"},
            items_expire_at=later(),
            messages=(b"m1", b"m2"),
            messages_expire_at=later(),
        ),
    )
    assert await store.load_state(KEY) == b"state"
    assert await store.items(KEY) == {"story:0": b"new", "draft": b"record"}
    await store.write(KEY, Changes(b"idle", later(), drop_items=None))
    assert await store.items(KEY) == {}
    assert await store.load_state(KEY) == b"idle"
    assert await store.take_messages(KEY) == [b"m1", b"m2"]


async def test_written_items_and_messages_expire_when_told(store: ConversationStore) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    await store.write(
        KEY,
        Changes(
            b"state",
            later(),
            put_items={"draft": b"record"},
            items_expire_at=past,
            messages=(b"m",),
            messages_expire_at=past,
        ),
    )
    await store.sweep()
    assert await store.items(KEY) == {}
    assert await store.take_messages(KEY) == []
    assert await store.load_state(KEY) == b"state"


def test_changes_without_an_expiry_are_refused() -> None:
    with pytest.raises(ValueError, match="items_expire_at"):
        Changes(b"s", later(), put_items={"draft": b"r"})
    with pytest.raises(ValueError, match="messages_expire_at"):
        Changes(b"s", later(), messages=(b"m",))


async def test_statistics_wait_for_enough_submissions(store: ConversationStore) -> None:
    await store.queue_stat(b"r1")
    await store.count_submission()
    await store.queue_stat(b"r2")
    await store.count_submission()
    assert await store.take_stats(3) == []
    await store.count_submission()  # a report without consent still covers the batch
    assert sorted(await store.take_stats(3)) == [b"r1", b"r2"]
    assert await store.take_stats(1) == []  # released once, and the cover starts again
    await store.queue_stat(b"r3")
    assert await store.take_stats(1) == []


async def test_the_memory_began_at_or_before_now(store: ConversationStore) -> None:
    assert await store.started_at() <= datetime.now(UTC)


async def test_a_persisting_redis_is_refused() -> None:
    client = await redis_or_skip()
    try:
        settings = await client.config_get("save")
        original = settings.get("save", settings.get(b"save", ""))
        await client.config_set("save", "3600 1")
        try:
            with pytest.raises(PersistentRedis, match="persistence is on"):
                await check_not_persistent(client)
        finally:
            await client.config_set("save", original)
        await check_not_persistent(client)
    finally:
        await client.aclose()


async def test_memory_store_forgets_when_time_passes() -> None:
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    memory = MemoryConversations(clock=lambda: now[0])
    await memory.save_state(KEY, b"s", expires_at=now[0] + timedelta(hours=1))
    await memory.put_item(KEY, "x:0", b"i", expires_at=now[0] + timedelta(hours=2))
    now[0] += timedelta(minutes=90)
    assert await memory.load_state(KEY) is None
    assert await memory.items(KEY) == {"x:0": b"i"}
    now[0] += timedelta(hours=1)
    await memory.sweep()
    assert len(memory) == 0


async def test_with_redis_another_worker_waits_until_the_update_is_over() -> None:
    """A second worker's update of the same person starts only when the first one's turn
    ends, and then reads what it wrote; a turn that is over is free at once."""
    client = await redis_or_skip()
    await client.aclose()
    first = await RedisConversations.connect(REDIS_URL)
    second = await RedisConversations.connect(REDIS_URL)
    read: list[bytes | None] = []

    async def other_worker() -> None:
        async with second.turn(KEY):
            read.append((await second.open_update(KEY, Opening(item="draft"))).state)

    try:
        async with first.turn(KEY):
            assert (await first.open_update(KEY, Opening(item="draft"))).state is None
            waiting = asyncio.create_task(other_worker())
            await asyncio.sleep(0.3)
            assert not waiting.done()  # the first update holds the person's turn
            await first.write(KEY, Changes(state=b"written", state_expires_at=later()))
        await asyncio.wait_for(waiting, timeout=5)
        assert read == [b"written"]
        async with first.turn(OTHER):
            await first.open_update(OTHER, Opening(item="draft"))
        async with second.turn(OTHER):
            await asyncio.wait_for(second.open_update(OTHER, Opening(item="draft")), timeout=1)
    finally:
        await first.close()
        await second.close()
