"""Take hidden details out of a reporter's file before an admin opens it: place, device, author.

A photo sent as a file keeps its EXIF block (GPS position, phone model, time); a Word file
names its author. An admin who forwards such a file to a partner, or opens it on a phone that
syncs to a cloud, spreads what the reporter never meant to send. This module owns the copy
admins see by default: it removes those blocks from the formats it understands and says
plainly which files it could not clean. The untouched original stays sealed in the database;
``amanat admin export --original`` opens it, and only on request.

It works on bytes in memory and parses only container structure (JPEG segments, PNG chunks,
the parts of an Office zip); anything it does not recognise is left alone and reported as not
cleaned, never guessed at.
"""

from __future__ import annotations

import io
import struct
import zipfile
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Cleaned", "clean_metadata"]

# JPEG segments that hold metadata: APP1 (EXIF, XMP), APP12 ("Ducky"), APP13 (Photoshop/IPTC)
# and comments. APP0 (JFIF), APP2 (ICC colours) and APP14 (Adobe colours) only describe pixels.
_JPEG_DROPPED: Final = frozenset({0xE1, 0xEC, 0xED, 0xFE})
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_DROPPED: Final = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})
_OFFICE_CORE: Final = "docProps/core.xml"
_OFFICE_APP: Final = "docProps/app.xml"
_OFFICE_CUSTOM: Final = "docProps/custom.xml"
_EMPTY_CORE: Final = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
    b'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"/>'
)
_EMPTY_APP: Final = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'extended-properties"/>'
)
_EMPTY_CUSTOM: Final = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'custom-properties"/>'
)
_OFFICE: Final = frozenset({".docx", ".xlsx", ".pptx"})
_MAX_OFFICE_PARTS: Final = 10_000
_MAX_OFFICE_BYTES: Final = 256 * 1024 * 1024
"""Unpacked size an Office file may have: a zip bomb must not fill the admin's memory."""


@dataclass(frozen=True)
class Cleaned:
    """A file after cleaning: its bytes, and what an admin should be told about it."""

    data: bytes = field(repr=False)
    cleaned: bool
    """True when the format is understood and its metadata was removed (or there was none)."""
    note: str
    """One line for the admin: what was removed, or why the file could not be cleaned."""


def clean_metadata(data: bytes, extension: str) -> Cleaned:
    """Remove metadata from a file of a format this module understands; say what it did."""
    if data.startswith(b"\xff\xd8"):
        return _clean_jpeg(data)
    if data.startswith(_PNG_SIGNATURE):
        return _clean_png(data)
    if extension in _OFFICE and data.startswith(b"PK"):
        return _clean_office(data)
    if data.startswith(b"%PDF"):
        return _not_cleaned(data, "PDF: its author and other details may remain")
    return _not_cleaned(data, "not a kind this cleans: place or device details may remain")


def _not_cleaned(data: bytes, why: str) -> Cleaned:
    return Cleaned(data, cleaned=False, note=f"NOT CLEANED ({why})")


def _clean_jpeg(data: bytes) -> Cleaned:
    """Copy a JPEG without its EXIF, XMP, IPTC and comment segments."""
    out = bytearray(b"\xff\xd8")
    position = 2
    removed = 0
    while position < len(data):
        if data[position] != 0xFF:
            return _not_cleaned(data, "a damaged photo")
        marker = data[position + 1] if position + 1 < len(data) else None
        if marker is None:
            return _not_cleaned(data, "a damaged photo")
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            out += data[position : position + 2]
            position += 2
            continue
        if marker == 0xD9:  # end of image without scan data
            out += data[position:]
            break
        if position + 4 > len(data):
            return _not_cleaned(data, "a damaged photo")
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        end = position + 2 + length
        if length < 2 or end > len(data):
            return _not_cleaned(data, "a damaged photo")
        if marker == 0xDA:  # start of scan: the compressed image follows, copied as it is
            out += data[position:]
            break
        if marker in _JPEG_DROPPED:
            removed += 1
        else:
            out += data[position:end]
        position = end
    note = f"cleaned: {removed} metadata block(s) removed" if removed else "cleaned: none found"
    return Cleaned(bytes(out), cleaned=True, note=note)


def _clean_png(data: bytes) -> Cleaned:
    """Copy a PNG without its text, EXIF and time chunks (each chunk keeps its own CRC)."""
    out = bytearray(_PNG_SIGNATURE)
    position = len(_PNG_SIGNATURE)
    removed = 0
    while position < len(data):
        if position + 8 > len(data):
            return _not_cleaned(data, "a damaged picture")
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            return _not_cleaned(data, "a damaged picture")
        if kind in _PNG_DROPPED:
            removed += 1
        else:
            out += data[position:end]
        position = end
        if kind == b"IEND":
            break
    note = f"cleaned: {removed} metadata block(s) removed" if removed else "cleaned: none found"
    return Cleaned(bytes(out), cleaned=True, note=note)


def _clean_office(data: bytes) -> Cleaned:
    """Rewrite an Office file with empty document properties (author, company, editors)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            parts = source.infolist()
            if (
                len(parts) > _MAX_OFFICE_PARTS
                or sum(p.file_size for p in parts) > _MAX_OFFICE_BYTES
            ):
                return _not_cleaned(data, "an Office file too big to unpack")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
                for part in parts:
                    if part.filename == _OFFICE_CORE:
                        target.writestr(_OFFICE_CORE, _EMPTY_CORE)
                    elif part.filename == _OFFICE_APP:
                        target.writestr(_OFFICE_APP, _EMPTY_APP)
                    elif part.filename == _OFFICE_CUSTOM:
                        target.writestr(_OFFICE_CUSTOM, _EMPTY_CUSTOM)
                    else:
                        target.writestr(part, source.read(part.filename))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, EOFError, ValueError):
        return _not_cleaned(data, "a damaged Office file")
    return Cleaned(buffer.getvalue(), cleaned=True, note="cleaned: author and properties removed")
