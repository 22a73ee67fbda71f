"""Measure the memory of ``amanat admin export`` against loading an attachment whole.

Run ``python benchmarks/export.py`` (``--quick`` for a smoke run with a small file). One report
with one attachment of ``--mb`` MiB (20 by default: the most the Bot API serves) is sealed into
a SQLite file in a temporary folder; then fresh child processes each do one thing and report
their own peak RSS:

- ``idle``: the same imports, the same database opened and read once;
- ``export``: ``bot.admin.export.export_attachments``, which streams rows out in batches;
- ``whole``: the baseline, the same decryption after loading every sealed chunk first (what
  the export did before it streamed).

The figures are each peak minus the idle one, and their ratio. The last line is one JSON
object. Everything is written under a temporary folder that is deleted at the end; the admin
key is generated for the run and handed to the children on standard input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from bot.admin.export import export_attachments
from bot.answers import AnswersDocument, encode_answers
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer, seal_stream_for_admins
from bot.crypto.stream import open_stream_with_admin_key
from bot.crypto.values import ItemRef
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head_async
from storage.records import NewFile, NewItem, NewReport
from storage.repositories import ReportRepository
from storage.uploads import UploadRepository

MIB = 1024 * 1024
REPORT = "7K3M9Q2X1A"
DRAFT = "d7" * 16
UPLOAD = "ab" * 16
PIECE = 256 * 1024


def _url(folder: Path) -> str:
    return f"sqlite+aiosqlite:///{folder / 'amanat.db'}"


def _key(raw_hex: str) -> AdminPrivateKey:
    return AdminPrivateKey(X25519PrivateKey.from_private_bytes(bytes.fromhex(raw_hex)))


async def _store(folder: Path, key: AdminPrivateKey, megabytes: int) -> None:
    """Seal one report with one attachment into a fresh database, piece by piece."""
    url = _url(folder)
    await upgrade_to_head_async(url)
    sealer = AdminSealer([key.public_key()])
    engine = create_engine(url)
    pieces = (os.urandom(PIECE) for _ in range(megabytes * MIB // PIECE))
    document = AnswersDocument("en", "2026-11", {}, draft_id=DRAFT, reporter_key=os.urandom(32))
    try:
        async with unit_of_work(session_factory(engine)) as session:
            ref = ItemRef(DRAFT, "attachment", 0)
            repository = UploadRepository(session)
            for seq, blob in enumerate(seal_stream_for_admins(sealer, ref, pieces)):
                await repository.add_chunk(UPLOAD, seq, blob, date(2026, 11, 27))
            meta = json.dumps({"kind": "video", "question": "narrative", "size": megabytes * MIB})
            sealed_meta = sealer.seal_for_admins(
                meta.encode(), ItemRef(DRAFT, "attachment_meta", 0)
            )
            answers = sealer.seal_for_admins(
                encode_answers(document), ItemRef(REPORT, "answers", 0)
            )
            await ReportRepository(session).add(
                NewReport(
                    REPORT,
                    date(2026, 11, 26),
                    False,
                    os.urandom(32),
                    [NewItem("answers", 0, answers), NewItem("attachment_meta", 0, sealed_meta)],
                    format_version=2,
                    reporter_key=document.reporter_key,
                    files=[NewFile(0, UPLOAD)],
                )
            )
    finally:
        await engine.dispose()


async def _measure(mode: str, folder: Path, key: AdminPrivateKey) -> float:
    """Do one child's job; return the seconds it took."""
    engine = create_engine(_url(folder))
    start = time.perf_counter()
    try:
        sessions = session_factory(engine)
        if mode == "export":
            [written] = await export_attachments(sessions, REPORT, key, folder / "export")
            written.path.unlink()
        elif mode == "whole":
            async with unit_of_work(sessions) as session:
                stored = UploadRepository(session)
                chunks = [blob async for blob in stored.chunks(UPLOAD)]
            ref = ItemRef(DRAFT, "attachment", 0)
            target = folder / "whole.bin"
            with target.open("wb") as handle:
                for plaintext in open_stream_with_admin_key(chunks[0], chunks[1:], ref, key):
                    handle.write(plaintext)
            target.unlink()
        else:  # idle: open the database and read a row, as both others do
            async with unit_of_work(sessions) as session:
                await ReportRepository(session).get(REPORT)
    finally:
        await engine.dispose()
    return time.perf_counter() - start


def run_child(mode: str, folder: Path, megabytes: int) -> None:
    """One measured job in this fresh process; print its figures as JSON."""
    key = _key(sys.stdin.readline().strip())
    if mode == "store":
        asyncio.run(_store(folder, key, megabytes))
        print(json.dumps({}))
        return
    seconds = asyncio.run(_measure(mode, folder, key))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_kb": peak_kb, "seconds": seconds}))


def child(mode: str, folder: Path, megabytes: int, key_hex: str) -> dict[str, float]:
    """Run one job in a fresh interpreter and return what it reported."""
    script = str(Path(__file__).resolve())
    result = subprocess.run(
        [sys.executable, script, "--child", mode, "--dir", str(folder), "--mb", str(megabytes)],
        input=key_hex + "\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    """Store once, measure each way in its own process, print figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 2 MiB file: a smoke run")
    parser.add_argument("--mb", type=int, default=20, help="attachment size in MiB")
    parser.add_argument("--child", choices=("store", "idle", "export", "whole"), help="internal")
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args.dir, args.mb)
        return
    megabytes = 2 if args.quick else args.mb
    key_hex = X25519PrivateKey.generate().private_bytes_raw().hex()
    with tempfile.TemporaryDirectory(prefix="amanat-bench-") as name:
        folder = Path(name)
        child("store", folder, megabytes, key_hex)
        idle = child("idle", folder, megabytes, key_hex)
        streamed = child("export", folder, megabytes, key_hex)
        whole = child("whole", folder, megabytes, key_hex)
    stream_mb = max(0.0, (streamed["peak_kb"] - idle["peak_kb"]) / 1024)
    whole_mb = max(0.0, (whole["peak_kb"] - idle["peak_kb"]) / 1024)
    ratio = stream_mb / whole_mb if whole_mb else 0.0
    print(f"admin export of one {megabytes} MiB attachment from SQLite:")
    print(f"  idle child peak RSS                 {idle['peak_kb'] / 1024:8.1f} MiB")
    print(f"  export (streamed): peak above idle  {stream_mb:8.1f} MiB")
    print(f"  baseline, chunks loaded first       {whole_mb:8.1f} MiB")
    print(f"  ratio                               {ratio:8.2f}")
    print(f"  export throughput                   {megabytes / streamed['seconds']:8.1f} MiB/s")
    figures = {
        "export_mb": megabytes,
        "export_peak_mb": round(stream_mb, 2),
        "baseline_peak_mb": round(whole_mb, 2),
        "ratio": round(ratio, 3),
        "export_mb_per_s": round(megabytes / streamed["seconds"], 1),
        "quick": args.quick,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
