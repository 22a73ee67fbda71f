"""Test the signed audit chain: the signing key, the vectors, and every kind of tampering.

The attacker here can write the database: edit, delete, insert and reorder entries and
recompute every hash, but holds no admin's private key. The same attacks run through real
storage in ``tests/test_storage_audit.py`` and through the CLI in ``tests/test_cli_audit.py``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from bot.crypto.audit import GENESIS, AuditEntry, entry_hash, signed_message, verify
from bot.crypto.errors import TamperedCiphertext
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey

VECTORS = Path(__file__).parent / "vectors" / "crypto_v1.json"
DAY = date(2026, 11, 25)
FAST_N = 2**10


def keys_of(*admins: AdminPrivateKey) -> dict[str, bytes]:
    """The signing keys `verify` takes: key id to raw Ed25519 public key."""
    mapping = {}
    for admin in admins:
        public = admin.public_key()
        assert public.signing is not None
        mapping[public.key_id] = public.signing
    return mapping


def rechain(actions: Sequence[tuple[str, str, str, bytes | None]]) -> list[AuditEntry]:
    """Number and hash (admin, action, subject, signature) rows as a database writer can."""
    entries: list[AuditEntry] = []
    previous = GENESIS
    for seq, (admin, action, subject, signature) in enumerate(actions, start=1):
        digest = entry_hash(previous, seq, DAY, admin, action, subject)
        entries.append(AuditEntry(seq, DAY, admin, action, subject, previous, digest, signature))
        previous = digest
    return entries


def signed_chain(*signers: AdminPrivateKey | None, start: int = 1) -> list[AuditEntry]:
    """Build a chain the honest way: one entry per signer (None: written before signatures)."""
    entries: list[AuditEntry] = []
    previous = GENESIS
    for seq, signer in enumerate(signers, start=start):
        admin = "operator" if signer is None else signer.public_key().key_id
        subject = f"REPORT{seq:04d}"
        digest = entry_hash(previous, seq, DAY, admin, "show", subject)
        signature = None if signer is None else signer.sign_audit_entry(digest)
        entries.append(AuditEntry(seq, DAY, admin, "show", subject, previous, digest, signature))
        previous = digest
    return entries


def rows(entries: Sequence[AuditEntry]) -> list[tuple[str, str, str, bytes | None]]:
    """What a database writer reads: each entry's fields and stored signature."""
    return [(e.admin, e.action, e.subject, e.signature) for e in entries]


# --- the signing key ---------------------------------------------------------------------------


