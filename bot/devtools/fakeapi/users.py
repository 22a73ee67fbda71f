"""Own the person on the other side: updates a Telegram user would cause, and what they see.

A :class:`FakeUser` types text and commands, presses inline buttons, sends stickers, photos,
voice notes, documents, locations and contacts, edits and forwards messages, blocks the bot,
or writes in a group; each action becomes the update real Telegram would deliver, shaped per
the spec. :meth:`FakeUser.chat_messages` is the chat as the person sees it now. This module
must never talk HTTP and never invent updates the real API could not produce.
"""

from __future__ import annotations

import copy
import mimetypes
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.devtools.fakeapi.state import CallbackState, ChatState, JsonDict, StoredMessage, World

ForwardOrigin = Literal["user", "hidden_user", "channel"]
_LEADING_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_])")
_KINDS = ("text", "photo", "voice", "document", "sticker", "location", "contact")


class UpdateSink(Protocol):
    """Where a fake user's actions go: the fake server's world and its update queue."""

    @property
    def world(self) -> World:
        """The state the user's messages are stored in."""
        ...

    async def inject(self, kind: str, payload: JsonDict) -> int:
        """Queue one update of ``kind`` and return its update id."""
        ...


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class ChatMessage:
    """One visible message of a chat, from either side."""

    message_id: int
    sender: Literal["user", "bot"]
    kind: str
    text: str | None
    buttons: tuple[tuple[Button, ...], ...]
    protected: bool
    edited: bool
    reply_to: int | None

    @property
    def button_texts(self) -> list[str]:
        """Every button label, row by row."""
        return [button.text for row in self.buttons for button in row]

    @property
    def callback_data(self) -> list[str]:
        """Every callback_data, row by row (url buttons have none)."""
        return [b.callback_data for row in self.buttons for b in row if b.callback_data]


