"""Test replies to reporters: a key derived from the receipt code, sealing and tampering."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from bot.crypto.errors import CryptoError, TamperedCiphertext, UnsupportedFormat
from bot.crypto.reporter import ReporterKey, seal_for_reporter
from bot.crypto.server import ServerKeys
from bot.crypto.values import ItemRef, SealedBlob

CODE = "1234-5678-9012-3456-7890"
SECRET = bytes(range(32))


def reply_key_v2(keys: ServerKeys, code: str, report_id: str) -> ReporterKey:
    return keys.receipt_keys(code).reporter_key(report_id)


@pytest.mark.parametrize("derive", [ServerKeys.reporter_key_v1, reply_key_v2], ids=["v1", "v2"])
def test_the_reply_key_is_derived_from_code_secret_and_report(
    derive: Callable[[ServerKeys, str, str], ReporterKey],
) -> None:
    keys = ServerKeys(SECRET)
    one = derive(keys, CODE, "R1").public_bytes()
    assert derive(keys, "۱۲۳۴ ۵۶۷۸ ۹۰۱۲ ۳۴۵۶ ۷۸۹۰", "R1").public_bytes() == one
    assert derive(keys, CODE, "R2").public_bytes() != one
    assert derive(ServerKeys(bytes(32)), CODE, "R1").public_bytes() != one
    assert derive(keys, "1234-5678-9012-3456-7891", "R1").public_bytes() != one
    assert "hidden" in repr(derive(keys, CODE, "R1"))
    with pytest.raises(CryptoError):
        derive(keys, "12", "R1")


def test_one_scrypt_run_gives_the_v1_receipt_hash_and_a_reply_key_it_does_not_reveal() -> None:
    """Recomputed here with hashlib and hmac alone, from docs/crypto.md §7 and §13.1."""
    keys = ServerKeys(SECRET)
    receipt = keys.receipt_keys(CODE)
    pepper = hkdf_sha256(SECRET, b"amanat/v1/server/receipt-pepper")
    digits = CODE.replace("-", "").encode()
    derived = hashlib.scrypt(digits, salt=pepper, n=2**14, r=8, p=1, dklen=64)
    v1_hash = hashlib.scrypt(digits, salt=pepper, n=2**14, r=8, p=1, dklen=32)
    assert receipt.receipt_hash == v1_hash == derived[:32] == keys.receipt_hash(CODE)
    info = lp(b"amanat/v2/server/reporter-reply-key", b"R1")
    seed = hkdf_sha256(derived[32:], info)
    expected = X25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert receipt.reporter_key("R1").public_bytes() == expected
    assert "hidden" in repr(receipt)
    assert receipt.receipt_hash.hex() not in repr(receipt)
    # The two versions are different keys: /status must pick by the report's format.
    assert keys.reporter_key_v1(CODE, "R1").public_bytes() != expected


def hkdf_sha256(ikm: bytes, info: bytes) -> bytes:
    """RFC 5869 with an empty salt and one block of output."""
    prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def lp(*fields: bytes) -> bytes:
    return b"".join(len(field).to_bytes(4, "big") + field for field in fields)


def test_only_the_code_holder_opens_a_reply_bound_to_its_place() -> None:
    keys = ServerKeys(SECRET)
    reporter = reply_key_v2(keys, CODE, "R1")
    ref = ItemRef("R1", "reply", 0)
    blob = seal_for_reporter("پاسخ تیم".encode(), reporter.public_bytes(), ref)
    assert reporter.open_reply(blob, ref).decode() == "پاسخ تیم"
    with pytest.raises(TamperedCiphertext):
        reply_key_v2(keys, "1234-5678-9012-3456-7891", "R1").open_reply(blob, ref)
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
    reporter = keys.reporter_key_v1(CODE, VECTOR_REPORT)
    assert reporter.public_bytes() == VECTOR_PUBLIC
    ref = ItemRef(VECTOR_REPORT, "reply", 3)
    assert reporter.open_reply(SealedBlob(VECTOR_REPLY), ref).decode() == "جواب تیم"
    assert keys.open_notice(VECTOR_NOTICE, VECTOR_REPORT) == b'{"locale": "ps"}'
