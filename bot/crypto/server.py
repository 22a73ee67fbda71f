"""Derive the server's own keys from its secret: drafts, pseudonyms, receipts, notices.

Format: ``docs/crypto.md`` §5 (drafts), §6 (subkeys: HKDF-SHA256 of the 32-byte server
secret, one info label per purpose; pseudonyms; the update ledger), §7 (receipt hashes) and
§13.1 (the reporter's reply key).
Whoever holds the server secret can open what these keys lock: nothing here may protect
report content, which is sealed to the admins instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bot.crypto.codes import normalise_receipt_code
from bot.crypto.constants import FORMAT_VERSION, KEY_SIZE, MAX_REF_FIELD_BYTES, NONCE_SIZE, TAG_SIZE
from bot.crypto.encoding import encode_text, i64, lp
from bot.crypto.errors import CryptoError, TamperedCiphertext, UnsupportedFormat
from bot.crypto.recipients import tampered
from bot.crypto.reporter import ReporterKey

_DRAFT_MAGIC = b"AMANAT-DRAFT"
_LABEL_DRAFT = b"amanat/v1/server/draft-key"
_LABEL_PSEUDONYM = b"amanat/v1/server/pseudonym-key"
_LABEL_UPDATE = b"amanat/v1/server/update-ledger-key"
_LABEL_RECEIPT = b"amanat/v1/server/receipt-pepper"
_LABEL_REPORTER = b"amanat/v1/server/reporter-key-pepper"
_LABEL_NOTICE = b"amanat/v1/server/reply-notice-key"
_LABEL_CONVERSATION = b"amanat/v1/server/conversation-key"
_NOTICE_MAGIC = b"AMANAT-NOTICE"
_REPLY_KEY_V2_INFO = b"amanat/v2/server/reporter-reply-key"
_RECEIPT_SCRYPT_N = 2**14


class ReceiptKeys:
    """What one scrypt run over a receipt code yields (docs/crypto.md §7, §13.1).

    scrypt's last step is PBKDF2, whose output blocks are independent: asking for 64 bytes
    gives the same first 32 as asking for 32 (the receipt hash every report has stored since
    v1) and a second block that the first does not reveal. That second block is the root of
    the reporter's reply key (v2), so a submission or a ``/status`` pays for one scrypt, not
    two, and a guessed code costs an attacker exactly what it did.
    """

    __slots__ = ("_reply_root", "receipt_hash")

    def __init__(self, derived: bytes) -> None:
        """Split scrypt's 64 bytes; the reply root never leaves this object."""
        if len(derived) != 2 * KEY_SIZE:
            raise CryptoError("a receipt derivation is 64 bytes")
        self.receipt_hash = derived[:KEY_SIZE]
        self._reply_root = derived[KEY_SIZE:]

    def __repr__(self) -> str:
        """Hide the reply root; the receipt hash alone is not shown either."""
        return "ReceiptKeys(<hidden>)"

    def reporter_key(self, report_id: str) -> ReporterKey:
        """The reporter's reply key v2: HKDF-SHA256 of the reply root, bound to the report."""
        info = lp(_REPLY_KEY_V2_INFO, encode_text(report_id, max_bytes=MAX_REF_FIELD_BYTES))
        seed = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(
            self._reply_root
        )
        return ReporterKey(X25519PrivateKey.from_private_bytes(seed))


