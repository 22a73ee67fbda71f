"""Test the digest's disclosure control: no small cell shown, no hidden cell recoverable."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.i18n.translations import Translations
from bot.partners.digest import (
    HIDDEN,
    UNKNOWN_MONTH,
    Cell,
    Digest,
    Table,
    build_digest,
    render_digest,
)
from bot.partners.regions import AFGHAN_REGIONS, region_of
from bot.questions import AFGHAN_PROVINCES
from storage.records import StatRecord
from tests.benchmark_support import run_quick


@dataclass(frozen=True)
class Rec:
    """A statistics record with the fields of storage's StatRecord."""

    category: str = "recruit_armed"
    party: str = "foreign_military"
    country: str = "IR"
    province: str | None = "tehran"
    month: str = "2026-11"
    urgency: str = "not_urgent"
    former_forces: str = "yes"


def recs(n: int, **fields: object) -> list[Rec]:
    return [Rec(**fields) for _ in range(n)]  # type: ignore[arg-type]


def table(
    digest: Digest, dimension: str, within: str | None = None, region: str | None = None
) -> Table:
    found = [
        t
        for t in digest.tables
        if t.dimension == dimension and t.within == within and t.region == region
    ]
    assert len(found) == 1, f"{dimension}/{within}/{region}: {len(found)} tables"
    return found[0]


def cells(t: Table) -> dict[str, int | None]:
    return {cell.key: cell.count for cell in t.cells}


# --- examples ------------------------------------------------------------------------------


def test_every_afghan_province_lies_in_exactly_one_region() -> None:
    listed = [province for region in AFGHAN_REGIONS for province in region.provinces]
    assert sorted(listed) == sorted(option.id for option in AFGHAN_PROVINCES)


def test_fewer_than_k_reports_publish_nothing_at_all() -> None:
    digest = build_digest(recs(4), k=5)
    assert digest.total is None
    assert digest.tables == ()
    assert build_digest([], k=5) == Digest(5, None, ())


def test_k_reports_alike_are_shown_with_their_total() -> None:
    digest = build_digest(recs(5), k=5)
    assert digest.total == 5
    assert cells(table(digest, "category")) == {"recruit_armed": 5}
    assert cells(table(digest, "month")) == {"2026-11": 5}
    assert table(digest, "category").total == 5


def test_one_small_cell_takes_the_next_smallest_with_it() -> None:
    records = [
        *recs(2, category="false_job"),
        *recs(6, category="recruit_armed"),
        *recs(9, category="taliban_threat"),
    ]
    category = cells(table(build_digest(records, k=5), "category"))
    # 2 alone would be 17 - 6 - 9; hiding 6 too leaves 8 = a + b with a, b in 1..7.
    assert category == {"recruit_armed": None, "false_job": None, "taliban_threat": 9}


def test_two_tiny_cells_are_not_enough_to_hide_each_other() -> None:
    records = [
        *recs(1, category="false_job"),
        *recs(1, category="other"),
        *recs(7, category="recruit_armed"),
        *recs(8, category="taliban_threat"),
    ]
    category = cells(table(build_digest(records, k=5), "category"))
    # 1 + 1 would give "both are 1"; the smallest shown count (7) is hidden as well.
    assert category == {
        "recruit_armed": None,
        "false_job": None,
        "taliban_threat": 8,
        "other": None,
    }


def test_a_table_that_cannot_be_protected_is_withheld() -> None:
    kinds = ["recruit_armed", "false_job", "taliban_threat", "exploitation", "other"]
    records = [Rec(category=kind) for kind in kinds]
    category = table(build_digest(records, k=5), "category")
    # Five different kinds of one report each: hiding all would still say "each is 1".
    assert category.withheld
    assert category.cells == ()
    assert category.total == 5


