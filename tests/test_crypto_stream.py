"""Prove attachment streams: round trips, every tamper case, rewrapping, vectors, memory."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.crypto.constants import STREAM_CHUNK_SIZE, STREAM_FORMAT_VERSION
from bot.crypto.errors import CryptoError, NotARecipient, TamperedCiphertext, UnsupportedFormat
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer, seal_stream_for_admins
from bot.crypto.stream import StreamSealer, open_stream_with_admin_key, rewrap_stream_header
from bot.crypto.values import ItemRef, SealedBlob
from tests.benchmark_support import run_quick

REPO = Path(__file__).resolve().parent.parent
VECTORS_DIR = Path(__file__).parent / "vectors"
C = STREAM_CHUNK_SIZE
TAG = 16
REF = ItemRef("7K3M9Q2XZA", "voice", 3)
CANARY = b"CANARY-5e1d07-voice-of-the-reporter-0799123456"
HEADER_ONE = 2 + 90 + 16 + 32  # one recipient: version, count, entry, salt, MAC
ERRORS: dict[str, type[CryptoError]] = {
    "TamperedCiphertext": TamperedCiphertext,
    "NotARecipient": NotARecipient,
    "UnsupportedFormat": UnsupportedFormat,
}


@pytest.fixture(scope="module")
def sealer(alice: AdminPrivateKey) -> AdminSealer:
    return AdminSealer([alice.public_key()])


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS_DIR / "stream_v1.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def admins() -> dict[str, AdminPrivateKey]:
    """The vector admins (stream_v1.json reuses the keys of crypto_v1.json)."""
    rows = json.loads((VECTORS_DIR / "crypto_v1.json").read_text("utf-8"))["admins"]
    return {
        row["name"]: AdminPrivateKey(
            X25519PrivateKey.from_private_bytes(bytes.fromhex(row["private_key_hex"]))
        )
        for row in rows
    }


def payload(size: int, seed: bytes = b"") -> bytes:
    """Return deterministic bytes with the canary at the start of every chunk."""
    block = CANARY + hashlib.shake_256(b"payload" + seed).digest(C - len(CANARY))
    return (block * (size // C + 1))[:size]


def seal_all(
    sealer: AdminSealer, data: bytes, ref: ItemRef = REF, piece: int = 10_000
) -> tuple[SealedBlob, list[SealedBlob]]:
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    header, *chunks = list(seal_stream_for_admins(sealer, ref, pieces))
    return header, chunks


def open_all(
    header: SealedBlob, chunks: Iterable[SealedBlob], key: AdminPrivateKey, ref: ItemRef = REF
) -> bytes:
    return b"".join(open_stream_with_admin_key(header, chunks, ref, key))


def assert_refused(
    header: SealedBlob,
    chunks: Iterable[SealedBlob],
    key: AdminPrivateKey,
    ref: ItemRef = REF,
    error: type[CryptoError] = TamperedCiphertext,
) -> list[bytes]:
    """Opening must raise `error` (whole stream consumed); return what was yielded first."""
    yielded: list[bytes] = []
    with pytest.raises(CryptoError) as caught:
        yielded.extend(open_stream_with_admin_key(header, chunks, ref, key))
    assert type(caught.value) is error
    text = f"{caught.value!s} {caught.value!r} {caught.value.args!r}"
    assert "CANARY" not in text
    assert CANARY.hex() not in text
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__
    return yielded


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected_sizes"),
    [
        (0, [0]),
        (1, [1]),
        (C - 1, [C - 1]),
        (C, [C]),
        (C + 1, [C, 1]),
        (3 * C + 5, [C, C, C, 5]),
        (4 * C, [C, C, C, C]),
    ],
    ids=["empty", "one-byte", "chunk-1", "chunk", "chunk+1", "several", "several-exact"],
)
def test_round_trip_sizes(
    sealer: AdminSealer, alice: AdminPrivateKey, size: int, expected_sizes: list[int]
) -> None:
    data = payload(size)
    header, chunks = seal_all(sealer, data)
    assert len(header.data) == HEADER_ONE
    assert header.data[0] == STREAM_FORMAT_VERSION
    assert [len(chunk.data) - TAG for chunk in chunks] == expected_sizes
    assert all(CANARY not in chunk.data for chunk in [header, *chunks])
    assert open_all(header, chunks, alice) == data
    pieces = list(open_stream_with_admin_key(header, chunks, REF, alice))
    assert [len(piece) for piece in pieces] == expected_sizes


def test_stream_sealer_directly(sealer: AdminSealer, alice: AdminPrivateKey) -> None:
    stream = sealer.start_stream(REF)
    assert isinstance(stream, StreamSealer)
    chunks = [stream.seal_chunk(payload(C), last=False), stream.seal_chunk(b"tail", last=True)]
    assert open_all(stream.header, chunks, alice) == payload(C) + b"tail"
    # An end discovered late may be an empty last chunk after full ones.
    late = sealer.start_stream(REF)
    chunks = [late.seal_chunk(payload(C), last=False), late.seal_chunk(b"", last=True)]
    assert open_all(late.header, chunks, alice) == payload(C)


def test_stream_sealer_refuses_misuse(sealer: AdminSealer) -> None:
    stream = sealer.start_stream(REF)
    with pytest.raises(CryptoError):
        stream.seal_chunk(b"\x00" * (C + 1), last=True)
    with pytest.raises(CryptoError):
        stream.seal_chunk(b"short", last=False)
    with pytest.raises(TypeError):
        stream.seal_chunk("text", last=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        stream.seal_chunk(b"", last=1)  # type: ignore[arg-type]
    stream.seal_chunk(b"end", last=True)
    for last in (True, False):
        with pytest.raises(CryptoError, match="finished"):
            stream.seal_chunk(b"" if last else payload(C), last=last)
    assert "finished" in repr(stream)
    assert "1 chunks" in repr(stream)


def test_each_stream_has_fresh_keys(sealer: AdminSealer) -> None:
    first_header, first = seal_all(sealer, payload(C + 1))
    second_header, second = seal_all(sealer, payload(C + 1))
    assert first_header.data != second_header.data
    assert first_header.data[-48:-32] != second_header.data[-48:-32]  # salt
    assert all(a.data != b.data for a, b in zip(first, second, strict=True))


def test_multi_admin_header(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    sealer = AdminSealer([alice.public_key(), bob.public_key(), carol.public_key()])
    data = payload(2 * C + 7)
    header, chunks = seal_all(sealer, data)
    assert len(header.data) == 2 + 3 * 90 + 16 + 32
    assert header.data[1] == 3
    for key in (alice, bob, carol):
        assert open_all(header, chunks, key) == data
    with pytest.raises(NotARecipient):
        open_stream_with_admin_key(header, chunks, REF, AdminPrivateKey.generate())


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.one_of(st.integers(0, 64), st.integers(0, 3 * C)), min_size=0, max_size=8),
    kind=st.sampled_from(["voice", "photo", "document", "video", "سند"]),
    as_type=st.sampled_from([bytes, bytearray, memoryview]),
)
def test_round_trip_any_piece_sizes(
    sealer: AdminSealer, alice: AdminPrivateKey, sizes: list[int], kind: str, as_type: type
) -> None:
    data = payload(sum(sizes), seed=bytes(str(sizes), "ascii"))
    pieces, pos = [], 0
    for size in sizes:
        pieces.append(as_type(data[pos : pos + size]))
        pos += size
    ref = ItemRef("QWERTY1234", kind, len(sizes))
    header, *chunks = seal_stream_for_admins(sealer, ref, pieces)
    # The layout depends on the total size only, never on how the input was cut.
    expected = [C] * (len(data) // C) + ([len(data) % C] if len(data) % C or not data else [])
    assert [len(chunk.data) - TAG for chunk in chunks] == expected
    assert open_all(header, chunks, alice, ref) == data


def test_pieces_are_released_before_the_next_is_asked_for(
    sealer: AdminSealer, alice: AdminPrivateKey
) -> None:
    def reused_buffer() -> Iterator[bytearray]:
        buffer = bytearray(b"a" * 100)
        yield buffer
        buffer.extend(b"b" * 10)  # BufferError if the sealer still held a view of it
        yield buffer

    header, *chunks = seal_stream_for_admins(sealer, REF, reused_buffer())
    assert open_all(header, chunks, alice) == b"a" * 200 + b"b" * 10


def test_pieces_must_be_bytes(sealer: AdminSealer) -> None:
    with pytest.raises(TypeError):
        list(seal_stream_for_admins(sealer, REF, ["text"]))  # type: ignore[list-item]
    with pytest.raises(TypeError):
        seal_stream_for_admins("sealer", REF, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        seal_stream_for_admins(sealer, ("r", "k", 0), [])  # type: ignore[arg-type]


def test_sealing_and_opening_use_constant_memory(
    sealer: AdminSealer, alice: AdminPrivateKey
) -> None:
    """Pipe 16 MiB through seal and open without ever holding more than a few chunks."""
    total = 16 * 1024 * 1024
    block = payload(10_007)

    def pieces() -> Iterator[bytes]:
        for _ in range(total // len(block)):
            yield block

    tracemalloc.start()
    try:
        stream = seal_stream_for_admins(sealer, REF, pieces())
        header = next(stream)
        opened = 0
        for plaintext in open_stream_with_admin_key(header, stream, REF, alice):
            opened += len(plaintext)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert opened == (total // len(block)) * len(block)
    assert peak < 8 * C, peak  # a handful of 64 KiB chunks, not megabytes


# --- tampering -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three(sealer: AdminSealer) -> tuple[bytes, SealedBlob, list[SealedBlob]]:
    """A stream of four chunks (three full, one short)."""
    data = payload(3 * C + 5)
    header, chunks = seal_all(sealer, data)
    return data, header, chunks


def test_no_chunks_is_truncation(sealer: AdminSealer, alice: AdminPrivateKey) -> None:
    header, chunks = seal_all(sealer, b"")
    assert len(chunks) == 1
    assert len(chunks[0].data) == TAG
    assert_refused(header, [], alice)


def test_truncation_is_detected_at_the_end(
    three: tuple[bytes, SealedBlob, list[SealedBlob]], alice: AdminPrivateKey
) -> None:
    data, header, chunks = three
    for keep in (1, 2, 3):
        yielded = assert_refused(header, chunks[:keep], alice)
        # What was verified came out first; the missing end is only known at the end.
        assert b"".join(yielded) == data[: (keep - 1) * C]


def test_dropping_a_middle_chunk(
    three: tuple[bytes, SealedBlob, list[SealedBlob]], alice: AdminPrivateKey
) -> None:
    _, header, chunks = three
    assert_refused(header, [chunks[0], chunks[2], chunks[3]], alice)
    assert_refused(header, chunks[1:], alice)


def test_reordering_and_duplication(
    three: tuple[bytes, SealedBlob, list[SealedBlob]], alice: AdminPrivateKey
) -> None:
    _, header, chunks = three
    a, b, c, d = chunks
    for order in ([b, a, c, d], [a, c, b, d], [a, a, c, d], [a, b, b, c, d], [a, b, c, d, d]):
        assert_refused(header, order, alice)
    assert_refused(header, [a, b, c, d, a], alice)  # data after the last chunk
    assert_refused(header, [a, b, c, SealedBlob(d.data + b"\x00")], alice)


def test_data_after_the_last_chunk(sealer: AdminSealer, alice: AdminPrivateKey) -> None:
    header, chunks = seal_all(sealer, b"")
    other_header, other = seal_all(sealer, b"")
    assert_refused(header, [*chunks, *other], alice)
    assert_refused(header, [*chunks, *chunks], alice)
    short_header, short = seal_all(sealer, b"short")
    assert_refused(short_header, [*short, *short], alice)
    assert open_all(other_header, other, alice) == b""


def test_chunks_cannot_move_between_streams_of_the_same_item(
    sealer: AdminSealer, alice: AdminPrivateKey
) -> None:
    first_header, first = seal_all(sealer, payload(2 * C + 1, b"first"))
    second_header, second = seal_all(sealer, payload(2 * C + 1, b"second"))
    assert_refused(first_header, [first[0], second[1], first[2]], alice)
    assert_refused(first_header, second, alice)
    assert_refused(second_header, first, alice)


def test_chunks_cannot_move_between_reports(sealer: AdminSealer, alice: AdminPrivateKey) -> None:
    data = payload(C + 1)
    here_header, here = seal_all(sealer, data, REF)
    there_ref = ItemRef("7K3M9Q2XZB", "voice", 3)
    there_header, there = seal_all(sealer, data, there_ref)
    assert_refused(here_header, there, alice)
    assert_refused(here_header, [here[0], there[1]], alice)
    assert_refused(there_header, here, alice, there_ref)


@pytest.mark.parametrize(
    "moved",
    [
        ItemRef("7K3M9Q2XZB", "voice", 3),
        ItemRef("7K3M9Q2XZA", "photo", 3),
        ItemRef("7K3M9Q2XZA", "voice", 4),
    ],
    ids=["report_id", "kind", "index"],
)
def test_stream_moved_to_another_item_is_refused(
    sealer: AdminSealer, alice: AdminPrivateKey, moved: ItemRef
) -> None:
    header, chunks = seal_all(sealer, CANARY)
    assert_refused(header, chunks, alice, moved)


def test_every_header_bit_flip_is_detected(sealer: AdminSealer, alice: AdminPrivateKey) -> None:
    header, chunks = seal_all(sealer, CANARY)
    data = header.data
    for position in range(len(data)):
        for bit in (0, 7):
            flipped = data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1 :]
            if position == 0:
                expected: type[CryptoError] = UnsupportedFormat
            elif 2 <= position < 10:
                expected = NotARecipient
            else:
                expected = TamperedCiphertext
            assert_refused(SealedBlob(flipped), chunks, alice, REF, expected)


def test_every_header_truncation_and_an_extension(
    sealer: AdminSealer, alice: AdminPrivateKey
) -> None:
    header, chunks = seal_all(sealer, CANARY)
    for length in range(len(header.data)):
        assert_refused(SealedBlob(header.data[:length]), chunks, alice)
    assert_refused(SealedBlob(header.data + b"\x00"), chunks, alice)


def test_chunk_bit_flips_and_truncations(
    three: tuple[bytes, SealedBlob, list[SealedBlob]], alice: AdminPrivateKey
) -> None:
    _, header, chunks = three
    for index in range(len(chunks)):
        data = chunks[index].data
        for position in (0, len(data) // 2, len(data) - TAG, len(data) - 1):
            flipped = data[:position] + bytes([data[position] ^ 1]) + data[position + 1 :]
            altered = [*chunks[:index], SealedBlob(flipped), *chunks[index + 1 :]]
            assert_refused(header, altered, alice)
        for cut in (1, TAG, len(data)):
            altered = [*chunks[:index], SealedBlob(data[:-cut]), *chunks[index + 1 :]]
            assert_refused(header, altered, alice)


def test_streams_and_items_do_not_mix(sealer: AdminSealer, alice: AdminPrivateKey) -> None:
    item = sealer.seal_for_admins(b"\x00" * 20, REF)  # same length as a one-admin stream header
    assert len(item.data) == HEADER_ONE
    header, chunks = seal_all(sealer, CANARY)
    assert_refused(item, chunks, alice, error=UnsupportedFormat)  # items are v2, streams v1
    with pytest.raises(TamperedCiphertext):
        open_with_admin_key(header, REF, alice)


def test_header_problems_raise_before_iteration(
    sealer: AdminSealer, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    header, _ = seal_all(sealer, CANARY)
    with pytest.raises(NotARecipient):
        open_stream_with_admin_key(header, [], REF, bob)
    with pytest.raises(TamperedCiphertext):
        open_stream_with_admin_key(SealedBlob(header.data[:-1]), [], REF, alice)
    with pytest.raises(TypeError):
        open_stream_with_admin_key(header.data, [], REF, alice)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        list(open_stream_with_admin_key(header, [b"raw"], REF, alice))  # type: ignore[list-item]


# --- rewrapping ------------------------------------------------------------------------------


def test_rewrap_changes_recipients_not_chunks(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    data = payload(C + 9)
    header, chunks = seal_all(AdminSealer([alice.public_key()]), data)
    new = rewrap_stream_header(header, REF, alice, [bob.public_key(), carol.public_key()])
    assert new.data[1] == 2
    assert new.data[-48:-32] == header.data[-48:-32]  # same salt, so the same chunk key
    assert open_all(new, chunks, bob) == data
    assert open_all(new, chunks, carol) == data
    with pytest.raises(NotARecipient):
        open_stream_with_admin_key(new, chunks, REF, alice)
    assert open_all(header, chunks, alice) == data  # revocation is forward-only
    with pytest.raises(TamperedCiphertext):
        rewrap_stream_header(new, ItemRef("7K3M9Q2XZA", "voice", 4), bob, [alice.public_key()])


def test_rewrap_refuses_a_tampered_or_foreign_header(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    header, _ = seal_all(AdminSealer([alice.public_key()]), CANARY)
    bad_mac = SealedBlob(header.data[:-1] + bytes([header.data[-1] ^ 1]))
    with pytest.raises(TamperedCiphertext):
        rewrap_stream_header(bad_mac, REF, alice, [bob.public_key()])
    with pytest.raises(NotARecipient):
        rewrap_stream_header(header, REF, bob, [bob.public_key()])
    with pytest.raises(CryptoError):
        rewrap_stream_header(header, REF, alice, [])


# --- vectors and the reference implementation ------------------------------------------------


def _vector_blob(part: dict[str, Any], streams: list[dict[str, Any]], field: str) -> SealedBlob:
    if "hex" in part:
        return SealedBlob(bytes.fromhex(part["hex"]))
    stream = streams[part["stream"]]
    if field == "header":
        return SealedBlob(bytes.fromhex(stream["header_hex"]))
    return SealedBlob(bytes.fromhex(stream["chunks_hex"][part["chunk"]]))


def test_vectors_open(vectors: dict[str, Any], admins: dict[str, AdminPrivateKey]) -> None:
    assert vectors["stream_format_version"] == STREAM_FORMAT_VERSION
    assert vectors["chunk_size"] == STREAM_CHUNK_SIZE
    assert len(vectors["streams"]) >= 4
    assert any(len(stream["chunks_hex"]) > 1 for stream in vectors["streams"])
    for stream in vectors["streams"]:
        ref = ItemRef(**stream["ref"])
        header = SealedBlob(bytes.fromhex(stream["header_hex"]))
        chunks = [SealedBlob(bytes.fromhex(chunk)) for chunk in stream["chunks_hex"]]
        for name, key in admins.items():
            if name not in stream["recipients"]:
                with pytest.raises(NotARecipient):
                    open_stream_with_admin_key(header, chunks, ref, key)
                continue
            data = open_all(header, chunks, key, ref)
            assert len(data) == stream["plaintext_size"]
            assert hashlib.sha256(data).hexdigest() == stream["plaintext_sha256_hex"]
            if "plaintext_hex" in stream:
                assert data.hex() == stream["plaintext_hex"]


def test_vector_failures(vectors: dict[str, Any], admins: dict[str, AdminPrivateKey]) -> None:
    streams = vectors["streams"]
    assert len(vectors["stream_failures"]) >= 20
    for case in vectors["stream_failures"]:
        header = _vector_blob(case["header"], streams, "header")
        chunks = [_vector_blob(part, streams, "chunk") for part in case["chunks"]]
        ref, key = ItemRef(**case["ref"]), admins[case["admin"]]
        with pytest.raises(CryptoError) as caught:
            list(open_stream_with_admin_key(header, chunks, ref, key))
        assert type(caught.value) is ERRORS[case["error"]], case["name"]


def test_vectors_match_their_generator(reference: ModuleType) -> None:
    committed = (VECTORS_DIR / "stream_v1.json").read_text("utf-8")
    assert reference.render(reference.build_stream_vectors()) == committed


def test_reference_implementation_opens_what_the_code_seals(
    reference: ModuleType, admins: dict[str, AdminPrivateKey]
) -> None:
    """An implementation written from docs/crypto.md alone must read our streams."""
    rows = json.loads((VECTORS_DIR / "crypto_v1.json").read_text("utf-8"))["admins"]
    raw = {row["name"]: bytes.fromhex(row["private_key_hex"]) for row in rows}
    sealer = AdminSealer([admins["alice"].public_key(), admins["bob"].public_key()])
    ref: dict[str, Any] = {"report_id": "QWERTY1234", "kind": "video", "index": 7}
    for size in (0, 5, C, 2 * C + 3):
        data = payload(size)
        header, chunks = seal_all(sealer, data, ItemRef(**ref))
        for name in ("alice", "bob"):
            opened = reference.open_stream(header.data, [c.data for c in chunks], ref, raw[name])
            assert opened == data
    rewrapped = rewrap_stream_header(
        header, ItemRef(**ref), admins["bob"], [admins["carol"].public_key()]
    )
    opened = reference.open_stream(rewrapped.data, [c.data for c in chunks], ref, raw["carol"])
    assert opened == data


# --- benchmark -------------------------------------------------------------------------------


def test_benchmark_script_runs_quick() -> None:
    """The benchmark runs end to end and ends with one JSON object (no timing is asserted)."""
    figures = run_quick("seal.py")
    for name in ("ops_per_s", "baseline_ops_per_s", "ratio", "stream_peak_mb", "stream_mb_per_s"):
        assert isinstance(figures[name], int | float), name
    assert figures["ops_per_s"] > 0
    assert figures["baseline_ops_per_s"] > 0
