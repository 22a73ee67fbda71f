"""Pack one month's digest for a partner: a page to read, tables for programs, a manifest.

A partner reads the counts, and also feeds them to its own spreadsheets and reports. So the
digest is one ZIP archive (sealed whole to the partner's age key by the caller):

- ``digest.html``: the readable report, in the partner's language and direction, with the
  period and the issue date in both calendars, the team's name and contact, and the
  disclosure rule in plain words, each table under its chart. No script and nothing fetched
  from elsewhere: the charts are inside the page as ``data:`` images, so the page reads the
  same unpacked or not, and its Content-Security-Policy allows no other image.
- ``digest.txt``: the same as plain text (what digests were before).
- ``tables/NN-<dimension>.csv``: one file per published table, UTF-8 with a byte order mark
  (so spreadsheet programs read Dari and Pashto right), columns ``key``, ``label``, ``count``,
  ``hidden``; the last row is the table's total. A hidden count is an empty cell.
- ``charts/NN-<dimension>.png``: the chart of each table that has a bar to draw, named as
  its CSV file (:mod:`bot.partners.charts`), for a partner's own reports.
- ``data-dictionary.csv``: every file and column, in the partner's language.
- ``manifest.json``: the format, the period, the issue date, the team, ``k``, the total and
  each file's SHA-256.

Everything here is rendered from the :class:`~bot.partners.digest.Digest` alone, so nothing
leaves that the disclosure control did not pass. Pure: the archive's bytes depend only on the
arguments (fixed file times, sorted names), given the locked vl-convert and the vendored font
that draw the charts (vl-convert's PNG holds no time or machine): the same month issued twice
on one day, to partners of one language, is the same archive
(``tests/test_partners_charts.py::test_the_same_digest_is_the_same_archive``).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Final

from bot.i18n.localdates import format_date_both, format_month_both
from bot.i18n.translations import N_, RTL_LOCALES, Translations, format_number
from bot.partners.charts import Chart, render_png, table_spec, trend_spec
from bot.partners.digest import (
    COUNTED,
    PERIOD,
    TITLE,
    TOO_FEW_IN_MONTH,
    TOTAL,
    Digest,
    Table,
    cell_label,
    disclosure_rule,
    render_digest,
    shown_tables,
    table_title,
)
from bot.partners.months import Month
from bot.partners.trend import TrendPoint

BUNDLE_FORMAT: Final = 2
"""Version of the archive's layout and of the manifest; a change of either is a new number.

1: the page, the text, the tables, the dictionary, the manifest. 2: and ``charts/``; Afghan
places as ``NN-region-af.csv`` and ``NN-province-af-<region>.csv`` where 1 had
``NN-province-af.csv`` (a month pinned to the flat rules keeps that name,
:mod:`bot.partners.snapshot`).
"""

ZIP_TIME: Final = (2000, 1, 1, 0, 0, 0)
"""Every member's time: the issue date is in the manifest, the archive keeps no clock."""

TOTAL_KEY: Final = "total"
"""The ``key`` of each table's last row, its total."""

# Translators: {day} is a date, e.g. "8 December 2026" (in Dari and Pashto both calendars).
ISSUED_ON: Final = N_("Issued on {day}")
# Translators: {name} is the name of the organisation that runs the bot.
FROM_TEAM: Final = N_("From: {name}")
# Translators: {contact} is an e-mail address or a phone number.
CONTACT: Final = N_("Contact: {contact}")
DICTIONARY_FILE: Final = N_("File")
DICTIONARY_COLUMN: Final = N_("Column")
DICTIONARY_MEANING: Final = N_("Meaning")
MEANING_KEY: Final = N_(
    "The value as a short code, the same in every language. The last row, total, is the sum."
)
MEANING_LABEL: Final = N_("The value in words.")
MEANING_COUNT: Final = N_("Number of reports. Empty when the number is hidden.")
MEANING_HIDDEN: Final = N_("true when the number is hidden, false when it is shown.")
MEANING_HTML: Final = N_("The digest to read.")
MEANING_TEXT: Final = N_("The digest as plain text.")
MEANING_MANIFEST: Final = N_(
    "Facts for programs: the period, the issue date, the team, the rule for hidden numbers, "
    "and a SHA-256 checksum of every file."
)
MEANING_DICTIONARY: Final = N_("This list of files and columns.")
TREND_TITLE: Final = N_("Reports counted in each of the last twelve months")
NOT_ISSUED: Final = N_("no count for this month")
MEANING_MONTH: Final = N_("The month, written year-month.")
MEANING_ISSUED: Final = N_(
    "true when that month has a count: the one its own digest showed. false: no count."
)
# Translators: {file} is the name of a table's file, e.g. "tables/01-category.csv".
MEANING_CHART: Final = N_("The numbers of {file} drawn as a chart (a picture).")
TREND_STEM: Final = "00-last-twelve-months"
TREND_CSV: Final = f"tables/{TREND_STEM}.csv"

