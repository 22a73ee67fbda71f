"""Own what the fake Telegram remembers: chats, messages, files, pending updates, queries.

Plain synchronous data with the few invariants Telegram keeps: message ids grow per chat and
are shared by both sides, deleted messages vanish from the chat, updates are confirmed by
``offset`` and never re-numbered, file ids resolve only to files that were sent. HTTP, long
polling and validation live elsewhere. Instances belong to one fake server; nothing here is
module state and nothing here is ever written to disk.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Sender = Literal["user", "bot"]
JsonDict = dict[str, Any]
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


class ApiError(Exception):
    """A refusal the real API would answer with; ``description`` is Telegram's wording."""

    def __init__(self, status: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters
        """ResponseParameters, e.g. ``{"retry_after": 3}`` with a 429."""


FaultKind = Literal["500", "502", "429", "dropped", "answer_lost"]


@dataclass(frozen=True)
class Fault:
    """One failure the fake gives the next call of ``method`` to one chat, as Telegram can.

    ``500``, ``502`` and ``429`` (with ``retry_after``) are answered before the call is
    handled; ``dropped`` closes the connection before handling it, ``answer_lost`` after it
    was handled (the message exists, the bot never hears so): what a flaky network does.
    """

    method: str
    kind: FaultKind
    retry_after: int = 3

    def error(self) -> ApiError:
        """The answer of a fault that answers (not one that drops the connection)."""
        if self.kind == "429":
            return ApiError(
                429,
                f"Too Many Requests: retry after {self.retry_after}",
                {"retry_after": self.retry_after},
            )
        if self.kind == "500":
            return ApiError(500, "Internal Server Error")
        return ApiError(502, "Bad Gateway")


def bad_request(problem: str) -> ApiError:
    """Build the 400 Telegram answers for a request it understood but refuses."""
    return ApiError(400, f"Bad Request: {problem}")


@dataclass
class StoredMessage:
    """One message as Telegram holds it now (``data`` is the Bot API Message object)."""

    message_id: int
    sender: Sender
    data: JsonDict
    format_key: object = None
    deleted: bool = False


@dataclass
class ChatState:
    """One chat: its Chat object, its messages in id order, whether the bot may write."""

    chat: JsonDict
    chat_instance: str
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    started: bool = False
    blocked: bool = False
    outages: int = 0
    """Answer this many of the bot's next writes to the chat with 502, as an overloaded
    Telegram does; tests set it to make a send fail once."""
    last_action: str | None = None
    reply_keyboard: JsonDict | None = None
    latency: float = 0.0
    """Seconds the fake waits before answering each of the bot's calls to this chat: a person
    on a slow connection, as the bot sees them."""
    faults: list[Fault] = field(default_factory=list)
    """Failures waiting for the bot's next calls to this chat, in order (see :class:`Fault`)."""

    def take_fault(self, method: str) -> Fault | None:
        """Remove and return the first fault waiting for a call of ``method``."""
        for index, fault in enumerate(self.faults):
            if fault.method.lower() == method.lower():
                return self.faults.pop(index)
        return None

    @property
    def chat_id(self) -> int:
        """The chat's identifier."""
        return int(self.chat["id"])

    def add(
        self, sender: Sender, build: Callable[[int], JsonDict], format_key: object
    ) -> StoredMessage:
        """Store a new message under the next id of this chat."""
        message_id = self.next_message_id
        self.next_message_id += 1
        stored = StoredMessage(message_id, sender, build(message_id), format_key)
        self.messages[message_id] = stored
        return stored

    def visible(self, message_id: int) -> StoredMessage | None:
        """Return a message that exists and was not deleted."""
        stored = self.messages.get(message_id)
        return None if stored is None or stored.deleted else stored

    def visible_messages(self) -> list[StoredMessage]:
        """Every non-deleted message, oldest first."""
        return [stored for stored in self.messages.values() if not stored.deleted]


@dataclass(frozen=True)
class StoredFile:
    """A file Telegram knows; content is generated when none was uploaded (huge files)."""

    file_id: str
    file_unique_id: str
    size: int
    file_path: str
    content: bytes | None = None

    def read(self) -> bytes:
        """Return the file's bytes: the upload, or a deterministic filler of the right size."""
        if self.content is not None:
            return self.content
        seed = hashlib.sha256(self.file_unique_id.encode()).digest()
        repeats, rest = divmod(self.size, len(seed))
        return seed * repeats + seed[:rest]


@dataclass
class CallbackState:
    """A callback query the bot has (or has not yet) answered."""

    query_id: str
    chat_id: int
    answered: bool = False
    answer: JsonDict | None = None


class World:
    """Everything the fake Telegram remembers for one bot."""

    def __init__(self, bot_user: JsonDict, clock: Callable[[], float]) -> None:
        if not bot_user.get("is_bot"):
            raise ValueError("the bot user must be a bot")
        self.bot_user = bot_user
        self._clock = clock
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.pending: list[JsonDict] = []
        self.next_update_id = 1
        self.highest_fetched = 0
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.callback_queries: dict[str, CallbackState] = {}
        self.webhook_url = ""
        self.webhook_secret = ""
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.menu_buttons: dict[int | None, JsonDict] = {}

    def now(self) -> int:
        """The current Unix time, as Telegram stamps messages."""
        return int(self._clock())

    def chat(self, chat: JsonDict) -> ChatState:
        """Return the state of a chat, creating it the first time it is seen."""
        chat_id = int(chat["id"])
        state = self.chats.get(chat_id)
        if state is None:
            state = ChatState(chat=dict(chat), chat_instance=str(secrets.randbits(62)))
            self.chats[chat_id] = state
        return state

    def find_chat(self, chat_id: int | str) -> ChatState:
        """Resolve a chat_id parameter (number or @username) as Telegram does."""
        if isinstance(chat_id, int):
            state = self.chats.get(chat_id)
        else:
            username = chat_id.removeprefix("@").lower()
            state = next(
                (
                    candidate
                    for candidate in self.chats.values()
                    if str(candidate.chat.get("username", "")).lower() == username
                    and chat_id.startswith("@")
                ),
                None,
            )
        if state is None:
            raise bad_request("chat not found")
        return state

    def writable_chat(self, chat_id: int | str) -> ChatState:
        """Resolve a chat the bot wants to write to; refuse as Telegram would."""
        state = self.find_chat(chat_id)
        if state.outages > 0:
            state.outages -= 1
            raise ApiError(502, "Bad Gateway")
        if state.chat["type"] == "private":
            if state.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if not state.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return state

    def add_update(self, kind: str, payload: JsonDict) -> int:
        """Queue an update for the bot; return its id."""
        update_id = self.next_update_id
        self.next_update_id += 1
        if kind in self.allowed_updates:
            self.pending.append({"update_id": update_id, kind: payload})
        return update_id

    def poll(self, offset: int | None, limit: int) -> list[JsonDict]:
        """Confirm what ``offset`` confirms, then return up to ``limit`` pending updates.

        A positive offset forgets every update below it; a negative one keeps only that many
        of the newest, exactly as getUpdates documents.
        """
        if offset is not None and offset < 0:
            self.pending = self.pending[offset:]
        elif offset is not None:
            self.pending = [update for update in self.pending if update["update_id"] >= offset]
        return self.pending[:limit]

    def add_file(
        self, size: int, *, content: bytes | None = None, folder: str = "documents", name: str = ""
    ) -> StoredFile:
        """Register a file (uploaded or user-sent) and return it."""
        unique = secrets.token_urlsafe(12)
        suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
        stored = StoredFile(
            file_id=f"BQAC{secrets.token_urlsafe(48)}",
            file_unique_id=f"AgAD{unique}",
            size=len(content) if content is not None else size,
            file_path=f"{folder}/file_{len(self.files)}.{suffix}",
            content=content,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def iter_messages(self) -> Iterator[tuple[ChatState, StoredMessage]]:
        """Every stored message of every chat, deleted ones included."""
        for state in self.chats.values():
            for stored in state.messages.values():
                yield state, stored