def test_provinces_only_within_a_shown_country_and_summing_to_it() -> None:
    records = [
        *recs(6, country="AF", province="kabul"),
        *recs(5, country="AF", province="herat"),
        *recs(2, country="PK", province=None),
        *recs(3, country="IR", province="tehran"),
        *recs(4, country="TR", province=None),
    ]
    digest = build_digest(records, k=5)
    assert cells(table(digest, "country")) == {"AF": 11, "IR": None, "PK": None, "TR": None}
    regions = table(digest, "region", within="AF")
    assert regions.total == 11
    assert cells(regions) == {"central": 6, "west": 5}
    central = table(digest, "province", within="AF", region="central")
    assert (central.total, cells(central)) == (6, {"kabul": 6})
    assert cells(table(digest, "province", within="AF", region="west")) == {"herat": 5}
    assert not [t for t in digest.tables if t.within == "IR"]


def test_iran_has_no_regions_its_provinces_sum_to_its_count() -> None:
    records = [*recs(6, country="IR", province="tehran"), *recs(5, province="qom")]
    digest = build_digest(records, k=5)
    assert cells(table(digest, "province", within="IR")) == {"tehran": 6, "qom": 5}
    assert not [t for t in digest.tables if t.dimension == "region"]


def test_a_province_left_unsaid_counts_as_not_said() -> None:
    records = [*recs(5, country="AF", province=None), *recs(5, country="AF", province="kabul")]
    digest = build_digest(records, k=5)
    assert cells(table(digest, "region", within="AF")) == {"central": 5, "unsaid": 5}
    assert cells(table(digest, "province", within="AF", region="central")) == {"kabul": 5}
    assert [t.region for t in digest.tables if t.dimension == "province"] == ["central"]


def test_a_region_shows_what_its_provinces_alone_could_not() -> None:
    """The roll-up: nine reports over four eastern provinces and three from Herat, k = 3."""
    records = [
        *recs(3, country="AF", province="nangarhar"),
        *recs(2, country="AF", province="kunar"),
        *recs(2, country="AF", province="laghman"),
        *recs(2, country="AF", province="nuristan"),
        *recs(3, country="AF", province="herat"),
        *recs(5, country="AF", province="kabul"),
    ]
    digest = build_digest(records, k=3)
    assert cells(table(digest, "region", within="AF")) == {"central": 5, "east": 9, "west": 3}
    east = table(digest, "province", within="AF", region="east")
    assert east.total == 9
    assert cells(east) == {"kunar": None, "laghman": None, "nangarhar": None, "nuristan": None}


def test_a_hidden_region_publishes_none_of_its_provinces() -> None:
    records = [
        *recs(1, country="AF", province="herat"),
        *recs(1, country="AF", province="ghor"),
        *recs(2, country="AF", province="kandahar"),
        *recs(9, country="AF", province="kabul"),
    ]
    digest = build_digest(records, k=3)
    assert cells(table(digest, "region", within="AF")) == {
        "central": 9,
        "west": None,
        "south": None,
    }
    assert [t.region for t in digest.tables if t.dimension == "province"] == ["central"]


def test_keys_follow_the_questionnaire_and_months_the_calendar() -> None:
    records = [
        *recs(5, category="other", month="2026-12"),
        *recs(5, category="unsaid", month=""),
        *recs(5, category="recruit_armed", month="2026-02"),
        *recs(5, category="false_job", month="2025-12"),
    ]
    digest = build_digest(records, k=5)
    assert list(cells(table(digest, "category"))) == [
        "recruit_armed",
        "false_job",
        "other",
        "unsaid",
    ]
    assert list(cells(table(digest, "month"))) == ["2025-12", "2026-02", "2026-12", UNKNOWN_MONTH]