class ServerKeys:
    """Per-purpose subkeys derived (HKDF-SHA256, distinct info labels) from one server secret.

    The secret is 32 bytes; each purpose gets its own subkey so no two uses share a key.
    """

    __slots__ = (
        "_conversation",
        "_draft",
        "_notice",
        "_pseudonym",
        "_receipt_pepper",
        "_reporter_pepper",
        "_update",
    )

    def __init__(self, server_secret: bytes) -> None:
        """Derive every subkey now, so a bad secret fails at start and is not kept around."""
        if not isinstance(server_secret, bytes) or len(server_secret) != KEY_SIZE:
            raise CryptoError("the server secret must be exactly 32 bytes")
        self._draft = _hkdf(server_secret, _LABEL_DRAFT)
        self._pseudonym = _hkdf(server_secret, _LABEL_PSEUDONYM)
        self._update = _hkdf(server_secret, _LABEL_UPDATE)
        self._receipt_pepper = _hkdf(server_secret, _LABEL_RECEIPT)
        self._reporter_pepper = _hkdf(server_secret, _LABEL_REPORTER)
        self._notice = _hkdf(server_secret, _LABEL_NOTICE)
        self._conversation = _hkdf(server_secret, _LABEL_CONVERSATION)

    def __repr__(self) -> str:
        """Hide every subkey."""
        return "ServerKeys(<hidden>)"

    def seal_volatile(self, plaintext: bytes, owner: str) -> bytes:
        """Lock a value kept in volatile memory (ChaCha20-Poly1305, server key), bound to ``owner``.

        Conversation state, sealed items and message ids in memory or Redis are all locked this
        way, each bound to its conversation key and name, so a dump of the store is ciphertext
        under opaque keys. The construction is format v1's draft encryption (§5), unchanged.
        """
        if not isinstance(plaintext, bytes):
            raise TypeError("plaintext must be bytes")
        nonce = secrets.token_bytes(NONCE_SIZE)
        aad = _draft_aad(owner)
        return (
            bytes([FORMAT_VERSION])
            + nonce
            + ChaCha20Poly1305(self._draft).encrypt(nonce, plaintext, aad)
        )

    def open_volatile(self, blob: bytes, owner: str) -> bytes:
        """Open a value locked by :meth:`seal_volatile`; any mismatch is TamperedCiphertext."""
        if not isinstance(blob, bytes):
            raise TypeError("a volatile value is bytes")
        aad = _draft_aad(owner)
        if not blob:
            tampered()
        if blob[0] != FORMAT_VERSION:
            raise UnsupportedFormat()
        if len(blob) < 1 + NONCE_SIZE + TAG_SIZE:
            tampered()
        try:
            return ChaCha20Poly1305(self._draft).decrypt(
                blob[1 : 1 + NONCE_SIZE], blob[1 + NONCE_SIZE :], aad
            )
        except InvalidTag:
            raise TamperedCiphertext() from None

    def pseudonym(self, transport: str, user_id: int) -> str:
        """Return a keyed pseudonym (HMAC-SHA256 hex) of an account, for volatile memory only.

        Account ids are small numbers: whoever holds the server secret reverses this by trying
        them all. So it keys conversations in memory or Redis and is never written to
        durable storage (docs/design.md §3.3).
        """
        message = lp(encode_text(transport, max_bytes=MAX_REF_FIELD_BYTES), i64(user_id))
        return hmac.new(self._pseudonym, message, hashlib.sha256).hexdigest()

    def conversation_key(self, transport: str, user_id: int) -> str:
        """Return the key of an account's conversation in volatile memory (HMAC-SHA256 hex).

        A keyed hash of the pseudonym under a subkey of its own, so that the keys in memory
        or Redis are not the pseudonym itself; like it, never written to durable storage.
        """
        pseudonym = bytes.fromhex(self.pseudonym(transport, user_id))
        return hmac.new(self._conversation, pseudonym, hashlib.sha256).hexdigest()

    def update_key(self, transport: str, update_id: int) -> str:
        """Return the duplicate-update ledger key (HMAC-SHA256 hex) under its own subkey."""
        message = lp(encode_text(transport, max_bytes=MAX_REF_FIELD_BYTES), i64(update_id))
        return hmac.new(self._update, message, hashlib.sha256).hexdigest()

    def receipt_keys(self, code: str) -> ReceiptKeys:
        """Run the one slow scrypt of a receipt code: its stored hash and its reply key root.

        Peppered and deterministic, so ``/status`` can look the hash up directly.
        """
        digits = normalise_receipt_code(code)
        if digits is None:
            raise CryptoError("not a valid receipt code")
        return ReceiptKeys(
            Scrypt(
                salt=self._receipt_pepper, length=2 * KEY_SIZE, n=_RECEIPT_SCRYPT_N, r=8, p=1
            ).derive(digits.encode("ascii"))
        )

    def receipt_hash(self, code: str) -> bytes:
        """Return a receipt code's stored form: peppered scrypt of its 20 digits, deterministic."""
        return self.receipt_keys(code).receipt_hash

    def seal_notice(self, plaintext: bytes, report_id: str) -> bytes:
        """Lock how to reach a reporter who asked to be told of answers (ChaCha20-Poly1305).

        Only for reporters who opted in, told that a seized server holding the secret could
        link their account to their report. AAD = LP(magic, version, report id).
        """
        nonce = secrets.token_bytes(NONCE_SIZE)
        sealed = ChaCha20Poly1305(self._notice).encrypt(nonce, plaintext, _notice_aad(report_id))
        return bytes([FORMAT_VERSION]) + nonce + sealed

    def open_notice(self, blob: bytes, report_id: str) -> bytes:
        """Open a notice sealed by :meth:`seal_notice` for the same report."""
        if len(blob) < 1 + NONCE_SIZE + TAG_SIZE:
            raise TamperedCiphertext
        if blob[0] != FORMAT_VERSION:
            raise UnsupportedFormat
        nonce, sealed = blob[1 : 1 + NONCE_SIZE], blob[1 + NONCE_SIZE :]
        try:
            return ChaCha20Poly1305(self._notice).decrypt(nonce, sealed, _notice_aad(report_id))
        except InvalidTag:
            raise TamperedCiphertext from None

    def reporter_key_v1(self, code: str, report_id: str) -> ReporterKey:
        """Derive a v1 reply key (reports of format 2 and older): a second, separate scrypt.

        New reports use :meth:`ReceiptKeys.reporter_key`. For either version only the public
        half is stored (with the report); the private half exists only while the reporter's
        ``/status`` message is handled, so replies sealed to it stay closed to a seized
        server, which has neither the code nor, without the secret, the pepper.
        """
        digits = normalise_receipt_code(code)
        if digits is None:
            raise CryptoError("not a valid receipt code")
        salt = lp(self._reporter_pepper, encode_text(report_id, max_bytes=MAX_REF_FIELD_BYTES))
        seed = Scrypt(salt=salt, length=KEY_SIZE, n=_RECEIPT_SCRYPT_N, r=8, p=1).derive(
            digits.encode("ascii")
        )
        return ReporterKey(X25519PrivateKey.from_private_bytes(seed))


def _notice_aad(report_id: str) -> bytes:
    """Bind a reply notice to its report."""
    return lp(_NOTICE_MAGIC, bytes([FORMAT_VERSION]), encode_text(report_id, max_bytes=256))


def _hkdf(secret: bytes, label: bytes) -> bytes:
    """Derive one 32-byte subkey: HKDF-SHA256, no salt, info = the purpose label."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=label).derive(secret)


def _draft_aad(owner: str) -> bytes:
    """Return a draft's associated data: magic, version and owner."""
    return lp(_DRAFT_MAGIC, bytes([FORMAT_VERSION]), encode_text(owner, max_bytes=256))


def generate_server_secret() -> bytes:
    """Return 32 random bytes for AMANAT_SERVER_SECRET."""
    return secrets.token_bytes(KEY_SIZE)
