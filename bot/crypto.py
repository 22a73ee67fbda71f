"""Own Amanat's cryptography: sealed items, attachment streams, admin keys, server subkeys, codes.

Every byte layout produced here is specified in ``docs/crypto.md`` (format version 1; sealed
items v2, still reading v1; attachment streams v1) and pinned by ``tests/vectors/crypto_v1.json``,
``tests/vectors/items_v2.json`` and ``tests/vectors/stream_v1.json``; change one and the others
must change with it.

This module composes only vetted primitives from ``cryptography``: HPKE (RFC 9180, one-shot
API, base mode, X25519 / HKDF-SHA256 / ChaCha20-Poly1305), X25519, HKDF-SHA256, HMAC-SHA256,
ChaCha20-Poly1305, AES-256-GCM and scrypt. It must never invent a primitive, never call a
private function of ``cryptography``, never log, never fall back to plaintext, and never put
plaintext, key material or user identifiers into an exception message or a ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import struct
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple, NoReturn, TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT_VERSION: int = 1
# Sealed items are written in v2 (docs/crypto.md §4); v1 items stay readable and re-wrappable.
ITEM_FORMAT_VERSION: int = 2
ITEM_FORMAT_VERSIONS_READ: tuple[int, ...] = (1, 2)
STREAM_FORMAT_VERSION: int = 1
STREAM_CHUNK_SIZE: int = 64 * 1024  # plaintext bytes per chunk; fixed by stream format v1

# Domain-separation strings and sizes of format v1 (docs/crypto.md, "Constants").
_ITEM_MAGIC = b"AMANAT-ITEM"
_STREAM_MAGIC = b"AMANAT-STREAM"
_STREAM_LABEL_PAYLOAD = b"payload"
_STREAM_LABEL_HEADER = b"header"
_DRAFT_MAGIC = b"AMANAT-DRAFT"
_KEY_FILE_MAGIC = b"AMANAT-ADMIN-KEY"
_KEY_FILE_FORMAT = "amanat-admin-key"
_KEY_FILE_CIPHER = "chacha20-poly1305"
_PUBLIC_KEY_PREFIX = "amanat-admin-pk-v1:"
_LABEL_DRAFT = b"amanat/v1/server/draft-key"
_LABEL_PSEUDONYM = b"amanat/v1/server/pseudonym-key"
_LABEL_UPDATE = b"amanat/v1/server/update-ledger-key"
_LABEL_RECEIPT = b"amanat/v1/server/receipt-pepper"
_LABEL_REPORTER = b"amanat/v1/server/reporter-key-pepper"
_LABEL_NOTICE = b"amanat/v1/server/reply-notice-key"
_NOTICE_MAGIC = b"AMANAT-NOTICE"
_REPLY_MAGIC = b"AMANAT-REPLY"
_REPLY_VERSION = 1

_KEY_SIZE = 32
_NONCE_SIZE = 12
_TAG_SIZE = 16
_KEY_ID_SIZE = 8
_HPKE_ENC_SIZE = 32
_WRAPPED_KEY_SIZE = _HPKE_ENC_SIZE + _KEY_SIZE + _TAG_SIZE  # enc || sealed data key
_WRAP_V2_NONCE = bytes(_NONCE_SIZE)  # each v2 wrap key encrypts exactly one message
_WRAPPED_KEY_LENGTH = struct.pack(">H", _WRAPPED_KEY_SIZE)  # the u16 L of every entry
_LP_KEY_ID = struct.pack(">I", _KEY_ID_SIZE)  # the length prefix of a key id in an info
_MAX_RECIPIENTS = 255
_MAX_REF_FIELD_BYTES = 128
_MAX_KEY_FILE_BYTES = 64 * 1024

_STREAM_SALT_SIZE = 16
_STREAM_MAC_SIZE = 32
_STREAM_COUNTER_SIZE = 11  # the nonce is an 11-byte big-endian counter and a 1-byte last flag
_STREAM_MAX_CHUNKS = 2 ** (8 * _STREAM_COUNTER_SIZE)
_STREAM_NOT_LAST = b"\x00"
_STREAM_LAST = b"\x01"

_SCRYPT_DEFAULT_N = 2**17
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_MIN_N = 2**10
_SCRYPT_MAX_N = 2**20
_SCRYPT_MAX_R = 32
_SCRYPT_MAX_P = 16
_SCRYPT_MAX_MEMORY = 2**30  # bytes: 128 * n * r
_KEY_FILE_SALT_SIZE = 32

_RECEIPT_SCRYPT_N = 2**14
_RECEIPT_DIGITS = 20
_RECEIPT_GROUP = 4
_MAX_RECEIPT_INPUT = 200

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_REPORT_ID_LENGTH = 10

_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
_ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
# Dashes people type or paste, and invisible marks that right-to-left chat clients insert.
_RECEIPT_SEPARATORS = (
    "-_.\u2010\u2011\u2012\u2013\u2014\u2212"
    "\u200b\u200c\u200d\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\ufeff"
)

_HPKE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


class CryptoError(Exception):
    """Signal any failure of this module; messages are generic and never carry secrets."""

    default_message = "cryptographic operation failed"

    def __init__(self, message: str | None = None) -> None:
        """Use the class's generic message unless the caller gives another generic one."""
        super().__init__(message or self.default_message)


class WrongPassphrase(CryptoError):
    """Signal that a key file did not open: wrong passphrase or an altered file."""

    default_message = "wrong passphrase, or the key file was altered"


class TamperedCiphertext(CryptoError):
    """Signal an authentication failure, a wrong row binding or a truncated blob."""

    default_message = "ciphertext failed authentication (altered, truncated or misplaced)"


class UnsupportedFormat(CryptoError):
    """Signal a format version (or key-file kind) this code does not read."""

    default_message = "unsupported format version"


class NotARecipient(CryptoError):
    """Signal that the item was not sealed to this admin key."""

    default_message = "this key is not a recipient"


# --- canonical encoding -------------------------------------------------------------------


_U32 = struct.Struct(">I")
_I64 = struct.Struct(">q")


def _lp(*fields: bytes) -> bytes:
    """Join fields unambiguously: each one as a 4-byte big-endian length, then its bytes."""
    return b"".join([_U32.pack(len(field)) + field for field in fields])


