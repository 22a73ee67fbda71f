"""Build tests/vectors/crypto_v1.json, items_v2.json and stream_v1.json independently.

Run ``python tests/vectors/make_crypto_vectors.py`` to (re)write the three files; the output is
byte-for-byte deterministic. The code below is written from docs/crypto.md alone and never
imports ``bot.crypto``: if the two disagree, the tests catch it. It includes RFC 9180 HPKE base
mode (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305) built from raw primitives, so
the sealed-item vectors can use fixed ephemeral keys; this is test tooling, never production
code. It must never be imported by anything under bot/, handlers/ or storage/.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import struct
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

VECTORS_PATH = Path(__file__).with_name("crypto_v1.json")
STREAM_VECTORS_PATH = Path(__file__).with_name("stream_v1.json")
ITEMS_V2_PATH = Path(__file__).with_name("items_v2.json")
ANSWERS_V2_PATH = Path(__file__).with_name("answers_v2.json")
VERSION = 1
ITEM_V2 = 2
STREAM_VERSION = 1
CHUNK_SIZE = 64 * 1024

# --- docs/crypto.md: canonical encoding ----------------------------------------------------


def lp(*fields: bytes) -> bytes:
    """Encode fields as u32 big-endian length || bytes, concatenated."""
    return b"".join(struct.pack(">I", len(f)) + f for f in fields)


def i64(value: int) -> bytes:
    """Encode an integer as 8-byte big-endian two's complement."""
    return struct.pack(">q", value)


def b64(raw: bytes) -> str:
    """Encode URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def fixed(label: str, size: int) -> bytes:
    """Return deterministic 'random' bytes for a named vector input."""
    return hashlib.shake_256(b"amanat-test-vectors-v1/" + label.encode()).digest(size)


# --- RFC 9180 HPKE base mode, single shot ------------------------------------------------

KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0003
KEM_SUITE = b"KEM" + struct.pack(">H", KEM_ID)
HPKE_SUITE = b"HPKE" + struct.pack(">HHH", KEM_ID, KDF_ID, AEAD_ID)


def labeled_extract(salt: bytes, label: bytes, ikm: bytes, suite: bytes) -> bytes:
    """RFC 9180 LabeledExtract with HKDF-SHA256."""
    return hmac.new(salt, b"HPKE-v1" + suite + label + ikm, hashlib.sha256).digest()


def labeled_expand(prk: bytes, label: bytes, info: bytes, length: int, suite: bytes) -> bytes:
    """RFC 9180 LabeledExpand with HKDF-SHA256."""
    labeled_info = struct.pack(">H", length) + b"HPKE-v1" + suite + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled_info).derive(prk)


def key_schedule(shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    """RFC 9180 KeySchedule for mode_base; return (key, base_nonce)."""
    psk_id_hash = labeled_extract(b"", b"psk_id_hash", b"", HPKE_SUITE)
    info_hash = labeled_extract(b"", b"info_hash", info, HPKE_SUITE)
    context = b"\x00" + psk_id_hash + info_hash
    secret = labeled_extract(shared_secret, b"secret", b"", HPKE_SUITE)
    key = labeled_expand(secret, b"key", context, 32, HPKE_SUITE)
    nonce = labeled_expand(secret, b"base_nonce", context, 12, HPKE_SUITE)
    return key, nonce


def dhkem_shared_secret(dh: bytes, enc: bytes, pk_recipient: bytes) -> bytes:
    """RFC 9180 DHKEM ExtractAndExpand."""
    eae_prk = labeled_extract(b"", b"eae_prk", dh, KEM_SUITE)
    return labeled_expand(eae_prk, b"shared_secret", enc + pk_recipient, 32, KEM_SUITE)


def hpke_seal(pk_recipient: bytes, info: bytes, plaintext: bytes, sk_ephemeral: bytes) -> bytes:
    """Seal with a given ephemeral key; return enc || ciphertext as the one-shot API does."""
    eph = X25519PrivateKey.from_private_bytes(sk_ephemeral)
    enc = eph.public_key().public_bytes_raw()
    dh = eph.exchange(X25519PublicKey.from_public_bytes(pk_recipient))
    key, nonce = key_schedule(dhkem_shared_secret(dh, enc, pk_recipient), info)
    return enc + ChaCha20Poly1305(key).encrypt(nonce, plaintext, b"")


def hpke_open(sk_recipient: bytes, info: bytes, sealed: bytes) -> bytes:
    """Open enc || ciphertext with the recipient's private key."""
    sk = X25519PrivateKey.from_private_bytes(sk_recipient)
    enc, ciphertext = sealed[:32], sealed[32:]
    dh = sk.exchange(X25519PublicKey.from_public_bytes(enc))
    pk = sk.public_key().public_bytes_raw()
    key, nonce = key_schedule(dhkem_shared_secret(dh, enc, pk), info)
    return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, b"")


# --- docs/crypto.md: sealed items --------------------------------------------------------


def public_of(sk: bytes) -> bytes:
    """Return the X25519 public key of a raw private key."""
    return X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes_raw()


def key_id(pk: bytes) -> bytes:
    """Return the 8-byte key id: the first 8 bytes of SHA-256(public key)."""
    return hashlib.sha256(pk).digest()[:8]


def binding(ref: dict[str, Any], version: int = VERSION) -> list[bytes]:
    """Return the binding fields of an item reference."""
    return [
        b"AMANAT-ITEM",
        bytes([version]),
        ref["report_id"].encode(),
        ref["kind"].encode(),
        i64(ref["index"]),
    ]


