"""Turn the statistics of one finished month into a digest file only a partner can open.

This module owns what makes a digest safe to hand over, beyond the disclosure control of
:mod:`bot.digest`: which records a digest may count (one calendar month, never a running
total), when a month is settled enough to be counted, and sealing the rendered text to the
partner's own age key, so that a digest intercepted on its way, or left on the team's
computer, tells nothing to anyone without that key.

Why one month and nothing else: two digests whose periods overlap can be subtracted, and the
difference has no small cells hidden (``docs/partner-guide.md`` §7). Distinct calendar months
never overlap, and a settled month's records no longer change, so issuing the same month again
gives the same counts. Quarters or "everything so far" would break that.

Why age: a partner opens the file with the standard ``age`` or ``rage`` tool and their own
identity file (``age -d -i key.txt digest.txt.age``), never with our code (DESIGN.md §4).
The file is ASCII-armoured so it survives e-mail and chat apps. The encryption is
``pyrage``'s, the Python binding of the ``rage`` implementation of age v1.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

import pyrage  # type: ignore[import-untyped]

if TYPE_CHECKING:  # settings import this module: keep it free of the digest machinery
    from bot.digest import StatLike

MONTH_PATTERN: Final = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

SETTLE_DAYS: Final = 7
"""Days after a month ends before it is settled, at the least (partner guide §6)."""


class PartnerDigestError(Exception):
    """A digest cannot be issued; the message says why and names no reporter content."""


@dataclass(frozen=True)
class Month:
    """One calendar month, the only period a partner digest covers."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """Read ``YYYY-MM``; anything else is a PartnerDigestError that says what is wanted."""
        match = MONTH_PATTERN.fullmatch(text.strip())
        if match is None:
            raise PartnerDigestError("a month is written YYYY-MM, for example 2026-10")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        """Write the month as statistics records store it: ``YYYY-MM``."""
        return f"{self.year:04d}-{self.month:02d}"

    def first_day_after(self) -> date:
        """Return the first day of the next month."""
        if self.month == 12:
            return date(self.year + 1, 1, 1)
        return date(self.year, self.month + 1, 1)


def settled_from(month: Month, draft_ttl: timedelta) -> date:
    """Return the first day on which ``month`` may be counted.

    A report counts in the month it was started; its draft may be sent until the draft's
    time-to-live runs out, so the month can still grow after it ends. Wait a week, or the
    TTL and a day when that is longer.
    """
    wait = max(timedelta(days=SETTLE_DAYS), draft_ttl + timedelta(days=1))
    return month.first_day_after() + timedelta(days=wait.days + (1 if wait.seconds else 0))


Record = TypeVar("Record", bound="StatLike")


def records_of(records: Sequence[Record], month: Month) -> list[Record]:
    """Keep the records of reports started in ``month``; everything else is not counted."""
    wanted = str(month)
    return [record for record in records if record.month == wanted]


def check_recipients(recipients: Sequence[str]) -> tuple[str, ...]:
    """Validate age X25519 recipients (``age1…``); raise ValueError naming the bad one."""
    checked = []
    for number, text in enumerate(recipients, start=1):
        try:
            pyrage.x25519.Recipient.from_str(text.strip())
        except pyrage.RecipientError:
            raise ValueError(f"age recipient {number} is not an age1… public key") from None
        checked.append(text.strip())
    if not checked:
        raise ValueError("a partner needs at least one age recipient")
    return tuple(checked)


def seal_for_partner(text: str, recipients: Sequence[str]) -> bytes:
    """Encrypt a rendered digest to every one of the partner's age keys, ASCII-armoured."""
    keys = [pyrage.x25519.Recipient.from_str(recipient) for recipient in recipients]
    sealed: bytes = pyrage.encrypt(text.encode("utf-8"), keys, armored=True)
    return sealed


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
