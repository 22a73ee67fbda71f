"""Prove bot.crypto's properties: round trips, binding, tamper detection, keys, codes, vectors."""

from __future__ import annotations

import copy
import hashlib
import hmac
import importlib
import json
import pickle
import pkgutil
import re
import unicodedata
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

import bot.crypto
from bot.crypto.codes import (
    new_receipt_code,
    new_report_id,
    normalise_receipt_code,
    normalise_report_id,
)
from bot.crypto.constants import FORMAT_VERSION, ITEM_FORMAT_VERSION
from bot.crypto.errors import (
    CryptoError,
    NotARecipient,
    TamperedCiphertext,
    UnsupportedFormat,
    WrongPassphrase,
)
from bot.crypto.items import open_with_admin_key, rewrap_for_admins
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.sealer import AdminSealer
from bot.crypto.server import ServerKeys, generate_server_secret
from bot.crypto.values import ItemRef, SealedBlob

VECTORS_DIR = Path(__file__).parent / "vectors"
CANARY = b"CANARY-7f3a9c-recruiter-phone-0799123456"
FAST_N = 2**10
REF = ItemRef("7K3M9Q2XZA", "narrative", 0)

# The sealed-item layout of docs/crypto.md, for locating fields in a one-recipient blob.
KEY_ID_START, KEY_ID_END = 2, 10
WRAPPED_LEN = 80
NONCE_START = KEY_ID_END + 2 + WRAPPED_LEN


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS_DIR / "crypto_v1.json").read_text("utf-8"))
    return data


def assert_no_secret(error: BaseException, *secrets: bytes | str) -> None:
    """Check an exception (and its chain) carries none of the given secrets."""
    seen: BaseException | None = error
    while seen is not None:
        text = f"{seen!s} {seen!r} {seen.args!r}"
        for secret in secrets:
            needle = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
            assert needle not in text
            if isinstance(secret, bytes):
                assert secret.hex() not in text
        seen = seen.__cause__ or seen.__context__


def assert_not_chained(error: BaseException) -> None:
    """Check no library exception rides along (raised `from None`)."""
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def flip(data: bytes, position: int, bit: int = 0) -> bytes:
    return data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1 :]


# --- sealed items ----------------------------------------------------------------------------


def test_round_trip_single_admin(alice: AdminPrivateKey) -> None:
    blob = AdminSealer([alice.public_key()]).seal_for_admins(CANARY, REF)
    assert isinstance(blob, SealedBlob)
    assert CANARY not in blob.data
    assert blob.data[0] == ITEM_FORMAT_VERSION == 2
    assert open_with_admin_key(blob, REF, alice) == CANARY


def test_every_admin_opens_and_a_non_recipient_cannot(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    blob = AdminSealer([alice.public_key(), bob.public_key()]).seal_for_admins(CANARY, REF)
    assert open_with_admin_key(blob, REF, alice) == CANARY
    assert open_with_admin_key(blob, REF, bob) == CANARY
    with pytest.raises(NotARecipient, match="not a recipient") as caught:
        open_with_admin_key(blob, REF, carol)
    assert isinstance(caught.value, CryptoError)
    assert_no_secret(caught.value, CANARY)


def test_each_seal_uses_fresh_randomness(alice: AdminPrivateKey) -> None:
    sealer = AdminSealer([alice.public_key()])
    first, second = sealer.seal_for_admins(CANARY, REF), sealer.seal_for_admins(CANARY, REF)
    assert first.data != second.data
    assert first.data[NONCE_START:] != second.data[NONCE_START:]


@settings(max_examples=40, deadline=None)
@given(
    plaintext=st.binary(max_size=2048),
    report_id=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20),
    kind=st.sampled_from(["narrative", "voice", "recruiter_contact", "photo", "ملاحظه"]),
    index=st.integers(min_value=0, max_value=2**63 - 1),
)
def test_round_trip_property(
    alice: AdminPrivateKey, bob: AdminPrivateKey, plaintext: bytes, report_id: str, kind: str,
    index: int,
) -> None:  # fmt: skip
    ref = ItemRef(report_id, kind, index)
    blob = AdminSealer([alice.public_key(), bob.public_key()]).seal_for_admins(plaintext, ref)
    assert open_with_admin_key(blob, ref, alice) == plaintext
    assert open_with_admin_key(blob, ref, bob) == plaintext
    assert len(blob.data) == 2 + 2 * (8 + 2 + 80) + 12 + len(plaintext) + 16


