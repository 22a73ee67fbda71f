"""Write and read the answers document: the one item that ties a report's parts together.

The intake seals this document to the admins at submission, bound to the report id
(``docs/crypto.md`` §16). Format 2 carries, besides the choice answers:

- ``draft``: the random id every item sealed during the conversation is bound to. The report
  id is drawn only at submission, so nothing written before it (attachment chunks, or a memory
  image of a running server) names the report; an item moved from another report fails to
  open, because that report's own document names another draft id.
- ``reporter_key``: the public half of the reporter's reply key. The database keeps a copy to
  seal answers to; the admin command line refuses to answer when the two differ, so a database
  writer cannot swap in a key of their own and read the team's answer.

Format 1 (reports submitted before) has neither: its items are bound to the report id and its
reply key is unauthenticated. This module is pure: no keys, no storage.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bot.crypto.values import ItemRef
from bot.questions import (
    ANSWERS_KIND,
    CONSENT_KIND,
    FOLLOWUP_FILE_KIND,
    FOLLOWUP_KIND,
    FOLLOWUP_META_KIND,
    NOTE_KIND,
    ORIGINAL_KINDS,
    REPLY_KIND,
)

ANSWERS_VERSION: Final = 2
"""The format written; 1 and 2 are read."""
VERSIONS_READ: Final = (1, 2)

TEAM_KINDS: Final = frozenset(
    {
        ANSWERS_KIND,
        NOTE_KIND,
        REPLY_KIND,
        FOLLOWUP_KIND,
        FOLLOWUP_META_KIND,
        FOLLOWUP_FILE_KIND,
        CONSENT_KIND,
    }
)
"""Items written at or after submission (by the team, or by the reporter with their code),
bound to the report id in every format."""

NOT_SENT_BY_REPORTER: Final = frozenset({ANSWERS_KIND, NOTE_KIND, REPLY_KIND, *ORIGINAL_KINDS})
"""Kinds the queue's "Messages and files" leaves out: the answers document every report has,
the team's notes and answers, and the originals of redacted items. Each file counts once, by
its description item (its content is a stream of chunks, not an item)."""

_MAX_ANSWER_ID = 64
_MAX_DRAFT_ID = 64
_MONTH: Final = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class AnswersFormatError(ValueError):
    """Signal an answers document this code cannot read; the message never quotes it."""

    def __init__(self) -> None:
        """Use one generic message: the document is decrypted content."""
        super().__init__("the decrypted answers document is not in a known format")


@dataclass(frozen=True)
class AnswersDocument:
    """The choice answers of one report and, from format 2, what binds its parts."""

    locale: str | None
    month: str | None
    answers: Mapping[str, str | tuple[str, ...]]
    version: int = ANSWERS_VERSION
    draft_id: str | None = None
    reporter_key: bytes | None = None

    def __repr__(self) -> str:
        """Show the format and size only: the answers are decrypted content."""
        return f"AnswersDocument(v{self.version}, <{len(self.answers)} answers>)"

    def item_ref(self, report_id: str, kind: str, index: int) -> ItemRef:
        """Return the binding an item of this report was sealed under.

        Format 2: items the reporter gave during the conversation are bound to the draft id;
        the document itself and the team's items to the report id. Format 1: all to the report.
        """
        if self.draft_id is None or kind in TEAM_KINDS:
            return ItemRef(report_id, kind, index)
        return ItemRef(self.draft_id, kind, index)


def encode_answers(document: AnswersDocument) -> bytes:
    """Serialise a format-2 document canonically (sorted keys, UTF-8, no extra spaces)."""
    if document.version != ANSWERS_VERSION or document.draft_id is None:
        raise ValueError("only format 2 documents with a draft id are written")
    if document.reporter_key is None or len(document.reporter_key) != 32:
        raise ValueError("a format 2 document names the 32-byte reporter key")
    data = {
        "v": ANSWERS_VERSION,
        "locale": document.locale,
        "month": document.month,
        "answers": {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in document.answers.items()
        },
        "draft": document.draft_id,
        "reporter_key": base64.b64encode(document.reporter_key).decode("ascii"),
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _answer_value(value: object) -> str | tuple[str, ...]:
    """Accept an option id or a list of them; anything else is an unknown format."""
    if isinstance(value, str) and 0 < len(value) <= _MAX_ANSWER_ID:
        return value
    if isinstance(value, list) and all(
        isinstance(v, str) and 0 < len(v) <= _MAX_ANSWER_ID for v in value
    ):
        return tuple(value)
    raise AnswersFormatError()


def _reporter_key(value: object) -> bytes:
    """Read the base64 reporter key of a format-2 document."""
    if not isinstance(value, str):
        raise AnswersFormatError()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise AnswersFormatError() from None
    if len(raw) != 32:
        raise AnswersFormatError()
    return raw


def decode_answers(plaintext: bytes) -> AnswersDocument:
    """Parse a decrypted answers document (format 1 or 2); AnswersFormatError otherwise."""
    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AnswersFormatError() from None
    if not isinstance(document, dict):
        raise AnswersFormatError()
    version = document.get("v")
    if isinstance(version, bool) or version not in VERSIONS_READ:
        raise AnswersFormatError()
    expected = {"v", "locale", "month", "answers"} | (
        {"draft", "reporter_key"} if version == 2 else set()
    )
    if set(document) != expected:
        raise AnswersFormatError()
    answers, locale, month = document["answers"], document["locale"], document["month"]
    if not isinstance(answers, dict):
        raise AnswersFormatError()
    if locale is not None and not isinstance(locale, str):
        raise AnswersFormatError()
    if month is not None and not (isinstance(month, str) and _MONTH.fullmatch(month)):
        raise AnswersFormatError()
    parsed: dict[str, str | tuple[str, ...]] = {}
    for key, value in answers.items():
        if not 0 < len(key) <= _MAX_ANSWER_ID:
            raise AnswersFormatError()
        parsed[key] = _answer_value(value)
    if version == 1:
        return AnswersDocument(locale=locale, month=month, answers=parsed, version=1)
    draft = document["draft"]
    if not isinstance(draft, str) or not 0 < len(draft) <= _MAX_DRAFT_ID:
        raise AnswersFormatError()
    return AnswersDocument(
        locale=locale,
        month=month,
        answers=parsed,
        version=2,
        draft_id=draft,
        reporter_key=_reporter_key(document["reporter_key"]),
    )


CONSENT_VERSION: Final = 1
"""Format of a sealed consent answer (``docs/crypto.md`` §17)."""


def encode_consent(agreed: bool) -> bytes:
    """Write a reporter's answer to "may we share your case?".

    ``{"agreed": 1, "v": 1}`` or ``{"agreed": 0, "v": 1}``: a digit, not true or false, so
    that a yes and a no seal to the same length and the database cannot tell them apart.
    """
    return json.dumps({"v": CONSENT_VERSION, "agreed": int(agreed)}, sort_keys=True).encode()


def decode_consent(plaintext: bytes) -> bool:
    """Read a consent answer back; anything else is an AnswersFormatError."""
    try:
        document = json.loads(plaintext)
    except (UnicodeDecodeError, ValueError):
        raise AnswersFormatError() from None
    if not isinstance(document, dict) or set(document) != {"v", "agreed"}:
        raise AnswersFormatError()
    if document["v"] != CONSENT_VERSION or document["agreed"] not in (0, 1):
        raise AnswersFormatError()
    if isinstance(document["agreed"], bool):
        raise AnswersFormatError()
    return bool(document["agreed"] == 1)