def _i64(value: int) -> bytes:
    """Encode an integer as 8-byte big-endian two's complement, refusing what does not fit."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("expected an int")
    if not -(2**63) <= value < 2**63:
        raise ValueError("integer out of the 64-bit range")
    return struct.pack(">q", value)


def _text(value: str, *, max_bytes: int) -> bytes:
    """Encode a non-empty identifier as UTF-8, refusing what cannot be encoded canonically."""
    if not isinstance(value, str):
        raise TypeError("expected a str")
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("identifier is not valid text") from None
    if not 0 < len(raw) <= max_bytes:
        raise ValueError("identifier is empty or too long")
    return raw


def _b64encode(raw: bytes) -> str:
    """Encode bytes as URL-safe base64 without padding, the only base64 our formats write."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: object, *, size: int | None = None) -> bytes:
    """Decode strict unpadded URL-safe base64 (canonical only), raising CryptoError otherwise."""
    if not isinstance(text, str) or not text.isascii() or "=" in text:
        raise CryptoError("malformed base64 field")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    if any(ch not in alphabet for ch in text):
        raise CryptoError("malformed base64 field")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CryptoError("malformed base64 field") from None
    if _b64encode(raw) != text or (size is not None and len(raw) != size):
        raise CryptoError("malformed base64 field")
    return raw


# --- value types ---------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class SealedBlob:
    """Hold one sealed item; the only type storage accepts for sealed columns."""

    data: bytes

    def __post_init__(self) -> None:
        """Refuse anything but bytes so a str or a plaintext cannot sneak into a sealed column."""
        if not isinstance(self.data, bytes):
            raise TypeError("SealedBlob holds bytes only")

    def __repr__(self) -> str:
        """Show only the size: ciphertext in logs helps nobody."""
        return f"SealedBlob(<{len(self.data)} bytes>)"


@dataclass(frozen=True)
class ItemRef:
    """Name what a sealed item belongs to; bound into every seal as associated data."""

    report_id: str
    kind: str
    index: int

    def __post_init__(self) -> None:
        """Fail fast on a binding that could not be encoded canonically."""
        _text(self.report_id, max_bytes=_MAX_REF_FIELD_BYTES)
        _text(self.kind, max_bytes=_MAX_REF_FIELD_BYTES)
        _i64(self.index)
        if self.index < 0:
            raise ValueError("index must not be negative")

    def _binding(self, version: int = ITEM_FORMAT_VERSION) -> tuple[bytes, ...]:
        """Return the binding fields: magic, item format version, report id, kind, index."""
        return (
            _ITEM_MAGIC,
            bytes([version]),
            self.report_id.encode("utf-8"),
            self.kind.encode("utf-8"),
            _I64.pack(self.index),  # range checked once, in __post_init__
        )

    def _content_aad(self, version: int) -> bytes:
        """Return the associated data of the content ciphertext.

        A recipient entry's info is this plus ``LP(key id)``: LP of a longer field list is the
        concatenation, so the binding is encoded once per item, not once per admin.
        """
        return _lp(*self._binding(version))

    def _stream_binding(self) -> tuple[bytes, ...]:
        """Return an attachment stream's binding: stream magic and version, then the same ref."""
        return (
            _STREAM_MAGIC,
            bytes([STREAM_FORMAT_VERSION]),
            self.report_id.encode("utf-8"),
            self.kind.encode("utf-8"),
            _I64.pack(self.index),  # range checked once, in __post_init__
        )

    def _stream_aad(self) -> bytes:
        """Return the associated data of every chunk of an attachment stream."""
        return _lp(*self._stream_binding())


@dataclass(frozen=True)
class AdminPublicKey:
    """Hold an admin's X25519 public key: what the bot seals to."""

    raw: bytes

    def __post_init__(self) -> None:
        """Refuse keys HPKE cannot use (wrong size, or a low-order point) at load time."""
        if not isinstance(self.raw, bytes) or len(self.raw) != _KEY_SIZE:
            raise CryptoError("an admin public key is 32 bytes")
        try:
            X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(self.raw))
        except ValueError:
            raise CryptoError("not a usable X25519 public key") from None

    @property
    def key_id(self) -> str:
        """Return the first 16 hex digits of SHA-256(raw): stable, short, shown to admins."""
        return hashlib.sha256(self.raw).hexdigest()[: 2 * _KEY_ID_SIZE]

    @property
    def _key_id_bytes(self) -> bytes:
        """Return the key id as the 8 bytes a sealed blob stores."""
        return hashlib.sha256(self.raw).digest()[:_KEY_ID_SIZE]

    def to_text(self) -> str:
        """Render the key for configuration files: a prefix plus unpadded URL-safe base64."""
        return _PUBLIC_KEY_PREFIX + _b64encode(self.raw)

    @classmethod
    def from_text(cls, text: str) -> AdminPublicKey:
        """Parse the exact form `to_text` writes; anything else is a CryptoError."""
        if not isinstance(text, str) or not text.startswith(_PUBLIC_KEY_PREFIX):
            raise CryptoError("not an Amanat admin public key")
        return cls(_b64decode(text[len(_PUBLIC_KEY_PREFIX) :], size=_KEY_SIZE))


