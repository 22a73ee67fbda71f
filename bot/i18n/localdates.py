"""Own how dates and months are shown to users: Gregorian for English, Afghan Solar Hijri otherwise.

Dari and Pashto readers in Afghanistan count time in the Solar Hijri (Hijri Shamsi) calendar with
the Afghan month names, which are not Iran's: Dari uses the Arabic zodiac names (حمل، ثور …) and
Pashto its own (وری، غویی …), where Iran says فروردین، اردیبهشت …. Babel has no Solar Hijri
calendar, so the conversion is jdatetime's (its arithmetic gives the same Nowruz as
Afghanistan's calendar for the years this bot will see; tests pin known dates) and only its
numbers are used: jdatetime's own month names are Iranian and its locale switch is global.

This module must never emit Iranian month names and never keep state.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Final

import jdatetime  # type: ignore[import-untyped]
from babel.dates import format_date as babel_format_date

from bot.i18n.translations import RTL_LOCALES, SUPPORTED_LOCALES, to_locale_digits

__all__ = [
    "AFGHAN_SOLAR_MONTHS_FA",
    "AFGHAN_SOLAR_MONTHS_PS",
    "format_date",
    "format_date_both",
    "format_month",
    "format_month_both",
    "solar_date",
]

AFGHAN_SOLAR_MONTHS_FA: Final[tuple[str, ...]] = (
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
"""Dari names of the Afghan solar months, Hamal (from Nowruz, 21 March) to Hut."""

AFGHAN_SOLAR_MONTHS_PS: Final[tuple[str, ...]] = (
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
"""Pashto names of the Afghan solar months, spelled with the Pashto letters ګ ښ ږ ړ ۍ."""

_MONTHS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"fa_AF": AFGHAN_SOLAR_MONTHS_FA, "ps": AFGHAN_SOLAR_MONTHS_PS}
)
_MONTHS_IN_BRACKETS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"ps": AFGHAN_SOLAR_MONTHS_FA}
)
"""Month names a date adds in brackets: many Pashto speakers, above all those who read
little, name the months in Dari (حمل، اسد), so «۱۱ لیندۍ (قوس) ۱۴۰۵» reaches them all."""
EN_DASH: Final = "\u2013"

_GREGORIAN_MONTHS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "fa_AF": (
            "جنوری", "فبروری", "مارچ", "اپریل", "می", "جون",
            "جولای", "اگست", "سپتمبر", "اکتوبر", "نومبر", "دسمبر",
        ),
        "ps": (
            "جنوري", "فبروري", "مارچ", "اپرېل", "می", "جون",
            "جولای", "اګست", "سپتمبر", "اکتوبر", "نومبر", "دسمبر",
        ),
    }
)  # fmt: skip
"""Gregorian month names as Afghan media and offices write them (not Iran's ژانویه …)."""
_GREGORIAN_ERA: Final[Mapping[str, str]] = MappingProxyType({"fa_AF": "میلادی", "ps": "زېږدیز"})


def _require_supported(locale: str) -> None:
    if locale not in SUPPORTED_LOCALES:
        raise ValueError("unsupported locale")


def solar_date(day: date) -> tuple[int, int, int]:
    """Convert a Gregorian date to the Solar Hijri (year, month 1-12, day)."""
    solar = jdatetime.date.fromgregorian(year=day.year, month=day.month, day=day.day)
    return int(solar.year), int(solar.month), int(solar.day)


def format_date(locale: str, day: date) -> str:
    """Show a date the way the reader counts days.

    English: Babel's long form in day-month-year order ("25 November 2026"), which reads the
    same for readers of British, American and South Asian English. Dari and Pashto: Solar Hijri
    with the Afghan month names and the locale's digits ("۴ قوس ۱۴۰۵"); Pashto adds the Dari
    name in brackets ("۴ لیندۍ (قوس) ۱۴۰۵", see :data:`_MONTHS_IN_BRACKETS`).
    """
    _require_supported(locale)
    if locale not in RTL_LOCALES:
        return babel_format_date(day, "d MMMM y", locale=locale)
    year, month, day_of_month = solar_date(day)
    name = _MONTHS[locale][month - 1]
    also = _MONTHS_IN_BRACKETS.get(locale)
    if also is not None:
        name = f"{name} ({also[month - 1]})"
    return to_locale_digits(locale, f"{day_of_month} {name} {year}")


def format_month(locale: str, year: int, month: int) -> str:
    """Show a Gregorian month (the unit of the statistics) to the reader.

    English: "November 2026". Dari and Pashto: the two Afghan solar months the Gregorian
    month straddles, joined by an en dash, with the solar year: "عقرب–قوس ۱۴۰۵" for November
    2026, and both years when it crosses Nowruz: "حوت ۱۴۰۵–حمل ۱۴۰۶" for March 2027.

    Why: statistics are counted per Gregorian month (partners report that way), so a single
    solar month name would be wrong by about ten days. Gregorian month names in Dari and Pashto
    differ between Afghan and Iranian usage and between writers, while the solar names are
    the ones every reader knows; the span says honestly that the bucket covers parts of both.
    """
    _require_supported(locale)
    if not 1 <= month <= 12:
        raise ValueError("month must be 1..12")
    first = date(year, month, 1)
    if locale not in RTL_LOCALES:
        return babel_format_date(first, "MMMM y", locale=locale)
    last = date(year, month, calendar.monthrange(year, month)[1])
    names = _MONTHS[locale]
    first_year, first_month, _ = solar_date(first)
    last_year, last_month, _ = solar_date(last)
    if (first_year, first_month) == (last_year, last_month):
        text = f"{names[first_month - 1]} {first_year}"
    elif first_year == last_year:
        text = f"{names[first_month - 1]}{EN_DASH}{names[last_month - 1]} {first_year}"
    else:
        text = f"{names[first_month - 1]} {first_year}{EN_DASH}{names[last_month - 1]} {last_year}"
    return to_locale_digits(locale, text)


def _gregorian(locale: str, day: int | None, year: int, month: int) -> str:
    """A Gregorian date or month in Dari or Pashto words, with the era named."""
    name = _GREGORIAN_MONTHS[locale][month - 1]
    text = f"{name} {year} {_GREGORIAN_ERA[locale]}"
    return to_locale_digits(locale, text if day is None else f"{day} {text}")


def format_month_both(locale: str, year: int, month: int) -> str:
    """A month in both calendars where the reader's is not Gregorian.

    English: "November 2026". Dari and Pashto: the solar span of :func:`format_month`, then
    the Gregorian month in brackets, "عقرب–قوس ۱۴۰۵ (نومبر ۲۰۲۶ میلادی)": a partner's
    figures and reports elsewhere count Gregorian months.
    """
    solar = format_month(locale, year, month)
    if locale not in RTL_LOCALES:
        return solar
    return f"{solar} ({_gregorian(locale, None, year, month)})"


def format_date_both(locale: str, day: date) -> str:
    """A day in both calendars where the reader's is not Gregorian (see format_month_both)."""
    solar = format_date(locale, day)
    if locale not in RTL_LOCALES:
        return solar
    return f"{solar} ({_gregorian(locale, day.day, day.year, day.month)})"
