"""The last twelve months in one table: each month's total as its own digest showed it.

A partner wants to see whether something grows or falls, so a digest also lists the totals of
the eleven months before it. Each one is the total that month's own digest published (from
its pinned snapshot, :mod:`bot.partners.snapshot`), or hidden when it was below ``k``, or
"no count" when no digest of that month can be rendered: the table republishes numbers already
published, and never counts a month afresh, so it cannot be subtracted from anything
(``docs/partner-guide.md`` §7). Pure: no storage, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bot.partners.months import Month

TREND_MONTHS: Final = 12
"""How many months the table shows, the digest's own included."""


@dataclass(frozen=True)
class TrendPoint:
    """One month of the table: its published total, hidden (None), or no count at all."""

    month: Month
    total: int | None
    issued: bool


def months_before(month: Month, count: int = TREND_MONTHS - 1) -> list[Month]:
    """The ``count`` months before ``month``, oldest first."""
    earlier: list[Month] = []
    year, number = month.year, month.month
    for _ in range(count):
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
        earlier.append(Month(year, number))
    return earlier[::-1]


def trend_point(month: Month, records: int | None, k: int) -> TrendPoint:
    """A month's point: ``records`` counted in its snapshot, or None when it has no count."""
    if records is None:
        return TrendPoint(month, None, issued=False)
    return TrendPoint(month, records if records >= k else None, issued=True)
