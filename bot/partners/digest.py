"""Build and render the anonymized digest: counts of consenting reports with small cells hidden.

This module owns the disclosure control of every count Amanat publishes (docs/design.md §3.5). It
takes statistics records (one per consenting report, coarse fields only) and returns one-way
tables by kind of event, recruiting party, country, province (within its country), month,
former forces and danger, where no published cell is below ``k`` and no hidden cell can be
worked out from what is published. It is pure: no storage, no transport, no clock, no logging,
and it must never accept a date finer than the month or a region finer than the province.

Disclosure model. The reader is assumed to know this module's algorithm, the questionnaire
(every possible key) and everything published; each hidden count must still have at least two
possible values, and in a listed table it must be possibly ``k`` or more:

- The number ``N`` of counted reports is published, and nothing else when ``N < k``. Each
  one-way table sums to ``N``, except the places, which form a tree: a country's region
  table (:mod:`bot.partners.regions`) sums to the country's count, and the province table
  of a region to the region's count; each is published only when its parent count is shown
  (a country without regions has one province table, under its count). A hidden parent
  has no children, so every hidden cell is bounded by one published total only, the total of
  its own table: the same argument as for one table.
- Every key with at least one report is listed with its count or as hidden (``*``), so the
  reader knows each hidden cell is at least 1 and that unlisted keys are 0.
- Hiding goes by value, never by name: the smallest threshold ``t >= k - 1`` is chosen such
  that hiding every cell ``<= t`` (ties included) is safe, so everything shown is above every
  hidden cell. With ``m`` hidden cells summing to ``R`` (total minus shown) and ``S`` the
  smallest shown count, each hidden cell lies in ``max(1, R - (m-1)(S-1)) .. min(S-1,
  R-(m-1))``; "safe" means this range holds two values or more and reaches ``k``. Hiding a
  primary cell (below ``k``) thus takes the next smallest cells with it (complementary
  suppression). When no threshold is safe, the breakdown is withheld (no keys, total only).
- One-way tables of different questions constrain each other only through their totals (any
  one-way margins with equal totals are realised by some set of reports), so protecting each
  table against its own total protects the digest; no cross table (question x question) is
  published, because its cells would tie the margins together. The place tree is one
  question (where) cut at three depths; its tables share no cell, only parent totals.
- ``k`` is at least 3: with ``k = 2`` a withheld table can still say "every possible answer was
  given exactly once". The tests check all of this exhaustively on small worlds.
- Not covered here: comparing two digests that count different sets of reports
  (differencing). The periods prevent it: one calendar month per digest
  (:mod:`bot.partners.months`), and every digest of a month rendered from the one snapshot
  its first issue took (:mod:`bot.partners.snapshot`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

from bot.i18n.localdates import format_month, format_month_both
from bot.i18n.translations import N_, Translations, format_number
from bot.partners.regions import REGION_LABELS, REGIONS, region_of
from bot.questions import (
    AFGHAN_PROVINCES,
    COUNTRIES,
    INCIDENTS,
    IRANIAN_PROVINCES,
    NOT_SAID,
    PARTIES,
    UNSAID,
    Option,
    digest_label,
)
from storage.records import StatMargins

# Translators: {k} is the smallest count a digest may show, e.g. 5.
TOO_FEW: Final = N_("Fewer than {k} reports may be counted, so nothing can be shown yet.")
# Translators: {k} is the smallest count a digest may show, e.g. 5. Said of a month that is over.
TOO_FEW_IN_MONTH: Final = N_(
    "Fewer than {k} reports were counted in this month, so no numbers are shown for it."
)

# Translators: {month} is a month, e.g. "October 2026" (in Dari and Pashto the solar months
# it spans, e.g. "میزان–عقرب ۱۴۰۵").
PERIOD: Final = N_("Reports sent in {month}")

# Translators: {total} is a number of reports.
COUNTED: Final = N_("Reports counted (the reporter agreed): {total}")

# Translators: {mark} is the mark of a hidden number ("*"); {k} is a number such as 5.
HIDDEN_LEGEND: Final = N_(
    "{mark} hidden: fewer than {k} reports, or hidden as well so that a small number "
    "cannot be worked out from the totals."
)

__all__ = [
    "DIMENSIONS",
    "HIDDEN",
    "MIN_K",
    "PROVINCE_COUNTRIES",
    "UNKNOWN_MONTH",
    "Cell",
    "Digest",
    "StatLike",
    "Table",
    "build_digest",
    "render_digest",
]

MIN_K: Final = 3
"""The smallest k this module accepts (see the module docstring)."""

HIDDEN: Final = "*"
"""How a hidden cell is shown, in every language."""

UNKNOWN_MONTH: Final = "unknown"
"""Key of the month bucket for records without a month."""

PROVINCE_COUNTRIES: Final[tuple[str, ...]] = ("AF", "IR")
"""Countries whose records carry a province (the flow asks for it only there)."""

_MONTH: Final = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

URGENCY_LABELS: Final[Mapping[str, str]] = {
    "urgent": N_("In danger when reporting"),
    "not_urgent": N_("Not in danger when reporting"),
}

TITLES: Final[Mapping[str, str]] = {
    "category": N_("By kind of event"),
    "party": N_("By who approached or threatened"),
    "country": N_("By country"),
    "month": N_("By month"),
    "former_forces": N_("By service in the former Afghan army, police or intelligence service"),
    "urgency": N_("By danger at the time of reporting"),
}
# Translators: {country} is a country name, e.g. "Afghanistan".
PROVINCE_TITLE: Final = N_("By province in {country}")
# Translators: {country} is a country name, e.g. "Afghanistan". A region is a group of
# provinces, e.g. "East" (Nangarhar, Laghman, Kunar, Nuristan).
REGION_TITLE: Final = N_("By region in {country}")
# Translators: {region} is a region's name, e.g. "East"; {country} a country, e.g.
# "Afghanistan". The table lists the provinces of that region.
PROVINCE_IN_REGION_TITLE: Final = N_("By province in the {region} region of {country}")
TITLE: Final = N_("Amanat: counts of reports")
TOTAL: Final = N_("Total")
CONSENTED_ONLY: Final = N_(
    "Only reports whose authors agreed to be counted are included. Months are the "
    "finest dates and provinces the finest places shown."
)


class StatLike(Protocol):
    """Read the coarse fields of one statistics record (``storage.repositories.StatRecord``)."""

    @property
    def category(self) -> str: ...
    @property
    def party(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def province(self) -> str | None: ...
    @property
    def month(self) -> str: ...
    @property
    def urgency(self) -> str: ...
    @property
    def former_forces(self) -> str: ...


Record = TypeVar("Record", bound=StatLike)


@dataclass(frozen=True)
class Cell:
    """One published cell: a key and its count, or None when the count is hidden."""

    key: str
    count: int | None

    @property
    def hidden(self) -> bool:
        """Tell whether the count is suppressed."""
        return self.count is None


@dataclass(frozen=True)
class Table:
    """One published one-way table; ``within`` names the country of a region or province
    table, and ``region`` the region of a province table under one.

    ``total`` is the table's total (``N``, or the shown count of the country or region).
    When ``withheld`` is true no key is published, only that the total cannot be broken down
    safely.
    """

    dimension: str
    total: int
    cells: tuple[Cell, ...]
    within: str | None = None
    withheld: bool = False
    region: str | None = None


@dataclass(frozen=True)
class Digest:
    """Everything a digest publishes; ``total`` is None when fewer than ``k`` reports count."""

    k: int
    total: int | None
    tables: tuple[Table, ...]


# --- building ------------------------------------------------------------------------------


def _month_key(month: str) -> str:
    """Accept "YYYY-MM" or nothing; refuse anything finer (or malformed) without echoing it."""
    if month == "":
        return UNKNOWN_MONTH
    if not isinstance(month, str) or not _MONTH.fullmatch(month):
        raise ValueError("a statistics month must be YYYY-MM; finer dates are never published")
    return month


def _order(options: Sequence[Option]) -> Callable[[str], tuple[int, int, str]]:
    """Sort keys as the questionnaire lists them, unknown ids after, "not said" last."""
    position = {option.id: index for index, option in enumerate(options)}

    def key(value: str) -> tuple[int, int, str]:
        if value == UNSAID:
            return (2, 0, value)
        if value in position:
            return (0, position[value], value)
        return (1, 0, value)

    return key


def _month_order(value: str) -> tuple[int, int, str]:
    """Sort months chronologically ("YYYY-MM" sorts as text), the unknown month last."""
    return (1, 0, value) if value == UNKNOWN_MONTH else (0, 0, value)


_ORDERS: Final[Mapping[str, Callable[[str], tuple[int, int, str]]]] = {
    "category": _order(INCIDENTS),
    "party": _order(PARTIES),
    "country": _order(COUNTRIES),
    "month": _month_order,
    "former_forces": _order((Option("yes", ""), Option("no", ""))),
    "urgency": _order((Option("urgent", ""), Option("not_urgent", ""))),
    "province:AF": _order(AFGHAN_PROVINCES),
    "province:IR": _order(IRANIAN_PROVINCES),
    **{
        f"region:{country}": _order(tuple(Option(r.id, r.label) for r in regions))
        for country, regions in REGIONS.items()
    },
}


def _safe(hidden: Sequence[int], smallest_shown: int | None, k: int) -> bool:
    """Tell whether a reader who knows this algorithm can still not pin down a hidden cell.

    The reader knows the hidden cells' sum R (total minus shown), that each is at least 1,
    and that each is below the smallest shown count S (hiding goes by value). So each hidden
    cell lies in ``max(1, R - (m-1)(S-1)) .. min(S-1, R-(m-1))`` for m hidden cells: safe when
    that range holds two values or more and reaches k (nothing provably small).
    """
    m, rest = len(hidden), sum(hidden)
    if m < 2:
        return False
    ceiling = rest if smallest_shown is None else smallest_shown - 1
    high = min(ceiling, rest - (m - 1))
    low = max(1, rest - (m - 1) * ceiling)
    return high >= k and high > low


def _protect(counts: Mapping[str, int], k: int) -> dict[str, int | None] | None:
    """Hide every count up to the smallest threshold (at least k - 1) that makes hiding safe.

    Cells are hidden by value, never by name: all cells at or below the threshold go, ties
    included, so what is shown is exactly "every cell above t". Returns the published value
    of every key (None = hidden), or None when no threshold is safe (withhold the breakdown).
    """
    if all(count >= k for count in counts.values()):
        return dict(counts)
    thresholds = sorted({k - 1, *(count for count in counts.values() if count >= k)})
    for threshold in thresholds:
        hidden = [count for count in counts.values() if count <= threshold]
        shown = [count for count in counts.values() if count > threshold]
        if _safe(hidden, min(shown, default=None), k):
            return {key: (None if c <= threshold else c) for key, c in counts.items()}
    return None


def _table(
    dimension: str,
    counts: Mapping[str, int],
    k: int,
    order_key: str,
    within: str | None = None,
    region: str | None = None,
) -> Table:
    """Count one dimension and protect it against its own total."""
    total = sum(counts.values())
    published = _protect(counts, k)
    if published is None:
        return Table(dimension, total, (), within=within, withheld=True, region=region)
    order = _ORDERS[order_key]
    cells = tuple(Cell(key, published[key]) for key in sorted(published, key=order))
    return Table(dimension, total, cells, within=within, region=region)


def build_digest(
    records: Sequence[Record] | Mapping[Record, int], k: int, *, roll_up: bool = True
) -> Digest:
    """Count consenting reports by each coarse field and hide what could identify a person.

    ``records`` are the records themselves, or a tally of them (each distinct record with how
    many there are): the same digest either way. Raises ValueError for ``k < 3`` or a record
    whose month is finer than "YYYY-MM". ``roll_up=False`` leaves out the regions, as digests
    were before them: a month whose first issue was flat keeps it (its snapshot's rules,
    :mod:`bot.partners.snapshot`), and ``benchmarks/disclosure.py`` measures what they add.
    """
    weighted = list(records.items()) if isinstance(records, Mapping) else [(r, 1) for r in records]
    fields: dict[str, Counter[str]] = {name: Counter() for name in MARGIN_FIELDS}
    provinces: Counter[tuple[str, str | None]] = Counter()
    for record, n in weighted:
        for name in MARGIN_FIELDS:
            fields[name][getattr(record, name)] += n
        provinces[(record.country, record.province)] += n
    return digest_of_margins(StatMargins(fields, provinces), k, roll_up=roll_up)


MARGIN_FIELDS: Final = ("category", "party", "country", "month", "urgency", "former_forces")
"""The fields counted on their own (``StatMargins.fields``); provinces go by country."""


def digest_of_margins(margins: StatMargins, k: int, *, roll_up: bool = True) -> Digest:
    """Build the digest from the counts of each field on its own (``StatsRepository.margins``
    counts them in the database): one-way tables need nothing more, however many records."""
    if isinstance(k, bool) or not isinstance(k, int) or k < MIN_K:
        raise ValueError("k must be an integer of at least 3")
    by_month: Counter[str] = Counter()
    for month, n in margins.fields["month"].items():
        by_month[_month_key(month)] += n
    total = sum(margins.fields["category"].values())
    if total < k:
        return Digest(k, None, ())
    tables = [
        _table("category", margins.fields["category"], k, "category"),
        _table("party", margins.fields["party"], k, "party"),
    ]
    countries = _table("country", margins.fields["country"], k, "country")
    tables.append(countries)
    shown = {cell.key: cell.count for cell in countries.cells if cell.count is not None}
    for country in PROVINCE_COUNTRIES:
        if country not in shown:
            continue  # hidden (or absent) country: its provinces would bound the hidden count
        provinces: Counter[str] = Counter()
        for (where, province), n in margins.provinces.items():
            if where == country:
                provinces[province or UNSAID] += n
        tables.extend(_place_tables(country, provinces, k, roll_up))
    tables.append(_table("month", by_month, k, "month"))
    tables.append(_table("former_forces", margins.fields["former_forces"], k, "former_forces"))
    tables.append(_table("urgency", margins.fields["urgency"], k, "urgency"))
    return Digest(k, total, tuple(tables))


def _place_tables(country: str, provinces: Counter[str], k: int, roll_up: bool) -> list[Table]:
    """A shown country's places: its provinces, or its regions and the provinces of each
    shown region (a hidden region's provinces would bound its hidden count)."""
    if country not in REGIONS or not roll_up:
        return [_table("province", provinces, k, f"province:{country}", within=country)]
    by_region: Counter[str] = Counter()
    for province, n in provinces.items():
        by_region[region_of(country, province)] += n
    regions = _table("region", by_region, k, f"region:{country}", within=country)
    tables = [regions]
    for cell in regions.cells:
        if cell.count is None or cell.key == UNSAID:
            continue
        members = Counter({p: n for p, n in provinces.items() if region_of(country, p) == cell.key})
        order = f"province:{country}"
        tables.append(_table("province", members, k, order, within=country, region=cell.key))
    return tables


DIMENSIONS: Final[tuple[str, ...]] = (
    "category",
    "party",
    "country",
    "region",
    "province",
    "month",
    "former_forces",
    "urgency",
)
"""Every dimension a digest may publish, in the order they appear."""


# --- rendering -----------------------------------------------------------------------------

_QUESTION_OF: Final[Mapping[str, str]] = {
    "category": "incident",
    "party": "party",
    "country": "country",
    "province": "province",
    "former_forces": "former_forces",
}


def cell_label(dimension: str, key: str, locale: str, translations: Translations) -> str:
    """Translate a cell's key: the options' digest labels, months in the calendar.

    Rows use each option's neutral digest label, not the button the reporter pressed: a
    partner reads about reporters, and «خواستند در خارج بجنگم» ("they asked me to fight")
    or "I do not know" would put the reporter's voice in the organisation's mouth.
    """
    if key == UNSAID:
        return translations.gettext(locale, NOT_SAID)
    if dimension == "month":
        if key == UNKNOWN_MONTH:
            return translations.gettext(locale, NOT_SAID)
        year, month = key.split("-")
        return format_month(locale, int(year), int(month))
    if dimension == "urgency":
        return translations.gettext(locale, URGENCY_LABELS.get(key, key))
    if dimension == "region":
        return translations.gettext(locale, REGION_LABELS.get(key, key))
    return translations.gettext(locale, digest_label(_QUESTION_OF[dimension], key))


def table_title(table: Table, locale: str, translations: Translations) -> str:
    """Translate a table's title; a place table names its country (and region)."""
    if table.dimension in ("province", "region") and table.within is not None:
        country = cell_label("country", table.within, locale, translations)
        if table.dimension == "region":
            return translations.format(locale, REGION_TITLE, country=country)
        if table.region is not None:
            region = cell_label("region", table.region, locale, translations)
            return translations.format(
                locale, PROVINCE_IN_REGION_TITLE, region=region, country=country
            )
        return translations.format(locale, PROVINCE_TITLE, country=country)
    return translations.gettext(locale, TITLES[table.dimension])


def render_digest(
    digest: Digest,
    locale: str,
    translations: Translations,
    *,
    period: tuple[int, int] | None = None,
) -> str:
    """Render a digest as plain text in the reader's language, digits and calendar.

    ``period`` (year, month) names the one month a partner's digest covers.
    """
    k = digest.k
    lines = [translations.gettext(locale, TITLE)]
    if period is not None:
        month = format_month_both(locale, *period)
        lines.append(translations.format(locale, PERIOD, month=month))
    if digest.total is None:
        too_few = TOO_FEW if period is None else TOO_FEW_IN_MONTH
        lines.append(translations.format(locale, too_few, k=k))
        return "\n".join(lines) + "\n"
    lines.append(
        translations.format(
            locale,
            COUNTED,
            total=digest.total,
        )
    )
    for table in shown_tables(digest, period):
        lines.append("")
        lines.append(table_title(table, locale, translations))
        if table.withheld:
            lines.append(
                "  "
                + translations.gettext(
                    locale, N_("Not broken down: the numbers are too small to show safely.")
                )
            )
        for cell in table.cells:
            value = HIDDEN if cell.count is None else format_number(locale, cell.count)
            lines.append(
                f"  {cell_label(table.dimension, cell.key, locale, translations)}: {value}"
            )
        total_label = translations.gettext(locale, TOTAL)
        lines.append(f"  {total_label}: {format_number(locale, table.total)}")
    lines.append("")
    lines.extend(disclosure_rule(k, locale, translations))
    return "\n".join(lines) + "\n"


def shown_tables(digest: Digest, period: tuple[int, int] | None) -> tuple[Table, ...]:
    """The tables a digest shows: a one-month digest leaves out "By month", its header says it."""
    if period is None:
        return digest.tables
    return tuple(table for table in digest.tables if table.dimension != "month")


def disclosure_rule(k: int, locale: str, translations: Translations) -> list[str]:
    """The rule behind every hidden number, in plain words, as each digest ends."""
    return [
        translations.format(locale, HIDDEN_LEGEND, mark=HIDDEN, k=k),
        translations.gettext(locale, CONSENTED_ONLY),
    ]
