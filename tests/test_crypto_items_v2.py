"""Pin sealed items v2 (docs/crypto.md §4): vectors, byte-for-byte sealing, v1 still read."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from bot.crypto import items, recipients
from bot.crypto.constants import ITEM_FORMAT_VERSION
from bot.crypto.errors import CryptoError, NotARecipient, TamperedCiphertext
from bot.crypto.items import open_with_admin_key, rewrap_for_admins
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import ItemRef, SealedBlob

VECTORS_DIR = Path(__file__).parent / "vectors"
CANARY = b"CANARY-v2-4be1d0-recruiter-phone-0799123456"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS_DIR / name).read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def items_v2() -> dict[str, Any]:
    return _load("items_v2.json")


@pytest.fixture(scope="module")
def admins() -> dict[str, AdminPrivateKey]:
    return {
        row["name"]: AdminPrivateKey(
            X25519PrivateKey.from_private_bytes(bytes.fromhex(row["private_key_hex"]))
        )
        for row in _load("crypto_v1.json")["admins"]
    }


class _SpecRandomness:
    """Stand in for the module's randomness with a vector's recorded values.

    Sealing draws, in the order docs/crypto.md §4.2 lists them, the data key and the nonce
    (``secrets.token_bytes``), then one ephemeral X25519 key per recipient
    (``X25519PrivateKey.generate``). Handing back the recorded values makes the real code
    reproduce the vector byte for byte, so any silent change to the format fails here.
    """

    def __init__(self, row: dict[str, Any]) -> None:
        self._draws = [bytes.fromhex(row["data_key_hex"]), bytes.fromhex(row["nonce_hex"])]
        self._ephemerals = [bytes.fromhex(e) for e in row["ephemeral_private_keys_hex"]]

    def token_bytes(self, size: int) -> bytes:
        value = self._draws.pop(0)
        assert len(value) == size
        return value

    def generate(self) -> X25519PrivateKey:
        return X25519PrivateKey.from_private_bytes(self._ephemerals.pop(0))

    def used_up(self) -> bool:
        return not self._draws and not self._ephemerals


def test_the_code_writes_v2(admins: dict[str, AdminPrivateKey]) -> None:
    blob = AdminSealer([admins["alice"].public_key()]).seal_for_admins(CANARY, ItemRef("A", "b", 0))
    assert ITEM_FORMAT_VERSION == 2
    assert blob.data[0] == 2
    assert len(blob.data) == 2 + 90 + 12 + len(CANARY) + 16
    assert CANARY not in blob.data


def test_the_code_reproduces_every_vector(
    items_v2: dict[str, Any], admins: dict[str, AdminPrivateKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(items_v2["sealed_items"]) >= 4
    for row in items_v2["sealed_items"]:
        sealer = AdminSealer([admins[name].public_key() for name in row["recipients"]])
        randomness = _SpecRandomness(row)
        with monkeypatch.context() as patch:
            patch.setattr(items, "secrets", randomness)  # the data key and the nonce
            patch.setattr(recipients, "X25519PrivateKey", randomness)  # each wrap's ephemeral
            blob = sealer.seal_for_admins(
                bytes.fromhex(row["plaintext_hex"]), ItemRef(**row["ref"])
            )
        assert blob.data.hex() == row["blob_hex"], row["name"]
        assert randomness.used_up(), row["name"]


def test_vectors_open_for_recipients_only(
    items_v2: dict[str, Any], admins: dict[str, AdminPrivateKey]
) -> None:
    for row in items_v2["sealed_items"]:
        blob, ref = SealedBlob(bytes.fromhex(row["blob_hex"])), ItemRef(**row["ref"])
        for name in row["recipients"]:
            assert open_with_admin_key(blob, ref, admins[name]).hex() == row["plaintext_hex"]
        for name in set(admins) - set(row["recipients"]):
            with pytest.raises(NotARecipient):
                open_with_admin_key(blob, ref, admins[name])


def test_vector_failures_fail_closed(
    items_v2: dict[str, Any], admins: dict[str, AdminPrivateKey]
) -> None:
    names = {case["name"] for case in items_v2["sealed_item_failures"]}
    assert "ephemeral key replaced by a low-order point" in names
    assert "v2 blob relabelled as v1" in names
    for case in items_v2["sealed_item_failures"]:
        blob, ref = SealedBlob(bytes.fromhex(case["blob_hex"])), ItemRef(**case["ref"])
        with pytest.raises(CryptoError) as caught:
            open_with_admin_key(blob, ref, admins[case["admin"]])
        assert type(caught.value).__name__ == case["error"], case["name"]
        assert caught.value.__cause__ is None, case["name"]


def test_vectors_match_their_generator(reference: ModuleType) -> None:
    committed = (VECTORS_DIR / "items_v2.json").read_text("utf-8")
    assert reference.render(reference.build_items_v2_vectors()) == committed


def test_v1_items_stay_readable_and_rewrap_as_v1(admins: dict[str, AdminPrivateKey]) -> None:
    """Reports sealed before v2 must open, and re-keying must not touch their content."""
    row = _load("crypto_v1.json")["sealed_items"][0]
    blob, ref = SealedBlob(bytes.fromhex(row["blob_hex"])), ItemRef(**row["ref"])
    assert blob.data[0] == 1
    new_set = [admins["bob"].public_key(), admins["carol"].public_key()]
    rewrapped = rewrap_for_admins(blob, ref, admins["alice"], new_set)
    assert rewrapped.data[0] == 1
    content = 12 + len(row["plaintext_hex"]) // 2 + 16
    assert rewrapped.data[-content:] == blob.data[-content:]
    assert open_with_admin_key(rewrapped, ref, admins["carol"]).hex() == row["plaintext_hex"]
    with pytest.raises(NotARecipient):
        open_with_admin_key(rewrapped, ref, admins["alice"])


def test_v2_rewrap_keeps_v2_and_content(admins: dict[str, AdminPrivateKey]) -> None:
    ref = ItemRef("7K3M9Q2XZA", "narrative", 3)
    blob = AdminSealer([admins["alice"].public_key()]).seal_for_admins(CANARY, ref)
    rewrapped = rewrap_for_admins(blob, ref, admins["alice"], [admins["carol"].public_key()])
    assert rewrapped.data[0] == 2
    assert rewrapped.data[-(12 + len(CANARY) + 16) :] == blob.data[-(12 + len(CANARY) + 16) :]
    assert open_with_admin_key(rewrapped, ref, admins["carol"]) == CANARY
    with pytest.raises(TamperedCiphertext):
        open_with_admin_key(rewrapped, ItemRef("7K3M9Q2XZA", "narrative", 4), admins["carol"])
