"""Test exporting attachments on the admin's machine: exact bytes, private files, no partials."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.admin.export import ExportError, export_attachments
from bot.answers import AnswersDocument, encode_answers
from bot.crypto.constants import STREAM_CHUNK_SIZE
from bot.crypto.errors import CryptoError, NotARecipient
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer, seal_stream_for_admins
from bot.crypto.stream import StreamOpener
from bot.crypto.values import ItemRef, SealedBlob
from bot.settings import Settings
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head_async
from storage.models import UploadChunkRow
from storage.records import NewFile, NewItem, NewReport
from storage.repositories import ReportRepository
from storage.uploads import CHUNKS_PER_READ, UploadRepository
from tests.benchmark_support import run_quick
from tests.test_admin_metadata import jpeg_with

REPORT = "7K3M9Q2X1A"
DRAFT = "d7" * 16
REPORTER_KEY = bytes(range(32))


def upload_of(index: int) -> str:
    return f"{index:02d}" + "ab" * 15


async def _store(
    settings: Settings,
    admin_key: AdminPrivateKey,
    files: list[bytes],
    names: list[str] | None = None,
    story: str | None = None,
) -> None:
    """Store a report as the intake does: files (and the story) bound to the draft id."""
    sealer = AdminSealer([admin_key.public_key()])
    await upgrade_to_head_async(settings.database_url)
    engine = create_engine(settings.database_url)
    document = AnswersDocument(
        "en", "2026-11", {"danger_now": "no"}, draft_id=DRAFT, reporter_key=REPORTER_KEY
    )
    try:
        async with unit_of_work(session_factory(engine)) as session:
            answers_ref = ItemRef(REPORT, "answers", 0)
            items = [
                NewItem("answers", 0, sealer.seal_for_admins(encode_answers(document), answers_ref))
            ]
            if story is not None:
                story_ref = ItemRef(DRAFT, "narrative", 0)
                items.append(
                    NewItem("narrative", 0, sealer.seal_for_admins(story.encode(), story_ref))
                )
            for index, data in enumerate(files):
                ref = ItemRef(DRAFT, "attachment", index)
                for seq, blob in enumerate(seal_stream_for_admins(sealer, ref, [data])):
                    await UploadRepository(session).add_chunk(
                        upload_of(index), seq, blob, date(2026, 11, 26)
                    )
                described: dict[str, object] = {"kind": "voice", "question": "narrative"}
                if names is not None:
                    described = {
                        "kind": "document",
                        "question": "narrative",
                        "file_name": names[index],
                    }
                meta = json.dumps({**described, "size": len(data)})
                meta_ref = ItemRef(DRAFT, "attachment_meta", index)
                items.append(
                    NewItem(
                        "attachment_meta", index, sealer.seal_for_admins(meta.encode(), meta_ref)
                    )
                )
            files_claimed = [NewFile(index, upload_of(index)) for index in range(len(files))]
            await ReportRepository(session).add(
                NewReport(
                    REPORT,
                    date(2026, 11, 25),
                    False,
                    os.urandom(32),
                    items,
                    format_version=2,
                    reporter_key=REPORTER_KEY,
                    files=files_claimed,
                )
            )
    finally:
        await engine.dispose()


async def test_export_writes_exact_bytes_in_private_files(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    settings = make_settings()
    files = [b"OggS" + os.urandom(200_000), b""]
    await _store(settings, admin_key, files)
    engine = create_engine(settings.database_url)
    try:
        written = await export_attachments(
            session_factory(engine), REPORT, admin_key, tmp_path / "out"
        )
    finally:
        await engine.dispose()
    assert [w.path.read_bytes() for w in written] == files
    assert [w.path.suffix for w in written] == [".ogg", ".ogg"]
    for exported in written:
        assert stat.S_IMODE(exported.path.stat().st_mode) == 0o600


async def test_a_tampered_chunk_leaves_no_partial_file(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    settings = make_settings()
    await _store(settings, admin_key, [os.urandom(200_000)])
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            row = await session.get(UploadChunkRow, (upload_of(0), 2))
            assert row is not None
            row.blob = row.blob[:-1] + bytes([row.blob[-1] ^ 1])
        out = tmp_path / "out"
        with pytest.raises(CryptoError):
            await export_attachments(session_factory(engine), REPORT, admin_key, out)
        assert list(out.iterdir()) == []
        with pytest.raises(ExportError):
            await export_attachments(session_factory(engine), "NOSUCHID00", admin_key, out)
    finally:
        await engine.dispose()


async def _export_after(
    settings: Settings, admin_key: AdminPrivateKey, out: Path, change: str
) -> list[Path]:
    """Alter the stored chunks of attachment 0 one way, try an export, return what it left."""
    engine = create_engine(settings.database_url)
    try:
        async with unit_of_work(session_factory(engine)) as session:
            seqs = sorted(
                row.seq
                for row in (await session.scalars(select(UploadChunkRow))).all()
                if row.upload_id == upload_of(0)
            )
            if change == "drop last chunk":
                await session.delete(await session.get(UploadChunkRow, (upload_of(0), seqs[-1])))
            elif change == "keep header only":
                for seq in seqs[1:]:
                    await session.delete(await session.get(UploadChunkRow, (upload_of(0), seq)))
        with pytest.raises(CryptoError):
            await export_attachments(session_factory(engine), REPORT, admin_key, out)
    finally:
        await engine.dispose()
    return sorted(out.iterdir())  # noqa: ASYNC240 - the test's own temp folder


async def test_a_long_attachment_streams_out_whole(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    """More chunks than one database read batch: the export must stitch the batches in order."""
    settings = make_settings()
    data = os.urandom(STREAM_CHUNK_SIZE * (CHUNKS_PER_READ + 3) + 5)
    await _store(settings, admin_key, [data])
    engine = create_engine(settings.database_url)
    try:
        written = await export_attachments(
            session_factory(engine), REPORT, admin_key, tmp_path / "out"
        )
    finally:
        await engine.dispose()
    assert [w.size for w in written] == [len(data)]
    assert written[0].path.read_bytes() == data


@pytest.mark.parametrize("change", ["drop last chunk", "keep header only"])
async def test_a_cut_short_attachment_leaves_no_file(
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    tmp_path: Path,
    change: str,
) -> None:
    settings = make_settings()
    await _store(settings, admin_key, [os.urandom(STREAM_CHUNK_SIZE * (CHUNKS_PER_READ + 1))])
    assert await _export_after(settings, admin_key, tmp_path / "out", change) == []


async def test_another_admin_key_creates_no_file(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    settings = make_settings()
    await _store(settings, admin_key, [b"OggS" + os.urandom(1000)])
    engine = create_engine(settings.database_url)
    out = tmp_path / "out"
    try:
        with pytest.raises(NotARecipient):
            await export_attachments(
                session_factory(engine), REPORT, AdminPrivateKey.generate(), out
            )
    finally:
        await engine.dispose()
    assert not out.exists() or list(out.iterdir()) == []


async def test_a_documents_extension_is_kept_only_when_it_opens_in_a_viewer(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    """The name is the reporter's text: only a viewable extension of it reaches the disk."""
    settings = make_settings()
    names = [
        "Contract.PDF",
        "photo.jpeg",
        "run-me.exe",
        "macro.docm",
        "../../etc/passwd",
        "a.b\\c.mp3",
    ]
    await _store(settings, admin_key, [b"x"] * len(names), names)
    engine = create_engine(settings.database_url)
    try:
        written = await export_attachments(
            session_factory(engine), REPORT, admin_key, tmp_path / "out"
        )
    finally:
        await engine.dispose()
    assert [w.path.name for w in written] == [
        f"{REPORT}-1.pdf",
        f"{REPORT}-2.jpeg",
        f"{REPORT}-3.bin",
        f"{REPORT}-4.bin",
        f"{REPORT}-5.bin",
        f"{REPORT}-6.mp3",
    ]
    assert all(w.path.parent == tmp_path / "out" for w in written)