@pytest.mark.parametrize("month", ["2026-11-05", "2026-11-05T10:00", "2026-13", "26-11", "x"])
def test_dates_finer_than_the_month_are_refused(month: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM") as caught:
        build_digest(recs(5, month=month), k=5)
    assert month not in str(caught.value)


@pytest.mark.parametrize("k", [0, 1, 2, -3])
def test_k_below_three_is_refused(k: int) -> None:
    with pytest.raises(ValueError, match="k must be"):
        build_digest(recs(5), k=k)


# --- properties ----------------------------------------------------------------------------

CATEGORIES = ["recruit_armed", "false_job", "taliban_threat", "exploitation", "other", "unsaid"]
PLACES = [
    ("AF", "kabul"),
    ("AF", "parwan"),
    ("AF", "herat"),
    ("AF", "nangarhar"),
    ("AF", None),
    ("IR", "tehran"),
    ("IR", "khorasan_razavi"),
    ("PK", None),
    ("RU", None),
]
MONTHS = ["2026-01", "2026-02", "2026-03", ""]

record_strategy = st.builds(
    lambda category, place, month, party, urgency, forces: Rec(
        category, party, place[0], place[1], month, urgency, forces
    ),
    st.sampled_from(CATEGORIES),
    st.sampled_from(PLACES),
    st.sampled_from(MONTHS),
    st.sampled_from(["foreign_military", "broker", "taliban", "unsaid"]),
    st.sampled_from(["urgent", "not_urgent", "unsaid"]),
    st.sampled_from(["yes", "no", "unsaid"]),
)


def in_place(record: Rec, t: Table) -> bool:
    """Tell whether a record lies in the country (and region) a place table breaks down."""
    if record.country != t.within:
        return False
    return t.region is None or region_of(record.country, record.province or "unsaid") == t.region


def true_counts(records: Sequence[Rec], t: Table) -> Counter[str]:
    """Recount a table's cells from the records, as the digest should have."""
    if t.dimension == "province":
        return Counter(r.province or "unsaid" for r in records if in_place(r, t))
    if t.dimension == "region":
        return Counter(
            region_of(r.country, r.province or "unsaid") for r in records if in_place(r, t)
        )
    if t.dimension == "month":
        return Counter(r.month or UNKNOWN_MONTH for r in records)
    return Counter(str(getattr(r, t.dimension)) for r in records)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_strategy, max_size=60), st.integers(min_value=3, max_value=8))
def test_no_hidden_cell_can_be_worked_out_from_what_is_published(
    records: list[Rec], k: int
) -> None:
    digest = build_digest(records, k)
    if len(records) < k:
        assert digest.total is None
        assert digest.tables == ()
        return
    assert digest.total == len(records)
    countries = cells(table(digest, "country"))
    regions = {
        (t.within, c.key): c.count
        for t in digest.tables
        if t.dimension == "region"
        for c in t.cells
    }
    for t in digest.tables:
        truth = true_counts(records, t)
        # The published total is the grand total, or the published count of the table's
        # parent: its region, else its country.
        if t.region is not None:
            assert regions.get((t.within, t.region)) == t.total
        elif t.dimension in ("province", "region"):
            assert countries.get(t.within or "") == t.total
        else:
            assert t.total == len(records)
        assert sum(truth.values()) == t.total
        if t.withheld:
            assert t.cells == ()
            continue
        # Every key with a report is listed (so a reader knows hidden cells are >= 1) ...
        assert set(cells(t)) == set(truth)
        shown = {c.key: c.count for c in t.cells if c.count is not None}
        hidden = [c.key for c in t.cells if c.count is None]
        # ... no shown cell is below k, and each shown cell is true.
        assert all(count >= k for count in shown.values())
        assert all(truth[key] == count for key, count in shown.items())
        if not hidden:
            continue
        assert any(truth[key] < k for key in hidden), "nothing small, yet hidden"
        # Hiding goes by value: every shown cell is above every hidden one.
        smallest_shown = min(shown.values(), default=None)
        if smallest_shown is not None:
            assert max(truth[key] for key in hidden) < smallest_shown
        # A reader knows the hidden cells sum to R = total - shown, each is >= 1 and below
        # the smallest shown count S: so each lies in max(1, R-(m-1)(S-1))..min(S-1, R-(m-1)),
        # which must hold two values or more and reach k.
        m = len(hidden)
        rest = t.total - sum(shown.values())
        ceiling = rest if smallest_shown is None else smallest_shown - 1
        high = min(ceiling, rest - (m - 1))
        low = max(1, rest - (m - 1) * ceiling)
        assert m >= 2
        assert high > low
        assert high >= k
    # Places are published only inside a shown country (and a shown region).
    for t in digest.tables:
        if t.dimension in ("province", "region"):
            assert countries.get(t.within or "") is not None
        if t.region is not None:
            assert regions.get((t.within, t.region)) is not None


