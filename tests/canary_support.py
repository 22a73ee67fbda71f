"""Look for canaries: unique markers, every place a run can leave bytes, and the search itself.

This module owns what counts as a leak for the canary tests: a marker found, in any encoding a
careless line of code would produce (UTF-8, UTF-16, hex, base64, JSON escapes, or the binary
integer SQLite and PostgreSQL store), in any file the run wrote or the process holds open,
deleted temporary files and pytest's captured stdout and stderr included. It also captures a
DEBUG log to a file the way an operator would configure one. It must never narrow a search to
make a test pass, and it never decrypts anything: recovering what was sealed is the tests' job.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.logs import configure_logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MAX_SCANNED_BYTES = 256 * 1024 * 1024
"""Files larger than this are not read (nothing a test run writes comes close)."""


def new_canary(label: str, *, prefix: str = "CANARY") -> str:
    """Return a marker no other run can produce: ``<prefix>-<label>-<uuid hex>``."""
    return f"{prefix}-{label}-{uuid.uuid4().hex}"


def _base64_forms(data: bytes) -> set[bytes]:
    """Base64 of ``data`` at each of the three alignments it can have inside a longer text."""
    forms: set[bytes] = set()
    for skip in range(3):
        usable = (len(data) - skip) // 3 * 3
        chunk = data[skip : skip + usable]
        if len(chunk) >= 12:
            forms.add(base64.b64encode(chunk))
            forms.add(base64.urlsafe_b64encode(chunk))
    return forms


@dataclass(frozen=True)
class Needle:
    """Something that must not be found, with every byte form it could take on disk."""

    label: str
    forms: frozenset[bytes]

    @classmethod
    def text(cls, label: str, value: str) -> Needle:
        """A string as people type it: found as text, escaped, or trivially encoded."""
        raw = value.encode()
        forms = {
            raw,
            value.encode("utf-16-le"),
            value.encode("utf-16-be"),
            raw.hex().encode(),
            raw.hex().upper().encode(),
            json.dumps(value)[1:-1].encode(),  # \uXXXX escapes of non-ASCII text
            repr(raw)[2:-1].encode(),  # b'...' as a log line would print the bytes
            *_base64_forms(raw),
        }
        return cls(label, frozenset(form for form in forms if len(form) >= 8))

    @classmethod
    def integer(cls, label: str, value: int) -> Needle:
        """An identifier: as decimal text, and as the binary integers databases store."""
        digits = str(value)
        forms = {
            digits.encode(),
            digits.encode("utf-16-le"),
            value.to_bytes(8, "big"),  # SQLite record format (and PostgreSQL wire format)
            value.to_bytes(8, "little"),  # PostgreSQL heap pages on x86
        }
        width = (value.bit_length() + 8) // 8
        if width == 6:  # SQLite stores integers of 41 to 48 bits in 6 big-endian bytes
            forms.add(value.to_bytes(6, "big"))
        return cls(label, frozenset(forms))

    @classmethod
    def binary(cls, label: str, value: bytes) -> Needle:
        """Opaque bytes (ciphertext that should have been deleted), as stored."""
        if len(value) < 16:
            raise ValueError("too short to be found only where it was stored")
        return cls(label, frozenset({value}))


@dataclass(frozen=True)
class Leak:
    """One needle found in one place."""

    label: str
    where: str

    def __str__(self) -> str:
        return f"{self.label} in {self.where}"


def find_in_bytes(data: bytes, where: str, needles: Iterable[Needle]) -> list[Leak]:
    """Return a leak for every needle with a form inside ``data``."""
    return [
        Leak(needle.label, where)
        for needle in needles
        if any(form in data for form in needle.forms)
    ]


def find_in_files(paths: Iterable[Path], needles: Iterable[Needle]) -> list[Leak]:
    """Read each regular file once and report every needle found in it."""
    needles = list(needles)
    leaks: list[Leak] = []
    seen: set[tuple[int, int]] = set()
    for path in paths:
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SCANNED_BYTES:
                continue
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            data = path.read_bytes()
        except OSError:
            continue  # gone between listing and reading, or not readable: nothing to grep
        leaks.extend(find_in_bytes(data, _describe(path), needles))
    return leaks


def _describe(path: Path) -> str:
    if str(path).startswith("/proc/self/fd/"):
        try:
            return f"open file {os.readlink(path)}"
        except OSError:
            return f"open file {path}"
    return str(path)


def files_under(root: Path) -> list[Path]:
    """Every regular file below ``root`` (SQLite main, -wal and -shm, logs, temp files)."""
    return sorted(p for p in root.rglob("*") if p.is_file())


def open_files() -> list[Path]:
    """Every regular file this process holds open, readable even once deleted.

    That covers SQLite's files, the log file, anonymous temporary files, and the files pytest
    captures stdout and stderr into: whatever reaches a standard stream is on disk in
    production too (journald, container logs).
    """
    folder = Path("/proc/self/fd")
    if not folder.is_dir():
        return []
    return [folder / name for name in os.listdir(folder)]


def files_written_since(roots: Iterable[Path], since: float, *, recursive: bool) -> list[Path]:
    """Files below ``roots`` modified at or after ``since`` (stray temp files, stray logs)."""
    found: list[Path] = []
    for root in roots:
        if not root.is_dir():
            continue
        if recursive:
            for folder, dirs, names in os.walk(root):
                dirs[:] = [d for d in dirs if d != ".git"]
                found.extend(_recent(Path(folder), names, since))
        else:
            found.extend(_recent(root, os.listdir(root), since))
    return found


def _recent(folder: Path, names: Iterable[str], since: float) -> Iterator[Path]:
    for name in names:
        path = folder / name
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mtime >= since:
            yield path


@contextmanager
def debug_log_file(path: Path) -> Iterator[Path]:
    """Configure logging as an operator running at DEBUG would, into ``path``; undo it after."""
    manager = logging.Logger.manager
    root = logging.getLogger()
    levels = {
        name: logger.level
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root_level, root_handlers = root.level, list(root.handlers)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    configure_logging("DEBUG")
    root.addHandler(handler)
    try:
        yield path
    finally:
        handler.close()
        for added in [h for h in root.handlers if h not in root_handlers]:
            root.removeHandler(added)  # ours, and any basicConfig added
        root.setLevel(root_level)
        for name, logger in manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.setLevel(levels.get(name, logging.NOTSET))
