"""Decide which month a partner digest may count, and when that month is settled.

This module owns what makes a digest's period safe, beyond the disclosure control of
:mod:`bot.partners.digest`: which records a digest may count (one calendar month, never a
running total) and when a month is settled enough to be counted. Sealing the rendered text to
the partner's own age key is :mod:`bot.crypto.partner`'s; writing the file is
:mod:`bot.partners.outbox`'s.

Why one month and nothing else: two digests whose periods overlap can be subtracted, and the
difference has no small cells hidden (``docs/partner-guide.md`` §7). Distinct calendar months
never overlap, and a settled month's records no longer change, so issuing the same month again
gives the same counts. Quarters or "everything so far" would break that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from bot.partners.digest import StatLike

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
