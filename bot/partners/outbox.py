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
    return f"amanat-digest-{partner}-{month}.txt.age"


def write_new_file(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to a new file readable by this user only; never overwrite one."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / name
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise PartnerDigestError(f"{path} exists already; move it away first") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return path