def test_every_single_bit_flip_is_detected(alice: AdminPrivateKey) -> None:
    blob = AdminSealer([alice.public_key()]).seal_for_admins(CANARY, REF).data
    for position in range(len(blob)):
        for bit in (0, 7):
            with pytest.raises(CryptoError) as caught:
                open_with_admin_key(SealedBlob(flip(blob, position, bit)), REF, alice)
            if position == 0:
                expected: type[CryptoError] = UnsupportedFormat
            elif KEY_ID_START <= position < KEY_ID_END:
                expected = NotARecipient
            else:
                expected = TamperedCiphertext
            assert type(caught.value) is expected, position
            assert_no_secret(caught.value, CANARY)
            assert_not_chained(caught.value)


@pytest.mark.parametrize(
    "moved",
    [
        ItemRef("7K3M9Q2XZB", "narrative", 0),
        ItemRef("7K3M9Q2XZA", "voice", 0),
        ItemRef("7K3M9Q2XZA", "narrative", 1),
    ],
    ids=["report_id", "kind", "index"],
)
def test_blob_moved_to_another_item_is_refused(
    alice: AdminPrivateKey, bob: AdminPrivateKey, moved: ItemRef
) -> None:
    blob = AdminSealer([alice.public_key(), bob.public_key()]).seal_for_admins(CANARY, REF)
    for key in (alice, bob):
        with pytest.raises(TamperedCiphertext) as caught:
            open_with_admin_key(blob, moved, key)
        assert_no_secret(caught.value, CANARY)


def test_ref_fields_cannot_shift_into_each_other(alice: AdminPrivateKey) -> None:
    sealer = AdminSealer([alice.public_key()])
    blob = sealer.seal_for_admins(CANARY, ItemRef("AB", "C", 0))
    with pytest.raises(TamperedCiphertext):
        open_with_admin_key(blob, ItemRef("A", "BC", 0), alice)


def test_every_truncation_and_an_extension_is_refused(alice: AdminPrivateKey) -> None:
    blob = AdminSealer([alice.public_key()]).seal_for_admins(CANARY, REF).data
    for length in range(len(blob)):
        with pytest.raises(TamperedCiphertext) as caught:
            open_with_admin_key(SealedBlob(blob[:length]), REF, alice)
        assert_no_secret(caught.value, CANARY)
    with pytest.raises(TamperedCiphertext):
        open_with_admin_key(SealedBlob(blob + b"\x00"), REF, alice)


@pytest.mark.parametrize("version", [0, 3, 255])
def test_unknown_or_old_version_is_unsupported(alice: AdminPrivateKey, version: int) -> None:
    blob = AdminSealer([alice.public_key()]).seal_for_admins(CANARY, REF).data
    with pytest.raises(UnsupportedFormat) as caught:
        open_with_admin_key(SealedBlob(bytes([version]) + blob[1:]), REF, alice)
    assert_no_secret(caught.value, CANARY)


def test_a_v2_item_relabelled_v1_fails_closed(alice: AdminPrivateKey) -> None:
    """Version confusion: the version is in every binding, so a relabelled blob never opens."""
    blob = AdminSealer([alice.public_key()]).seal_for_admins(CANARY, REF).data
    with pytest.raises(TamperedCiphertext) as caught:
        open_with_admin_key(SealedBlob(b"\x01" + blob[1:]), REF, alice)
    assert_no_secret(caught.value, CANARY)


