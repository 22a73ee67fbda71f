"""Seal an attachment chunk by chunk and open it again: attachment stream format v1.

Format: ``docs/crypto.md`` §12, after age's STREAM: a header (the recipient table wrapping a
fresh data key with HPKE, a salt, and a MAC over both), then fixed-size ChaCha20-Poly1305
chunks whose nonces count up and flag the last one, so truncation, reordering and splicing
are all detected. Memory stays at one chunk whatever the file's size.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.crypto.constants import (
    KEY_SIZE,
    STREAM_CHUNK_SIZE,
    STREAM_FORMAT_VERSION,
    STREAM_MAGIC,
    TAG_SIZE,
)
from bot.crypto.encoding import lp
from bot.crypto.errors import CryptoError, TamperedCiphertext
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.recipients import (
    Recipient,
    check_blob,
    hpke_unwrap,
    hpke_wrap,
    parse_recipients,
    recipient_table,
    recipients_of,
    tampered,
    unwrap_entry,
)
from bot.crypto.values import ItemRef, SealedBlob

_STREAM_LABEL_PAYLOAD = b"payload"
_STREAM_LABEL_HEADER = b"header"
_STREAM_SALT_SIZE = 16
_STREAM_MAC_SIZE = 32
_STREAM_COUNTER_SIZE = 11  # the nonce is an 11-byte big-endian counter and a 1-byte last flag
_STREAM_MAX_CHUNKS = 2 ** (8 * _STREAM_COUNTER_SIZE)
_STREAM_NOT_LAST = b"\x00"
_STREAM_LAST = b"\x01"


def _stream_payload_key(data_key: bytes, salt: bytes) -> bytes:
    """Derive the key that encrypts a stream's chunks (age: HKDF with the header's salt)."""
    info = lp(STREAM_MAGIC, bytes([STREAM_FORMAT_VERSION]), _STREAM_LABEL_PAYLOAD)
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(data_key)


def _stream_header_mac(data_key: bytes, ref: ItemRef, prefix: bytes) -> bytes:
    """Authenticate a whole stream header (table and salt) under a key derived from its data key."""
    info = lp(STREAM_MAGIC, bytes([STREAM_FORMAT_VERSION]), _STREAM_LABEL_HEADER)
    mac_key = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(
        data_key
    )
    return hmac.new(mac_key, lp(*ref.stream_binding(), prefix), hashlib.sha256).digest()


def _stream_header(
    recipients: Sequence[Recipient], data_key: bytes, salt: bytes, ref: ItemRef
) -> SealedBlob:
    """Lay out a stream header: recipient table, salt, then the MAC over both."""
    table = recipient_table(
        recipients, STREAM_FORMAT_VERSION, data_key, ref.stream_aad(), hpke_wrap
    )
    prefix = table + salt
    return SealedBlob(prefix + _stream_header_mac(data_key, ref, prefix))


def _open_stream_header(header: bytes, ref: ItemRef, key: AdminPrivateKey) -> tuple[bytes, bytes]:
    """Unwrap a stream's data key and check the header MAC; return (data key, salt)."""
    entries, pos = parse_recipients(header, (STREAM_FORMAT_VERSION,))
    if len(header) != pos + _STREAM_SALT_SIZE + _STREAM_MAC_SIZE:
        tampered()
    data_key = unwrap_entry(entries, key, ref.stream_aad(), hpke_unwrap)
    mac_start = pos + _STREAM_SALT_SIZE
    expected = _stream_header_mac(data_key, ref, header[:mac_start])
    if not hmac.compare_digest(expected, header[mac_start:]):
        tampered()
    return data_key, header[pos:mac_start]


def _stream_nonce(counter: int, last: bool) -> bytes:
    """Return chunk ``counter``'s nonce: 11-byte big-endian counter, then the last-chunk flag."""
    return counter.to_bytes(_STREAM_COUNTER_SIZE, "big") + (
        _STREAM_LAST if last else _STREAM_NOT_LAST
    )


class StreamSealer:
    """Seal one attachment chunk by chunk, so a file of any size needs one chunk of memory.

    Made by :func:`start_stream`. Store `header` as chunk number 0 and each blob from
    `seal_chunk` after it, in order. Every chunk but the last holds exactly
    ``STREAM_CHUNK_SIZE`` bytes; the last holds 0 to ``STREAM_CHUNK_SIZE`` (an empty file is
    one empty last chunk). Use `seal_stream_for_admins` to have arbitrary pieces re-chunked.
    """

    __slots__ = ("_aad", "_aead", "_counter", "header")

    def __init__(self, header: SealedBlob, payload_key: bytes, ref: ItemRef) -> None:
        """Take the finished header, the derived payload key and the ref the chunks bind to."""
        if not isinstance(header, SealedBlob) or not isinstance(ref, ItemRef):
            raise TypeError("expected a SealedBlob header and an ItemRef")
        if not isinstance(payload_key, bytes) or len(payload_key) != KEY_SIZE:
            raise CryptoError("a stream payload key is 32 bytes")
        self.header: SealedBlob = header
        self._aead: ChaCha20Poly1305 | None = ChaCha20Poly1305(payload_key)
        self._aad = ref.stream_aad()
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


def start_stream(recipients: Sequence[Recipient], ref: ItemRef) -> StreamSealer:
    """Begin sealing one attachment to every recipient: fresh data key, header, then chunks."""
    if not isinstance(ref, ItemRef):
        raise TypeError("expected an ItemRef")
    data_key = ChaCha20Poly1305.generate_key()
    salt = secrets.token_bytes(_STREAM_SALT_SIZE)
    header = _stream_header(recipients, data_key, salt, ref)
    return StreamSealer(header, _stream_payload_key(data_key, salt), ref)


def sealed_chunks(
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
        tampered()  # even an empty file has one (last) chunk
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
        check_blob(header, ref, key)
        data_key, salt = _open_stream_header(header.data, ref, key)
        self._aead: ChaCha20Poly1305 | None = ChaCha20Poly1305(_stream_payload_key(data_key, salt))
        self._aad = ref.stream_aad()
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
            tampered()  # data after the last chunk
        size = len(chunk.data)
        full = STREAM_CHUNK_SIZE + TAG_SIZE
        if size > full or size < TAG_SIZE or (not last and size != full):
            tampered()
        if self._counter >= _STREAM_MAX_CHUNKS:
            tampered()
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
    check_blob(header, ref, key)
    recipients = recipients_of(new_public_keys)
    data_key, salt = _open_stream_header(header.data, ref, key)  # header MAC checked first
    return _stream_header(recipients, data_key, salt, ref)
