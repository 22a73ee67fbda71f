"""Translate Telegram updates into transport-free flow events.

This module owns the mapping from Telegram's many message kinds to the few events the flow
knows. It must never keep or log what people wrote: a file's caption and name go on to the
flow inside the event, to be sealed with the file, and forwarded text is passed on as typed
text without the forward's origin.
"""

from __future__ import annotations

from telegram import Message, Update
from telegram.constants import MessageEntityType

from bot.intake.values import Attached, Command, Edited, Event, Pressed, Sent, Typed

_KEPT_KINDS = ("voice", "audio", "video", "video_note", "document")
"""Files the bot keeps (sealed) where a story is asked; photos are handled apart."""

_MEDIA_KINDS = (
    "sticker",
    "photo",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "document",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)


def event_from_update(update: Update) -> Event | None:
    """Return the flow event of an update, or None for updates the flow does not handle."""
    if update.callback_query is not None:
        return Pressed(update.callback_query.data or "")
    if update.edited_message is not None:
        return Edited()
    message = update.message
    if message is None:
        return None
    return event_from_message(message)


def event_from_message(message: Message) -> Event:
    """Classify one incoming message."""
    text = message.text
    if text is not None:
        command = _command(message, text)
        return command if command is not None else Typed(text)
    caption = message.caption or ""
    if message.photo:
        largest = message.photo[-1]
        return Attached("photo", largest.file_id, largest.file_size, caption=caption)
    for kind in _KEPT_KINDS:
        media = getattr(message, kind, None)
        if media is not None:
            name = getattr(media, "file_name", None) or ""  # documents, audio and video have one
            return Attached(kind, media.file_id, media.file_size, caption=caption, file_name=name)
    for kind in _MEDIA_KINDS:
        if getattr(message, kind, None):
            return Sent("location" if kind == "venue" else kind)
    return Sent("other")


def _command(message: Message, text: str) -> Command | None:
    entities = message.entities or ()
    if not any(e.type == MessageEntityType.BOT_COMMAND and e.offset == 0 for e in entities):
        return None
    head, _, argument = text.partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    return Command(name, argument.strip())