def test_recipient_table_cannot_be_made_ambiguous(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    blob = AdminSealer([alice.public_key(), bob.public_key()]).seal_for_admins(CANARY, REF).data
    first_entry = blob[2 : 2 + 90]
    duplicated = blob[:2] + first_entry + first_entry + blob[2 + 180 :]
    with pytest.raises(TamperedCiphertext):
        open_with_admin_key(SealedBlob(duplicated), REF, alice)
    with pytest.raises(TamperedCiphertext):
        open_with_admin_key(SealedBlob(blob[:1] + b"\x00" + blob[2:]), REF, alice)


def test_sealer_refuses_bad_recipient_lists(alice: AdminPrivateKey) -> None:
    with pytest.raises(CryptoError):
        AdminSealer([])
    with pytest.raises(CryptoError):
        AdminSealer([alice.public_key(), AdminPublicKey(alice.public_key().raw)])
    many = [AdminPrivateKey.generate().public_key() for _ in range(256)]
    with pytest.raises(CryptoError):
        AdminSealer(many)
    assert repr(AdminSealer(many[:255])) == "AdminSealer(<255 admin keys>)"
    with pytest.raises(TypeError):
        AdminSealer([alice.public_key().to_text()])  # type: ignore[list-item]


def test_sealed_blob_and_ref_fail_fast() -> None:
    with pytest.raises(TypeError):
        SealedBlob("not bytes")  # type: ignore[arg-type]
    assert repr(SealedBlob(CANARY)) == f"SealedBlob(<{len(CANARY)} bytes>)"
    for bad in (
        ("", "k", 0),
        ("r", "", 0),
        ("r", "k", -1),
        ("r" * 129, "k", 0),
        ("\ud800", "k", 0),
    ):
        with pytest.raises(ValueError, match=r"."):
            ItemRef(*bad)
    with pytest.raises(TypeError):
        ItemRef("r", "k", True)


def test_rewrap_changes_recipients_not_content(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    blob = AdminSealer([alice.public_key(), bob.public_key()]).seal_for_admins(CANARY, REF)
    rewrapped = rewrap_for_admins(blob, REF, alice, [alice.public_key(), carol.public_key()])
    # the content part (nonce || ciphertext) is byte-for-byte the same
    assert rewrapped.data[-(12 + len(CANARY) + 16) :] == blob.data[-(12 + len(CANARY) + 16) :]
    assert open_with_admin_key(rewrapped, REF, carol) == CANARY
    assert open_with_admin_key(rewrapped, REF, alice) == CANARY
    with pytest.raises(NotARecipient):
        open_with_admin_key(rewrapped, REF, bob)  # revoked
    with pytest.raises(NotARecipient):
        rewrap_for_admins(blob, REF, carol, [carol.public_key()])
    with pytest.raises(TamperedCiphertext):
        rewrap_for_admins(blob, ItemRef("7K3M9Q2XZA", "voice", 0), alice, [carol.public_key()])
    with pytest.raises(CryptoError):
        rewrap_for_admins(blob, REF, alice, [])


def test_rewrap_refuses_tampered_content(alice: AdminPrivateKey, bob: AdminPrivateKey) -> None:
    blob = AdminSealer([alice.public_key()]).seal_for_admins(CANARY, REF).data
    with pytest.raises(TamperedCiphertext):
        rewrap_for_admins(SealedBlob(flip(blob, len(blob) - 1)), REF, alice, [bob.public_key()])


# --- admin keys --------------------------------------------------------------------------------


def test_public_key_text_round_trip_and_key_id(alice: AdminPrivateKey) -> None:
    public = alice.public_key()
    text = public.to_text()
    assert re.fullmatch(r"amanat-admin-pk-v2:[A-Za-z0-9_-]{86}", text)
    parsed = AdminPublicKey.from_text(text)
    assert parsed == public
    assert (parsed.raw, parsed.signing) == (public.raw, public.signing)
    assert public.signing is not None
    assert len(public.signing) == 32
    v1 = AdminPublicKey(public.raw)
    assert re.fullmatch(r"amanat-admin-pk-v1:[A-Za-z0-9_-]{43}", v1.to_text())
    assert AdminPublicKey.from_text(v1.to_text()).signing is None
    assert v1 == public  # one recipient, whichever line names it
    assert hash(v1) == hash(public)
    assert v1.key_id == public.key_id == hashlib.sha256(public.raw).hexdigest()[:16]
    assert re.fullmatch(r"[0-9a-f]{16}", public.key_id)


def test_public_key_parsing_is_strict(alice: AdminPrivateKey) -> None:
    text = AdminPublicKey(alice.public_key().raw).to_text()
    body = text.split(":", 1)[1]
    last = body[-1]
    sibling = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # the last character carries 2 unused bits: a non-canonical spelling of the same key
    non_canonical = body[:-1] + sibling[sibling.index(last) ^ 1]
    bad = [
        "",
        body,
        "amanat-admin-pk-v2:" + body,
        "AMANAT-ADMIN-PK-V1:" + body,
        text + "=",
        " " + text,
        text + "\n",
        text[:-1],
        text + "A",
        "amanat-admin-pk-v1:" + non_canonical,
        "amanat-admin-pk-v1:+" + body[1:],  # standard base64 alphabet
        "amanat-admin-pk-v1:/" + body[1:],
        "amanat-admin-pk-v1:" + "A" * 43,  # the all-zero point cannot be sealed to
    ]
    v2 = alice.public_key().to_text()
    both = v2.split(":", 1)[1]
    bad += [
        "amanat-admin-pk-v1:" + both,  # a v2 body under the v1 prefix
        "amanat-admin-pk-v3:" + both,
        "AMANAT-ADMIN-PK-V2:" + both,
        v2 + "=",
        v2 + "\n",
        v2[:-1],
        v2 + "A",
        "amanat-admin-pk-v2:" + "A" * 43 + both[43:],  # a v2 line whose X25519 key is 0
    ]
    for candidate in bad:
        with pytest.raises(CryptoError):
            AdminPublicKey.from_text(candidate)
    with pytest.raises(CryptoError):
        AdminPublicKey(b"\x01" * 31)
    with pytest.raises(CryptoError):
        AdminPublicKey(alice.public_key().raw, b"\x01" * 31)


def test_private_key_never_prints_or_pickles(alice: AdminPrivateKey) -> None:
    raw = alice._key.private_bytes_raw()
    for text in (repr(alice), str(alice), f"{alice}"):
        assert raw.hex() not in text
        assert alice.public_key().key_id in text
    with pytest.raises(TypeError):
        pickle.dumps(alice)
    with pytest.raises(TypeError):
        copy.copy(alice)


def test_key_file_round_trip(alice: AdminPrivateKey) -> None:
    data = alice.to_file_bytes("a long enough passphrase", scrypt_n=FAST_N)
    doc = json.loads(data)
    assert doc["format"] == "amanat-admin-key"
    assert doc["version"] == 1
    assert doc["kdf"] == {"name": "scrypt", "n": FAST_N, "r": 8, "p": 1, "salt": doc["kdf"]["salt"]}
    # The file keeps the v1 line (§3.1): the signing key is derived, never stored.
    assert doc["public_key"] == AdminPublicKey(alice.public_key().raw).to_text()
    assert doc["key_id"] == alice.public_key().key_id
    raw = alice._key.private_bytes_raw()
    assert raw.hex() not in data.decode()
    opened = AdminPrivateKey.from_file_bytes(data, "a long enough passphrase")
    assert opened.public_key() == alice.public_key()
    blob = AdminSealer([alice.public_key()]).seal_for_admins(CANARY, REF)
    assert open_with_admin_key(blob, REF, opened) == CANARY


def test_key_file_default_cost_is_realistic(alice: AdminPrivateKey) -> None:
    doc = json.loads(alice.to_file_bytes("passphrase"))
    assert doc["kdf"]["n"] >= 2**17
    assert doc["kdf"]["r"] >= 8


def test_wrong_passphrase(alice: AdminPrivateKey) -> None:
    passphrase = "the right passphrase"
    data = alice.to_file_bytes(passphrase, scrypt_n=FAST_N)
    with pytest.raises(WrongPassphrase) as caught:
        AdminPrivateKey.from_file_bytes(data, "the wrong passphrase")
    assert_no_secret(
        caught.value, passphrase, "the wrong passphrase", alice._key.private_bytes_raw()
    )
    assert_not_chained(caught.value)


def test_passphrase_is_unicode_normalised(bob: AdminPrivateKey) -> None:
    composed = "امانت آرام"  # contains U+0622, which has a decomposed form
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    data = bob.to_file_bytes(composed, scrypt_n=FAST_N)
    assert AdminPrivateKey.from_file_bytes(data, decomposed).public_key() == bob.public_key()


def test_empty_passphrase_needs_explicit_consent(alice: AdminPrivateKey) -> None:
    with pytest.raises(CryptoError):
        alice.to_file_bytes("", scrypt_n=FAST_N)
    data = alice.to_file_bytes("", scrypt_n=FAST_N, allow_empty=True)
    assert AdminPrivateKey.from_file_bytes(data, "").public_key() == alice.public_key()
    with pytest.raises(WrongPassphrase):
        AdminPrivateKey.from_file_bytes(data, "x")


def _edit(data: bytes, change: Any) -> bytes:
    doc = json.loads(data)
    change(doc)
    return json.dumps(doc).encode()


def test_key_file_header_is_authenticated(alice: AdminPrivateKey, bob: AdminPrivateKey) -> None:
    data = alice.to_file_bytes("pass phrase", scrypt_n=FAST_N)
    other = json.loads(bob.to_file_bytes("pass phrase", scrypt_n=FAST_N))

    def swap_public(doc: dict[str, Any]) -> None:
        doc["public_key"], doc["key_id"] = other["public_key"], other["key_id"]

    edits = [
        lambda doc: doc["kdf"].update(n=2 * FAST_N),
        lambda doc: doc["kdf"].update(r=4),
        lambda doc: doc["kdf"].update(p=2),
        lambda doc: doc["kdf"].update(salt=other["kdf"]["salt"]),
        lambda doc: doc.update(nonce=other["nonce"]),
        lambda doc: doc.update(ciphertext=other["ciphertext"]),
        swap_public,
    ]
    for change in edits:
        with pytest.raises(WrongPassphrase):
            AdminPrivateKey.from_file_bytes(_edit(data, change), "pass phrase")
    # re-serialising the same JSON differently is harmless: the AAD is built from values
    assert AdminPrivateKey.from_file_bytes(_edit(data, lambda doc: None), "pass phrase")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda doc: doc["kdf"].update(n=2**30), CryptoError),
        (lambda doc: doc["kdf"].update(n=1000), CryptoError),
        (lambda doc: doc["kdf"].update(n=2**9), CryptoError),
        (lambda doc: doc["kdf"].update(n=True), CryptoError),
        (lambda doc: doc["kdf"].update(n="1024"), CryptoError),
        (lambda doc: doc["kdf"].update(r=0), CryptoError),
        (lambda doc: doc["kdf"].update(r=10**6), CryptoError),
        (lambda doc: doc["kdf"].update(p=10**6), CryptoError),
        (lambda doc: doc["kdf"].update(n=2**20, r=32), CryptoError),
        (lambda doc: doc["kdf"].update(salt="c2FsdA"), CryptoError),
        (lambda doc: doc["kdf"].update(name="argon2id"), UnsupportedFormat),
        (lambda doc: doc.update(version=2), UnsupportedFormat),
        (lambda doc: doc.update(version=True), UnsupportedFormat),
        (lambda doc: doc.update(cipher="aes-256-gcm"), UnsupportedFormat),
        (lambda doc: doc.update(format="something-else"), CryptoError),
        (lambda doc: doc.update(extra=1), CryptoError),
        (lambda doc: doc.pop("nonce"), CryptoError),
        (lambda doc: doc.update(nonce=doc["nonce"] + "A"), CryptoError),
        (lambda doc: doc.update(ciphertext=doc["ciphertext"][:-4]), CryptoError),
        (lambda doc: doc.update(key_id="0" * 16), CryptoError),
    ],
)
def test_key_file_refuses_malformed_or_absurd_files(
    alice: AdminPrivateKey, change: Any, error: type[CryptoError]
) -> None:
    data = alice.to_file_bytes("pass phrase", scrypt_n=FAST_N)
    with pytest.raises(error) as caught:
        AdminPrivateKey.from_file_bytes(_edit(data, change), "pass phrase")
    assert type(caught.value) is error  # refused up front, not a failed decryption


