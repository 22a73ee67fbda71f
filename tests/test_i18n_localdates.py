"""Tests for bot.i18n.localdates: Gregorian for English, Afghan Solar Hijri for Dari and Pashto."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.i18n.localdates import (
    AFGHAN_SOLAR_MONTHS_FA,
    AFGHAN_SOLAR_MONTHS_PS,
    format_date,
    format_date_both,
    format_month,
    format_month_both,
    solar_date,
)

IRANIAN_MONTHS = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
RTL = ("fa_AF", "ps")
ASCII_DIGITS = set("0123456789")


def words(text: str) -> list[str]:
    """Split a rendered date into its words (month names, numbers)."""
    return re.split("[ –]", text)


dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2080, 12, 31))


def test_month_names_are_the_afghan_ones() -> None:
    assert AFGHAN_SOLAR_MONTHS_FA == (
        "حمل",
        "ثور",
        "جوزا",
        "سرطان",
        "اسد",
        "سنبله",
        "میزان",
        "عقرب",
        "قوس",
        "جدی",
        "دلو",
        "حوت",
    )
    assert AFGHAN_SOLAR_MONTHS_PS == (
        "وری",
        "غویی",
        "غبرګولی",
        "چنګاښ",
        "زمری",
        "وږی",
        "تله",
        "لړم",
        "لیندۍ",
        "مرغومی",
        "سلواغه",
        "کب",
    )


def test_month_names_use_persian_yeh_and_kaf_and_pashto_gaf() -> None:
    names = "".join(AFGHAN_SOLAR_MONTHS_FA + AFGHAN_SOLAR_MONTHS_PS)
    assert "ي" not in names  # Arabic yeh
    assert "ك" not in names  # Arabic kaf
    assert "گ" not in "".join(AFGHAN_SOLAR_MONTHS_PS)  # Pashto spells ګ
    assert "ګ" in AFGHAN_SOLAR_MONTHS_PS[2]
    assert "ګ" in AFGHAN_SOLAR_MONTHS_PS[3]


@pytest.mark.parametrize(
    ("day", "solar", "fa_AF", "ps"),
    [
        (date(2026, 3, 21), (1405, 1, 1), "۱ حمل ۱۴۰۵", "۱ وری (حمل) ۱۴۰۵"),  # Nowruz 1405
        (date(2021, 8, 15), (1400, 5, 24), "۲۴ اسد ۱۴۰۰", "۲۴ زمری (اسد) ۱۴۰۰"),  # fall of Kabul
        (date(2026, 11, 25), (1405, 9, 4), "۴ قوس ۱۴۰۵", "۴ لیندۍ (قوس) ۱۴۰۵"),
        (date(2025, 8, 19), (1404, 5, 28), "۲۸ اسد ۱۴۰۴", "۲۸ زمری (اسد) ۱۴۰۴"),  # Independence Day
        (date(2025, 4, 28), (1404, 2, 8), "۸ ثور ۱۴۰۴", "۸ غویی (ثور) ۱۴۰۴"),
        (
            date(2024, 3, 20),
            (1403, 1, 1),
            "۱ حمل ۱۴۰۳",
            "۱ وری (حمل) ۱۴۰۳",
        ),  # Nowruz in a leap year
        (date(2025, 3, 20), (1403, 12, 30), "۳۰ حوت ۱۴۰۳", "۳۰ کب (حوت) ۱۴۰۳"),  # 30 Hut, leap
        (date(2026, 3, 20), (1404, 12, 29), "۲۹ حوت ۱۴۰۴", "۲۹ کب (حوت) ۱۴۰۴"),
    ],
)
def test_known_conversions(day: date, solar: tuple[int, int, int], fa_AF: str, ps: str) -> None:
    assert solar_date(day) == solar
    assert format_date("fa_AF", day) == fa_AF
    assert format_date("ps", day) == ps


def test_pashto_dates_add_the_dari_month_in_brackets() -> None:
    """Many Pashto speakers who read little name the months in Dari (حمل، اسد)."""
    assert format_date("ps", date(2026, 12, 2)) == "۱۱ لیندۍ (قوس) ۱۴۰۵"
    assert format_date("fa_AF", date(2026, 12, 2)) == "۱۱ قوس ۱۴۰۵"
    assert format_date("ps", date(2021, 8, 15)) == "۲۴ زمری (اسد) ۱۴۰۰"


def test_english_dates_are_gregorian_day_month_year() -> None:
    assert format_date("en", date(2026, 11, 25)) == "25 November 2026"
    assert format_date("en", date(2021, 8, 15)) == "15 August 2021"


def test_datetimes_are_formatted_by_their_date() -> None:
    assert format_date("fa_AF", datetime(2026, 3, 21, 23, 59)) == "۱ حمل ۱۴۰۵"


@given(dates, st.sampled_from(RTL))
def test_rtl_dates_use_afghan_names_and_locale_digits(day: date, locale: str) -> None:
    text = format_date(locale, day)
    assert not ASCII_DIGITS & set(text)
    assert set(words(text)).isdisjoint(IRANIAN_MONTHS)
    assert "فروردین" not in text
    names = AFGHAN_SOLAR_MONTHS_FA if locale == "fa_AF" else AFGHAN_SOLAR_MONTHS_PS
    assert text.split(" ")[1] == names[solar_date(day)[1] - 1]


@given(dates)
def test_solar_dates_advance_one_day_at_a_time(day: date) -> None:
    year, month, day_of_month = solar_date(day)
    after = solar_date(day + timedelta(days=1))
    if after[2] != 1:
        assert after == (year, month, day_of_month + 1)
    elif after[1] != 1:
        assert after == (year, month + 1, 1)
        assert day_of_month in (29, 30, 31)
    else:
        assert after == (year + 1, 1, 1)
        assert (month, day_of_month) in ((12, 29), (12, 30))


@pytest.mark.parametrize(
    ("year", "month", "fa_AF", "ps", "en"),
    [
        (2026, 11, "عقرب–قوس ۱۴۰۵", "لړم–لیندۍ ۱۴۰۵", "November 2026"),
        (2027, 1, "جدی–دلو ۱۴۰۵", "مرغومی–سلواغه ۱۴۰۵", "January 2027"),
        (2026, 2, "دلو–حوت ۱۴۰۴", "سلواغه–کب ۱۴۰۴", "February 2026"),
        (2027, 3, "حوت ۱۴۰۵–حمل ۱۴۰۶", "کب ۱۴۰۵–وری ۱۴۰۶", "March 2027"),
        (2021, 8, "اسد–سنبله ۱۴۰۰", "زمری–وږی ۱۴۰۰", "August 2021"),
    ],
)
def test_format_month(year: int, month: int, fa_AF: str, ps: str, en: str) -> None:
    assert format_month("fa_AF", year, month) == fa_AF
    assert format_month("ps", year, month) == ps
    assert format_month("en", year, month) == en


@given(st.integers(1990, 2080), st.integers(1, 12), st.sampled_from(RTL))
def test_every_month_is_shown_as_the_two_solar_months_it_spans(
    year: int, month: int, locale: str
) -> None:
    text = format_month(locale, year, month)
    assert not ASCII_DIGITS & set(text)
    assert set(words(text)).isdisjoint(IRANIAN_MONTHS)
    assert "فروردین" not in text
    assert text.count("–") == 1
    names = AFGHAN_SOLAR_MONTHS_FA if locale == "fa_AF" else AFGHAN_SOLAR_MONTHS_PS
    first = names[solar_date(date(year, month, 1))[1] - 1]
    last = names[solar_date(date(year, month, 28))[1] - 1]
    assert text.startswith(first + (" " if month == 3 else "–"))
    assert last in words(text)


@pytest.mark.parametrize("month", [0, 13])
def test_format_month_refuses_impossible_months(month: int) -> None:
    with pytest.raises(ValueError, match="month"):
        format_month("en", 2026, month)


@pytest.mark.parametrize("locale", ["fa", "prs", "ps_AF", "de", ""])
def test_unsupported_locales_are_refused(locale: str) -> None:
    with pytest.raises(ValueError, match="unsupported locale"):
        format_date(locale, date(2026, 1, 1))
    with pytest.raises(ValueError, match="unsupported locale"):
        format_month(locale, 2026, 1)


def test_a_partner_reads_a_month_and_a_day_in_both_calendars() -> None:
    assert format_month_both("en", 2026, 11) == "November 2026"
    assert format_month_both("fa_AF", 2026, 11) == "عقرب–قوس ۱۴۰۵ (نومبر ۲۰۲۶ میلادی)"
    assert format_month_both("ps", 2027, 3) == "کب ۱۴۰۵–وری ۱۴۰۶ (مارچ ۲۰۲۷ زېږدیز)"
    assert format_date_both("fa_AF", date(2026, 12, 8)) == "۱۷ قوس ۱۴۰۵ (۸ دسمبر ۲۰۲۶ میلادی)"
    assert format_date_both("en", date(2026, 12, 8)) == "8 December 2026"