# Exhaustive, algorithm-aware audit on a small world: an attacker who knows the published
# digest and the exact algorithm enumerates every possible set of reports that would have
# produced the same digest; every hidden cell must still take at least two values.

SMALL_CATEGORIES = ["recruit_armed", "false_job", "other"]
SMALL_PLACES = [("AF", "kabul"), ("AF", "parwan"), ("AF", None), ("PK", None)]
"""Two provinces of one region, Afghanistan's "not said" region, and a country without any."""
MICROCELLS = [(c, p) for c in SMALL_CATEGORIES for p in SMALL_PLACES]


def compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Yield every way to write ``total`` as an ordered sum of ``parts`` non-negative ints."""
    for bars in itertools.combinations(range(total + parts - 1), parts - 1):
        edges = (-1, *bars, total + parts - 1)
        yield tuple(edges[i + 1] - edges[i] - 1 for i in range(parts))


def world(counts: Sequence[int]) -> list[Rec]:
    records: list[Rec] = []
    for (category, (country, province)), n in zip(MICROCELLS, counts, strict=True):
        records.extend(recs(n, category=category, country=country, province=province))
    return records


Where = tuple[str, str | None, str | None, str]


def hidden_cells(digest: Digest) -> list[Where]:
    return [
        (t.dimension, t.within, t.region, c.key) for t in digest.tables for c in t.cells if c.hidden
    ]


def cell_value(records: Sequence[Rec], where: Where) -> int:
    dimension, within, region, key = where
    place = Table(dimension, 0, (), within=within, region=region)
    if dimension in ("province", "region"):
        return true_counts([r for r in records if in_place(r, place)], place)[key]
    return sum(1 for r in records if str(getattr(r, dimension)) == key)


Builder = Callable[[Sequence[Rec], int], Digest]


def pinned_cells(counts: Sequence[int], k: int, build: Builder) -> list[str]:
    """Return the hidden cells an algorithm-aware attacker can pin to one value."""
    published = build(world(counts), k)
    targets = hidden_cells(published)
    seen: dict[Where, set[int]] = {target: set() for target in targets}
    for candidate in compositions(sum(counts), len(MICROCELLS)):
        records = world(candidate)
        if build(records, k) != published:
            continue
        for target in targets:
            seen[target].add(cell_value(records, target))
    return [f"{target} = {values}" for target, values in seen.items() if len(values) < 2]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(min_value=0, max_value=len(MICROCELLS) - 1), min_size=3, max_size=7),
    st.sampled_from([3, 4]),
)
@example(picks=[3, 3, 4, 4, 6, 10, 11], k=3)  # once pinned: a tie with the smallest shown cell
@example(picks=[2, 3, 3, 4, 6, 8, 11], k=3)
@example(picks=[0, 2, 3, 4, 6, 7], k=3)  # six reports, each alone in its microcell
@example(picks=[0, 1, 1, 5, 5, 9, 11], k=3)  # Kabul and Parwan share a region
def test_an_attacker_who_knows_the_algorithm_still_cannot_pin_a_hidden_cell(
    picks: list[int], k: int
) -> None:
    counts = [picks.count(index) for index in range(len(MICROCELLS))]
    assert pinned_cells(counts, k, build_digest) == []


@pytest.mark.parametrize(("keys", "largest_total"), [(3, 24), (5, 12), (7, 10)])
def test_every_one_way_table_up_to_a_size_is_safe_against_the_algorithm(
    keys: int, largest_total: int
) -> None:
    """Enumerate every table of ``keys`` answers and group them by what would be published.

    Within each group (all tables a reader cannot tell apart) every hidden or withheld cell
    must take two values or more, and a hidden cell of a listed table must possibly be >= k.
    """
    names = [f"answer{index}" for index in range(keys)]
    for k in (3, 4, 5):
        for total in range(k, largest_total + 1):
            groups: dict[object, list[tuple[int, ...]]] = {}
            for counts in compositions(total, keys):
                records = [
                    Rec(category=n) for n, c in zip(names, counts, strict=True) for _ in range(c)
                ]
                published = table(build_digest(records, k), "category")
                groups.setdefault(published, []).append(counts)
            for published, candidates in groups.items():
                for index, name in enumerate(names):
                    values = {counts[index] for counts in candidates}
                    if published.withheld:
                        assert len(values) >= 2, (k, total, name)
                    elif cells(published).get(name, 0) is None:
                        assert len(values) >= 2, (k, total, published)
                        assert max(values) >= k, (k, total, published)


def primary_only(records: Sequence[Rec], k: int) -> Digest:
    """A broken digest: complementary suppression undone (counts >= k shown again)."""
    digest = build_digest(records, k)
    tables = []
    for t in digest.tables:
        truth = true_counts(records, t)
        fixed = tuple(Cell(c.key, truth[c.key] if truth[c.key] >= k else None) for c in t.cells)
        tables.append(replace(t, cells=fixed))
    return replace(digest, tables=tuple(tables))


def test_the_exhaustive_audit_detects_a_leak() -> None:
    """Guard the audit: without complementary suppression a hidden cell is recomputable."""
    # recruit_armed: 3 + 0 + 0; false_job: 1 in Kabul; other: 3 in Pakistan.
    counts = [3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3]
    assert pinned_cells(counts, 3, primary_only)
    assert pinned_cells(counts, 3, build_digest) == []


# --- rendering -----------------------------------------------------------------------------


def sample_digest() -> Digest:
    records = [
        *recs(12, category="recruit_armed", country="AF", province="kabul", month="2026-11"),
        *recs(2, category="false_job", country="IR", province="tehran", month="2026-11"),
        *recs(6, category="taliban_threat", country="AF", province="herat", month="2026-10"),
        *recs(7, category="other", country="PK", province=None, month="2026-10"),
    ]
    return build_digest(records, k=5)


def test_english_rendering_has_labels_hidden_marks_totals_and_a_legend(
    translations: Translations,
) -> None:
    text = render_digest(sample_digest(), "en", translations)
    assert "Reports counted (the reporter agreed): 27" in text
    assert "By kind of event" in text
    assert "  Approached to fight abroad or join an armed group: 12" in text
    assert f"  A job offer abroad that looked false: {HIDDEN}" in text
    assert f"  Threats, searches or arrest by the Taliban: {HIDDEN}" in text
    assert "By region in Afghanistan" in text
    assert "  Central: 12" in text
    assert "By province in the Central region of Afghanistan" in text
    assert "  Kabul: 12" in text
    assert "  November 2026: 14" in text
    assert "  Total: 27" in text
    assert f"  Pakistan: {HIDDEN}" in text
    assert "fewer than 5 reports" in text
    assert re.search(r"\b2\b", text) is None, "a hidden count leaked into the text"


def test_dari_rendering_uses_dari_digits_and_the_solar_calendar(
    translations: Translations,
) -> None:
    text = render_digest(sample_digest(), "fa_AF", translations)
    assert re.search("[0-9]", text) is None
    assert "۱۲" in text
    assert "عقرب–قوس ۱۴۰۵" in text  # November 2026
    assert "کابل" in text


@pytest.mark.parametrize(
    ("locale", "row", "reporters", "first_person"),
    [
        ("en", "Approached to fight abroad or join an armed group: 12", "", "Asked to fight"),
        ("fa_AF", "دعوت به جنگ در خارج یا شامل شدن به یک گروه مسلح: ۱۲", "گزارش\u200cدهندگان",
         "بجنگم"),
        ("ps", "په بهر کې جګړې یا له وسله والې ډلې سره یوځای کېدو ته بلنه: ۱۲", "راپور ورکوونکو",
         "وجنګېږم"),
    ],
)  # fmt: skip
def test_digest_rows_speak_about_reporters_not_in_their_words(
    translations: Translations, locale: str, row: str, reporters: str, first_person: str
) -> None:
    """A partner reads about reporters: rows never repeat a reporter's first-person answer."""
    text = render_digest(sample_digest(), locale, translations)
    assert f"  {row}" in text
    assert first_person not in text
    assert reporters in text
    assert "نویسندگان" not in text
    assert "لیکوالانو" not in text