class AdminPrivateKey:
    """Hold an admin's X25519 private key; it lives only on an admin's machine."""

    __slots__ = ("_key", "_key_id", "_public_raw")

    def __init__(self, key: X25519PrivateKey) -> None:
        """Wrap an X25519 private key (use `generate` or `from_file_bytes` normally)."""
        if not isinstance(key, X25519PrivateKey):
            raise TypeError("expected an X25519PrivateKey")
        self._key = key
        # Computed once: opening thousands of items must not redo a scalar multiplication each.
        self._public_raw = key.public_key().public_bytes_raw()
        self._key_id = hashlib.sha256(self._public_raw).digest()[:_KEY_ID_SIZE]

    @classmethod
    def generate(cls) -> AdminPrivateKey:
        """Make a new admin key pair from the operating system's random generator."""
        return cls(X25519PrivateKey.generate())

    def public_key(self) -> AdminPublicKey:
        """Return the public half, which goes into the bot's configuration."""
        return AdminPublicKey(self._key.public_key().public_bytes_raw())

    def __repr__(self) -> str:
        """Name the key by its public id only, so a stray print or log never leaks it."""
        return f"AdminPrivateKey(key_id={self.public_key().key_id})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        """Refuse pickling, so the key never lands in a persistence file by accident."""
        raise TypeError("admin private keys cannot be pickled")

    def to_file_bytes(
        self, passphrase: str, *, scrypt_n: int = _SCRYPT_DEFAULT_N, allow_empty: bool = False
    ) -> bytes:
        """Encrypt the key under a passphrase (scrypt, then ChaCha20-Poly1305) as a JSON file."""
        secret = _passphrase_bytes(passphrase)
        if not secret and not allow_empty:
            raise CryptoError("refusing to protect an admin key with an empty passphrase")
        _check_scrypt_params(scrypt_n, _SCRYPT_R, _SCRYPT_P)
        public = self.public_key()
        salt = secrets.token_bytes(_KEY_FILE_SALT_SIZE)
        nonce = secrets.token_bytes(_NONCE_SIZE)
        wrapping_key = Scrypt(
            salt=salt, length=_KEY_SIZE, n=scrypt_n, r=_SCRYPT_R, p=_SCRYPT_P
        ).derive(secret)
        aad = _key_file_aad(public.raw, scrypt_n, _SCRYPT_R, _SCRYPT_P, salt)
        ciphertext = ChaCha20Poly1305(wrapping_key).encrypt(
            nonce, self._key.private_bytes_raw(), aad
        )
        document = {
            "format": _KEY_FILE_FORMAT,
            "version": FORMAT_VERSION,
            "key_id": public.key_id,
            "public_key": public.to_text(),
            "kdf": {
                "name": "scrypt",
                "n": scrypt_n,
                "r": _SCRYPT_R,
                "p": _SCRYPT_P,
                "salt": _b64encode(salt),
            },
            "cipher": _KEY_FILE_CIPHER,
            "nonce": _b64encode(nonce),
            "ciphertext": _b64encode(ciphertext),
        }
        return (json.dumps(document, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_file_bytes(cls, data: bytes, passphrase: str) -> AdminPrivateKey:
        """Open a key file written by `to_file_bytes`, honouring its recorded scrypt cost."""
        doc = _parse_key_file(data)
        kdf = doc["kdf"]
        n, r, p = _check_scrypt_params(kdf["n"], kdf["r"], kdf["p"])
        salt = _b64decode(kdf["salt"])
        if not 16 <= len(salt) <= 64:
            raise CryptoError("malformed key file")
        nonce = _b64decode(doc["nonce"], size=_NONCE_SIZE)
        ciphertext = _b64decode(doc["ciphertext"], size=_KEY_SIZE + _TAG_SIZE)
        public = AdminPublicKey.from_text(doc["public_key"])
        if doc["key_id"] != public.key_id:
            raise CryptoError("malformed key file")
        wrapping_key = Scrypt(salt=salt, length=_KEY_SIZE, n=n, r=r, p=p).derive(
            _passphrase_bytes(passphrase)
        )
        try:
            raw = ChaCha20Poly1305(wrapping_key).decrypt(
                nonce, ciphertext, _key_file_aad(public.raw, n, r, p, salt)
            )
        except InvalidTag:
            raise WrongPassphrase() from None
        key = cls(X25519PrivateKey.from_private_bytes(raw))
        if not hmac.compare_digest(key.public_key().raw, public.raw):
            raise TamperedCiphertext("the key file's private and public keys do not match")
        return key


def _passphrase_bytes(passphrase: str) -> bytes:
    """Encode a passphrase as NFC UTF-8, so the same words typed on any keyboard match."""
    if not isinstance(passphrase, str):
        raise TypeError("a passphrase is a str")
    try:
        return unicodedata.normalize("NFC", passphrase).encode("utf-8")
    except UnicodeEncodeError:
        raise CryptoError("the passphrase is not valid text") from None


def _check_scrypt_params(n: object, r: object, p: object) -> tuple[int, int, int]:
    """Refuse scrypt parameters that are malformed, too weak or absurdly expensive."""
    if not (_is_int(n) and _is_int(r) and _is_int(p)):
        raise CryptoError("scrypt parameters must be integers")
    if n & (n - 1) or not _SCRYPT_MIN_N <= n <= _SCRYPT_MAX_N:
        raise CryptoError("scrypt n must be a power of two between 2**10 and 2**20")
    if not 1 <= r <= _SCRYPT_MAX_R or not 1 <= p <= _SCRYPT_MAX_P:
        raise CryptoError("scrypt r or p out of bounds")
    if 128 * n * r > _SCRYPT_MAX_MEMORY:
        raise CryptoError("scrypt parameters need too much memory")
    return n, r, p


def _is_int(value: object) -> TypeGuard[int]:
    """Tell a real int from a bool or anything else JSON may hold."""
    return isinstance(value, int) and not isinstance(value, bool)


def _key_file_aad(public_raw: bytes, n: int, r: int, p: int, salt: bytes) -> bytes:
    """Return the associated data of a key file: everything in its header that matters."""
    return _lp(
        _KEY_FILE_MAGIC,
        bytes([FORMAT_VERSION]),
        public_raw,
        b"scrypt",
        _i64(n),
        _i64(r),
        _i64(p),
        salt,
        _KEY_FILE_CIPHER.encode("ascii"),
    )


def _parse_key_file(data: bytes) -> dict[str, Any]:
    """Parse and shape-check a key file's JSON before any expensive work is done."""
    if not isinstance(data, bytes) or len(data) > _MAX_KEY_FILE_BYTES:
        raise CryptoError("not an Amanat admin key file")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CryptoError("not an Amanat admin key file") from None
    if not isinstance(doc, dict) or doc.get("format") != _KEY_FILE_FORMAT:
        raise CryptoError("not an Amanat admin key file")
    version = doc.get("version")
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise UnsupportedFormat("unsupported key file version")
    expected = {"format", "version", "key_id", "public_key", "kdf", "cipher", "nonce", "ciphertext"}
    if set(doc) != expected:
        raise CryptoError("malformed key file")
    kdf = doc["kdf"]
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise UnsupportedFormat("unsupported key file KDF")
    if set(kdf) != {"name", "n", "r", "p", "salt"}:
        raise CryptoError("malformed key file")
    if doc["cipher"] != _KEY_FILE_CIPHER:
        raise UnsupportedFormat("unsupported key file cipher")
    return doc


# --- sealed items --------------------------------------------------------------------------


# --- wrapping data keys --------------------------------------------------------------------

# A wrap puts one data key into an 80-byte recipient entry, `enc || wrapped key`, from the
# recipient's public key (as an object and as raw bytes), the data key and the info that binds
# the entry. Item v1 and stream v1 entries use HPKE; item v2 entries use the X25519 wrap.
_Wrap = Callable[[X25519PublicKey, bytes, bytes, bytes], bytes]
# An unwrap reverses it, from the entry, the admin's key and the same info; it raises
# TamperedCiphertext on any failure.
_Unwrap = Callable[[bytes, "AdminPrivateKey", bytes], bytes]