def test_the_signing_key_is_derived_from_the_admin_key_and_survives_the_key_file(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    again = AdminPrivateKey.from_file_bytes(
        alice.to_file_bytes("passphrase", scrypt_n=FAST_N), "passphrase"
    )
    assert again.public_key().signing == alice.public_key().signing
    assert alice.public_key().signing != bob.public_key().signing
    digest = entry_hash(GENESIS, 1, DAY, alice.public_key().key_id, "show", "R")
    signature = alice.sign_audit_entry(digest)
    assert signature == again.sign_audit_entry(digest)  # Ed25519 is deterministic
    signing = alice.public_key().signing
    assert signing is not None
    Ed25519PublicKey.from_public_bytes(signing).verify(signature, signed_message(digest))
    with pytest.raises(ValueError, match="32 bytes"):
        alice.sign_audit_entry(digest[:31])


def test_a_key_file_may_record_the_v2_line_but_its_signing_key_must_match(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    document = json.loads(alice.to_file_bytes("passphrase", scrypt_n=FAST_N))
    document["public_key"] = alice.public_key().to_text()
    opened = AdminPrivateKey.from_file_bytes(json.dumps(document).encode(), "passphrase")
    assert opened.public_key().to_text() == alice.public_key().to_text()
    signing = bob.public_key().signing
    assert signing is not None
    document["public_key"] = AdminPublicKey(alice.public_key().raw, signing).to_text()
    with pytest.raises(TamperedCiphertext):
        AdminPrivateKey.from_file_bytes(json.dumps(document).encode(), "passphrase")


# --- vectors (tests/vectors/make_crypto_vectors.py, written from docs/crypto.md alone) -------


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text("utf-8"))
    return data


def vector_admins(vectors: dict[str, Any]) -> dict[str, AdminPrivateKey]:
    return {
        row["name"]: AdminPrivateKey(
            X25519PrivateKey.from_private_bytes(bytes.fromhex(row["private_key_hex"]))
        )
        for row in vectors["admins"]
    }


def test_vectors_signing_keys_and_v2_lines(vectors: dict[str, Any]) -> None:
    admins = vector_admins(vectors)
    for row in vectors["admins"]:
        public = admins[row["name"]].public_key()
        assert public.signing is not None
        assert public.signing.hex() == row["audit_signing_public_key_hex"]
        assert public.to_text() == row["public_key_v2"]
        assert AdminPublicKey.from_text(row["public_key_v2"]).signing == public.signing
        assert AdminPublicKey.from_text(row["public_key_v2"]).key_id == row["key_id"]
        assert AdminPublicKey.from_text(row["public_key"]).to_text() == row["public_key"]


def test_vectors_audit_chain_is_reproduced_byte_for_byte(vectors: dict[str, Any]) -> None:
    admins = vector_admins(vectors)
    entries = []
    for row in vectors["audit_chain"]:
        day = date.fromisoformat(row["day"])
        prev = bytes.fromhex(row["prev_hash_hex"])
        digest = entry_hash(prev, row["seq"], day, row["admin"], row["action"], row["subject"])
        assert digest.hex() == row["entry_hash_hex"]
        assert signed_message(digest).hex() == row["signed_message_hex"]
        signature = None
        if row["signer"] is not None:
            signature = admins[row["signer"]].sign_audit_entry(digest)
            assert signature.hex() == row["signature_hex"]
        else:
            assert row["signature_hex"] is None
        fields = (row["admin"], row["action"], row["subject"])
        entries.append(AuditEntry(row["seq"], day, *fields, prev, digest, signature))
    verdict = verify(entries, keys_of(*admins.values()))
    assert verdict.problem is None
    assert (verdict.signed, verdict.unsigned) == (2, 1)
    assert verdict.head.hex() == vectors["audit_chain"][-1]["entry_hash_hex"]


# --- the chain ---------------------------------------------------------------------------------


def test_an_intact_signed_chain_verifies_and_names_its_head(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    entries = signed_chain(alice, bob, alice, alice, bob)
    verdict = verify(entries, keys_of(alice, bob))
    assert verdict.problem is None
    assert (verdict.entries, verdict.signed, verdict.unsigned) == (5, 5, 0)
    assert verdict.head == entries[-1].hash
    assert verify([], {}).problem is None
    assert verify([], {}).head == GENESIS


def test_an_edit_is_caught(alice: AdminPrivateKey) -> None:
    entries = signed_chain(alice, alice, alice, alice, alice)
    entries[2] = dataclasses.replace(entries[2], subject="OTHERREPRT")
    assert verify(entries, keys_of(alice)).problem == "entry 3 was changed"


def test_a_deletion_without_rechaining_is_caught(alice: AdminPrivateKey) -> None:
    entries = signed_chain(alice, alice, alice, alice, alice)
    del entries[1]
    assert verify(entries, keys_of(alice)).problem == "entry 2 is missing or out of order"


def test_a_forged_entry_in_another_admins_name_is_caught(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    """The review's attack: a `route` entry in Alice's name, the chain recomputed."""
    entries = signed_chain(alice, bob)
    alice_id = alice.public_key().key_id
    forged = (alice_id, "route", "REPORT0001 kabul-ngo")
    unsigned = rechain([*rows(entries), (*forged, None)])
    assert verify(unsigned, keys_of(alice, bob)).problem == (
        "entry 3 is not signed, but an entry before it is"
    )
    # Signed with the writer's own key (Bob's, or a stranger's): not Alice's signature.
    for writer in (bob, carol):
        digest = rechain([*rows(entries), (*forged, None)])[-1].hash
        resigned = rechain([*rows(entries), (*forged, writer.sign_audit_entry(digest))])
        assert verify(resigned, keys_of(alice, bob)).problem == (
            f"entry 3 does not carry a valid signature of admin {alice_id}"
        )
    # Alice's signature of another entry, copied onto the forgery.
    copied = rechain([*rows(entries), (*forged, entries[0].signature)])
    assert verify(copied, keys_of(alice, bob)).problem is not None


def test_deleting_a_middle_entry_and_rechaining_is_caught(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    """The review's attack: a rogue admin's `export` removed, every hash recomputed."""
    entries = signed_chain(alice, bob, alice, bob)
    without = rechain([row for number, row in enumerate(rows(entries)) if number != 1])
    assert [e.seq for e in without] == [1, 2, 3]
    verdict = verify(without, keys_of(alice, bob))
    assert verdict.problem == (
        f"entry 2 does not carry a valid signature of admin {alice.public_key().key_id}"
    )


def test_reordering_and_rechaining_is_caught(alice: AdminPrivateKey, bob: AdminPrivateKey) -> None:
    entries = signed_chain(alice, bob, alice)
    swapped = rows(entries)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    assert verify(rechain(swapped), keys_of(alice, bob)).problem is not None
    plain = list(entries)
    plain[1], plain[2] = plain[2], plain[1]
    assert verify(plain, keys_of(alice, bob)).problem == "entry 2 is missing or out of order"


def test_truncating_the_newest_entries_is_caught_only_against_a_kept_head(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    entries = signed_chain(alice, bob, alice, bob)
    kept = verify(entries, keys_of(alice, bob)).head
    truncated = entries[:2]
    assert verify(truncated, keys_of(alice, bob)).problem is None
    verdict = verify(truncated, keys_of(alice, bob), expect_head=kept)
    assert verdict.problem == (
        "the expected head is not in the chain: its newest entries were removed, or it was "
        "rewritten"
    )
    later = verify(entries, keys_of(alice, bob), expect_head=entries[1].hash)
    assert later.problem is None
    assert later.expected_at == 2
    assert verify(entries, keys_of(alice, bob), expect_head=kept).expected_at == 4


def test_a_chain_rewritten_from_the_start_is_caught_against_a_kept_head(
    alice: AdminPrivateKey,
) -> None:
    entries = signed_chain(alice, alice)
    kept = entries[-1].hash
    stripped = rechain([(a, b, c, None) for a, b, c, _ in rows(entries)][:1])
    assert verify(stripped, keys_of(alice)).problem is None  # all unsigned: a "prefix"
    assert verify(stripped, keys_of(alice), expect_head=kept).problem is not None


def test_the_empty_chains_head_is_in_every_chain(alice: AdminPrivateKey) -> None:
    assert verify([], {}, expect_head=GENESIS).expected_at == 0
    assert verify(signed_chain(alice), keys_of(alice), expect_head=GENESIS).problem is None
    assert verify([], {}, expect_head=bytes([1]) * 32).problem is not None


def test_an_unsigned_entry_after_a_signed_one_is_caught(alice: AdminPrivateKey) -> None:
    entries = signed_chain(None, alice, alice)
    entries[2] = dataclasses.replace(entries[2], signature=None)
    assert verify(entries, keys_of(alice)).problem == (
        "entry 3 is not signed, but an entry before it is"
    )


def test_an_unsigned_legacy_prefix_then_signed_entries_verifies(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    entries = signed_chain(None, None, alice, bob)
    verdict = verify(entries, keys_of(alice, bob))
    assert verdict.problem is None
    assert (verdict.signed, verdict.unsigned) == (2, 2)
    edited = rechain([("operator", "show", "EDITED", None), *rows(entries)[1:]])
    assert verify(edited, keys_of(alice, bob)).problem is not None  # entry 3 pins the prefix


def test_an_admin_without_a_configured_signing_key_fails(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    entries = signed_chain(alice, bob)
    bob_id = bob.public_key().key_id
    assert verify(entries, keys_of(alice)).problem == (
        f"entry 2: no signing key configured for admin {bob_id}"
    )
    assert verify(entries, keys_of(alice, bob)).problem is None  # e.g. a former admin's key


def test_problems_quote_only_seq_numbers_and_key_ids(alice: AdminPrivateKey) -> None:
    secret = "CANARY name of a recruiter +98 912"
    entries = signed_chain(alice)
    digest = entry_hash(entries[0].hash, 2, DAY, secret, "show", secret)
    forged = AuditEntry(2, DAY, secret, "show", secret, entries[0].hash, digest, bytes(64))
    problem = verify([*entries, forged], keys_of(alice)).problem
    assert problem == "entry 2: no signing key configured for the admin it names"
    bad_signature = dataclasses.replace(entries[0], signature=b"\x00" * 3)
    problem = verify([bad_signature], keys_of(alice)).problem
    assert problem is not None
    assert secret not in problem
