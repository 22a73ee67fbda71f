"""The trend table: the eleven months before a digest's, each with its own published count."""

from __future__ import annotations

from bot.partners.months import Month
from bot.partners.trend import TrendPoint, months_before, trend_point


def test_the_months_before_cross_the_new_year_oldest_first() -> None:
    before = months_before(Month(2026, 2))
    assert len(before) == 11
    assert (str(before[0]), str(before[-1])) == ("2025-03", "2026-01")


def test_a_month_shows_the_count_its_digest_showed_or_none() -> None:
    october = Month(2026, 10)
    assert trend_point(october, 17, 5) == TrendPoint(october, 17, issued=True)
    assert trend_point(october, 4, 5) == TrendPoint(october, None, issued=True)  # hidden: *
    assert trend_point(october, None, 5) == TrendPoint(october, None, issued=False)
