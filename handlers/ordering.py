"""Handle different people's updates at the same time, and each person's one at a time.

With PTB's default, one update at a time, a single slow chat (a 429 waited out, a file
downloaded on a bad connection) holds up everyone: people waited seconds for a button's answer
and Telegram's 15 seconds for answering a button ran out. With PTB's plain concurrency, two
updates of one person could race on their conversation (two answers read the same draft).
This processor gives each chat its own lock: different chats run concurrently, up to a limit,
while one chat's updates run in the order Telegram delivered them.

The locks live in this process's memory, keyed by chat id, and go as soon as a chat has
nothing waiting: nothing about who writes outlives the updates in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.metrics import Metrics


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Run updates concurrently across chats, in order within one chat."""

    def __init__(self, max_concurrent_updates: int, metrics: Metrics | None = None) -> None:
        """Allow this many updates in flight at once, across all chats; count them."""
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._queued: dict[int, int] = {}
        self._metrics = metrics

    @property
    def chats_in_flight(self) -> int:
        """How many chats have updates running or waiting (for tests and metrics)."""
        return len(self._locks)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's earlier updates, then run this one; time both together."""
        if self._metrics is None:
            await self._in_order(update, coroutine)
            return
        self._metrics.count_update(_kind_of(update))
        started = time.perf_counter()
        try:
            await self._in_order(update, coroutine)
        finally:
            self._metrics.handling_seconds.observe(time.perf_counter() - started)

    async def _in_order(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = _chat_of(update)
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat, asyncio.Lock())
        self._queued[chat] = self._queued.get(chat, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._queued[chat] -= 1
            if self._queued[chat] == 0:
                del self._queued[chat]
                del self._locks[chat]

    async def initialize(self) -> None:
        """Nothing to set up: locks are made as chats write."""

    async def shutdown(self) -> None:
        """Nothing to close: the application waits for updates in flight itself."""


def _kind_of(update: object) -> str:
    """Name what kind of update this is (a label value from a fixed set, never an id)."""
    if isinstance(update, Update):
        for kind in ("message", "edited_message", "callback_query", "my_chat_member"):
            if getattr(update, kind) is not None:
                return kind
    return "other"


def _chat_of(update: object) -> int | None:
    """The chat an update belongs to; a button press belongs to the chat of its message."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None
