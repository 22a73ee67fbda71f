"""Test the answers document: format 2 round trips, binds items, names the reply key; vectors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from bot.answers import AnswersDocument, AnswersFormatError, decode_answers, encode_answers
from bot.crypto.errors import TamperedCiphertext
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.values import ItemRef, SealedBlob

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


# --------------------------------------------------------------------------- vectors


VECTORS = Path(__file__).parent / "vectors"


@pytest.fixture(scope="module")
def answers_v2() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / "answers_v2.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def alice() -> AdminPrivateKey:
    rows = json.loads((VECTORS / "crypto_v1.json").read_text("utf-8"))["admins"]
    raw = next(bytes.fromhex(r["private_key_hex"]) for r in rows if r["name"] == "alice")
    return AdminPrivateKey(X25519PrivateKey.from_private_bytes(raw))


def test_the_code_writes_each_vector_document_byte_for_byte(answers_v2: dict[str, Any]) -> None:
    assert len(answers_v2["documents"]) >= 3
    for row in answers_v2["documents"]:
        document = AnswersDocument(
            locale=row["locale"],
            month=row["month"],
            answers={k: tuple(v) if isinstance(v, list) else v for k, v in row["answers"].items()},
            draft_id=row["draft"],
            reporter_key=bytes.fromhex(row["reporter_key_hex"]),
        )
        assert encode_answers(document).hex() == row["document_hex"], row["name"]
        assert decode_answers(bytes.fromhex(row["document_hex"])) == document, row["name"]


def test_each_sealed_vector_opens_to_its_document_for_the_report_it_names(
    answers_v2: dict[str, Any], alice: AdminPrivateKey
) -> None:
    for row in answers_v2["documents"]:
        blob = SealedBlob(bytes.fromhex(row["blob_hex"]))
        opened = open_with_admin_key(blob, ItemRef(**row["ref"]), alice)
        assert opened.hex() == row["document_hex"], row["name"]
        moved = ItemRef("ANOTHER001", "answers", 0)
        with pytest.raises(TamperedCiphertext):
            open_with_admin_key(blob, moved, alice)


def test_the_vector_file_matches_its_generator() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_vectors", VECTORS / "make_crypto_vectors.py"
    )
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    committed = (VECTORS / "answers_v2.json").read_text("utf-8")
    assert generator.render(generator.build_answers_v2_vectors()) == committed