STYLE: Final = (
    "body{font-family:'Noto Naskh Arabic','Noto Sans',sans-serif;margin:1.5rem;line-height:1.6}"
    "table{border-collapse:collapse;margin-bottom:1rem}"
    "td,th{padding:.25rem .7rem;border-bottom:1px solid #ccc;text-align:start}"
    "td.n{text-align:end;font-variant-numeric:tabular-nums}"
    "figure{margin:1.5rem 0 .5rem}img{max-width:100%;height:auto}"
)
CONTENT_POLICY: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""The page may show its own inline images and style, nothing else, fetched from nowhere."""


@dataclass(frozen=True)
class Team:
    """Who issues the digest, and how a partner reaches them (AMANAT_TEAM_NAME, _CONTACT)."""

    name: str
    contact: str | None = None


@dataclass(frozen=True)
class Bundle:
    """The archive's bytes and what its manifest says, for the caller to seal and log."""

    data: bytes
    manifest: dict[str, object]


def build_bundle(
    digest: Digest,
    month: Month,
    locale: str,
    translations: Translations,
    *,
    issued_on: date,
    team: Team | None,
    trend: Sequence[TrendPoint] = (),
) -> Bundle:
    """Render the digest of ``month`` in ``locale`` as the archive a partner receives.

    ``trend`` is the last twelve months' published totals (:mod:`bot.partners.trend`), this
    month's last; it is shown only when the digest shows numbers at all.
    """
    period = (month.year, month.month)
    tables = shown_tables(digest, period)
    trend = trend if digest.total is not None else ()
    charts = bundle_charts(digest, month, locale, translations, trend)
    files: dict[str, bytes] = {
        "digest.html": _html(
            digest, tables, month, locale, translations, issued_on, team, trend, charts
        ),
        "digest.txt": render_digest(digest, locale, translations, period=period).encode("utf-8"),
    }
    names = [(table, _csv_name(number, table)) for number, table in enumerate(tables, start=1)]
    for table, name in names:
        files[name] = _table_csv(table, locale, translations)
    if trend:
        files[TREND_CSV] = _trend_csv(trend, locale)
    for chart in charts.values():
        files[chart.name] = chart.png
    files["data-dictionary.csv"] = _dictionary(names, locale, translations, bool(trend), charts)
    manifest = _manifest(digest, month, locale, translations, issued_on, team, files)
    files["manifest.json"] = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    return Bundle(_zip(files), manifest)


def bundle_charts(
    digest: Digest,
    month: Month,
    locale: str,
    translations: Translations,
    trend: Sequence[TrendPoint] = (),
) -> dict[str, Chart]:
    """Draw the charts of a bundle, by the name of the CSV file each one draws.

    One per table with a bar to draw (:func:`bot.partners.charts.table_spec`), each noting
    the period, then the last twelve months when ``trend`` is given. Nothing when the digest
    shows no numbers. ``benchmarks/digest.py`` times this on its own.
    """
    if digest.total is None:
        return {}
    period = (month.year, month.month)
    note = translations.format(locale, PERIOD, month=format_month_both(locale, *period))
    charts: dict[str, Chart] = {}
    for number, table in enumerate(shown_tables(digest, period), start=1):
        spec = table_spec(table, digest.k, locale, translations, note=note)
        if spec is not None:
            stem = _stem(number, table)
            title = table_title(table, locale, translations)
            charts[f"tables/{stem}.csv"] = Chart(
                f"charts/{stem}.png", title, render_png(spec, locale)
            )
    title = translations.gettext(locale, TREND_TITLE)
    spec = trend_spec(trend, title, digest.k, locale, translations) if trend else None
    if spec is not None:
        charts[TREND_CSV] = Chart(f"charts/{TREND_STEM}.png", title, render_png(spec, locale))
    return charts


