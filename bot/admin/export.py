"""Write a report's sealed attachments, decrypted, to a folder on the admin's own machine.

This module owns the one place where attachment plaintext is written to disk, and only on
an admin's machine, into a folder the admin names. By default photos and Office files are
opened in memory and written without their hidden details (place, device, author:
:mod:`bot.admin.metadata`); every other file, and every file with ``original=True``, is
streamed chunk by chunk (the memory used does not grow with the file). A file is deleted
again if anything stops it before the last chunk verified (an altered chunk, a lost
connection, Ctrl-C), so a truncated or altered attachment never leaves a partial file that
looks complete (docs/crypto.md §12.6).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.binding import open_answers, stream_ref
from bot.admin.metadata import clean_metadata
from bot.crypto.errors import TamperedCiphertext
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.stream import StreamOpener
from bot.crypto.values import ItemRef, SealedBlob
from bot.questions import ATTACHMENT_META_KIND, FOLLOWUP_META_KIND
from storage.db import unit_of_work
from storage.records import StoredReport
from storage.repositories import ReportRepository
from storage.uploads import UploadRepository

EXTENSIONS: Final = {
    "voice": ".ogg",
    "audio": ".audio",
    "video": ".mp4",
    "video_note": ".mp4",
    "photo": ".jpg",
    "document": ".bin",
}


class ExportError(Exception):
    """An attachment could not be exported; the message names no content."""


CLEANED_IN_MEMORY: Final = frozenset({".jpg", ".jpeg", ".png", ".docx", ".xlsx", ".pptx", ".pdf"})
"""Extensions :mod:`bot.admin.metadata` looks at (it cleans all but PDF, and says so)."""
ORIGINAL: Final = "original, untouched"
STREAMED: Final = (
    "NOT CLEANED (a voice note, video or other file: place or device details may remain)"
)


@dataclass(frozen=True)
class Exported:
    """One file written: its path and size, and what became of its hidden details."""

    path: Path
    size: int
    note: str = ORIGINAL


Chunks = Callable[[int, str], AsyncIterator[SealedBlob]]
"""The sealed chunks of a report's file, by its index and upload id: from the database, or
streamed by the admin API."""


async def export_attachments(
    sessions: async_sessionmaker[AsyncSession],
    report_id: str,
    key: AdminPrivateKey,
    folder: Path,
    *,
    original: bool = False,
) -> list[Exported]:
    """Decrypt every attachment of a report into ``folder`` (created 0700, files 0600).

    Photos and Office files lose their hidden details unless ``original`` is set.
    """
    async with unit_of_work(sessions) as session:
        report = await ReportRepository(session).get(report_id)
        if report is None:
            raise ExportError("no report with this id")
        uploads = UploadRepository(session)
        return await export_report(
            report, lambda _, upload_id: uploads.chunks(upload_id), key, folder, original=original
        )


async def export_report(
    report: StoredReport,
    chunks: Chunks,
    key: AdminPrivateKey,
    folder: Path,
    *,
    original: bool = False,
) -> list[Exported]:
    """Decrypt every attachment of a stored report, its chunks from ``chunks``, into ``folder``."""
    report_id = report.id
    document = open_answers(report, key)
    extensions: dict[int, str] = {}
    for item in report.items:
        if item.kind in (ATTACHMENT_META_KIND, FOLLOWUP_META_KIND):
            ref = document.item_ref(report_id, item.kind, item.index)
            meta = json.loads(open_with_admin_key(item.blob, ref, key))
            extensions[item.index] = _extension(meta)
    # Blocking file work is fine here: one admin, one command, nothing else on the loop.
    _private_folder(folder)
    written = []
    for file in report.files:
        extension = extensions.get(file.index, ".bin")
        path = folder / f"{report_id}-{file.index + 1}{extension}"
        ref = stream_ref(report, document, file.index)
        source = chunks(file.index, file.upload_id)
        if not original and extension in CLEANED_IN_MEMORY:
            data = await _open_in_memory(source, ref, key)
            cleaned = clean_metadata(data, extension)
            del data
            written.append(_write_bytes(path, cleaned.data, cleaned.note))
            continue
        exported = await _write_one(source, ref, key, path)
        written.append(exported if original else replace(exported, note=STREAMED))
    return written


async def open_file(
    report: StoredReport, index: int, chunks: Chunks, key: AdminPrivateKey
) -> tuple[bytes, str]:
    """Open one attachment in memory, cleaned of hidden details where it can be, for viewing.

    Returns its bytes and its extension (which says how to show it). Nothing touches the
    disk: the local console hands it straight to the browser.
    """
    document = open_answers(report, key)
    extension = ".bin"
    for item in report.items:
        if item.kind in (ATTACHMENT_META_KIND, FOLLOWUP_META_KIND) and item.index == index:
            ref = document.item_ref(report.id, item.kind, item.index)
            extension = _extension(json.loads(open_with_admin_key(item.blob, ref, key)))
    upload = next((file.upload_id for file in report.files if file.index == index), None)
    if upload is None:
        raise ExportError("no such file")
    data = await _open_in_memory(chunks(index, upload), stream_ref(report, document, index), key)
    if extension in CLEANED_IN_MEMORY:
        data = clean_metadata(data, extension).data
    return data, extension


async def _open_in_memory(
    source: AsyncIterator[SealedBlob], ref: ItemRef, key: AdminPrivateKey
) -> bytes:
    """Open a whole attachment into memory (photos and documents: 20 MB at most)."""
    chunks = aiter(source)
    header = await anext(chunks, None)
    if header is None:
        raise ExportError("an attachment has no stored chunks")
    opener = StreamOpener(header, ref, key)
    current = await anext(chunks, None)
    if current is None:
        raise TamperedCiphertext()  # a header alone: even an empty file has a chunk
    data = bytearray()
    while current is not None:  # one ahead, so the last chunk is opened as last
        following = await anext(chunks, None)
        data += opener.open_chunk(current, last=following is None)
        current = following
    return bytes(data)


def _write_bytes(path: Path, data: bytes, note: str) -> Exported:
    """Write a verified, cleaned file: new (never over another), readable by this user only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Exported(path, len(data), note)