def test_export_benchmark_runs_quick() -> None:
    """The export benchmark runs end to end and ends with one JSON object (nothing timed)."""
    figures = run_quick("export.py")
    for name in ("export_peak_mb", "baseline_peak_mb", "ratio", "export_mb_per_s"):
        assert isinstance(figures[name], int | float), name
    assert figures["export_mb"] == 2


async def test_an_interrupted_export_leaves_no_partial_file(
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C, a lost database or a cancelled task mid-file: the partial plaintext goes."""
    settings = make_settings()
    await _store(settings, admin_key, [os.urandom(STREAM_CHUNK_SIZE * 3)])
    opened = 0
    original = StreamOpener.open_chunk

    def interrupt(self: StreamOpener, chunk: SealedBlob, *, last: bool) -> bytes:
        nonlocal opened
        opened += 1
        if opened == 2:
            raise KeyboardInterrupt
        return original(self, chunk, last=last)

    monkeypatch.setattr(StreamOpener, "open_chunk", interrupt)
    engine = create_engine(settings.database_url)
    out = tmp_path / "out"
    try:
        with pytest.raises(KeyboardInterrupt):
            await export_attachments(session_factory(engine), REPORT, admin_key, out)
    finally:
        await engine.dispose()
    assert opened == 2  # the first chunk was written before the interruption
    assert list(out.iterdir()) == []


async def test_an_existing_export_folder_is_made_private(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    settings = make_settings()
    await _store(settings, admin_key, [b"OggS"])
    out = tmp_path / "shared"
    out.mkdir(mode=0o755)
    out.chmod(0o755)
    engine = create_engine(settings.database_url)
    try:
        await export_attachments(session_factory(engine), REPORT, admin_key, out)
    finally:
        await engine.dispose()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


async def test_photos_are_exported_without_hidden_details_unless_the_original_is_asked(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    hidden = f"CANARY-{os.urandom(8).hex()}".encode()
    photo, _ = jpeg_with(hidden)
    voice = b"OggS" + hidden
    settings = make_settings()
    await _store(settings, admin_key, [photo, voice], ["IMG_0001.jpg", "voice.ogg"])
    engine = create_engine(settings.database_url)
    try:
        cleaned = await export_attachments(
            session_factory(engine), REPORT, admin_key, tmp_path / "seen"
        )
        untouched = await export_attachments(
            session_factory(engine), REPORT, admin_key, tmp_path / "originals", original=True
        )
    finally:
        await engine.dispose()
    assert hidden not in cleaned[0].path.read_bytes()
    assert cleaned[0].note.startswith("cleaned")
    assert cleaned[1].note.startswith("NOT CLEANED")  # said plainly, never silently
    assert [u.path.read_bytes() for u in untouched] == [photo, voice]
    assert {u.note for u in untouched} == {"original, untouched"}