@pytest.mark.parametrize("data", [b"", b"not json", b"[]", b"\xff\xfe", b"{" * 70000])
def test_key_file_refuses_garbage(data: bytes) -> None:
    with pytest.raises(CryptoError):
        AdminPrivateKey.from_file_bytes(data, "pass phrase")


@pytest.mark.parametrize("n", [2**9, 2**21, 3 * 2**10])
def test_key_file_writer_refuses_bad_cost(alice: AdminPrivateKey, n: int) -> None:
    with pytest.raises(CryptoError):
        alice.to_file_bytes("pass phrase", scrypt_n=n)


# --- server keys -------------------------------------------------------------------------------


@pytest.fixture
def server() -> ServerKeys:
    return ServerKeys(generate_server_secret())


@pytest.mark.parametrize("secret", [b"", b"\x00" * 31, b"\x00" * 33, "x" * 32, bytearray(32)])
def test_server_secret_must_be_32_bytes(secret: Any) -> None:
    with pytest.raises(CryptoError):
        ServerKeys(secret)


def test_server_keys_hide_in_repr() -> None:
    secret = generate_server_secret()
    keys = ServerKeys(secret)
    assert secret.hex() not in repr(keys)
    assert repr(keys) == "ServerKeys(<hidden>)"


def test_draft_round_trip_and_binding(server: ServerKeys) -> None:
    blob = server.seal_volatile(CANARY, "owner-a")
    assert CANARY not in blob
    assert blob[0] == FORMAT_VERSION
    assert len(blob) == 1 + 12 + len(CANARY) + 16
    assert server.open_volatile(blob, "owner-a") == CANARY
    assert server.seal_volatile(CANARY, "owner-a") != blob
    with pytest.raises(TamperedCiphertext) as caught:
        server.open_volatile(blob, "owner-b")
    assert_no_secret(caught.value, CANARY)
    with pytest.raises(TamperedCiphertext):
        ServerKeys(generate_server_secret()).open_volatile(blob, "owner-a")


