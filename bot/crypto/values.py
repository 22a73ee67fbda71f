"""Hold the values every format passes around: a sealed blob and the row it is bound to.

Storage accepts only :class:`SealedBlob` for sealed columns, so nothing unsealed can be
written there by mistake; :class:`ItemRef` is the binding every seal authenticates
(``docs/crypto.md`` §4).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.crypto.constants import (
    ITEM_FORMAT_VERSION,
    ITEM_MAGIC,
    MAX_REF_FIELD_BYTES,
    STREAM_FORMAT_VERSION,
    STREAM_MAGIC,
)
from bot.crypto.encoding import PACK_I64, encode_text, i64, lp


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
        encode_text(self.report_id, max_bytes=MAX_REF_FIELD_BYTES)
        encode_text(self.kind, max_bytes=MAX_REF_FIELD_BYTES)
        i64(self.index)
        if self.index < 0:
            raise ValueError("index must not be negative")

    def binding(self, version: int = ITEM_FORMAT_VERSION) -> tuple[bytes, ...]:
        """Return the binding fields: magic, item format version, report id, kind, index."""
        return (
            ITEM_MAGIC,
            bytes([version]),
            self.report_id.encode("utf-8"),
            self.kind.encode("utf-8"),
            PACK_I64.pack(self.index),  # range checked once, in __post_init__
        )

    def content_aad(self, version: int) -> bytes:
        """Return the associated data of the content ciphertext.

        A recipient entry's info is this plus ``LP(key id)``: LP of a longer field list is the
        concatenation, so the binding is encoded once per item, not once per admin.
        """
        return lp(*self.binding(version))

    def stream_binding(self) -> tuple[bytes, ...]:
        """Return an attachment stream's binding: stream magic and version, then the same ref."""
        return (
            STREAM_MAGIC,
            bytes([STREAM_FORMAT_VERSION]),
            self.report_id.encode("utf-8"),
            self.kind.encode("utf-8"),
            PACK_I64.pack(self.index),  # range checked once, in __post_init__
        )

    def stream_aad(self) -> bytes:
        """Return the associated data of every chunk of an attachment stream."""
        return lp(*self.stream_binding())
