"""Draw a digest's tables as charts: Vega-Lite specifications rendered to PNG by vl-convert.

A partner reads a bar faster than a column of numbers, and pastes charts into its own reports,
so each published one-way table and the twelve-month trend become a PNG in the bundle
(:mod:`bot.partners.bundle`). This module owns how they look: in the partner's language and
digits, right to left for Dari and Pashto (labels on the right, bars growing leftwards, every
text a right-to-left embedding), with the month in both calendars where the digest shows
both.

It must never draw a number the digest hides: a hidden cell is a label, "* hidden", where
its bar would start, never a bar, and the chart is made from the published
:class:`~bot.partners.digest.Table` alone, which holds no hidden count to leak. Nothing is
fetched: no URL is allowed to the renderer, and the only font is the vendored Vazirmatn
(``fonts/``, SIL Open Font License), which shapes Dari and Pashto (ټ ځ څ ډ ړ ږ ښ ګ ڼ ې ۍ)
and has Latin letters for English.

vl-convert draws with resvg, whose text layout has two gaps this module works around (see
:func:`_directed` and :func:`_framed`): it sets every text left to right at the paragraph
level, and it piles up the lines of a multi-line right-to-left text.

The PNG's bytes depend only on the specification, vl-convert's version (locked in
``requirements/``) and the font: vl-convert writes no time or machine into the file
(``tests/test_partners_charts.py::test_a_chart_is_the_same_bytes_in_another_process``).
"""

from __future__ import annotations

import functools
import json
import struct
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import vl_convert

from bot.i18n.localdates import format_month_both
from bot.i18n.translations import (
    GROUPED_FROM,
    N_,
    RTL_LOCALES,
    Translations,
    format_number,
)
from bot.partners.digest import HIDDEN, HIDDEN_LEGEND, Table, cell_label, table_title
from bot.partners.trend import TrendPoint

__all__ = [
    "BAR_COLOUR",
    "FONT_DIR",
    "FONT_FAMILY",
    "PDF",
    "PNG_SCALE",
    "RLE",
    "Chart",
    "Spec",
    "png_size",
    "render_png",
    "render_svg",
    "table_spec",
    "trend_spec",
]

Spec = dict[str, Any]
"""A Vega-Lite specification: plain JSON data."""

FONT_DIR: Final = Path(__file__).resolve().parent / "fonts"
"""Vazirmatn Regular and Bold (v33.0.3, from the npm package ``vazirmatn``) and its OFL."""

FONT_FAMILY: Final = "Vazirmatn"

PNG_SCALE: Final = 2
"""Pixels per CSS pixel: sharp on a phone's screen and in print; 60 to 300 KB a chart."""

BAR_COLOUR: Final = "#4c78a8"
MUTED_COLOUR: Final = "#555555"
TEXT_COLOUR: Final = "#222222"
RLE: Final = "\u202b"  # RIGHT-TO-LEFT EMBEDDING
PDF: Final = "\u202c"  # POP DIRECTIONAL FORMATTING

COUNT_AXIS: Final = N_("Number of reports")
# Translators: said where a bar would be, in a chart: {mark} is "*", the mark of a hidden
# number in the tables. Keep it short.
HIDDEN_BAR: Final = N_("{mark} hidden")
# Translators: said beside a month, in a chart, when no digest of that month was issued, so it
# has no count. Keep it short.
NO_COUNT_BAR: Final = N_("no count")

_ARABIC_EXTENDED_DIGITS: Final = "۰۱۲۳۴۵۶۷۸۹"
_NUMBER_LOCALES: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        locale: MappingProxyType(
            {
                "decimal": "٫",
                "thousands": "٬",
                "grouping": (3,),
                "currency": ("", ""),
                "numerals": tuple(_ARABIC_EXTENDED_DIGITS),
                "minus": "−",
            }
        )
        for locale in sorted(RTL_LOCALES)
    }
)
"""d3-format locales writing axis numbers as :func:`format_number` does (۰۱۲…, ٬)."""


@dataclass(frozen=True)
class Chart:
    """One chart of a bundle: its file name, its title (the image's text alternative), PNG."""

    name: str
    title: str
    png: bytes

    @property
    def size(self) -> tuple[int, int]:
        """Width and height in CSS pixels, for the page's ``<img>``."""
        return png_size(self.png)


@functools.cache
def _fonts_registered() -> Path:
    """Tell vl-convert, once per process, where the vendored font is.

    vl-convert keeps its font database inside the library, for the whole process; it is its
    state, not ours. Registering the same folder again would only scan it again, so the
    cache makes this idempotent call cheap; it holds no value that could change what we draw.
    """
    vl_convert.register_font_directory(str(FONT_DIR))
    return FONT_DIR