def test_draft_tampering(server: ServerKeys) -> None:
    blob = server.seal_volatile(CANARY, "owner-a")
    for position in range(len(blob)):
        expected = UnsupportedFormat if position == 0 else TamperedCiphertext
        with pytest.raises(expected) as caught:
            server.open_volatile(flip(blob, position), "owner-a")
        assert_no_secret(caught.value, CANARY)
        assert_not_chained(caught.value)
    for length in range(len(blob)):
        with pytest.raises(TamperedCiphertext):
            server.open_volatile(blob[:length], "owner-a")


def test_pseudonym_and_update_key() -> None:
    secret = generate_server_secret()
    keys, same, other = ServerKeys(secret), ServerKeys(secret), ServerKeys(generate_server_secret())
    pseudonym = keys.pseudonym("telegram", 123456789)
    assert re.fullmatch(r"[0-9a-f]{64}", pseudonym)
    assert hmac.compare_digest(pseudonym, same.pseudonym("telegram", 123456789))
    assert pseudonym != other.pseudonym("telegram", 123456789)
    assert pseudonym != keys.pseudonym("signal", 123456789)
    assert pseudonym != keys.pseudonym("telegram", 123456780)
    assert "123456789" not in pseudonym
    update = keys.update_key("telegram", 123456789)
    assert re.fullmatch(r"[0-9a-f]{64}", update)
    assert update != pseudonym  # a separate subkey
    conversation = keys.conversation_key("telegram", 123456789)
    assert re.fullmatch(r"[0-9a-f]{64}", conversation)
    assert conversation != pseudonym  # memory is keyed by neither the id nor the pseudonym
    assert hmac.compare_digest(update, same.update_key("telegram", 123456789))
    with pytest.raises(ValueError, match=r"."):
        keys.pseudonym("", 1)
    with pytest.raises(ValueError, match=r"."):
        keys.pseudonym("telegram", 2**64)


