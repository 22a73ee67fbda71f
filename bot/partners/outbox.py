"""Write what the team hands to a partner: new files, readable by the team's user only.

A digest or a routed case is written once, under a name that says whom it is for and what it
covers and nothing else, and never over an existing file (a second issue of the same month
must not silently replace the first one the team may already have sent).
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.partners.months import Month, PartnerDigestError


def digest_file_name(partner: str, month: Month) -> str:
    """Name the file after who it is for and what it covers, nothing else."""
    return f"amanat-digest-{partner}-{month}.zip.age"


def case_file_name(partner: str, report_id: str) -> str:
    """Name a routed case after the partner and the case number, nothing else."""
    return f"amanat-case-{partner}-{report_id}.txt.age"


def _taken(path: Path) -> PartnerDigestError:
    """Say that a name is taken, naming the path only."""
    return PartnerDigestError(f"{path} exists already; move it away first")


def check_new_file(folder: Path, name: str) -> Path:
    """Refuse a name already taken before anything is recorded for a file that cannot be written.

    ``write_new_file`` still refuses atomically; this only spares the audit log an entry for a
    digest that was never written because an old file was in the way.
    """
    path = folder / name
    if path.exists() or path.is_symlink():
        raise _taken(path)
    return path


def write_new_file(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to a new file readable by this user only; never overwrite one."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / name
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise _taken(path) from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path