def seal_item(
    pks: list[bytes],
    ref: dict[str, Any],
    plaintext: bytes,
    data_key: bytes,
    nonce: bytes,
    ephemerals: list[bytes],
) -> bytes:
    """Build a v1 sealed item from explicit randomness."""
    out = bytes([VERSION, len(pks)])
    for pk, eph in zip(pks, ephemerals, strict=True):
        wrapped = hpke_seal(pk, lp(*binding(ref), key_id(pk)), data_key, eph)
        out += key_id(pk) + struct.pack(">H", len(wrapped)) + wrapped
    aad = lp(*binding(ref))
    return out + nonce + ChaCha20Poly1305(data_key).encrypt(nonce, plaintext, aad)


def x25519_wrap_key(dh: bytes, enc: bytes, pk_recipient: bytes, info: bytes) -> bytes:
    """Item v2 wrap key: HKDF-SHA256(ikm = dh, salt = enc || pk_recipient, info)."""
    return HKDF(hashes.SHA256(), 32, salt=enc + pk_recipient, info=info).derive(dh)


def seal_item_v2(
    pks: list[bytes],
    ref: dict[str, Any],
    plaintext: bytes,
    data_key: bytes,
    nonce: bytes,
    ephemerals: list[bytes],
) -> bytes:
    """Build a v2 sealed item from explicit randomness."""
    out = bytes([ITEM_V2, len(pks)])
    for pk, eph in zip(pks, ephemerals, strict=True):
        secret = X25519PrivateKey.from_private_bytes(eph)
        enc = secret.public_key().public_bytes_raw()
        dh = secret.exchange(X25519PublicKey.from_public_bytes(pk))
        wrap_key = x25519_wrap_key(dh, enc, pk, lp(*binding(ref, ITEM_V2), key_id(pk)))
        wrapped = enc + AESGCM(wrap_key).encrypt(bytes(12), data_key, b"")
        out += key_id(pk) + struct.pack(">H", len(wrapped)) + wrapped
    aad = lp(*binding(ref, ITEM_V2))
    return out + nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)


def my_entry(blob: bytes, mine: bytes) -> tuple[bytes, int]:
    """Walk a recipient table; return this key id's wrapped key and where the table ends."""
    pos, wrapped_key = 2, None
    for _ in range(blob[1]):
        kid = blob[pos : pos + 8]
        (size,) = struct.unpack(">H", blob[pos + 8 : pos + 10])
        if kid == mine:
            wrapped_key = blob[pos + 10 : pos + 10 + size]
        pos += 10 + size
    if wrapped_key is None:
        raise ValueError("not a recipient")
    return wrapped_key, pos


def open_item(blob: bytes, ref: dict[str, Any], sk: bytes) -> bytes:
    """Open a v1 or v2 sealed item with a raw private key (no error classes: test tooling)."""
    if blob[0] == ITEM_V2:
        return open_item_v2(blob, ref, sk)
    if blob[0] != VERSION:
        raise ValueError("unsupported version")
    mine = key_id(public_of(sk))
    wrapped_key, pos = my_entry(blob, mine)
    data_key = hpke_open(sk, lp(*binding(ref), mine), wrapped_key)
    nonce, ciphertext = blob[pos : pos + 12], blob[pos + 12 :]
    return ChaCha20Poly1305(data_key).decrypt(nonce, ciphertext, lp(*binding(ref)))


def open_item_v2(blob: bytes, ref: dict[str, Any], sk: bytes) -> bytes:
    """Open a v2 sealed item with a raw private key."""
    pk = public_of(sk)
    mine = key_id(pk)
    wrapped_key, pos = my_entry(blob, mine)
    enc = wrapped_key[:32]
    dh = X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(enc))
    wrap_key = x25519_wrap_key(dh, enc, pk, lp(*binding(ref, ITEM_V2), mine))
    data_key = AESGCM(wrap_key).decrypt(bytes(12), wrapped_key[32:], b"")
    nonce, ciphertext = blob[pos : pos + 12], blob[pos + 12 :]
    return AESGCM(data_key).decrypt(nonce, ciphertext, lp(*binding(ref, ITEM_V2)))


# --- docs/crypto.md: attachment streams v1 -----------------------------------------------


def stream_binding(ref: dict[str, Any]) -> list[bytes]:
    """Return the binding fields of an attachment stream."""
    return [
        b"AMANAT-STREAM",
        bytes([STREAM_VERSION]),
        ref["report_id"].encode(),
        ref["kind"].encode(),
        i64(ref["index"]),
    ]