def test_receipt_hash_is_deterministic_normalised_and_keyed() -> None:
    secret = generate_server_secret()
    keys, same, other = ServerKeys(secret), ServerKeys(secret), ServerKeys(generate_server_secret())
    code = new_receipt_code()
    digest = keys.receipt_hash(code)
    assert len(digest) == 32
    assert hmac.compare_digest(digest, same.receipt_hash(code))
    persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")).replace("-", " ")
    assert hmac.compare_digest(digest, keys.receipt_hash(persian))
    assert not hmac.compare_digest(digest, other.receipt_hash(code))
    assert not hmac.compare_digest(digest, keys.receipt_hash(new_receipt_code()))
    with pytest.raises(CryptoError) as caught:
        keys.receipt_hash("1234")
    assert_no_secret(caught.value, "1234")


# --- codes and ids -----------------------------------------------------------------------------


def test_receipt_codes_have_20_random_digits() -> None:
    codes = {new_receipt_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in codes:
        assert re.fullmatch(r"\d{4}-\d{4}-\d{4}-\d{4}-\d{4}", code)
        assert normalise_receipt_code(code) == code.replace("-", "")
    assert 10**20 > 2**64  # 20 decimal digits carry >= 64 bits
    # every digit position varies (a stuck digit would cut entropy)
    for position in range(20):
        assert len({code.replace("-", "")[position] for code in codes}) == 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234-5678-9012-3456-7890", "12345678901234567890"),
        ("۱۲۳۴ ۵۶۷۸ ۹۰۱۲ ۳۴۵۶ ۷۸۹۰", "12345678901234567890"),
        ("١٢٣٤-٥٦٧٨-٩٠١٢-٣٤٥٦-٧٨٩٠", "12345678901234567890"),
        ("\u200f۱۲۳۴\u200c-۵۶۷۸–9012 — 3456\u00a07890\n", "12345678901234567890"),
        ("12345678901234567890", "12345678901234567890"),
        ("1234-5678-9012-3456-789", None),
        ("1234-5678-9012-3456-78901", None),
        ("1234-5678-9012-3456-789O", None),
        ("१२३४५६७८९०१२३४५६७८९०", None),  # Devanagari digits are not accepted
        ("", None),
        ("1" * 20 + " " * 500, None),
    ],
)
def test_normalise_receipt_code_examples(text: str, expected: str | None) -> None:
    assert normalise_receipt_code(text) == expected


