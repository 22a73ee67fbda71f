"""Test replies to reporters: a key derived from the receipt code, sealing and tampering."""

from __future__ import annotations

import base64

import pytest

from bot.crypto.errors import CryptoError, TamperedCiphertext, UnsupportedFormat
from bot.crypto.reporter import seal_for_reporter
from bot.crypto.server import ServerKeys
from bot.crypto.values import ItemRef, SealedBlob

CODE = "1234-5678-9012-3456-7890"
SECRET = bytes(range(32))


def test_the_reply_key_is_derived_from_code_secret_and_report() -> None:
    keys = ServerKeys(SECRET)
    one = keys.reporter_key(CODE, "R1").public_bytes()
    assert keys.reporter_key("۱۲۳۴ ۵۶۷۸ ۹۰۱۲ ۳۴۵۶ ۷۸۹۰", "R1").public_bytes() == one
    assert keys.reporter_key(CODE, "R2").public_bytes() != one
    assert ServerKeys(bytes(32)).reporter_key(CODE, "R1").public_bytes() != one
    assert keys.reporter_key("1234-5678-9012-3456-7891", "R1").public_bytes() != one
    assert "hidden" in repr(keys.reporter_key(CODE, "R1"))
    with pytest.raises(CryptoError):
        keys.reporter_key("12", "R1")


def test_only_the_code_holder_opens_a_reply_bound_to_its_place() -> None:
    keys = ServerKeys(SECRET)
    reporter = keys.reporter_key(CODE, "R1")
    ref = ItemRef("R1", "reply", 0)
    blob = seal_for_reporter("پاسخ تیم".encode(), reporter.public_bytes(), ref)
    assert reporter.open_reply(blob, ref).decode() == "پاسخ تیم"
    with pytest.raises(TamperedCiphertext):
        keys.reporter_key("1234-5678-9012-3456-7891", "R1").open_reply(blob, ref)
    with pytest.raises(TamperedCiphertext):
        reporter.open_reply(blob, ItemRef("R1", "reply", 1))
    flipped = SealedBlob(blob.data[:-1] + bytes([blob.data[-1] ^ 1]))
    with pytest.raises(TamperedCiphertext):
        reporter.open_reply(flipped, ref)
    with pytest.raises(UnsupportedFormat):
        reporter.open_reply(SealedBlob(b"\x09" + blob.data[1:]), ref)
    with pytest.raises(TamperedCiphertext):
        reporter.open_reply(SealedBlob(b""), ref)
    with pytest.raises(CryptoError):
        seal_for_reporter(b"x", b"short", ref)


def test_reply_notices_open_only_for_their_report() -> None:
    keys = ServerKeys(SECRET)
    blob = keys.seal_notice(b'{"user_id": 42}', "R1")
    assert keys.open_notice(blob, "R1") == b'{"user_id": 42}'
    assert b"42" not in blob
    with pytest.raises(TamperedCiphertext):
        keys.open_notice(blob, "R2")
    with pytest.raises(TamperedCiphertext):
        ServerKeys(bytes(32)).open_notice(blob, "R1")
    with pytest.raises(UnsupportedFormat):
        keys.open_notice(b"\x07" + blob[1:], "R1")


# Vectors fixed when replies v1 was written (docs/crypto.md §13): the code must keep deriving
# the same public key and keep opening these blobs, or a silent format change broke old data.
VECTOR_SECRET = bytes(range(32))
VECTOR_REPORT = "VECTOR0001"
VECTOR_PUBLIC = bytes.fromhex("02ace09387d153e1e93b214f27976219119d8405ca7104e2afa8fb0d8fb4b044")
VECTOR_REPLY = base64.b64decode(
    "AQ2sD9LykXWtXwnsykVu/qMMNCHF6g4SaAlB9I+MLuQ8tjSvAY5/eMB/mnKQvRER+XqbSLJUZmssTOedjvZ5pg=="
)
VECTOR_NOTICE = base64.b64decode("AU360s+fX1sMQWFbQbbiQW4I/kdYIjJYU29L2bzW2vhyCg70i5XAORGic3+a")


def test_reply_and_notice_vectors_still_open() -> None:
    keys = ServerKeys(VECTOR_SECRET)
    reporter = keys.reporter_key(CODE, VECTOR_REPORT)
    assert reporter.public_bytes() == VECTOR_PUBLIC
    ref = ItemRef(VECTOR_REPORT, "reply", 3)
    assert reporter.open_reply(SealedBlob(VECTOR_REPLY), ref).decode() == "جواب تیم"
    assert keys.open_notice(VECTOR_NOTICE, VECTOR_REPORT) == b'{"locale": "ps"}'