def _stem(number: int, table: Table) -> str:
    """A table's file name without folder or suffix: its CSV and its chart share it."""
    places = (table.within, table.region)
    suffix = "".join(f"-{place.lower().replace('_', '-')}" for place in places if place)
    return f"{number:02d}-{table.dimension.replace('_', '-')}{suffix}"


def _csv_name(number: int, table: Table) -> str:
    return f"tables/{_stem(number, table)}.csv"


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    """CSV as spreadsheet programs read Dari and Pashto: UTF-8 with a byte order mark."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _table_csv(table: Table, locale: str, translations: Translations) -> bytes:
    rows = [["key", "label", "count", "hidden"]]
    for cell in table.cells:
        label = cell_label(table.dimension, cell.key, locale, translations)
        shown = "" if cell.count is None else str(cell.count)
        rows.append([cell.key, label, shown, "true" if cell.hidden else "false"])
    rows.append([TOTAL_KEY, translations.gettext(locale, TOTAL), str(table.total), "false"])
    return _csv(rows)


def _trend_csv(trend: Sequence[TrendPoint], locale: str) -> bytes:
    rows = [["month", "label", "count", "hidden", "issued"]]
    for point in trend:
        label = format_month_both(locale, point.month.year, point.month.month)
        shown = "" if point.total is None else str(point.total)
        hidden = point.issued and point.total is None
        rows.append([str(point.month), label, shown, _flag(hidden), _flag(point.issued)])
    return _csv(rows)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _dictionary(
    names: Sequence[tuple[Table, str]],
    locale: str,
    translations: Translations,
    with_trend: bool,
    charts: Mapping[str, Chart],
) -> bytes:
    t = translations.gettext
    header = [
        t(locale, DICTIONARY_FILE),
        t(locale, DICTIONARY_COLUMN),
        t(locale, DICTIONARY_MEANING),
    ]
    rows = [
        header,
        ["digest.html", "", t(locale, MEANING_HTML)],
        ["digest.txt", "", t(locale, MEANING_TEXT)],
        ["manifest.json", "", t(locale, MEANING_MANIFEST)],
        ["data-dictionary.csv", "", t(locale, MEANING_DICTIONARY)],
    ]
    meanings = (
        ("key", MEANING_KEY),
        ("label", MEANING_LABEL),
        ("count", MEANING_COUNT),
        ("hidden", MEANING_HIDDEN),
    )
    for table, name in names:
        rows.append([name, "", table_title(table, locale, translations)])
        rows.extend([name, column, t(locale, meaning)] for column, meaning in meanings)
        rows.extend(_chart_row(charts, name, locale, translations))
    if with_trend:
        rows.append([TREND_CSV, "", t(locale, TREND_TITLE)])
        rows.append([TREND_CSV, "month", t(locale, MEANING_MONTH)])
        rows.extend([TREND_CSV, column, t(locale, meaning)] for column, meaning in meanings[1:])
        rows.append([TREND_CSV, "issued", t(locale, MEANING_ISSUED)])
        rows.extend(_chart_row(charts, TREND_CSV, locale, translations))
    return _csv(rows)


def _chart_row(
    charts: Mapping[str, Chart], csv_name: str, locale: str, translations: Translations
) -> list[list[str]]:
    """The dictionary's line for the chart of ``csv_name``, if it has one."""
    chart = charts.get(csv_name)
    if chart is None:
        return []
    return [[chart.name, "", translations.format(locale, MEANING_CHART, file=csv_name)]]