def test_an_unknown_party_is_not_known_to_the_reporter(translations: Translations) -> None:
    digest = build_digest(recs(6, party="unknown"), k=5)
    assert "  Not known to the reporter: 6" in render_digest(digest, "en", translations)
    assert "برای گزارش\u200cدهنده معلوم نیست: ۶" in render_digest(digest, "fa_AF", translations)
    assert "نمی\u200cدانم" not in render_digest(digest, "fa_AF", translations)
    assert "راپور ورکوونکي ته معلوم نه دی: ۶" in render_digest(digest, "ps", translations)


def test_rendering_too_few_reports_says_so_without_a_count(translations: Translations) -> None:
    text = render_digest(build_digest(recs(3), k=5), "en", translations)
    assert "Fewer than 5 reports" in text
    assert "3" not in text


def test_a_tally_gives_the_same_digest_as_the_records_it_counts() -> None:
    """The database counts records alike (``StatsRepository.tally``); nothing else changes."""
    rng = random.Random(11)
    records = [
        StatRecord(
            rng.choice(["recruit_armed", "false_job", "taliban_threat"]),
            rng.choice(["foreign_military", "taliban", "smuggler"]),
            rng.choice(["AF", "IR", "RU"]),
            rng.choice(["kabul", "herat", None]),
            rng.choice(["2026-09", "2026-10"]),
            rng.choice(["urgent", "not_urgent"]),
            rng.choice(["yes", "no"]),
        )
        for _ in range(200)
    ]
    for size in (3, 40, 200):
        assert build_digest(Counter(records[:size]), 5) == build_digest(records[:size], 5)


def test_the_digest_benchmark_runs_quick() -> None:
    """The benchmark runs end to end on both backends and ends with one JSON object."""
    figures = run_quick("digest.py")
    assert figures["records"] == 2_000
    for name in ("sqlite_s", "sqlite_peak_mb", "sqlite_ratio"):
        assert isinstance(figures[name], int | float), name
    for name in ("postgres_s", "postgres_peak_mb"):
        assert figures[name] is None or isinstance(figures[name], int | float), name


def test_the_disclosure_benchmark_runs_quick() -> None:
    """A smoke run: benchmarks/disclosure.py compares suppression with and without regions, a
    quarter and OpenDP's noise, and prints the shares of reports seen, then one JSON object."""
    figures = run_quick("disclosure.py")
    assert set(figures["results"]) == {"provinces", "regions", "quarter", "dp-eps1", "dp-eps3"}
    for way in figures["results"].values():
        for shares in way.values():
            assert all(0 <= shares[name] <= 1 for name in ("kind", "country", "region"))
