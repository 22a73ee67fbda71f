"""Decide which month a partner digest may count, and when that month is settled.

This module owns what makes a digest's period safe, beyond the disclosure control of
:mod:`bot.partners.digest`: which records a digest may count (one calendar month, never a
running total) and when a month is settled enough to be counted. Sealing the rendered text to
the partner's own age key is :mod:`bot.crypto.partner`'s; writing the file is
:mod:`bot.partners.outbox`'s.

Why one month and nothing else: two digests whose periods overlap can be subtracted, and the
difference has no small cells hidden (``docs/partner-guide.md`` §7). A record counts in the
month its report was submitted, and distinct calendar months never overlap. Quarters or
"everything so far" would break that. A month can still grow after it is first issued (records
arrive late, in batches), so every digest of a month renders the snapshot taken at its first
issue (:mod:`bot.partners.snapshot`), never the records as they are now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

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


def settled_from(month: Month) -> date:
    """Return the first day on which ``month`` may be counted: ``SETTLE_DAYS`` after it ends.

    A record counts in the month its report was submitted, but it reaches the database only in
    a shuffled batch, written once at least *k* reports went by, so a month's last records can
    arrive days after it ends. The first issue fixes the month's counts for good (its snapshot),
    so wait until most of them are in; later ones are never published for that month.
    """
    return month.first_day_after() + timedelta(days=SETTLE_DAYS)