def _hpke_wrap(public: X25519PublicKey, public_raw: bytes, data_key: bytes, info: bytes) -> bytes:
    """Wrap a data key with HPKE base mode (item v1 and stream v1 entries)."""
    return _HPKE.encrypt(data_key, public, info=info)


def _hpke_unwrap(wrapped: bytes, key: AdminPrivateKey, info: bytes) -> bytes:
    """Open an HPKE-wrapped data key."""
    try:
        return _HPKE.decrypt(wrapped, key._key, info=info)
    except InvalidTag:
        raise TamperedCiphertext() from None


def _x25519_wrap_key(shared: bytes, enc: bytes, recipient_raw: bytes, info: bytes) -> bytes:
    """Derive a v2 wrap key: HKDF-SHA256 of the X25519 secret, salted with both public keys."""
    return HKDF(
        algorithm=hashes.SHA256(), length=_KEY_SIZE, salt=enc + recipient_raw, info=info
    ).derive(shared)


def _x25519_wrap(public: X25519PublicKey, public_raw: bytes, data_key: bytes, info: bytes) -> bytes:
    """Wrap a data key the item v2 way: age's X25519 recipient stanza, with AES-256-GCM.

    The X25519 work is HPKE's (one ephemeral key, one exchange); what goes is HPKE's labelled
    key schedule, seven HMACs per wrap, which took item sealing from about 0.6 to about 0.8
    of libsodium's sealed box (benchmarks/seal.py).
    """
    ephemeral = X25519PrivateKey.generate()
    enc = ephemeral.public_key().public_bytes_raw()
    wrap_key = _x25519_wrap_key(ephemeral.exchange(public), enc, public_raw, info)
    return enc + AESGCM(wrap_key).encrypt(_WRAP_V2_NONCE, data_key, None)


def _x25519_unwrap(wrapped: bytes, key: AdminPrivateKey, info: bytes) -> bytes:
    """Open a v2-wrapped data key; a low-order `enc` or any altered byte is tampering."""
    enc = wrapped[:_HPKE_ENC_SIZE]
    try:
        shared = key._key.exchange(X25519PublicKey.from_public_bytes(enc))
    except ValueError:  # the shared secret came out all zero: enc is a low-order point
        raise TamperedCiphertext() from None
    wrap_key = _x25519_wrap_key(shared, enc, key._public_raw, info)
    try:
        return AESGCM(wrap_key).decrypt(_WRAP_V2_NONCE, wrapped[_HPKE_ENC_SIZE:], None)
    except InvalidTag:
        raise TamperedCiphertext() from None


_ContentCipher = type[AESGCM] | type[ChaCha20Poly1305]
# Per sealed-item format version: the wrap, the unwrap and the content AEAD (docs/crypto.md §4).
_ITEM_FORMATS: Mapping[int, tuple[_Wrap, _Unwrap, _ContentCipher]] = MappingProxyType(
    {
        1: (_hpke_wrap, _hpke_unwrap, ChaCha20Poly1305),
        2: (_x25519_wrap, _x25519_unwrap, AESGCM),
    }
)


# --- sealing to admins ---------------------------------------------------------------------


class AdminSealer:
    """Seal to every admin public key; the bot holds only this (public keys)."""

    __slots__ = ("_recipients",)

    def __init__(self, public_keys: Sequence[AdminPublicKey]) -> None:
        """Take the admins' public keys; refuse none, duplicates or more than a blob can list."""
        keys = tuple(public_keys)
        if not keys:
            raise CryptoError("no admin public keys: nothing could ever be opened")
        if not all(isinstance(key, AdminPublicKey) for key in keys):
            raise TypeError("expected AdminPublicKey values")
        if len(keys) > _MAX_RECIPIENTS:
            raise CryptoError("too many admin public keys")
        ids = [key._key_id_bytes for key in keys]
        if len(set(ids)) != len(ids):
            raise CryptoError("duplicate admin public key")
        self._recipients = tuple(
            (key_id, X25519PublicKey.from_public_bytes(key.raw), key.raw)
            for key_id, key in zip(ids, keys, strict=True)
        )

    def __repr__(self) -> str:
        """Show how many admins items are sealed to."""
        return f"AdminSealer(<{len(self._recipients)} admin keys>)"

    def seal_for_admins(self, plaintext: bytes, ref: ItemRef) -> SealedBlob:
        """Seal an item so only admins can read it: fresh data key, AES-256-GCM, X25519 wraps."""
        if not isinstance(plaintext, bytes):
            raise TypeError("plaintext must be bytes")
        version = ITEM_FORMAT_VERSION
        cipher = _ITEM_FORMATS[version][2]
        data_key = secrets.token_bytes(_KEY_SIZE)
        nonce = secrets.token_bytes(_NONCE_SIZE)
        aad = ref._content_aad(version)
        ciphertext = cipher(data_key).encrypt(nonce, plaintext, aad)
        return SealedBlob(self._item_header(version, data_key, aad) + nonce + ciphertext)

    def _item_header(self, version: int, data_key: bytes, aad: bytes) -> bytes:
        """Wrap the data key to every recipient the way `version` does; lay out the header."""
        return self._recipient_table(version, data_key, aad, _ITEM_FORMATS[version][0])

    def _recipient_table(self, version: int, data_key: bytes, binding: bytes, wrap: _Wrap) -> bytes:
        """Lay out version, count and one wrapped copy of the data key per recipient.

        Each entry's info is the encoded binding followed by ``LP(key id)``.
        """
        parts = [bytes([version, len(self._recipients)])]
        for key_id, public, public_raw in self._recipients:
            wrapped = wrap(public, public_raw, data_key, binding + _LP_KEY_ID + key_id)
            if len(wrapped) != _WRAPPED_KEY_SIZE:  # the entry length below is fixed
                raise CryptoError("a wrapped data key has an unexpected size")
            parts.append(key_id + _WRAPPED_KEY_LENGTH + wrapped)
        return b"".join(parts)

    def start_stream(self, ref: ItemRef) -> StreamSealer:
        """Begin sealing one attachment to every admin: fresh data key, header, then chunks."""
        if not isinstance(ref, ItemRef):
            raise TypeError("expected an ItemRef")
        data_key = ChaCha20Poly1305.generate_key()
        salt = secrets.token_bytes(_STREAM_SALT_SIZE)
        header = _stream_header(self, data_key, salt, ref)
        return StreamSealer(header, _stream_payload_key(data_key, salt), ref)


class _ParsedItem(NamedTuple):
    """Hold the fields of a sealed blob after structural checks."""

    version: int
    entries: dict[bytes, bytes]
    nonce: bytes
    ciphertext: bytes


