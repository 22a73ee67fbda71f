"""Test taking hidden details out of files: GPS and device in photos, authors in Office files.

Every fixture file is built here byte by byte, with a canary in the hidden part, so a test
fails if any of it survives. Exports use these through ``tests/test_admin_export.py``.
"""

from __future__ import annotations

import io
import struct
import uuid
import zipfile
import zlib

import pytest

from bot.admin.metadata import clean_metadata


def canary() -> bytes:
    return f"CANARY-{uuid.uuid4().hex}".encode()


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with(hidden: bytes) -> tuple[bytes, bytes]:
    """A JPEG whose EXIF (GPS), XMP, IPTC and comment hold ``hidden``; and its image part."""
    image = segment(0xDB, b"\x00" + bytes(64)) + segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    image += b"\x12\x34\xff\x00\x56" + b"\xff\xd9"  # entropy-coded data, then the end
    data = b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    data += segment(0xE1, b"Exif\x00\x00GPS " + hidden)
    data += segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + hidden)
    data += segment(0xED, b"Photoshop 3.0\x00" + hidden)
    data += segment(0xFE, b"comment " + hidden)
    data += segment(0xE2, b"ICC_PROFILE\x00colours")
    return data + image, image


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_with(hidden: bytes) -> bytes:
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    pixels = png_chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    return (
        b"\x89PNG\r\n\x1a\n"
        + header
        + png_chunk(b"tEXt", b"Author\x00" + hidden)
        + png_chunk(b"eXIf", b"MM\x00*" + hidden)
        + pixels
        + png_chunk(b"IEND", b"")
    )


def docx_with(hidden: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        archive.writestr("word/document.xml", b"<w:document>the body stays</w:document>")
        archive.writestr("docProps/core.xml", b"<cp:coreProperties><dc:creator>" + hidden)
        archive.writestr("docProps/app.xml", b"<Properties><Company>" + hidden)
        archive.writestr("docProps/custom.xml", b"<Properties>" + hidden)
    return buffer.getvalue()


def test_a_photo_loses_gps_device_and_comments_but_keeps_its_image() -> None:
    hidden = canary()
    data, image = jpeg_with(hidden)
    cleaned = clean_metadata(data, ".jpg")
    assert cleaned.cleaned
    assert hidden not in cleaned.data
    assert cleaned.data.endswith(image)  # the compressed image is copied as it was
    assert b"ICC_PROFILE" in cleaned.data  # colours are not metadata
    assert "4 metadata block(s) removed" in cleaned.note


def test_a_png_loses_its_text_and_exif_chunks() -> None:
    hidden = canary()
    cleaned = clean_metadata(png_with(hidden), ".png")
    assert cleaned.cleaned
    assert hidden not in cleaned.data
    assert b"IDAT" in cleaned.data
    assert cleaned.data.endswith(png_chunk(b"IEND", b""))


def test_an_office_file_loses_its_author_and_keeps_its_text() -> None:
    hidden = canary()
    cleaned = clean_metadata(docx_with(hidden), ".docx")
    assert cleaned.cleaned
    with zipfile.ZipFile(io.BytesIO(cleaned.data)) as archive:
        names = archive.namelist()
        everything = b"".join(archive.read(name) for name in names)
        assert archive.read("word/document.xml") == b"<w:document>the body stays</w:document>"
    assert hidden not in everything
    assert set(names) == {
        "[Content_Types].xml",
        "word/document.xml",
        "docProps/core.xml",
        "docProps/app.xml",
        "docProps/custom.xml",
    }


@pytest.mark.parametrize(
    ("data", "extension", "why"),
    [
        (b"%PDF-1.7 /Author (someone)", ".pdf", "PDF"),
        (b"OggS voice", ".ogg", "not a kind"),
        (b"\xff\xd8\xff\xe1\x00", ".jpg", "damaged"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\xffIDAT", ".png", "damaged"),
        (b"PK\x03\x04 not really a zip", ".docx", "damaged"),
    ],
)
def test_what_cannot_be_cleaned_is_left_whole_and_named(
    data: bytes, extension: str, why: str
) -> None:
    cleaned = clean_metadata(data, extension)
    assert not cleaned.cleaned
    assert cleaned.data == data
    assert cleaned.note.startswith("NOT CLEANED")
    assert why in cleaned.note
