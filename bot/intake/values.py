"""Declare what the intake conversation passes around: events in, replies and effects out.

This module owns the conversation's value types: the draft it remembers between messages, the
events an adapter makes of what a person sent, the replies and effects a step returns, and
the environment and configuration a step may read. They know nothing of Telegram, storage or
cryptography, so a Signal adapter reuses them unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from bot.questions import (
    Option,
)

DRAFT_VERSION: Final = 2

LOST_RESTART: Final = "restart"
LOST_EXPIRED: Final = "expired"

IDLE: Final = "idle"
PICK_LANGUAGE: Final = "pick_language"
SUMMARY: Final = "summary"
EDIT_MENU: Final = "edit_menu"
CONFIRM_CANCEL: Final = "confirm_cancel"
CONFIRM_RESTART: Final = "confirm_restart"
WRITING: Final = "writing"
"""Position of someone who opened their report with the code and writes to the team."""
ANSWER_CONSENT: Final = "answer_consent"
"""Position of someone shown the team's question about sharing their case, not yet answered."""

# ---------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Msg:
    """A translatable message: an English msgid and its parameters, rendered late.

    Parameters that are themselves :class:`Msg` are translated into the same language;
    ``locale`` forces a language (the picker speaks all three at once).
    """

    msgid: str
    params: tuple[tuple[str, object], ...] = ()
    locale: str | None = None


@dataclass(frozen=True)
class Raw:
    """A parameter rendered exactly as given (a mark, not a word): never isolated or translated."""

    text: str


@dataclass(frozen=True)
class Code:
    """A receipt code: shown in the reader's digits, isolated from the surrounding text."""

    text: str


def msg(msgid: str, /, *, locale: str | None = None, **params: object) -> Msg:
    """Build a :class:`Msg`; sorted params keep equal messages equal."""
    return Msg(msgid, tuple(sorted(params.items())), locale)


@dataclass(frozen=True)
class Button:
    """An inline button: its label (a message, or a literal such as a language name)."""

    label: Msg | str
    data: str


@dataclass(frozen=True)
class Reply:
    """One message to show. ``edit_pressed`` replaces the message whose button was pressed."""

    parts: tuple[Msg, ...]
    keyboard: tuple[tuple[Button, ...], ...] = ()
    edit_pressed: bool = False
    compact: bool = False
    """Join the parts line by line (a list), not paragraph by paragraph."""


@dataclass(frozen=True)
class SealText:
    """Seal this typed answer to the admins now; it must never be stored in the clear."""

    kind: str
    index: int
    text: str = field(repr=False)  # never in a log or traceback


@dataclass(frozen=True)
class SealAttachment:
    """Fetch this file from the transport and seal it to the admins as a stream, now.

    ``caption`` and ``file_name`` are the reporter's words about the file and its name; they
    are sealed with the file's description, never kept in the clear.
    """

    question: str
    index: int
    kind: str
    file_ref: str
    size: int | None
    caption: str = field(default="", repr=False)  # repr=False: never in a log or traceback
    file_name: str = field(default="", repr=False)


@dataclass(frozen=True)
class DropSealed:
    """Forget the sealed items of one kind (the reporter skipped or replaced them)."""

    kind: str


@dataclass(frozen=True)
class Submit:
    """Store the report; the service answers with the receipt only after the commit."""


@dataclass(frozen=True)
class RememberLanguage:
    """The reporter chose a language: it is kept with the conversation, in memory only."""

    locale: str


@dataclass(frozen=True)
class ForgetMe:
    """Delete the draft and the remembered language."""


@dataclass(frozen=True)
class LookUpReceipt:
    """Look a receipt code up and tell the reporter what became of the report."""

    code: str


@dataclass(frozen=True)
class WipeChat:
    """Delete every message of this conversation that can still be deleted, both sides."""


@dataclass(frozen=True)
class WriteToTeam:
    """Seal a message to the admins as a new item of the report opened with the code."""

    text: str = field(repr=False)  # never in a log or traceback


@dataclass(frozen=True)
class FileToTeam:
    """Fetch a file and seal it to the admins as a new file of the report opened with the code."""

    kind: str
    file_ref: str
    size: int | None
    caption: str = field(default="", repr=False)  # repr=False: never in a log or traceback
    file_name: str = field(default="", repr=False)


@dataclass(frozen=True)
class AnswerConsent:
    """Record the reporter's yes or no to sharing their case, on the report opened with the code."""

    agreed: bool


@dataclass(frozen=True)
class DeleteUserMessage:
    """Delete the message the reporter just sent (a location or a phone contact)."""


Effect = (
    SealText
    | SealAttachment
    | DropSealed
    | Submit
    | RememberLanguage
    | ForgetMe
    | LookUpReceipt
    | DeleteUserMessage
    | WipeChat
    | WriteToTeam
    | FileToTeam
    | AnswerConsent
)


@dataclass(frozen=True)
class Command:
    """A slash command such as ``/start fa`` (name without slash, lower case)."""

    name: str
    argument: str = ""