def _html(
    digest: Digest,
    tables: Sequence[Table],
    month: Month,
    locale: str,
    translations: Translations,
    issued_on: date,
    team: Team | None,
    trend: Sequence[TrendPoint],
    charts: Mapping[str, Chart],
) -> bytes:
    t = translations.gettext
    period = (month.year, month.month)
    direction = "rtl" if locale in RTL_LOCALES else "ltr"
    title = escape(t(locale, TITLE))
    head = [
        f"<h1>{title}</h1>",
        _p(translations.format(locale, PERIOD, month=format_month_both(locale, *period))),
        _p(translations.format(locale, ISSUED_ON, day=format_date_both(locale, issued_on))),
    ]
    if team is not None:
        head.append(_p(translations.format(locale, FROM_TEAM, name=team.name)))
        if team.contact:
            head.append(_p(translations.format(locale, CONTACT, contact=team.contact)))
    body: list[str] = []
    if digest.total is None:
        body.append(_p(translations.format(locale, TOO_FEW_IN_MONTH, k=digest.k)))
    else:
        body.append(_p(translations.format(locale, COUNTED, total=digest.total)))
        for number, table in enumerate(tables, start=1):
            body.append(_html_chart(charts.get(_csv_name(number, table))))
            body.append(_html_table(table, locale, translations))
        if trend:
            body.append(_html_chart(charts.get(TREND_CSV)))
            body.append(_html_trend(trend, locale, translations))
    rule = "".join(_p(line) for line in disclosure_rule(digest.k, locale, translations))
    page = (
        f'<!doctype html><html lang="{locale.split("_")[0]}" dir="{direction}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_POLICY}">'
        f"<title>{title}</title><style>{STYLE}</style></head><body>"
        + "".join(head)
        + "".join(body)
        + f"<hr>{rule}</body></html>"
    )
    return page.encode("utf-8")


def _html_chart(chart: Chart | None) -> str:
    """A chart inside the page, as a ``data:`` image: the page needs no other file.

    Its title is its text alternative; the table under it gives every number in words.
    """
    if chart is None:
        return ""
    width, height = chart.size
    data = base64.b64encode(chart.png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" width="{width}" height="{height}" '
        f'alt="{escape(chart.title)}"></figure>'
    )


def _html_table(table: Table, locale: str, translations: Translations) -> str:
    caption = escape(table_title(table, locale, translations))
    rows = []
    for cell in table.cells:
        label = escape(cell_label(table.dimension, cell.key, locale, translations))
        value = "*" if cell.count is None else format_number(locale, cell.count)
        rows.append(f'<tr><td dir="auto">{label}</td><td class="n">{escape(value)}</td></tr>')
    total = escape(translations.gettext(locale, TOTAL))
    rows.append(f'<tr><th>{total}</th><td class="n">{format_number(locale, table.total)}</td></tr>')
    return f"<table><caption>{caption}</caption>{''.join(rows)}</table>"


def _html_trend(trend: Sequence[TrendPoint], locale: str, translations: Translations) -> str:
    caption = escape(translations.gettext(locale, TREND_TITLE))
    rows = []
    for point in trend:
        label = escape(format_month_both(locale, point.month.year, point.month.month))
        if not point.issued:
            value = escape(translations.gettext(locale, NOT_ISSUED))
        else:
            value = "*" if point.total is None else format_number(locale, point.total)
        rows.append(f'<tr><td dir="auto">{label}</td><td class="n">{value}</td></tr>')
    return f"<table><caption>{caption}</caption>{''.join(rows)}</table>"


def _p(text: str) -> str:
    return f"<p>{escape(text)}</p>"


def _manifest(
    digest: Digest,
    month: Month,
    locale: str,
    translations: Translations,
    issued_on: date,
    team: Team | None,
    files: dict[str, bytes],
) -> dict[str, object]:
    return {
        "format": BUNDLE_FORMAT,
        "kind": "amanat-digest",
        "language": locale,
        "period": str(month),
        "period_label": format_month_both(locale, month.year, month.month),
        "issued_on": issued_on.isoformat(),
        "issued_on_label": format_date_both(locale, issued_on),
        "team": None if team is None else {"name": team.name, "contact": team.contact},
        "k": digest.k,
        "total": digest.total,
        "disclosure_rule": " ".join(disclosure_rule(digest.k, locale, translations)),
        "files": [
            {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in sorted(files.items())
        ],
    }


def _zip(files: dict[str, bytes]) -> bytes:
    """A ZIP whose bytes depend on the files alone: sorted names, one fixed time."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"amanat-digest/{name}", date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return out.getvalue()
