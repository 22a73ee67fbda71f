"""Read PNG images with the standard library, and compare two the way a reader would.

Chart tests compare a rendering with a reference image by its pixels, not its bytes: a new
zlib or a slightly different antialiasing must not fail them, a missing bar or a Pashto letter
without its dots must. Only 8-bit RGB and RGBA without interlacing are read (what vl-convert
writes); anything else is refused, never misread.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
BLOCK = 4
"""Compare the means of BLOCK x BLOCK pixels: at 2 pixels per CSS pixel, 2 x 2 CSS pixels."""
TOLERANCE = 32
"""Largest difference of a block's mean, per channel (0..255), that still counts as equal.

A pixel's antialiasing may change by about this much everywhere and still pass; a dot of a
letter (3 x 3 pixels of ink in a block of 16) moves a block's mean by more than 100.
"""


@dataclass(frozen=True)
class Image:
    """Decoded pixels: ``rows`` of ``width`` pixels with ``channels`` bytes each."""

    width: int
    height: int
    channels: int
    rows: tuple[bytes, ...]


def decode_png(data: bytes) -> Image:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data.startswith(SIGNATURE), "not a PNG"
    position, compressed, header = len(SIGNATURE), bytearray(), b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed += body
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8, "only 8-bit PNG"
    assert interlace == 0, "only non-interlaced PNG"
    channels = {2: 3, 6: 4}[colour]
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        previous = _unfilter(kind, line, previous, channels)
        rows.append(previous)
    return Image(width, height, channels, tuple(rows))


def _unfilter(kind: int, line: bytes, above: bytes, channels: int) -> bytes:
    """Undo one row's filter (PNG specification §9); Sub and Up, vl-convert's, are fast."""
    if kind == 0:
        return line
    if kind == 1:  # Sub: a running sum per channel
        out = bytearray(len(line))
        for channel in range(channels):
            sums = itertools.accumulate(line[channel::channels])
            out[channel::channels] = bytes(total & 0xFF for total in sums)
        return bytes(out)
    if kind == 2:  # Up
        return bytes((a + b) & 0xFF for a, b in zip(line, above, strict=True))
    out = bytearray(len(line))
    for x, value in enumerate(line):
        left = out[x - channels] if x >= channels else 0
        up = above[x]
        if kind == 3:  # Average
            out[x] = (value + (left + up) // 2) & 0xFF
            continue
        corner = above[x - channels] if x >= channels else 0  # Paeth
        guess = left + up - corner
        near = min(
            (abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner)
        )
        out[x] = (value + near[2]) & 0xFF
    return bytes(out)


def block_means(image: Image) -> list[list[tuple[int, ...]]]:
    """Mean red, green and blue of every BLOCK x BLOCK square (the edges' partial ones too)."""
    grid: list[list[tuple[int, ...]]] = []
    starts = range(0, image.width, BLOCK)
    for top in range(0, image.height, BLOCK):
        band = image.rows[top : top + BLOCK]
        sums = [[0] * len(starts) for _ in range(3)]
        for line in band:
            for channel in range(3):
                values = line[channel :: image.channels]
                total = sums[channel]
                for index, left in enumerate(starts):
                    total[index] += sum(values[left : left + BLOCK])
        sizes = [len(band) * min(BLOCK, image.width - left) for left in starts]
        grid.append(
            [
                tuple(sums[channel][index] // size for channel in range(3))
                for index, size in enumerate(sizes)
            ]
        )
    return grid


def differing_blocks(expected: Image, actual: Image) -> list[tuple[int, int]]:
    """The (x, y) pixel corners of the blocks whose means differ by more than TOLERANCE.

    Images of different sizes differ everywhere: a chart that grew or shrank has moved.
    """
    if (expected.width, expected.height) != (actual.width, actual.height):
        return [(0, 0)]
    found = []
    for y, (want, got) in enumerate(zip(block_means(expected), block_means(actual), strict=True)):
        for x, (a, b) in enumerate(zip(want, got, strict=True)):
            if any(abs(p - q) > TOLERANCE for p, q in zip(a, b, strict=True)):
                found.append((x * BLOCK, y * BLOCK))
    return found