def render_png(spec: Spec, locale: str) -> bytes:
    """Render ``spec`` to PNG with the locale's digits, nothing fetched from elsewhere."""
    _fonts_registered()
    return vl_convert.vegalite_to_png(
        spec,
        scale=PNG_SCALE,
        allowed_base_urls=[],
        format_locale=_number_locale(locale),
    )


def render_svg(spec: Spec, locale: str) -> str:
    """Render ``spec`` to SVG, for tests that read what a chart says."""
    _fonts_registered()
    return vl_convert.vegalite_to_svg(
        spec, allowed_base_urls=[], format_locale=_number_locale(locale)
    )


def png_size(png: bytes) -> tuple[int, int]:
    """Read a PNG's width and height (its IHDR) in CSS pixels."""
    width, height = struct.unpack(">II", png[16:24])
    return width // PNG_SCALE, height // PNG_SCALE


def _number_locale(locale: str) -> dict[str, Any] | None:
    """A fresh d3-format locale for vl-convert (lists, as JSON wants), or None: English."""
    numbers = _NUMBER_LOCALES.get(locale)
    if numbers is None:
        return None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in numbers.items()}


def _count_label_expr(locale: str) -> str:
    """Write an axis number as :func:`format_number` would (Dari groups from 10,000 only)."""
    grouped_from = GROUPED_FROM.get(locale, 1000)
    return f"datum.value >= {grouped_from} ? format(datum.value, ',') : format(datum.value, 'd')"


def _lookup_expr(labels: Mapping[str, str]) -> str:
    """A Vega expression mapping an axis value (a key) to its label; JSON is valid there."""
    return f"{json.dumps(labels, ensure_ascii=True, sort_keys=True)}[datum.value]"


def _directed(locale: str, text: str) -> str:
    """Embed a Dari or Pashto text right to left, as if it were its own right-to-left line.

    resvg lays out every SVG text as a left-to-right paragraph (SVG's default direction,
    and Vega writes none), so "* hidden" would show its "*" on the left and a sentence its
    full stop on the right. RLE…PDF makes the text one right-to-left embedding: it then
    reads as Chromium shows it in a ``dir="rtl"`` paragraph. Vazirmatn has both marks
    (no fallback font is asked for them).
    """
    return f"{RLE}{text}{PDF}" if locale in RTL_LOCALES else text


def _hidden_text(locale: str, translations: Translations) -> str:
    return translations.format(locale, HIDDEN_BAR, mark=HIDDEN)


@dataclass(frozen=True)
class _Bar:
    """One row of a chart: its key, its label, its count (None: no bar) and what it says."""

    key: str
    label: str
    count: int | None
    text: str


def table_spec(
    table: Table,
    k: int,
    locale: str,
    translations: Translations,
    *,
    note: str | None = None,
) -> Spec | None:
    """A bar per key of ``table``, in its order; None when no bar can be drawn.

    A withheld table has no keys, and a table whose every count is hidden would be a chart
    of labels only: the page's table says the same in fewer words. A hidden key keeps its
    row, with "* hidden" where its bar would start, and the chart then says what ``*``
    means. ``note`` is a line under the title (the period).
    """
    if table.withheld or all(cell.hidden for cell in table.cells):
        return None
    hidden = _hidden_text(locale, translations)
    bars = [
        _Bar(
            cell.key,
            cell_label(table.dimension, cell.key, locale, translations),
            cell.count,
            hidden if cell.count is None else format_number(locale, cell.count),
        )
        for cell in table.cells
    ]
    legend = _legend(k, locale, translations) if any(c.hidden for c in table.cells) else None
    title = table_title(table, locale, translations)
    return _framed(_bar_chart(bars, locale, translations), title, note, legend, locale)


def trend_spec(
    trend: Sequence[TrendPoint],
    title: str,
    k: int,
    locale: str,
    translations: Translations,
) -> Spec | None:
    """A bar per month, oldest on top, each named in both calendars; None: no bar at all.

    A month whose total its digest hid says "* hidden"; a month never issued says "no
    count". Only totals already published are drawn (:mod:`bot.partners.trend`). Bars, not
    columns: twelve months in two calendars do not fit side by side at a readable size.
    """
    if all(point.total is None for point in trend):
        return None
    hidden = _hidden_text(locale, translations)
    no_count = translations.gettext(locale, NO_COUNT_BAR)
    bars = []
    for point in trend:
        if point.total is not None:
            text = format_number(locale, point.total)
        else:
            text = hidden if point.issued else no_count
        label = format_month_both(locale, point.month.year, point.month.month)
        bars.append(_Bar(str(point.month), label, point.total, text))
    hidden_months = any(point.issued and point.total is None for point in trend)
    legend = _legend(k, locale, translations) if hidden_months else None
    return _framed(_bar_chart(bars, locale, translations), title, None, legend, locale)


