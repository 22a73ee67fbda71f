"""Hold the constants that several crypto formats share (``docs/crypto.md`` §2, "Constants").

Constants that one format alone uses stay in that format's module. Changing any value here
changes a byte layout: the test vectors in ``tests/vectors/`` must change with it.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import hpke

FORMAT_VERSION: Final = 1
"""Version byte of the key file, server-side blobs and notices."""
# Sealed items are written in v2 (docs/crypto.md §4); v1 items stay readable and re-wrappable.
ITEM_FORMAT_VERSION: Final = 2
ITEM_FORMAT_VERSIONS_READ: Final[tuple[int, ...]] = (1, 2)
STREAM_FORMAT_VERSION: Final = 1
STREAM_CHUNK_SIZE: Final = 64 * 1024  # plaintext bytes per chunk; fixed by stream format v1

ITEM_MAGIC: Final = b"AMANAT-ITEM"
STREAM_MAGIC: Final = b"AMANAT-STREAM"

KEY_SIZE: Final = 32
NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
KEY_ID_SIZE: Final = 8
MAX_REF_FIELD_BYTES: Final = 128

HPKE_SUITE: Final = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
"""RFC 9180 base mode: item v1 and stream v1 wraps, and replies to reporters."""