def _private_folder(folder: Path) -> None:
    """Make the export folder, or tighten an existing one, to this user only (0700)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        folder.chmod(0o700)


# Extensions of media and documents a reporter is likely to send, which open in a viewer rather
# than run. Anything else (.exe, .doc and .docm with macros, .js, .lnk, …) is written as .bin:
# the admin's machine must not run a stranger's file because a double click chose a program.
_VIEWABLE_EXTENSIONS: Final = frozenset(
    {
        *(".pdf", ".txt", ".csv", ".docx", ".xlsx"),
        *(".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".bmp", ".tif", ".tiff"),
        *(".mp4", ".mov", ".3gp", ".mkv", ".webm", ".avi"),
        *(".ogg", ".oga", ".opus", ".mp3", ".m4a", ".wav", ".aac", ".amr"),
    }
)


def _extension(meta: object) -> str:
    """Pick a file's extension: the one its name came with if viewable, else by its kind.

    Only the extension of the reporter's file name is used, never the name itself: a name
    is untrusted text and could hold a path, and the export folder must hold only our names.
    """
    if not isinstance(meta, dict):
        return ".bin"
    suffix = PurePosixPath(str(meta.get("file_name") or "").replace("\\", "/")).suffix.lower()
    if suffix in _VIEWABLE_EXTENSIONS:
        return suffix
    return EXTENSIONS.get(str(meta.get("kind")), ".bin")


async def _write_one(
    source: AsyncIterator[SealedBlob],
    ref: ItemRef,
    key: AdminPrivateKey,
    path: Path,
) -> Exported:
    """Stream one attachment to `path`, one batch of chunks in memory at most."""
    chunks = aiter(source)
    header = await anext(chunks, None)
    if header is None:
        raise ExportError("an attachment has no stored chunks")
    opener = StreamOpener(header, ref, key)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    size = 0
    try:
        with os.fdopen(descriptor, "wb") as handle:
            current = await anext(chunks, None)
            if current is None:
                raise TamperedCiphertext()  # a header alone: even an empty file has a chunk
            while current is not None:  # one ahead, so the last chunk is opened as last
                following = await anext(chunks, None)
                plaintext = opener.open_chunk(current, last=following is None)
                handle.write(plaintext)
                size += len(plaintext)
                current = following
    except BaseException:
        # Any stop before the last chunk verified (tampering, a database error, Ctrl-C,
        # cancellation) deletes what was written: a partial file must never look complete.
        path.unlink(missing_ok=True)  # noqa: ASYNC240 - ours: created above with O_EXCL
        raise
    return Exported(path, size)