def _tampered() -> NoReturn:
    """Raise the one error every malformed or truncated blob gets."""
    raise TamperedCiphertext()


def _parse_item(data: bytes) -> _ParsedItem:
    """Split a v1 or v2 blob into recipient entries, nonce and ciphertext; reject malformation."""
    entries, pos = _parse_recipients(data, ITEM_FORMAT_VERSIONS_READ)
    if len(data) < pos + _NONCE_SIZE + _TAG_SIZE:
        _tampered()
    nonce, ciphertext = data[pos : pos + _NONCE_SIZE], data[pos + _NONCE_SIZE :]
    return _ParsedItem(data[0], entries, nonce, ciphertext)


def _parse_recipients(data: bytes, versions: tuple[int, ...]) -> tuple[dict[bytes, bytes], int]:
    """Read the version byte and recipient table; return the entries and where they end."""
    if not data:
        _tampered()
    if data[0] not in versions:
        raise UnsupportedFormat()
    if len(data) < 2 or data[1] == 0:
        _tampered()
    pos = 2
    entries: dict[bytes, bytes] = {}
    for _ in range(data[1]):
        if len(data) < pos + _KEY_ID_SIZE + 2:
            _tampered()
        key_id = data[pos : pos + _KEY_ID_SIZE]
        (size,) = struct.unpack(">H", data[pos + _KEY_ID_SIZE : pos + _KEY_ID_SIZE + 2])
        pos += _KEY_ID_SIZE + 2
        if size != _WRAPPED_KEY_SIZE or len(data) < pos + size or key_id in entries:
            _tampered()
        entries[key_id] = data[pos : pos + size]
        pos += size
    return entries, pos


def _unwrap(
    entries: dict[bytes, bytes], key: AdminPrivateKey, binding: bytes, unwrap: _Unwrap
) -> bytes:
    """Find this admin's entry and open the data key in it (info: binding, then LP(key id))."""
    wrapped = entries.get(key._key_id)
    if wrapped is None:
        raise NotARecipient()
    return unwrap(wrapped, key, binding + _LP_KEY_ID + key._key_id)


def _open_parsed(parsed: _ParsedItem, ref: ItemRef, key: AdminPrivateKey) -> tuple[bytes, bytes]:
    """Unwrap the data key for this admin and decrypt the content; return (data key, text)."""
    _, unwrap, cipher = _ITEM_FORMATS[parsed.version]
    aad = ref._content_aad(parsed.version)
    data_key = _unwrap(parsed.entries, key, aad, unwrap)
    try:
        plaintext = cipher(data_key).decrypt(parsed.nonce, parsed.ciphertext, aad)
    except InvalidTag:
        raise TamperedCiphertext() from None
    return data_key, plaintext


def _check_blob(blob: SealedBlob, ref: ItemRef, key: AdminPrivateKey) -> None:
    """Fail fast with TypeError on arguments of the wrong type (a programming error)."""
    if not isinstance(blob, SealedBlob):
        raise TypeError("expected a SealedBlob")
    if not isinstance(ref, ItemRef):
        raise TypeError("expected an ItemRef")
    if not isinstance(key, AdminPrivateKey):
        raise TypeError("expected an AdminPrivateKey")


def open_with_admin_key(blob: SealedBlob, ref: ItemRef, key: AdminPrivateKey) -> bytes:
    """Open a sealed item (v2 or v1) with an admin's private key: unwrap, then decrypt."""
    _check_blob(blob, ref, key)
    return _open_parsed(_parse_item(blob.data), ref, key)[1]


def rewrap_for_admins(
    blob: SealedBlob,
    ref: ItemRef,
    key: AdminPrivateKey,
    new_public_keys: Sequence[AdminPublicKey],
) -> SealedBlob:
    """Re-wrap an item's data key to a new set of admins, leaving the content bytes unchanged.

    The blob keeps its format version: a v1 item's content is ChaCha20-Poly1305 under its
    version-1 binding, so only v1 wraps can sit in front of it.
    """
    _check_blob(blob, ref, key)
    sealer = AdminSealer(new_public_keys)
    parsed = _parse_item(blob.data)
    data_key, _ = _open_parsed(parsed, ref, key)  # authenticates content before re-wrapping
    header = sealer._item_header(parsed.version, data_key, ref._content_aad(parsed.version))
    return SealedBlob(header + parsed.nonce + parsed.ciphertext)


# --- attachment streams --------------------------------------------------------------------


def _stream_payload_key(data_key: bytes, salt: bytes) -> bytes:
    """Derive the key that encrypts a stream's chunks (age: HKDF with the header's salt)."""
    info = _lp(_STREAM_MAGIC, bytes([STREAM_FORMAT_VERSION]), _STREAM_LABEL_PAYLOAD)
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_SIZE, salt=salt, info=info).derive(data_key)


def _stream_header_mac(data_key: bytes, ref: ItemRef, prefix: bytes) -> bytes:
    """Authenticate a whole stream header (table and salt) under a key derived from its data key."""
    info = _lp(_STREAM_MAGIC, bytes([STREAM_FORMAT_VERSION]), _STREAM_LABEL_HEADER)
    mac_key = HKDF(algorithm=hashes.SHA256(), length=_KEY_SIZE, salt=None, info=info).derive(
        data_key
    )
    return hmac.new(mac_key, _lp(*ref._stream_binding(), prefix), hashlib.sha256).digest()


def _stream_header(sealer: AdminSealer, data_key: bytes, salt: bytes, ref: ItemRef) -> SealedBlob:
    """Lay out a stream header: recipient table, salt, then the MAC over both."""
    table = sealer._recipient_table(STREAM_FORMAT_VERSION, data_key, ref._stream_aad(), _hpke_wrap)
    prefix = table + salt
    return SealedBlob(prefix + _stream_header_mac(data_key, ref, prefix))


def _open_stream_header(header: bytes, ref: ItemRef, key: AdminPrivateKey) -> tuple[bytes, bytes]:
    """Unwrap a stream's data key and check the header MAC; return (data key, salt)."""
    entries, pos = _parse_recipients(header, (STREAM_FORMAT_VERSION,))
    if len(header) != pos + _STREAM_SALT_SIZE + _STREAM_MAC_SIZE:
        _tampered()
    data_key = _unwrap(entries, key, ref._stream_aad(), _hpke_unwrap)
    mac_start = pos + _STREAM_SALT_SIZE
    expected = _stream_header_mac(data_key, ref, header[:mac_start])
    if not hmac.compare_digest(expected, header[mac_start:]):
        _tampered()
    return data_key, header[pos:mac_start]


