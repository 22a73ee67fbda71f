"""Hold admin keys: the public key the server seals to, the private key file on a laptop.

Format: ``docs/crypto.md`` §3 (public key text forms, key id and the audit signing key) and
§3.1 (the key file: scrypt, then ChaCha20-Poly1305 over the raw X25519 private key, its header
bound as associated data).
A private key exists only on an admin's machine, never on the server, and refuses to be
pickled or printed. The admin's Ed25519 audit signing key is derived from it (HKDF-SHA256), so
existing key files sign too; the public key's v2 text carries that signing key's public half.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeGuard

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bot.crypto.audit import SIGNATURE_MAGIC, signed_message
from bot.crypto.constants import (
    FORMAT_VERSION,
    HPKE_SUITE,
    KEY_ID_SIZE,
    KEY_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
)
from bot.crypto.encoding import b64decode, b64encode, i64, lp
from bot.crypto.errors import CryptoError, TamperedCiphertext, UnsupportedFormat, WrongPassphrase
from bot.crypto.requests import REQUEST_SIGNATURE_MAGIC, SignedRequest
from bot.crypto.requests import signed_message as request_signed_message

_KEY_FILE_MAGIC = b"AMANAT-ADMIN-KEY"
_KEY_FILE_FORMAT = "amanat-admin-key"
_KEY_FILE_CIPHER = "chacha20-poly1305"
_PUBLIC_KEY_PREFIX = "amanat-admin-pk-v1:"
_PUBLIC_KEY_V2_PREFIX = "amanat-admin-pk-v2:"
_AUDIT_SIGNING_INFO = b"amanat/v1/admin/audit-signing-key"
_MAX_KEY_FILE_BYTES = 64 * 1024
SIGNING_PREFIXES: tuple[bytes, ...] = (SIGNATURE_MAGIC, REQUEST_SIGNATURE_MAGIC)
"""What an admin key signs: audit entries (§14) and admin API requests (§18), nothing else."""

_SCRYPT_DEFAULT_N = 2**17
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_MIN_N = 2**10
_SCRYPT_MAX_N = 2**20
_SCRYPT_MAX_R = 32
_SCRYPT_MAX_P = 16
_SCRYPT_MAX_MEMORY = 2**30  # bytes: 128 * n * r
_KEY_FILE_SALT_SIZE = 32


@dataclass(frozen=True)
class AdminPublicKey:
    """Hold an admin's X25519 public key (what the bot seals to) and, if known, their signing key.

    ``signing`` is the raw Ed25519 public key that checks the admin's audit signatures; a v1
    text line does not carry it. Equality and hashing follow the X25519 key alone, like the
    key id: the two forms of one admin's line name the same recipient.
    """

    raw: bytes
    signing: bytes | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        """Refuse keys HPKE cannot use (wrong size, or a low-order point) at load time."""
        if not isinstance(self.raw, bytes) or len(self.raw) != KEY_SIZE:
            raise CryptoError("an admin public key is 32 bytes")
        try:
            X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(self.raw))
        except ValueError:
            raise CryptoError("not a usable X25519 public key") from None
        if self.signing is not None and (
            not isinstance(self.signing, bytes) or len(self.signing) != KEY_SIZE
        ):
            raise CryptoError("an admin signing key is 32 bytes")

    @property
    def key_id(self) -> str:
        """Return the first 16 hex digits of SHA-256(raw): stable, short, shown to admins."""
        return hashlib.sha256(self.raw).hexdigest()[: 2 * KEY_ID_SIZE]

    @property
    def _key_id_bytes(self) -> bytes:
        """Return the key id as the 8 bytes a sealed blob stores."""
        return hashlib.sha256(self.raw).digest()[:KEY_ID_SIZE]

    def to_text(self) -> str:
        """Render the key for configuration files: v2 when the signing key is known, else v1.

        v2 is the prefix plus unpadded URL-safe base64 of both raw keys (X25519, then
        Ed25519); v1 holds the X25519 key alone.
        """
        if self.signing is None:
            return _PUBLIC_KEY_PREFIX + b64encode(self.raw)
        return _PUBLIC_KEY_V2_PREFIX + b64encode(self.raw + self.signing)

    @classmethod
    def from_text(cls, text: str) -> AdminPublicKey:
        """Parse exactly what `to_text` writes (v1 or v2); anything else is a CryptoError."""
        if not isinstance(text, str):
            raise CryptoError("not an Amanat admin public key")
        if text.startswith(_PUBLIC_KEY_V2_PREFIX):
            both = b64decode(text[len(_PUBLIC_KEY_V2_PREFIX) :], size=2 * KEY_SIZE)
            return cls(both[:KEY_SIZE], both[KEY_SIZE:])
        if text.startswith(_PUBLIC_KEY_PREFIX):
            return cls(b64decode(text[len(_PUBLIC_KEY_PREFIX) :], size=KEY_SIZE))
        raise CryptoError("not an Amanat admin public key")


class AdminPrivateKey:
    """Hold an admin's X25519 private key and the audit signing key derived from it.

    It lives only on an admin's machine.
    """

    __slots__ = ("_key", "_key_id", "_public_raw", "_signing", "_signing_public_raw")

    def __init__(self, key: X25519PrivateKey) -> None:
        """Wrap an X25519 private key (use `generate` or `from_file_bytes` normally)."""
        if not isinstance(key, X25519PrivateKey):
            raise TypeError("expected an X25519PrivateKey")
        self._key = key
        # Computed once: opening thousands of items must not redo a scalar multiplication each.
        self._public_raw = key.public_key().public_bytes_raw()
        self._key_id = hashlib.sha256(self._public_raw).digest()[:KEY_ID_SIZE]
        self._signing = _audit_signing_key(key)
        self._signing_public_raw = self._signing.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> AdminPrivateKey:
        """Make a new admin key pair from the operating system's random generator."""
        return cls(X25519PrivateKey.generate())

    def public_key(self) -> AdminPublicKey:
        """Return the public half with its signing key: the v2 line for the configuration."""
        return AdminPublicKey(self._public_raw, self._signing_public_raw)

    def sign_audit_entry(self, entry_hash: bytes) -> bytes:
        """Sign one audit entry's hash, so a database writer cannot forge or rechain entries.

        Ed25519 over ``AMANAT-AUDIT-SIG-1 || entry_hash`` (docs/crypto.md §14); 64 bytes.
        """
        return self.sign(signed_message(entry_hash))

    def sign(self, message: bytes) -> bytes:
        """Ed25519 over ``message``, which must begin with one of Amanat's signing prefixes.

        The prefixes keep an audit signature and a request signature apart; refusing
        anything else keeps a key agent from signing whatever a caller brings.
        """
        if not message.startswith(SIGNING_PREFIXES):
            raise CryptoError("refusing to sign a message without an Amanat signing prefix")
        return self._signing.sign(message)

    def hpke_open(self, wrapped: bytes, info: bytes) -> bytes:
        """Open an HPKE-wrapped data key (item and stream v1 entries); InvalidTag if altered."""
        return HPKE_SUITE.decrypt(wrapped, self._key, info=info)

    def exchange(self, peer_raw: bytes) -> bytes:
        """X25519 with a peer's raw public key (item v2 entries); ValueError on a low-order one."""
        return self._key.exchange(X25519PublicKey.from_public_bytes(peer_raw))

    @property
    def key_id_bytes(self) -> bytes:
        """The 8 bytes a sealed blob's recipient table names this key by."""
        return self._key_id

    @property
    def public_raw(self) -> bytes:
        """The raw X25519 public key."""
        return self._public_raw

    def sign_request(self, request: SignedRequest) -> bytes:
        """Sign one admin API request (docs/crypto.md §18); 64 bytes.

        The same derived Ed25519 key as the audit, under another prefix: neither signature
        can be replayed as the other.
        """
        return self.sign(request_signed_message(request.digest()))

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
        public = AdminPublicKey(self._public_raw)  # the file records the v1 line (§3.1)
        salt = secrets.token_bytes(_KEY_FILE_SALT_SIZE)
        nonce = secrets.token_bytes(NONCE_SIZE)
        wrapping_key = Scrypt(
            salt=salt, length=KEY_SIZE, n=scrypt_n, r=_SCRYPT_R, p=_SCRYPT_P
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
                "salt": b64encode(salt),
            },
            "cipher": _KEY_FILE_CIPHER,
            "nonce": b64encode(nonce),
            "ciphertext": b64encode(ciphertext),
        }
        return (json.dumps(document, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_file_bytes(cls, data: bytes, passphrase: str) -> AdminPrivateKey:
        """Open a key file written by `to_file_bytes`, honouring its recorded scrypt cost."""
        doc = _parse_key_file(data)
        kdf = doc["kdf"]
        n, r, p = _check_scrypt_params(kdf["n"], kdf["r"], kdf["p"])
        salt = b64decode(kdf["salt"])
        if not 16 <= len(salt) <= 64:
            raise CryptoError("malformed key file")
        nonce = b64decode(doc["nonce"], size=NONCE_SIZE)
        ciphertext = b64decode(doc["ciphertext"], size=KEY_SIZE + TAG_SIZE)
        public = AdminPublicKey.from_text(doc["public_key"])
        if doc["key_id"] != public.key_id:
            raise CryptoError("malformed key file")
        wrapping_key = Scrypt(salt=salt, length=KEY_SIZE, n=n, r=r, p=p).derive(
            _passphrase_bytes(passphrase)
        )
        try:
            raw = ChaCha20Poly1305(wrapping_key).decrypt(
                nonce, ciphertext, _key_file_aad(public.raw, n, r, p, salt)
            )
        except InvalidTag:
            raise WrongPassphrase() from None
        key = cls(X25519PrivateKey.from_private_bytes(raw))
        if not _same_public_key(key.public_key(), public):
            raise TamperedCiphertext("the key file's private and public keys do not match")
        return key


def recorded_public_key(data: bytes) -> AdminPublicKey:
    """The public key a key file records, read without its passphrase (it is public)."""
    doc = _parse_key_file(data)
    try:
        return AdminPublicKey.from_text(str(doc["public_key"]))
    except CryptoError:
        raise CryptoError("malformed key file") from None


def _audit_signing_key(key: X25519PrivateKey) -> Ed25519PrivateKey:
    """Derive the admin's Ed25519 audit signing key from their X25519 private key (§3).

    Derived, not stored: every existing key file signs without being rewritten.
    """
    seed = HKDF(hashes.SHA256(), KEY_SIZE, salt=None, info=_AUDIT_SIGNING_INFO).derive(
        key.private_bytes_raw()
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def _same_public_key(derived: AdminPublicKey, recorded: AdminPublicKey) -> bool:
    """Compare in constant time; a recorded v2 line's signing key must match too."""
    same = hmac.compare_digest(derived.raw, recorded.raw)
    if recorded.signing is not None:
        same = hmac.compare_digest(derived.signing or b"", recorded.signing) and same
    return same


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
    return lp(
        _KEY_FILE_MAGIC,
        bytes([FORMAT_VERSION]),
        public_raw,
        b"scrypt",
        i64(n),
        i64(r),
        i64(p),
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