_DIGIT_SCRIPTS = ("0123456789", "۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩")


@settings(max_examples=200)
@given(
    digits=st.text(alphabet="0123456789", min_size=20, max_size=20),
    scripts=st.lists(st.integers(0, 2), min_size=20, max_size=20),
    separators=st.lists(
        st.sampled_from(["", " ", "-", "  ", "\u200f", "–"]), min_size=21, max_size=21
    ),
)
def test_normalise_receipt_code_reads_any_spelling(
    digits: str, scripts: list[int], separators: list[str]
) -> None:
    spelled = separators[0] + "".join(
        _DIGIT_SCRIPTS[script][int(digit)] + separator
        for digit, script, separator in zip(digits, scripts, separators[1:], strict=True)
    )
    assert normalise_receipt_code(spelled) == digits
    assert normalise_receipt_code(digits) == digits  # idempotent on its output


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_normalise_receipt_code_output_is_ascii_digits_or_none(text: str) -> None:
    result = normalise_receipt_code(text)
    assert result is None or re.fullmatch(r"[0-9]{20}", result)
    if any(ch.isalpha() for ch in text):
        assert result is None


def test_report_ids() -> None:
    ids = {new_report_id() for _ in range(2000)}
    assert len(ids) == 2000
    for report_id in ids:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10}", report_id)
        assert normalise_report_id(report_id) == report_id
    assert set("".join(ids)) == set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")  # all 32 symbols used
    assert normalise_report_id(" 7k3m-9q2x-za ") == "7K3M9Q2XZA"
    assert normalise_report_id("OIL0000000") == "0110000000"
    assert normalise_report_id("7K3M9Q2XZU") is None
    assert normalise_report_id("7K3M9Q2XZ") is None


def test_server_secrets_are_fresh() -> None:
    first, second = generate_server_secret(), generate_server_secret()
    assert len(first) == 32
    assert first != second


# --- vectors and the reference implementation --------------------------------------------------


def _admin_keys(vectors: dict[str, Any]) -> dict[str, AdminPrivateKey]:
    return {
        row["name"]: AdminPrivateKey(
            X25519PrivateKey.from_private_bytes(bytes.fromhex(row["private_key_hex"]))
        )
        for row in vectors["admins"]
    }


def test_vectors_public_keys(vectors: dict[str, Any]) -> None:
    for name, key in _admin_keys(vectors).items():
        row = next(row for row in vectors["admins"] if row["name"] == name)
        assert AdminPublicKey(key.public_key().raw).to_text() == row["public_key"]
        assert key.public_key().to_text() == row["public_key_v2"]
        assert key.public_key().key_id == row["key_id"]


def test_vectors_sealed_items_open(vectors: dict[str, Any]) -> None:
    keys = _admin_keys(vectors)
    assert len(vectors["sealed_items"]) >= 3
    for item in vectors["sealed_items"]:
        blob, ref = SealedBlob(bytes.fromhex(item["blob_hex"])), ItemRef(**item["ref"])
        for name in item["recipients"]:
            assert open_with_admin_key(blob, ref, keys[name]).hex() == item["plaintext_hex"]
        for name in set(keys) - set(item["recipients"]):
            with pytest.raises(NotARecipient):
                open_with_admin_key(blob, ref, keys[name])