def stream_keys(data_key: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """Return (payload_key, header_mac_key) derived from a stream's data key."""
    payload_info = lp(b"AMANAT-STREAM", bytes([STREAM_VERSION]), b"payload")
    header_info = lp(b"AMANAT-STREAM", bytes([STREAM_VERSION]), b"header")
    payload = HKDF(hashes.SHA256(), 32, salt=salt, info=payload_info).derive(data_key)
    mac_key = HKDF(hashes.SHA256(), 32, salt=None, info=header_info).derive(data_key)
    return payload, mac_key


def stream_nonce(counter: int, last: bool) -> bytes:
    """Return 11-byte big-endian counter || last flag (0x01 on the last chunk, else 0x00)."""
    return counter.to_bytes(11, "big") + bytes([1 if last else 0])


def stream_header(
    pks: list[bytes], ref: dict[str, Any], data_key: bytes, salt: bytes, ephemerals: list[bytes]
) -> bytes:
    """Build a stream header: version, recipient table, salt, HMAC over all of it."""
    out = bytes([STREAM_VERSION, len(pks)])
    for pk, eph in zip(pks, ephemerals, strict=True):
        wrapped = hpke_seal(pk, lp(*stream_binding(ref), key_id(pk)), data_key, eph)
        out += key_id(pk) + struct.pack(">H", len(wrapped)) + wrapped
    out += salt
    _, mac_key = stream_keys(data_key, salt)
    return out + hmac.new(mac_key, lp(*stream_binding(ref), out), hashlib.sha256).digest()


def stream_chunk(
    ref: dict[str, Any], data_key: bytes, salt: bytes, counter: int, last: bool, piece: bytes
) -> bytes:
    """Seal one chunk with explicit position and flag (also used to forge rule-breaking ones)."""
    payload, _ = stream_keys(data_key, salt)
    nonce = stream_nonce(counter, last)
    return ChaCha20Poly1305(payload).encrypt(nonce, piece, lp(*stream_binding(ref)))


def seal_stream(
    pks: list[bytes],
    ref: dict[str, Any],
    plaintext: bytes,
    data_key: bytes,
    salt: bytes,
    ephemerals: list[bytes],
) -> tuple[bytes, list[bytes]]:
    """Seal a whole attachment from explicit randomness; return (header, chunks)."""
    pieces = [plaintext[i : i + CHUNK_SIZE] for i in range(0, len(plaintext), CHUNK_SIZE)]
    pieces = pieces or [b""]
    chunks = [
        stream_chunk(ref, data_key, salt, n, n == len(pieces) - 1, piece)
        for n, piece in enumerate(pieces)
    ]
    return stream_header(pks, ref, data_key, salt, ephemerals), chunks


def open_stream(header: bytes, chunks: list[bytes], ref: dict[str, Any], sk: bytes) -> bytes:
    """Open a stream with a raw private key (errors are ValueError or InvalidTag: tooling)."""
    if header[0] != STREAM_VERSION:
        raise ValueError("unsupported version")
    mine = key_id(public_of(sk))
    wrapped_key, pos = my_entry(header, mine)
    if len(header) != pos + 16 + 32:
        raise ValueError("a malformed header")
    data_key = hpke_open(sk, lp(*stream_binding(ref), mine), wrapped_key)
    salt = header[pos : pos + 16]
    payload, mac_key = stream_keys(data_key, salt)
    mac = hmac.new(mac_key, lp(*stream_binding(ref), header[: pos + 16]), hashlib.sha256)
    if not hmac.compare_digest(mac.digest(), header[pos + 16 :]):
        raise ValueError("header MAC")
    if not chunks:
        raise ValueError("no chunks")
    out = b""
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        if len(chunk) > CHUNK_SIZE + 16 or (not last and len(chunk) != CHUNK_SIZE + 16):
            raise ValueError("chunk size")
        aad = lp(*stream_binding(ref))
        out += ChaCha20Poly1305(payload).decrypt(stream_nonce(n, last), chunk, aad)
    return out


# --- docs/crypto.md: admin key file ------------------------------------------------------


def key_file(
    sk: bytes, passphrase: str, n: int, salt: bytes, nonce: bytes, pk: bytes | None = None
) -> bytes:
    """Build a v1 admin key file with explicit salt and nonce (r = 8, p = 1).

    A ``pk`` other than the private key's own builds a deliberately inconsistent file.
    """
    r, p = 8, 1
    pk = public_of(sk) if pk is None else pk
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    wrapping = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(secret)
    aad = lp(
        b"AMANAT-ADMIN-KEY",
        bytes([VERSION]),
        pk,
        b"scrypt",
        i64(n),
        i64(r),
        i64(p),
        salt,
        b"chacha20-poly1305",
    )
    doc = {
        "format": "amanat-admin-key",
        "version": VERSION,
        "key_id": key_id(pk).hex(),
        "public_key": "amanat-admin-pk-v1:" + b64(pk),
        "kdf": {"name": "scrypt", "n": n, "r": r, "p": p, "salt": b64(salt)},
        "cipher": "chacha20-poly1305",
        "nonce": b64(nonce),
        "ciphertext": b64(ChaCha20Poly1305(wrapping).encrypt(nonce, sk, aad)),
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


# --- docs/crypto.md: the audit signing key and the audit chain ---------------------------

AUDIT_SIGNING_LABEL = b"amanat/v1/admin/audit-signing-key"


def audit_signing_seed(sk: bytes) -> bytes:
    """Derive an admin's Ed25519 seed: HKDF-SHA256(ikm = X25519 private key, no salt, label)."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=AUDIT_SIGNING_LABEL).derive(sk)


def audit_signing_public(sk: bytes) -> bytes:
    """Return the raw Ed25519 public key of an admin's audit signing key."""
    seed = audit_signing_seed(sk)
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def public_text_v2(sk: bytes) -> str:
    """Render the v2 public key line: prefix, then b64u(X25519 public || Ed25519 public)."""
    return "amanat-admin-pk-v2:" + b64(public_of(sk) + audit_signing_public(sk))


def audit_hash(prev: bytes, seq: int, day: str, admin: str, action: str, subject: str) -> bytes:
    """SHA-256("AMANAT-AUDIT-1" || LP(prev_hash, i64(seq), day, admin, action, subject))."""
    fields = lp(prev, i64(seq), day.encode(), admin.encode(), action.encode(), subject.encode())
    return hashlib.sha256(b"AMANAT-AUDIT-1" + fields).digest()


def audit_signed_message(entry_hash: bytes) -> bytes:
    """Return what an admin signs for an entry: "AMANAT-AUDIT-SIG-1" || entry_hash."""
    return b"AMANAT-AUDIT-SIG-1" + entry_hash


def audit_signature(sk: bytes, entry_hash: bytes) -> bytes:
    """Sign an entry hash with the admin's derived Ed25519 key (deterministic, RFC 8032)."""
    key = Ed25519PrivateKey.from_private_bytes(audit_signing_seed(sk))
    return key.sign(audit_signed_message(entry_hash))


# signer (None: written before signatures), day, admin (None: the signer's key id), action,
# subject
AUDIT_SPECS: list[tuple[str | None, str, str | None, str, str]] = [
    (None, "2026-11-02", "operator", "purge", "2 drafts, 1 ledger entries, 0 chunks"),
    ("alice", "2026-11-25", None, "show", "7K3M9Q2XZA"),
    ("bob", "2026-11-26", None, "route", "7K3M9Q2XZA kabul-ngo"),
]


def audit_rows(admins: dict[str, bytes]) -> list[dict[str, Any]]:
    """Build a chain: one unsigned entry (the prefix), then entries signed by their admins."""
    rows: list[dict[str, Any]] = []
    prev = bytes(32)
    for seq, (signer, day, admin, action, subject) in enumerate(AUDIT_SPECS, start=1):
        if admin is None:
            assert signer is not None
            admin = key_id(public_of(admins[signer])).hex()
        digest = audit_hash(prev, seq, day, admin, action, subject)
        signature = None if signer is None else audit_signature(admins[signer], digest)
        rows.append(
            {
                "seq": seq,
                "day": day,
                "admin": admin,
                "action": action,
                "subject": subject,
                "signer": signer,
                "prev_hash_hex": prev.hex(),
                "entry_hash_hex": digest.hex(),
                "signed_message_hex": audit_signed_message(digest).hex(),
                "signature_hex": None if signature is None else signature.hex(),
            }
        )
        prev = digest
    return rows


# --- docs/crypto.md: server subkeys --------------------------------------------------------

LABELS = {
    "draft": b"amanat/v1/server/draft-key",
    "pseudonym": b"amanat/v1/server/pseudonym-key",
    "update_ledger": b"amanat/v1/server/update-ledger-key",
    "conversation": b"amanat/v1/server/conversation-key",
    "receipt_pepper": b"amanat/v1/server/receipt-pepper",
}


def subkey(secret: bytes, purpose: str) -> bytes:
    """Derive a server subkey: HKDF-SHA256, no salt, info = label."""
    return HKDF(hashes.SHA256(), 32, salt=None, info=LABELS[purpose]).derive(secret)


def seal_draft(secret: bytes, owner: str, plaintext: bytes, nonce: bytes) -> bytes:
    """Build a v1 draft blob with an explicit nonce."""
    aad = lp(b"AMANAT-DRAFT", bytes([VERSION]), owner.encode())
    body = ChaCha20Poly1305(subkey(secret, "draft")).encrypt(nonce, plaintext, aad)
    return bytes([VERSION]) + nonce + body


def account_mac(secret: bytes, purpose: str, transport: str, number: int) -> str:
    """HMAC-SHA256 hex over lp(transport, i64(number)) under a subkey."""
    message = lp(transport.encode(), i64(number))
    return hmac.new(subkey(secret, purpose), message, hashlib.sha256).hexdigest()


def conversation_key(secret: bytes, transport: str, user_id: int) -> str:
    """HMAC-SHA256 hex of the raw pseudonym under the conversation subkey."""
    pseudonym = bytes.fromhex(account_mac(secret, "pseudonym", transport, user_id))
    return hmac.new(subkey(secret, "conversation"), pseudonym, hashlib.sha256).hexdigest()


def receipt_hash(secret: bytes, digits: str) -> bytes:
    """Scrypt(n=2**14, r=8, p=1, 32 bytes) of the 20 ASCII digits, salt = receipt pepper."""
    pepper = subkey(secret, "receipt_pepper")
    return Scrypt(salt=pepper, length=32, n=2**14, r=8, p=1).derive(digits.encode())


# --- the vectors ---------------------------------------------------------------------------


ITEM_SPECS: list[tuple[str, list[str], dict[str, Any], bytes]] = [
    (
        "one recipient, ASCII text",
        ["alice"],
        {"report_id": "7K3M9Q2XZA", "kind": "narrative", "index": 0},
        b"They offered 2000 dollars a month to go to Russia.",
    ),
    (
        "two recipients, Dari text",
        ["alice", "bob"],
        {"report_id": "7K3M9Q2XZA", "kind": "recruiter_contact", "index": 1},
        "شماره تماس: ۰۷۹۹۱۲۳۴۵۶".encode(),
    ),
    (
        "two recipients, empty plaintext, large index",
        ["bob", "alice"],
        {"report_id": "00000000ZZ", "kind": "voice", "index": 4294967296},
        b"",
    ),
    (
        "three recipients, Pashto text",
        ["carol", "alice", "bob"],
        {"report_id": "7K3M9Q2XZA", "kind": "narrative", "index": 2},
        "هغوی وویل چې ایران ته لاړ شه".encode(),
    ),
]


Failure = tuple[str, bytes, dict[str, Any], str, str]  # name, blob, ref, admin, error


def item_rows(
    label: str,
    seal: Callable[..., bytes],
    specs: list[tuple[str, list[str], dict[str, Any], bytes]],
) -> list[dict[str, Any]]:
    """Seal each spec with explicit randomness named under ``label``; return the vector rows."""
    admins = {name: fixed(f"admin/{name}", 32) for name in ("alice", "bob", "carol")}
    rows = []
    for number, (name, recipients, ref, plaintext) in enumerate(specs):
        data_key = fixed(f"{label}/{number}/data_key", 32)
        nonce = fixed(f"{label}/{number}/nonce", 12)
        ephemerals = [fixed(f"{label}/{number}/ephemeral/{r}", 32) for r in recipients]
        pks = [public_of(admins[r]) for r in recipients]
        blob = seal(pks, ref, plaintext, data_key, nonce, ephemerals)
        rows.append(
            {
                "name": name,
                "recipients": recipients,
                "ref": ref,
                "plaintext_hex": plaintext.hex(),
                "data_key_hex": data_key.hex(),
                "nonce_hex": nonce.hex(),
                "ephemeral_private_keys_hex": [e.hex() for e in ephemerals],
                "blob_hex": blob.hex(),
            }
        )
    return rows


def misplaced_or_cut(first: bytes, ref0: dict[str, Any]) -> list[Failure]:
    """The failures every item version shares: moved, not a recipient, flipped tag, cut."""
    return [
        ("moved to another report", first, {**ref0, "report_id": "7K3M9Q2XZB"}, "alice",
         "TamperedCiphertext"),
        ("moved to another kind", first, {**ref0, "kind": "voice"}, "alice",
         "TamperedCiphertext"),
        ("moved to another index", first, {**ref0, "index": 1}, "alice", "TamperedCiphertext"),
        ("key is not a recipient", first, ref0, "bob", "NotARecipient"),
        ("last byte of the tag flipped", first[:-1] + bytes([first[-1] ^ 1]), ref0, "alice",
         "TamperedCiphertext"),
        ("truncated by one byte", first[:-1], ref0, "alice", "TamperedCiphertext"),
    ]  # fmt: skip


def unknown_versions(first: bytes, ref0: dict[str, Any]) -> list[Failure]:
    """Version bytes no reader knows: refused as unsupported, never guessed."""
    return [
        ("unknown version 3", b"\x03" + first[1:], ref0, "alice", "UnsupportedFormat"),
        ("old version 0", b"\x00" + first[1:], ref0, "alice", "UnsupportedFormat"),
    ]


def failure_table(failures: list[Failure]) -> list[dict[str, Any]]:
    """Lay failures out as the vector files store them."""
    return [
        {"name": name, "blob_hex": blob.hex(), "ref": ref, "admin": admin, "error": error}
        for name, blob, ref, admin, error in failures
    ]


def build_vectors() -> dict[str, Any]:
    """Return the whole vector document; deterministic."""
    admins = {name: fixed(f"admin/{name}", 32) for name in ("alice", "bob", "carol")}
    admin_rows = [
        {
            "name": name,
            "private_key_hex": sk.hex(),
            "public_key": "amanat-admin-pk-v1:" + b64(public_of(sk)),
            "key_id": key_id(public_of(sk)).hex(),
            "audit_signing_seed_hex": audit_signing_seed(sk).hex(),
            "audit_signing_public_key_hex": audit_signing_public(sk).hex(),
            "public_key_v2": public_text_v2(sk),
        }
        for name, sk in admins.items()
    ]
    key_files = []
    for name, passphrase in (
        ("alice", "correct horse battery staple"),
        ("bob", "رمز آرام امانت ۱۴۰۳"),  # U+0622 has a decomposed form: NFC matters
        ("carol", ""),
    ):
        data = key_file(
            admins[name], passphrase, 2**10, fixed(f"keyfile/{name}/salt", 32),
            fixed(f"keyfile/{name}/nonce", 12),
        )  # fmt: skip
        key_files.append({"admin": name, "passphrase": passphrase, "file": data.decode()})
    mismatched = key_file(
        admins["alice"], "mismatch", 2**10, fixed("keyfile/mismatch/salt", 32),
        fixed("keyfile/mismatch/nonce", 12), pk=public_of(admins["bob"]),
    )  # fmt: skip
    key_file_failures = [
        {
            "name": "opens, but the private key does not match the recorded public key",
            "passphrase": "mismatch",
            "file": mismatched.decode(),
            "error": "TamperedCiphertext",
        }
    ]

    items = item_rows("item", seal_item, ITEM_SPECS[:3])  # v1 predates the fourth case
    first = bytes.fromhex(items[0]["blob_hex"])
    ref0 = items[0]["ref"]
    failure_rows = failure_table(
        [
            *misplaced_or_cut(first, ref0),
            ("v1 blob relabelled as v2", b"\x02" + first[1:], ref0, "alice",
             "TamperedCiphertext"),
            *unknown_versions(first, ref0),
        ]
    )  # fmt: skip

    secret = fixed("server/secret", 32)
    drafts = []
    for number, (owner, plaintext) in enumerate(
        [
            ("telegram-pseudonym-a", b'{"state":"country","answers":{"incident":"recruit"}}'),
            ("telegram-pseudonym-b", b""),
        ]
    ):
        nonce = fixed(f"draft/{number}/nonce", 12)
        drafts.append(
            {
                "owner": owner,
                "plaintext_hex": plaintext.hex(),
                "nonce_hex": nonce.hex(),
                "blob_hex": seal_draft(secret, owner, plaintext, nonce).hex(),
            }
        )
    accounts = [("telegram", 123456789), ("telegram", 0), ("signal", -1001234567890)]
    codes = ["0000-0000-0000-0000-0001", "۱۲۳۴-۵۶۷۸-۹۰۱۲-۳۴۵۶-۷۸۹۰", "٩٨٧٦ ٥٤٣٢ 1098 7654 3210"]
    return {
        "description": "Amanat crypto format v1 test vectors; see docs/crypto.md.",
        "generator": "tests/vectors/make_crypto_vectors.py (deterministic; do not edit by hand)",
        "format_version": VERSION,
        "admins": admin_rows,
        "key_files": key_files,
        "key_file_failures": key_file_failures,
        "sealed_items": items,
        "sealed_item_failures": failure_rows,
        "server": {
            "secret_hex": secret.hex(),
            "subkeys_hex": {purpose: subkey(secret, purpose).hex() for purpose in LABELS},
            "drafts": drafts,
            "pseudonyms": [
                {"transport": t, "user_id": u, "expected": account_mac(secret, "pseudonym", t, u)}
                for t, u in accounts
            ],
            "conversation_keys": [
                {"transport": t, "user_id": u, "expected": conversation_key(secret, t, u)}
                for t, u in accounts
            ],
            "update_keys": [
                {
                    "transport": t,
                    "update_id": abs(u),
                    "expected": account_mac(secret, "update_ledger", t, abs(u)),
                }
                for t, u in accounts
            ],
            "receipt_hashes": [
                {
                    "input": code,
                    "digits": _digits(code),
                    "expected_hex": receipt_hash(secret, _digits(code)).hex(),
                }
                for code in codes
            ],
        },
        "audit_chain": audit_rows(admins),
    }


def build_items_v2_vectors() -> dict[str, Any]:
    """Return the sealed item v2 vector document; deterministic."""
    items = item_rows("item-v2", seal_item_v2, ITEM_SPECS)
    first = bytes.fromhex(items[0]["blob_hex"])
    second = bytes.fromhex(items[1]["blob_hex"])
    ref0 = items[0]["ref"]
    enc_at, wrapped_at, content_at = 12, 44, 2 + 90
    low_order = bytes(32)  # the point 0: X25519 with it gives an all-zero secret
    failures = [
        *misplaced_or_cut(first, ref0),
        ("wrapped data key bit flipped", first[:wrapped_at] + bytes([first[wrapped_at] ^ 1])
         + first[wrapped_at + 1 :], ref0, "alice", "TamperedCiphertext"),
        ("ephemeral key bit flipped", first[:enc_at] + bytes([first[enc_at] ^ 2])
         + first[enc_at + 1 :], ref0, "alice", "TamperedCiphertext"),
        ("ephemeral key replaced by a low-order point", first[:enc_at] + low_order
         + first[enc_at + 32 :], ref0, "alice", "TamperedCiphertext"),
        ("content of another item behind this header", first[:content_at]
         + second[2 + 2 * 90 :], ref0, "alice", "TamperedCiphertext"),
        ("v2 blob relabelled as v1", b"\x01" + first[1:], ref0, "alice",
         "TamperedCiphertext"),
        *unknown_versions(first, ref0),
    ]  # fmt: skip
    return {
        "description": "Amanat sealed item v2 test vectors; see docs/crypto.md §4.",
        "generator": "tests/vectors/make_crypto_vectors.py (deterministic; do not edit by hand)",
        "item_format_version": ITEM_V2,
        "admins": "the admins of crypto_v1.json (same names and private keys)",
        "sealed_items": items,
        "sealed_item_failures": failure_table(failures),
    }


def answers_document_v2(
    locale: str | None,
    month: str | None,
    answers: dict[str, Any],
    draft: str,
    reporter_key: bytes,
) -> bytes:
    """Encode an answers document, format 2, as docs/crypto.md §16 specifies.

    JSON object with exactly the keys v, locale, month, answers, draft and reporter_key;
    keys sorted, no whitespace, UTF-8 (no escapes for non-ASCII), the reply key in standard
    base64 with padding.
    """
    document = {
        "v": 2,
        "locale": locale,
        "month": month,
        "answers": answers,
        "draft": draft,
        "reporter_key": base64.b64encode(reporter_key).decode("ascii"),
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


ANSWERS_SPECS: list[tuple[str, str | None, str | None, dict[str, Any]]] = [
    ("English, one multiple choice", "en", "2026-12", {"incident": "recruit_armed",
     "offered": ["money", "papers"], "danger_now": "no"}),
    ("Dari, province and consent", "fa_AF", "2026-11", {"country": "AF", "province": "herat",
     "consent_statistics": "yes", "notify_replies": "no"}),
    ("no language, nothing answered", None, None, {}),
]  # fmt: skip


def build_answers_v2_vectors() -> dict[str, Any]:
    """Return the answers document v2 vectors: encoded documents and their sealed items."""
    admins = {name: fixed(f"admin/{name}", 32) for name in ("alice", "bob", "carol")}
    rows = []
    for number, (name, locale, month, answers) in enumerate(ANSWERS_SPECS):
        draft = fixed(f"answers-v2/{number}/draft", 16).hex()
        reporter_key = public_of(fixed(f"answers-v2/{number}/reporter", 32))
        document = answers_document_v2(locale, month, answers, draft, reporter_key)
        ref = {"report_id": f"ANSWRS00{number}X", "kind": "answers", "index": 0}
        data_key = fixed(f"answers-v2/{number}/data_key", 32)
        nonce = fixed(f"answers-v2/{number}/nonce", 12)
        ephemeral = fixed(f"answers-v2/{number}/ephemeral/alice", 32)
        blob = seal_item_v2(
            [public_of(admins["alice"])], ref, document, data_key, nonce, [ephemeral]
        )
        rows.append(
            {
                "name": name,
                "locale": locale,
                "month": month,
                "answers": answers,
                "draft": draft,
                "reporter_key_hex": reporter_key.hex(),
                "document_hex": document.hex(),
                "sealed_to": "alice",
                "ref": ref,
                "blob_hex": blob.hex(),
            }
        )
    return {
        "description": "Amanat answers document v2 test vectors; see docs/crypto.md §16.",
        "generator": "tests/vectors/make_crypto_vectors.py (deterministic; do not edit by hand)",
        "admins": "the admins of crypto_v1.json (same names and private keys)",
        "documents": rows,
    }


def build_stream_vectors() -> dict[str, Any]:
    """Return the attachment stream vector document; deterministic."""
    admins = {name: fixed(f"admin/{name}", 32) for name in ("alice", "bob", "carol")}
    specs: list[tuple[str, list[str], dict[str, Any], bytes]] = [
        (
            "empty attachment: exactly one empty last chunk",
            ["alice"],
            {"report_id": "7K3M9Q2XZA", "kind": "document", "index": 0},
            b"",
        ),
        (
            "short voice note: one short last chunk",
            ["bob"],
            {"report_id": "7K3M9Q2XZA", "kind": "voice", "index": 2},
            b"OggS\x00\x02" + "صدای ضبط شده".encode(),
        ),
        (
            "one full chunk and one byte, two recipients",
            ["alice", "bob"],
            {"report_id": "00000000ZZ", "kind": "photo", "index": 4294967296},
            fixed("stream/2/plaintext", CHUNK_SIZE + 1),
        ),
        (
            "same report, kind and index as the voice note, another upload",
            ["bob", "alice"],
            {"report_id": "7K3M9Q2XZA", "kind": "voice", "index": 2},
            b"a different recording",
        ),
    ]
    streams: list[dict[str, Any]] = []
    sealed: list[tuple[bytes, list[bytes]]] = []
    for number, (name, recipients, ref, plaintext) in enumerate(specs):
        data_key = fixed(f"stream/{number}/data_key", 32)
        salt = fixed(f"stream/{number}/salt", 16)
        ephemerals = [fixed(f"stream/{number}/ephemeral/{r}", 32) for r in recipients]
        pks = [public_of(admins[r]) for r in recipients]
        header, chunks = seal_stream(pks, ref, plaintext, data_key, salt, ephemerals)
        sealed.append((header, chunks))
        row: dict[str, Any] = {
            "name": name,
            "recipients": recipients,
            "ref": ref,
            "plaintext_size": len(plaintext),
            "plaintext_sha256_hex": hashlib.sha256(plaintext).hexdigest(),
        }
        if len(plaintext) <= 1024:
            row["plaintext_hex"] = plaintext.hex()
        row.update(
            {
                "data_key_hex": data_key.hex(),
                "salt_hex": salt.hex(),
                "ephemeral_private_keys_hex": [e.hex() for e in ephemerals],
                "header_hex": header.hex(),
                "chunks_hex": [c.hex() for c in chunks],
            }
        )
        streams.append(row)

    def ref_of(number: int) -> dict[str, Any]:
        return dict(specs[number][2])

    def chunk(number: int, index: int) -> dict[str, Any]:
        return {"stream": number, "chunk": index}

    def raw(data: bytes) -> dict[str, Any]:
        return {"hex": data.hex()}

    header1 = sealed[1][0]
    short_ref = ref_of(1)
    key1, salt1 = fixed("stream/1/data_key", 32), fixed("stream/1/salt", 16)
    last2 = sealed[2][1][1]
    salt_at = len(header1) - 48
    item = seal_item(
        [public_of(admins["bob"])], short_ref, b"x" * 20, fixed("stream/item/data_key", 32),
        fixed("stream/item/nonce", 12), [fixed("stream/item/ephemeral", 32)],
    )  # fmt: skip
    # name, header, chunks, ref, admin, error
    failures: list[tuple[str, dict[str, Any], list[dict[str, Any]], dict[str, Any], str, str]] = [
        ("no chunks at all", {"stream": 0}, [], ref_of(0), "alice", "TamperedCiphertext"),
        ("last chunk dropped", {"stream": 2}, [chunk(2, 0)], ref_of(2), "bob",
         "TamperedCiphertext"),
        ("last chunk repeated after itself", {"stream": 2}, [chunk(2, 0), chunk(2, 1),
         chunk(2, 1)], ref_of(2), "alice", "TamperedCiphertext"),
        ("first chunk repeated", {"stream": 2}, [chunk(2, 0), chunk(2, 0), chunk(2, 1)],
         ref_of(2), "alice", "TamperedCiphertext"),
        ("chunks swapped", {"stream": 2}, [chunk(2, 1), chunk(2, 0)], ref_of(2), "alice",
         "TamperedCiphertext"),
        ("a chunk from another stream appended", {"stream": 1}, [chunk(1, 0), chunk(3, 0)],
         short_ref, "bob", "TamperedCiphertext"),
        ("chunk of another upload with the same ref", {"stream": 3}, [chunk(1, 0)], short_ref,
         "bob", "TamperedCiphertext"),
        ("chunk of another report", {"stream": 1}, [chunk(0, 0)], short_ref, "bob",
         "TamperedCiphertext"),
        ("stream moved to another report", {"stream": 1}, [chunk(1, 0)],
         {**short_ref, "report_id": "7K3M9Q2XZB"}, "bob", "TamperedCiphertext"),
        ("stream moved to another kind", {"stream": 1}, [chunk(1, 0)],
         {**short_ref, "kind": "photo"}, "bob", "TamperedCiphertext"),
        ("stream moved to another index", {"stream": 1}, [chunk(1, 0)],
         {**short_ref, "index": 3}, "bob", "TamperedCiphertext"),
        ("key is not a recipient", {"stream": 1}, [chunk(1, 0)], short_ref, "alice",
         "NotARecipient"),
        ("salt bit flipped in the header", raw(header1[:salt_at] + bytes([header1[salt_at] ^ 1])
         + header1[salt_at + 1 :]), [chunk(1, 0)], short_ref, "bob", "TamperedCiphertext"),
        ("header MAC bit flipped", raw(header1[:-1] + bytes([header1[-1] ^ 0x80])),
         [chunk(1, 0)], short_ref, "bob", "TamperedCiphertext"),
        ("header truncated by one byte", raw(header1[:-1]), [chunk(1, 0)], short_ref, "bob",
         "TamperedCiphertext"),
        ("header extended by one byte", raw(header1 + b"\x00"), [chunk(1, 0)], short_ref, "bob",
         "TamperedCiphertext"),
        ("a sealed item given as the header", raw(item), [chunk(1, 0)], short_ref, "bob",
         "TamperedCiphertext"),
        ("unknown header version 2", raw(b"\x02" + header1[1:]), [chunk(1, 0)], short_ref,
         "bob", "UnsupportedFormat"),
        ("old header version 0", raw(b"\x00" + header1[1:]), [chunk(1, 0)], short_ref, "bob",
         "UnsupportedFormat"),
        ("last chunk's tag bit flipped", {"stream": 2}, [chunk(2, 0), raw(last2[:-1]
         + bytes([last2[-1] ^ 1]))], ref_of(2), "alice", "TamperedCiphertext"),
        ("last chunk truncated by one byte", {"stream": 2}, [chunk(2, 0), raw(last2[:-1])],
         ref_of(2), "alice", "TamperedCiphertext"),
        ("a chunk shorter than a tag", {"stream": 1}, [raw(b"\x00" * 15)], short_ref, "bob",
         "TamperedCiphertext"),
        ("key holder's short chunk not marked last", {"stream": 1},
         [raw(stream_chunk(short_ref, key1, salt1, 0, False, b"0123456789")),
          raw(stream_chunk(short_ref, key1, salt1, 1, True, b"abc"))], short_ref, "bob",
         "TamperedCiphertext"),
        ("key holder's two chunks both marked last", {"stream": 1},
         [raw(stream_chunk(short_ref, key1, salt1, 0, True, b"")),
          raw(stream_chunk(short_ref, key1, salt1, 1, True, b""))], short_ref, "bob",
         "TamperedCiphertext"),
        ("key holder's oversized last chunk", {"stream": 1},
         [raw(stream_chunk(short_ref, key1, salt1, 0, True, b"\x00" * (CHUNK_SIZE + 1)))],
         short_ref, "bob", "TamperedCiphertext"),
    ]  # fmt: skip
    failure_rows = [
        {"name": name, "header": header, "chunks": chunks, "ref": ref, "admin": admin,
         "error": error}
        for name, header, chunks, ref, admin, error in failures
    ]  # fmt: skip
    return {
        "description": "Amanat attachment stream v1 test vectors; see docs/crypto.md §12.",
        "generator": "tests/vectors/make_crypto_vectors.py (deterministic; do not edit by hand)",
        "stream_format_version": STREAM_VERSION,
        "chunk_size": CHUNK_SIZE,
        "admins": "the admins of crypto_v1.json (same names and private keys)",
        "streams": streams,
        "stream_failures": failure_rows,
    }


def _digits(code: str) -> str:
    """Map Persian and Arabic-Indic digits to ASCII and drop separators (vector inputs only)."""
    table = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789", " -")
    return code.translate(table)


def render(vectors: dict[str, Any]) -> str:
    """Serialise the vectors exactly as they are committed."""
    return json.dumps(vectors, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    """Write both vector files next to this script."""
    VECTORS_PATH.write_text(render(build_vectors()), encoding="utf-8")
    print(f"wrote {VECTORS_PATH}")
    STREAM_VECTORS_PATH.write_text(render(build_stream_vectors()), encoding="utf-8")
    print(f"wrote {STREAM_VECTORS_PATH}")
    ITEMS_V2_PATH.write_text(render(build_items_v2_vectors()), encoding="utf-8")
    print(f"wrote {ITEMS_V2_PATH}")
    ANSWERS_V2_PATH.write_text(render(build_answers_v2_vectors()), encoding="utf-8")
    print(f"wrote {ANSWERS_V2_PATH}")


if __name__ == "__main__":
    main()