def _bar_chart(bars: Sequence[_Bar], locale: str, translations: Translations) -> Spec:
    """Horizontal bars, labels beside them; right to left in Dari and Pashto.

    Dari and Pashto: labels stand on the right and bars grow leftwards from them, as the
    page's tables read. Each row's number (or "* hidden") is written where its bar ends,
    from a preformatted string: :func:`format_number`'s digits and grouping, never Vega's.
    """
    rtl = locale in RTL_LOCALES
    rows = [
        {
            "key": bar.key,
            "count": bar.count,
            "at": 0 if bar.count is None else bar.count,
            "text": _directed(locale, bar.text),
        }
        for bar in bars
    ]
    x_scale = {"reverse": rtl, "domainMin": 0}
    x_axis = {
        "title": _directed(locale, translations.gettext(locale, COUNT_AXIS)),
        "tickMinStep": 1,
        "labelExpr": _count_label_expr(locale),
        "labelFlush": False,
    }
    return {
        "width": 360,
        "height": {"step": 28},
        "data": {"values": rows},
        "encoding": {
            "y": {
                "field": "key",
                "type": "nominal",
                "sort": [bar.key for bar in bars],
                "axis": {
                    "title": None,
                    "orient": "right" if rtl else "left",
                    "labelExpr": _lookup_expr(
                        {bar.key: _directed(locale, bar.label) for bar in bars}
                    ),
                    "labelLimit": 0,
                    "labelPadding": 6,
                    "ticks": False,
                },
            }
        },
        "layer": [
            {
                "transform": [{"filter": "datum.count != null"}],
                "mark": {"type": "bar", "color": BAR_COLOUR, "height": {"band": 0.7}},
                "encoding": {
                    "x": {
                        "field": "count",
                        "type": "quantitative",
                        "scale": x_scale,
                        "axis": x_axis,
                    }
                },
            },
            {
                "mark": {
                    "type": "text",
                    "align": "right" if rtl else "left",
                    "dx": -5 if rtl else 5,
                    "baseline": "middle",
                },
                "encoding": {
                    "x": {"field": "at", "type": "quantitative", "scale": x_scale, "axis": x_axis},
                    "text": {"field": "text", "type": "nominal"},
                    "color": {
                        "condition": {"test": "datum.count == null", "value": MUTED_COLOUR},
                        "value": TEXT_COLOUR,
                    },
                },
            },
        ],
    }


def _legend(k: int, locale: str, translations: Translations) -> str:
    return translations.format(locale, HIDDEN_LEGEND, mark=HIDDEN, k=k)


def _two_lines(text: str) -> tuple[str, str]:
    """Break ``text`` at a space into two lines of about equal length (Vega never wraps)."""
    longest_word = max((len(word) for word in text.split()), default=0)
    lines = textwrap.wrap(text, width=(len(text) + 1) // 2 + longest_word)
    return lines[0], " ".join(lines[1:])


def _framed(
    chart: Spec,
    title: str,
    note: str | None,
    legend: str | None,
    locale: str,
) -> Spec:
    """Put ``chart`` under its title, the ``note`` (the period) and the ``legend`` of ``*``.

    Every line is a text of its own: resvg (vl-convert's renderer) lays out the lines of one
    multi-line right-to-left text on top of each other (linebender/resvg#1093), so nothing
    here uses Vega's multi-line text. The legend is the inner chart's title, in two lines.
    """
    anchor = "end" if locale in RTL_LOCALES else "start"
    heading: Spec = {"text": _directed(locale, title), "anchor": anchor}
    if note:
        heading["subtitle"] = _directed(locale, note)
    if legend:
        first, second = _two_lines(legend)
        chart["title"] = {
            "text": _directed(locale, first),
            "subtitle": _directed(locale, second),
            "anchor": anchor,
            "fontSize": 12,
            "fontWeight": "normal",
            "color": MUTED_COLOUR,
            "subtitlePadding": 2,
        }
    return {"title": heading, "vconcat": [chart], "config": _config(locale)}


def _config(locale: str) -> Spec:
    """One look for every chart: the vendored font, larger text than Vega's default."""
    return {
        "font": FONT_FAMILY,
        "background": "white",
        "padding": 12,
        "view": {"stroke": None},
        "axis": {
            "labelFontSize": 12,
            "titleFontSize": 12,
            "titleFontWeight": "normal",
            "labelColor": TEXT_COLOUR,
            "titleColor": TEXT_COLOUR,
            "domainColor": "#888888",
            "tickColor": "#888888",
            "gridColor": "#e4e4e4",
        },
        "title": {
            "fontSize": 15,
            "subtitleFontSize": 12,
            "subtitleColor": MUTED_COLOUR,
            "subtitlePadding": 4,
            "frame": "bounds",
            "offset": 10,
        },
        "text": {"fontSize": 12},
    }