def test_vectors_sealed_item_failures(vectors: dict[str, Any]) -> None:
    keys = _admin_keys(vectors)
    assert vectors["sealed_item_failures"]
    for case in vectors["sealed_item_failures"]:
        blob, ref = SealedBlob(bytes.fromhex(case["blob_hex"])), ItemRef(**case["ref"])
        with pytest.raises(CryptoError) as caught:
            open_with_admin_key(blob, ref, keys[case["admin"]])
        assert type(caught.value).__name__ == case["error"], case["name"]


def test_vectors_key_files_open(vectors: dict[str, Any]) -> None:
    keys = _admin_keys(vectors)
    for case in vectors["key_files"]:
        opened = AdminPrivateKey.from_file_bytes(case["file"].encode("utf-8"), case["passphrase"])
        assert opened.public_key() == keys[case["admin"]].public_key()
        with pytest.raises(WrongPassphrase):
            AdminPrivateKey.from_file_bytes(case["file"].encode("utf-8"), case["passphrase"] + "!")


def test_vectors_key_file_failures(vectors: dict[str, Any]) -> None:
    assert vectors["key_file_failures"]
    for case in vectors["key_file_failures"]:
        with pytest.raises(CryptoError) as caught:
            AdminPrivateKey.from_file_bytes(case["file"].encode("utf-8"), case["passphrase"])
        assert type(caught.value).__name__ == case["error"], case["name"]


def test_vectors_server_side(vectors: dict[str, Any]) -> None:
    server = vectors["server"]
    keys = ServerKeys(bytes.fromhex(server["secret_hex"]))
    for draft in server["drafts"]:
        blob = bytes.fromhex(draft["blob_hex"])
        assert keys.open_volatile(blob, draft["owner"]).hex() == draft["plaintext_hex"]
    for case in server["pseudonyms"]:
        assert keys.pseudonym(case["transport"], case["user_id"]) == case["expected"]
    assert len(server["conversation_keys"]) == len(server["pseudonyms"])
    for case in server["conversation_keys"]:
        assert keys.conversation_key(case["transport"], case["user_id"]) == case["expected"]
        assert case["expected"] != keys.pseudonym(case["transport"], case["user_id"])
    for case in server["update_keys"]:
        assert keys.update_key(case["transport"], case["update_id"]) == case["expected"]
    for case in server["receipt_hashes"]:
        assert normalise_receipt_code(case["input"]) == case["digits"]
        assert hmac.compare_digest(
            keys.receipt_hash(case["input"]), bytes.fromhex(case["expected_hex"])
        )


def test_vectors_match_their_generator(reference: ModuleType, vectors: dict[str, Any]) -> None:
    committed = (VECTORS_DIR / "crypto_v1.json").read_text("utf-8")
    assert reference.render(reference.build_vectors()) == committed


def test_reference_implementation_opens_what_the_code_seals(
    reference: ModuleType, vectors: dict[str, Any]
) -> None:
    """An implementation written from docs/crypto.md alone must read our output."""
    rows = {row["name"]: bytes.fromhex(row["private_key_hex"]) for row in vectors["admins"]}
    keys = _admin_keys(vectors)
    sealer = AdminSealer([keys["alice"].public_key(), keys["bob"].public_key()])
    ref: dict[str, Any] = {"report_id": "QWERTY1234", "kind": "photo", "index": 7}
    blob = sealer.seal_for_admins(CANARY, ItemRef(**ref))
    assert reference.open_item(blob.data, ref, rows["alice"]) == CANARY
    assert reference.open_item(blob.data, ref, rows["bob"]) == CANARY
    server = ServerKeys(bytes.fromhex(vectors["server"]["secret_hex"]))
    draft = server.seal_volatile(CANARY, "owner")
    expected = reference.seal_draft(
        bytes.fromhex(vectors["server"]["secret_hex"]), "owner", CANARY, draft[1:13]
    )
    assert draft == expected


def test_crypto_modules_have_no_mutable_globals() -> None:
    modules = [
        importlib.import_module(f"bot.crypto.{info.name}")
        for info in pkgutil.iter_modules(bot.crypto.__path__)
    ]
    assert len(modules) >= 10
    for module in modules:
        for name, value in vars(module).items():
            if name.startswith("__"):
                continue
            assert not isinstance(value, list | dict | set | bytearray), f"{module.__name__}.{name}"