@dataclass(frozen=True)
class Pressed:
    """An inline button was pressed; ``data`` is its callback data."""

    data: str


@dataclass(frozen=True)
class Typed:
    """The reporter typed (or forwarded) text."""

    text: str = field(repr=False)  # never in a log or traceback


@dataclass(frozen=True)
class Sent:
    """The reporter sent something that is not text: ``kind`` names it (sticker, photo…)."""

    kind: str


@dataclass(frozen=True)
class Attached:
    """The reporter sent a file the bot can keep: a voice note, photo, video or document.

    ``file_ref`` is the transport's opaque handle for fetching it; ``size`` is what the
    transport announced, if anything; ``caption`` is text sent with the file and
    ``file_name`` the name a document came with ("" when there is none).
    """

    kind: str
    file_ref: str
    size: int | None = None
    caption: str = field(default="", repr=False)  # repr=False: never in a log or traceback
    file_name: str = field(default="", repr=False)


@dataclass(frozen=True)
class Edited:
    """The reporter edited an earlier message."""


Event = Command | Pressed | Typed | Sent | Attached | Edited

OptionMatcher = Callable[[Sequence[Option], str], "str | None"]
"""Match typed text against options (in every language); returns an option id or None."""


def _no_match(options: Sequence[Option], text: str) -> str | None:
    return None


@dataclass(frozen=True)
class Env:
    """What the step may know of the outside world, passed in so the step stays pure."""

    today: date
    fresh_draft_id: str
    language_hint: str | None = None
    unlocked: bool = False
    """The person opened a report with its code within the last hour: they may write to the
    team about it and answer its questions."""
    lost: str | None = None
    """Why nothing is remembered of this person though they may have been mid-report:
    ``LOST_RESTART`` (the bot's memory began recently) or ``LOST_EXPIRED`` (their unsent
    report outlived its lifetime); None when nothing was lost."""


@dataclass(frozen=True)
class FlowConfig:
    """Deployment choices that shape the conversation."""

    max_answer_chars: int = 3000
    max_attachment_bytes: int = 20 * 1024 * 1024
    max_files_per_report: int = 30
    max_report_file_bytes: int = 200 * 1024 * 1024
    emergency_contacts: tuple[str, ...] = ()
    draft_ttl_minutes: int = 24 * 60
    bot_username: str = ""
    """The one true bot's "@name", or empty when the deployment did not set it."""
    verification_phrase: str = ""
    """The phrase the organisation also publishes elsewhere, or empty."""
    match_option: OptionMatcher = field(default=_no_match, compare=False)


@dataclass(frozen=True)
class Draft:
    """Everything the conversation remembers between messages (volatile memory, encrypted)."""

    locale: str | None = None
    position: str = IDLE
    draft_id: str | None = None
    """Random id the draft's sealed items are bound to; the report id is drawn at submission."""
    answers: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    text_counts: Mapping[str, int] = field(default_factory=dict)
    file_counts: Mapping[str, int] = field(default_factory=dict)
    file_bytes: Mapping[str, int] = field(default_factory=dict)
    """Announced sizes of the files kept, per question: what the report's cap counts."""
    files_sent: int = 0
    """Files ever kept in this report; the next file's index, so none is ever reused."""
    selection: tuple[str, ...] = ()
    seq: int = 0
    editing: bool = False
    resume: str | None = None

    @property
    def in_report(self) -> bool:
        """Tell whether a report is being filled in."""
        return self.draft_id is not None

    @property
    def is_blank(self) -> bool:
        """Tell whether there is nothing worth storing."""
        return self == Draft()

    def to_json(self) -> bytes:
        """Serialise for encryption; the format is versioned."""
        data = {
            "v": DRAFT_VERSION,
            "locale": self.locale,
            "position": self.position,
            "draft_id": self.draft_id,
            "answers": {k: list(v) if isinstance(v, tuple) else v for k, v in self.answers.items()},
            "text_counts": dict(self.text_counts),
            "file_counts": dict(self.file_counts),
            "file_bytes": dict(self.file_bytes),
            "files_sent": self.files_sent,
            "selection": list(self.selection),
            "seq": self.seq,
            "editing": self.editing,
            "resume": self.resume,
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Draft:
        """Parse a stored draft; unknown versions give a blank draft rather than a crash."""
        data = json.loads(raw)
        if data.get("v") != DRAFT_VERSION:
            return cls()
        answers = {k: tuple(v) if isinstance(v, list) else v for k, v in data["answers"].items()}
        return cls(
            locale=data["locale"],
            position=data["position"],
            draft_id=data["draft_id"],
            answers=answers,
            text_counts=dict(data["text_counts"]),
            file_counts=dict(data["file_counts"]),
            file_bytes=dict(data["file_bytes"]),
            files_sent=int(data["files_sent"]),
            selection=tuple(data["selection"]),
            seq=int(data["seq"]),
            editing=bool(data["editing"]),
            resume=data["resume"],
        )


@dataclass(frozen=True)
class Outcome:
    """What one step produced."""

    draft: Draft
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()
