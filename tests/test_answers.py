"""Test the answers document: format 2 round trips, binds items and names the reply key."""

from __future__ import annotations

import json

import pytest

from bot.answers import AnswersDocument, AnswersFormatError, decode_answers, encode_answers

KEY = bytes(range(32))
DRAFT = "5f" * 16


def current(**changes: object) -> AnswersDocument:
    values: dict[str, object] = {
        "locale": "fa_AF",
        "month": "2026-12",
        "answers": {"incident": "recruit_armed", "offered": ("money", "papers")},
        "draft_id": DRAFT,
        "reporter_key": KEY,
    }
    values.update(changes)
    return AnswersDocument(**values)  # type: ignore[arg-type]


def test_format_two_round_trips_canonically() -> None:
    document = current()
    encoded = encode_answers(document)
    assert decode_answers(encoded) == document
    assert encoded == encode_answers(decode_answers(encoded))  # one byte form per document
    parsed = json.loads(encoded)
    assert parsed["v"] == 2
    assert parsed["draft"] == DRAFT
    assert b" " not in encoded.replace(b"recruit_armed", b"")


def test_intake_items_bind_to_the_draft_and_team_items_to_the_report() -> None:
    document = current()
    assert document.item_ref("7K3M9Q2X1A", "narrative", 1).report_id == DRAFT
    assert document.item_ref("7K3M9Q2X1A", "attachment", 0).report_id == DRAFT
    for kind in ("answers", "note", "reply"):
        assert document.item_ref("7K3M9Q2X1A", kind, 0).report_id == "7K3M9Q2X1A"


@pytest.mark.parametrize(
    "change",
    [
        {"reporter_key": "AAAA"},
        {"reporter_key": 5},
        {"draft": ""},
        {"draft": 7},
        {"extra": "field"},
    ],
)
def test_a_malformed_format_two_document_is_refused(change: dict[str, object]) -> None:
    data = json.loads(encode_answers(current()))
    data.update(change)
    with pytest.raises(AnswersFormatError):
        decode_answers(json.dumps(data).encode())


def test_only_complete_format_two_documents_are_written() -> None:
    with pytest.raises(ValueError, match="draft id"):
        encode_answers(current(draft_id=None))
    with pytest.raises(ValueError, match="reporter key"):
        encode_answers(current(reporter_key=b"short"))


def test_the_repr_shows_no_answer() -> None:
    assert "recruit" not in repr(current())