def _stream_nonce(counter: int, last: bool) -> bytes:
    """Return chunk ``counter``'s nonce: 11-byte big-endian counter, then the last-chunk flag."""
    return counter.to_bytes(_STREAM_COUNTER_SIZE, "big") + (
        _STREAM_LAST if last else _STREAM_NOT_LAST
    )


class StreamSealer:
    """Seal one attachment chunk by chunk, so a file of any size needs one chunk of memory.

    Made by `AdminSealer.start_stream`. Store `header` as chunk number 0 and each blob from
    `seal_chunk` after it, in order. Every chunk but the last holds exactly
    ``STREAM_CHUNK_SIZE`` bytes; the last holds 0 to ``STREAM_CHUNK_SIZE`` (an empty file is
    one empty last chunk). Use `seal_stream_for_admins` to have arbitrary pieces re-chunked.
    """

    __slots__ = ("_aad", "_aead", "_counter", "header")

    def __init__(self, header: SealedBlob, payload_key: bytes, ref: ItemRef) -> None:
        """Take the finished header, the derived payload key and the ref the chunks bind to."""
        if not isinstance(header, SealedBlob) or not isinstance(ref, ItemRef):
            raise TypeError("expected a SealedBlob header and an ItemRef")
        if not isinstance(payload_key, bytes) or len(payload_key) != _KEY_SIZE:
            raise CryptoError("a stream payload key is 32 bytes")
        self.header: SealedBlob = header
        self._aead: ChaCha20Poly1305 | None = ChaCha20Poly1305(payload_key)
        self._aad = ref._stream_aad()
        self._counter = 0

    def __repr__(self) -> str:
        """Show progress only; the payload key stays hidden."""
        state = "finished" if self._aead is None else "open"
        return f"StreamSealer(<{self._counter} chunks sealed, {state}>)"

    def seal_chunk(self, plaintext: bytes, *, last: bool) -> SealedBlob:
        """Seal the next chunk; ``last=True`` exactly once, at the end, then the key is dropped."""
        if not isinstance(plaintext, bytes):
            raise TypeError("plaintext must be bytes")
        return self._seal(plaintext, last)

    def _seal(self, plaintext: bytes | bytearray | memoryview, last: bool) -> SealedBlob:
        """Seal a chunk from any bytes-like buffer (re-chunking passes views, not copies)."""
        if not isinstance(last, bool):
            raise TypeError("last must be a bool")
        aead = self._aead
        if aead is None:
            raise CryptoError("the stream is finished: its last chunk was already sealed")
        size = len(plaintext)
        if size > STREAM_CHUNK_SIZE:
            raise CryptoError("a chunk holds at most STREAM_CHUNK_SIZE bytes")
        if not last and size != STREAM_CHUNK_SIZE:
            raise CryptoError("every chunk but the last holds exactly STREAM_CHUNK_SIZE bytes")
        if self._counter >= _STREAM_MAX_CHUNKS:
            raise CryptoError("the stream has too many chunks")
        sealed = aead.encrypt(_stream_nonce(self._counter, last), plaintext, self._aad)
        self._counter += 1
        if last:
            self._aead = None
        return SealedBlob(sealed)


def seal_stream_for_admins(
    sealer: AdminSealer, ref: ItemRef, data: Iterable[bytes | bytearray | memoryview]
) -> Iterator[SealedBlob]:
    """Seal an attachment given as pieces of any size: yield the header, then each chunk.

    Memory stays constant: at most one chunk plus the current piece is held. Pieces may be
    ``bytes``, ``bytearray`` or ``memoryview``; a piece is only read until the next one is asked
    for. Arguments are checked and the header is made before this returns.
    """
    if not isinstance(sealer, AdminSealer):
        raise TypeError("expected an AdminSealer")
    stream = sealer.start_stream(ref)
    return _sealed_chunks(stream, iter(data))


def _sealed_chunks(
    stream: StreamSealer, pieces: Iterator[bytes | bytearray | memoryview]
) -> Iterator[SealedBlob]:
    """Yield the header, then re-chunk the pieces into full chunks and one last chunk."""
    yield stream.header
    pending = bytearray()
    for piece in pieces:
        if not isinstance(piece, bytes | bytearray | memoryview):
            raise TypeError("attachment pieces must be bytes")
        with memoryview(piece) as raw, raw.cast("B") as view:
            pos, end = 0, len(view)
            while pos < end:
                if len(pending) == STREAM_CHUNK_SIZE:  # more data follows: it was not the last
                    yield stream._seal(pending, False)
                    pending.clear()
                if not pending and end - pos > STREAM_CHUNK_SIZE:  # a whole chunk, no copy
                    yield stream._seal(view[pos : pos + STREAM_CHUNK_SIZE], False)
                    pos += STREAM_CHUNK_SIZE
                    continue
                take = min(STREAM_CHUNK_SIZE - len(pending), end - pos)
                pending += view[pos : pos + take]
                pos += take
    yield stream._seal(pending, True)


def open_stream_with_admin_key(
    header: SealedBlob, chunks: Iterable[SealedBlob], ref: ItemRef, key: AdminPrivateKey
) -> Iterator[bytes]:
    """Open an attachment stream, yielding each chunk's plaintext once it is authenticated.

    The header is checked before this returns (`NotARecipient`, `TamperedCiphertext`,
    `UnsupportedFormat`). While iterating, the first problem raises `TamperedCiphertext`:
    an altered, reordered, duplicated or foreign chunk, data after the last chunk, or a stream
    that ends without its last chunk (truncation) — which is only known at the END, after the
    earlier chunks were already yielded. So a caller that writes the plaintext to a file MUST
    delete the partial file when any `CryptoError` is raised, and must treat nothing as the
    attachment until iteration has finished without error.
    """
    return _opened_chunks(StreamOpener(header, ref, key), iter(chunks))


def _opened_chunks(opener: StreamOpener, chunks: Iterator[SealedBlob]) -> Iterator[bytes]:
    """Decrypt chunks in order, looking one ahead so each is opened as last or not-last."""
    current = next(chunks, None)
    if current is None:
        _tampered()  # even an empty file has one (last) chunk
    while current is not None:
        following = next(chunks, None)
        if following is not None and not isinstance(following, SealedBlob):
            raise TypeError("expected SealedBlob chunks")
        yield opener.open_chunk(current, last=following is None)
        current = following