def view(stored: StoredMessage) -> ChatMessage:
    """Describe a stored message the way a person looking at the chat would."""
    data = stored.data
    rows = data.get("reply_markup", {}).get("inline_keyboard", [])
    buttons = tuple(
        tuple(Button(b["text"], b.get("callback_data"), b.get("url")) for b in row) for row in rows
    )
    reply = data.get("reply_to_message")
    return ChatMessage(
        message_id=stored.message_id,
        sender=stored.sender,
        kind=next((kind for kind in _KINDS if kind in data), "other"),
        text=data.get("text", data.get("caption")),
        buttons=buttons,
        protected=bool(data.get("has_protected_content")),
        edited="edit_date" in data,
        reply_to=None if reply is None else int(reply["message_id"]),
    )


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class FakeUser:
    """A Telegram user in one chat (private, or a group they share with the bot)."""

    def __init__(self, sink: UpdateSink, user: JsonDict, chat: JsonDict) -> None:
        if user.get("is_bot") is not False or "id" not in user or "id" not in chat:
            raise ValueError("a fake user needs a non-bot user and a chat")
        self._sink = sink
        self._user = dict(user)
        self._chat = dict(chat)
        sink.world.chat(self._chat)

    @property
    def user_id(self) -> int:
        """The user's Telegram id."""
        return int(self._user["id"])

    @property
    def chat_id(self) -> int:
        """The chat this user writes in (their own id in a private chat)."""
        return int(self._chat["id"])

    @property
    def user(self) -> JsonDict:
        """The Bot API User object of this person."""
        return dict(self._user)

    @property
    def last_message_id(self) -> int:
        """The highest message id used in this chat so far (deleted messages included)."""
        return self._state.next_message_id - 1

    @property
    def _state(self) -> ChatState:
        return self._sink.world.chat(self._chat)

    async def send_text(self, text: str) -> int:
        """Type and send a text; a leading /command gets its bot_command entity as in clients."""
        content: JsonDict = {"text": text}
        command = _LEADING_COMMAND.match(text)
        if command is not None:
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_length(command.group(0))}
            ]
        return await self._send(content)

    async def send_command(self, command: str, args: str = "", *, mention: bool = False) -> int:
        """Send ``/command [args]`` (``/command@bot`` when mentioning, as in groups)."""
        if not command.startswith("/"):
            command = f"/{command}"
        if mention:
            command = f"{command}@{self._sink.world.bot_user['username']}"
        text = f"{command} {args}" if args else command
        entity = {"type": "bot_command", "offset": 0, "length": _utf16_length(command)}
        return await self._send({"text": text, "entities": [entity]})

    async def press(self, button: str, message: int | ChatMessage | None = None) -> int:
        """Press an inline button (by label or callback_data) on the newest or a given message."""
        stored = self._message_with_buttons(message)
        rows = stored.data["reply_markup"]["inline_keyboard"]
        flat = [b for row in rows for b in row]
        chosen = next((b for b in flat if b["text"] == button), None) or next(
            (b for b in flat if b.get("callback_data") == button), None
        )
        if chosen is None:
            labels = [b["text"] for b in flat]
            raise LookupError(f"no button {button!r} on message {stored.message_id}: {labels}")
        if "callback_data" not in chosen:
            raise ValueError("only callback buttons can be pressed in the fake")
        return await self._callback(stored, chosen["callback_data"])

    async def press_forged(self, data: str, message: int | ChatMessage | None = None) -> int:
        """Press a button that is not there: callback data a modified client made up.

        Telegram does not check that the data belongs to a button of the message, so a bot
        must treat it as untrusted input.
        """
        return await self._callback(self._message_with_buttons(message), data)

    async def _callback(self, stored: StoredMessage, data: str) -> int:
        """Send the callback query of a press on ``stored`` carrying ``data``."""
        world = self._sink.world
        query_id = str(secrets.randbits(63))
        world.callback_queries[query_id] = CallbackState(query_id, self.chat_id)
        payload: JsonDict = {
            "id": query_id,
            "from": self.user,
            "message": copy.deepcopy(stored.data),
            "chat_instance": self._state.chat_instance,
            "data": data,
        }
        return await self._sink.inject("callback_query", payload)

    async def send_sticker(self, emoji: str = "👍") -> int:
        """Send a regular sticker."""
        stored = self._sink.world.add_file(24_000, folder="stickers", name="sticker.webp")
        sticker: JsonDict = {
            **_file_fields(stored.file_id, stored.file_unique_id, stored.size),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._send({"sticker": sticker})

    async def send_photo(
        self, size_bytes: int = 60_000, *, caption: str | None = None, content: bytes | None = None
    ) -> int:
        """Send a photo; Telegram delivers several sizes, the largest last."""
        world = self._sink.world
        thumb = world.add_file(1_500, folder="photos", name="thumb.jpg")
        full = world.add_file(size_bytes, content=content, folder="photos", name="photo.jpg")
        sizes = [
            {
                **_file_fields(thumb.file_id, thumb.file_unique_id, thumb.size),
                "width": 90,
                "height": 68,
            },
            {
                **_file_fields(full.file_id, full.file_unique_id, full.size),
                "width": 1280,
                "height": 960,
            },
        ]
        return await self._send({"photo": sizes, **_caption(caption)})

    async def send_voice(
        self, duration: int = 3, size_bytes: int | None = None, *, content: bytes | None = None
    ) -> int:
        """Send a voice note (OGG/Opus, about 2 kB per second unless a size is given)."""
        size = size_bytes if size_bytes is not None else 2_000 * duration
        stored = self._sink.world.add_file(size, content=content, folder="voice", name="v.oga")
        voice: JsonDict = {
            **_file_fields(stored.file_id, stored.file_unique_id, stored.size),
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        return await self._send({"voice": voice})

    async def send_document(
        self,
        name: str = "document.pdf",
        size_bytes: int = 10_000,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        content: bytes | None = None,
    ) -> int:
        """Send a file of any size (Telegram lets bots download only up to 20 MB)."""
        stored = self._sink.world.add_file(
            size_bytes, content=content, folder="documents", name=name
        )
        document: JsonDict = {
            **_file_fields(stored.file_id, stored.file_unique_id, stored.size),
            "file_name": name,
            "mime_type": mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream",
        }
        return await self._send({"document": document, **_caption(caption)})

    async def send_location(self, latitude: float, longitude: float) -> int:
        """Share a location."""
        return await self._send({"location": {"latitude": latitude, "longitude": longitude}})

    async def send_contact(
        self, phone_number: str, first_name: str = "Contact", *, user_id: int | None = None
    ) -> int:
        """Share a contact card."""
        contact: JsonDict = {"phone_number": phone_number, "first_name": first_name}
        if user_id is not None:
            contact["user_id"] = user_id
        return await self._send({"contact": contact})

    async def forward_text(self, text: str, origin: ForwardOrigin = "user") -> int:
        """Forward someone else's text message into the chat."""
        now = self._sink.world.now()
        forward: JsonDict
        if origin == "user":
            sender = {"id": 424242, "is_bot": False, "first_name": "Someone"}
            forward = {"type": "user", "date": now - 60, "sender_user": sender}
        elif origin == "hidden_user":
            forward = {"type": "hidden_user", "date": now - 60, "sender_user_name": "Someone"}
        else:
            channel = {"id": -1001234567890, "type": "channel", "title": "A channel"}
            forward = {"type": "channel", "date": now - 60, "chat": channel, "message_id": 7}
        return await self._send({"text": text, "forward_origin": forward})

    async def edit_last_text(self, new_text: str) -> int:
        """Edit this user's newest own (not forwarded) text message: an edited_message update."""
        mine = [
            stored
            for stored in self._state.visible_messages()
            if stored.sender == "user"
            and stored.data.get("from", {}).get("id") == self.user_id
            and "text" in stored.data
            and "forward_origin" not in stored.data
        ]
        if not mine:
            raise LookupError("this user has no text message to edit")
        stored = mine[-1]
        stored.data["text"] = new_text
        stored.data.pop("entities", None)
        stored.data["edit_date"] = self._sink.world.now()
        return await self._sink.inject("edited_message", copy.deepcopy(stored.data))

    async def block_bot(self) -> int:
        """Block the bot (private chats): its messages now fail with 403."""
        self._require_private()
        self._state.blocked = True
        return await self._member_change("member", "kicked")

    async def unblock_bot(self) -> int:
        """Unblock the bot again."""
        self._require_private()
        self._state.blocked = False
        return await self._member_change("kicked", "member")

    async def add_bot_to_group(self) -> int:
        """Add the bot to this user's group (a my_chat_member update)."""
        if self._chat["type"] == "private":
            raise ValueError("only a group can have the bot added")
        return await self._member_change("left", "member")

    def chat_messages(self) -> list[ChatMessage]:
        """The chat as this user sees it now: visible messages of both sides, oldest first."""
        return [view(stored) for stored in self._state.visible_messages()]

    def bot_messages(self) -> list[ChatMessage]:
        """The bot's visible messages in this chat, oldest first."""
        return [message for message in self.chat_messages() if message.sender == "bot"]

    def deleted_count(self) -> int:
        """How many messages of this chat were deleted so far, by either side."""
        return sum(1 for stored in self._state.messages.values() if stored.deleted)

    def last_bot_message(self) -> ChatMessage | None:
        """The bot's newest visible message in this chat."""
        messages = self.bot_messages()
        return messages[-1] if messages else None

    async def _send(self, content: dict[str, Any]) -> int:
        state = self._state
        if state.blocked:
            raise RuntimeError("the user blocked the bot; unblock_bot() first")
        if state.chat["type"] == "private":
            state.started = True
        world = self._sink.world

        def build(message_id: int) -> JsonDict:
            return {
                "message_id": message_id,
                "from": self.user,
                "chat": state.chat,
                "date": world.now(),
                **content,
            }

        stored = state.add("user", build, None)
        return await self._sink.inject("message", copy.deepcopy(stored.data))

    def _message_with_buttons(self, message: int | ChatMessage | None) -> StoredMessage:
        state = self._state
        if message is None:
            found = [
                stored
                for stored in state.visible_messages()
                if stored.sender == "bot"
                and stored.data.get("reply_markup", {}).get("inline_keyboard")
            ]
            if not found:
                raise LookupError("no visible bot message with an inline keyboard")
            return found[-1]
        message_id = message if isinstance(message, int) else message.message_id
        stored = state.visible(message_id)
        if stored is None or "reply_markup" not in stored.data:
            raise LookupError(f"message {message_id} is gone or has no inline keyboard")
        return stored

    def _require_private(self) -> None:
        if self._chat["type"] != "private":
            raise ValueError("only a private chat can block the bot")

    async def _member_change(self, old: str, new: str) -> int:
        bot = self._sink.world.bot_user
        payload: JsonDict = {
            "chat": self._state.chat,
            "from": self.user,
            "date": self._sink.world.now(),
            "old_chat_member": _member(old, bot),
            "new_chat_member": _member(new, bot),
        }
        return await self._sink.inject("my_chat_member", copy.deepcopy(payload))


def _member(status: str, user: JsonDict) -> JsonDict:
    member: JsonDict = {"status": status, "user": user}
    if status == "kicked":
        member["until_date"] = 0
    return member


def _file_fields(file_id: str, file_unique_id: str, size: int) -> JsonDict:
    return {"file_id": file_id, "file_unique_id": file_unique_id, "file_size": size}


def _caption(caption: str | None) -> JsonDict:
    return {} if caption is None else {"caption": caption}