class StreamOpener:
    """Open one attachment chunk by chunk, for callers that fetch chunks as they go.

    `open_stream_with_admin_key` is the way to open a stream held in an iterable; this is for
    a caller that reads chunks from an asynchronous source (an admin export streaming rows out
    of the database) and so cannot hand over an iterator. The header is checked when the
    opener is made. Feed the chunks in order, ``last=True`` exactly for the final one; the
    same truncation rule applies: nothing is the attachment until the last chunk has opened.
    """

    __slots__ = ("_aad", "_aead", "_counter")

    def __init__(self, header: SealedBlob, ref: ItemRef, key: AdminPrivateKey) -> None:
        """Unwrap the stream's data key and check the header (NotARecipient, Tampered, …)."""
        _check_blob(header, ref, key)
        data_key, salt = _open_stream_header(header.data, ref, key)
        self._aead: ChaCha20Poly1305 | None = ChaCha20Poly1305(_stream_payload_key(data_key, salt))
        self._aad = ref._stream_aad()
        self._counter = 0

    def __repr__(self) -> str:
        """Show progress only; the payload key stays hidden."""
        state = "finished" if self._aead is None else "open"
        return f"StreamOpener(<{self._counter} chunks opened, {state}>)"

    @property
    def finished(self) -> bool:
        """Tell whether the last chunk has opened, i.e. the attachment is complete."""
        return self._aead is None

    def open_chunk(self, chunk: SealedBlob, *, last: bool) -> bytes:
        """Authenticate and decrypt the next chunk; any problem is TamperedCiphertext."""
        if not isinstance(chunk, SealedBlob) or not isinstance(last, bool):
            raise TypeError("expected a SealedBlob chunk and a bool")
        aead = self._aead
        if aead is None:
            _tampered()  # data after the last chunk
        size = len(chunk.data)
        full = STREAM_CHUNK_SIZE + _TAG_SIZE
        if size > full or size < _TAG_SIZE or (not last and size != full):
            _tampered()
        if self._counter >= _STREAM_MAX_CHUNKS:
            _tampered()
        try:
            plaintext = aead.decrypt(_stream_nonce(self._counter, last), chunk.data, self._aad)
        except InvalidTag:
            raise TamperedCiphertext() from None
        self._counter += 1
        if last:
            self._aead = None
        return plaintext


def rewrap_stream_header(
    header: SealedBlob,
    ref: ItemRef,
    key: AdminPrivateKey,
    new_public_keys: Sequence[AdminPublicKey],
) -> SealedBlob:
    """Re-wrap a stream's data key to a new set of admins; every chunk stays as it is."""
    _check_blob(header, ref, key)
    sealer = AdminSealer(new_public_keys)
    data_key, salt = _open_stream_header(header.data, ref, key)  # header MAC checked first
    return _stream_header(sealer, data_key, salt, ref)


# --- server-side keys ----------------------------------------------------------------------


class ServerKeys:
    """Per-purpose subkeys derived (HKDF-SHA256, distinct info labels) from one server secret.

    The secret is 32 bytes; each purpose gets its own subkey so no two uses share a key.
    """

    __slots__ = (
        "_draft",
        "_notice",
        "_pseudonym",
        "_receipt_pepper",
        "_reporter_pepper",
        "_update",
    )

    def __init__(self, server_secret: bytes) -> None:
        """Derive every subkey now, so a bad secret fails at start and is not kept around."""
        if not isinstance(server_secret, bytes) or len(server_secret) != _KEY_SIZE:
            raise CryptoError("the server secret must be exactly 32 bytes")
        self._draft = _hkdf(server_secret, _LABEL_DRAFT)
        self._pseudonym = _hkdf(server_secret, _LABEL_PSEUDONYM)
        self._update = _hkdf(server_secret, _LABEL_UPDATE)
        self._receipt_pepper = _hkdf(server_secret, _LABEL_RECEIPT)
        self._reporter_pepper = _hkdf(server_secret, _LABEL_REPORTER)
        self._notice = _hkdf(server_secret, _LABEL_NOTICE)

    def __repr__(self) -> str:
        """Hide every subkey."""
        return "ServerKeys(<hidden>)"

    def seal_draft(self, plaintext: bytes, owner: str) -> bytes:
        """Encrypt a draft with the server draft key (ChaCha20-Poly1305), bound to its owner."""
        if not isinstance(plaintext, bytes):
            raise TypeError("plaintext must be bytes")
        nonce = secrets.token_bytes(_NONCE_SIZE)
        aad = _draft_aad(owner)
        return (
            bytes([FORMAT_VERSION])
            + nonce
            + ChaCha20Poly1305(self._draft).encrypt(nonce, plaintext, aad)
        )

    def open_draft(self, blob: bytes, owner: str) -> bytes:
        """Decrypt a draft sealed for this owner; any mismatch is TamperedCiphertext."""
        if not isinstance(blob, bytes):
            raise TypeError("a draft blob is bytes")
        aad = _draft_aad(owner)
        if not blob:
            _tampered()
        if blob[0] != FORMAT_VERSION:
            raise UnsupportedFormat()
        if len(blob) < 1 + _NONCE_SIZE + _TAG_SIZE:
            _tampered()
        try:
            return ChaCha20Poly1305(self._draft).decrypt(
                blob[1 : 1 + _NONCE_SIZE], blob[1 + _NONCE_SIZE :], aad
            )
        except InvalidTag:
            raise TamperedCiphertext() from None

    def pseudonym(self, transport: str, user_id: int) -> str:
        """Return a keyed pseudonym (HMAC-SHA256 hex) of an account; never store it with reports."""
        message = _lp(_text(transport, max_bytes=_MAX_REF_FIELD_BYTES), _i64(user_id))
        return hmac.new(self._pseudonym, message, hashlib.sha256).hexdigest()

    def update_key(self, transport: str, update_id: int) -> str:
        """Return the duplicate-update ledger key (HMAC-SHA256 hex) under its own subkey."""
        message = _lp(_text(transport, max_bytes=_MAX_REF_FIELD_BYTES), _i64(update_id))
        return hmac.new(self._update, message, hashlib.sha256).hexdigest()

    def receipt_hash(self, code: str) -> bytes:
        """Return a receipt code's stored form: peppered scrypt of its 20 digits, deterministic."""
        digits = normalise_receipt_code(code)
        if digits is None:
            raise CryptoError("not a valid receipt code")
        return Scrypt(
            salt=self._receipt_pepper, length=_KEY_SIZE, n=_RECEIPT_SCRYPT_N, r=8, p=1
        ).derive(digits.encode("ascii"))

    def seal_notice(self, plaintext: bytes, report_id: str) -> bytes:
        """Lock how to reach a reporter who asked to be told of answers (ChaCha20-Poly1305).

        Only for reporters who opted in, told that a seized server holding the secret could
        link their account to their report. AAD = LP(magic, version, report id).
        """
        nonce = secrets.token_bytes(_NONCE_SIZE)
        sealed = ChaCha20Poly1305(self._notice).encrypt(nonce, plaintext, _notice_aad(report_id))
        return bytes([FORMAT_VERSION]) + nonce + sealed

    def open_notice(self, blob: bytes, report_id: str) -> bytes:
        """Open a notice sealed by :meth:`seal_notice` for the same report."""
        if len(blob) < 1 + _NONCE_SIZE + _TAG_SIZE:
            raise TamperedCiphertext
        if blob[0] != FORMAT_VERSION:
            raise UnsupportedFormat
        nonce, sealed = blob[1 : 1 + _NONCE_SIZE], blob[1 + _NONCE_SIZE :]
        try:
            return ChaCha20Poly1305(self._notice).decrypt(nonce, sealed, _notice_aad(report_id))
        except InvalidTag:
            raise TamperedCiphertext from None

    def reporter_key(self, code: str, report_id: str) -> ReporterKey:
        """Derive the reporter's reply key from their receipt code (slow: scrypt, peppered).

        Only the public half is stored (with the report); the private half exists only while
        the reporter's ``/status`` message is handled, so replies sealed to it stay closed to
        a seized server, which has neither the code nor, without the secret, the pepper.
        """
        digits = normalise_receipt_code(code)
        if digits is None:
            raise CryptoError("not a valid receipt code")
        salt = _lp(self._reporter_pepper, _text(report_id, max_bytes=_MAX_REF_FIELD_BYTES))
        seed = Scrypt(salt=salt, length=_KEY_SIZE, n=_RECEIPT_SCRYPT_N, r=8, p=1).derive(
            digits.encode("ascii")
        )
        return ReporterKey(X25519PrivateKey.from_private_bytes(seed))


class ReporterKey:
    """A reporter's reply key pair, derived from the receipt code; never stored or printed."""

    __slots__ = ("_private",)

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key

    def __repr__(self) -> str:
        return "ReporterKey(<hidden>)"

    def public_bytes(self) -> bytes:
        """Return the 32-byte public key stored with the report so admins can reply."""
        raw: bytes = self._private.public_key().public_bytes_raw()
        return raw

    def open_reply(self, blob: SealedBlob, ref: ItemRef) -> bytes:
        """Open a reply sealed by :func:`seal_for_reporter` to this key."""
        data = blob.data
        if len(data) < 2 or data[0] != _REPLY_VERSION:
            raise (
                UnsupportedFormat if data[:1] and data[0] != _REPLY_VERSION else TamperedCiphertext
            )
        try:
            return _HPKE.decrypt(data[1:], self._private, info=_reply_info(ref))
        except Exception:
            raise TamperedCiphertext from None


def seal_for_reporter(plaintext: bytes, reporter_public_key: bytes, ref: ItemRef) -> SealedBlob:
    """Seal an admin's reply so that only the holder of the receipt code can read it (HPKE).

    Layout: one version byte, then HPKE base-mode output (X25519, HKDF-SHA256,
    ChaCha20-Poly1305) with ``info`` binding the reply to its report, kind and index.
    """
    if len(reporter_public_key) != _KEY_SIZE:
        raise CryptoError("a reporter public key has 32 bytes")
    public = X25519PublicKey.from_public_bytes(reporter_public_key)
    sealed = _HPKE.encrypt(plaintext, public, info=_reply_info(ref))
    return SealedBlob(bytes([_REPLY_VERSION]) + sealed)


def _reply_info(ref: ItemRef) -> bytes:
    """Bind a reply to its report, kind and index, apart from admin-sealed items."""
    return _lp(_REPLY_MAGIC, bytes([_REPLY_VERSION]), *ref._binding()[2:])


def _notice_aad(report_id: str) -> bytes:
    """Bind a reply notice to its report."""
    return _lp(_NOTICE_MAGIC, bytes([FORMAT_VERSION]), _text(report_id, max_bytes=256))


def _hkdf(secret: bytes, label: bytes) -> bytes:
    """Derive one 32-byte subkey: HKDF-SHA256, no salt, info = the purpose label."""
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_SIZE, salt=None, info=label).derive(secret)


def _draft_aad(owner: str) -> bytes:
    """Return a draft's associated data: magic, version and owner."""
    return _lp(_DRAFT_MAGIC, bytes([FORMAT_VERSION]), _text(owner, max_bytes=256))


# --- codes and ids -------------------------------------------------------------------------


def new_receipt_code() -> str:
    """Return a fresh receipt code: 20 random decimal digits (66 bits) in groups of four."""
    digits = f"{secrets.randbelow(10**_RECEIPT_DIGITS):0{_RECEIPT_DIGITS}d}"
    return "-".join(
        digits[i : i + _RECEIPT_GROUP] for i in range(0, _RECEIPT_DIGITS, _RECEIPT_GROUP)
    )


def normalise_receipt_code(text: str) -> str | None:
    """Read a receipt code as typed: Persian, Arabic or ASCII digits, spaces and dashes."""
    if not isinstance(text, str) or len(text) > _MAX_RECEIPT_INPUT:
        return None
    digits: list[str] = []
    for ch in text:
        if "0" <= ch <= "9":
            digits.append(ch)
        elif ch in _PERSIAN_DIGITS:
            digits.append(str(_PERSIAN_DIGITS.index(ch)))
        elif ch in _ARABIC_INDIC_DIGITS:
            digits.append(str(_ARABIC_INDIC_DIGITS.index(ch)))
        elif not (ch.isspace() or ch in _RECEIPT_SEPARATORS):
            return None
    return "".join(digits) if len(digits) == _RECEIPT_DIGITS else None


def new_report_id() -> str:
    """Return a fresh report id: 10 Crockford base32 characters (50 bits) admins can type."""
    return "".join(secrets.choice(_CROCKFORD) for _ in range(_REPORT_ID_LENGTH))


def normalise_report_id(text: str) -> str | None:
    """Read a report id as an admin may type it (any case, O for 0, I or L for 1, dashes)."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(cleaned) != _REPORT_ID_LENGTH or any(ch not in _CROCKFORD for ch in cleaned):
        return None
    return cleaned


def generate_server_secret() -> bytes:
    """Return 32 random bytes for AMANAT_SERVER_SECRET."""
    return secrets.token_bytes(_KEY_SIZE)
