"""Test the digest's charts: they look as their reference images, never draw a hidden number,
read right to left in Dari and Pashto, and travel in the bundle.

Reference images are in tests/charts_reference/; the examples in docs/digest-charts/ are
copies of some of them. After a deliberate change of the charts' look, run
``AMANAT_CHART_REFERENCES=1 pytest tests/test_partners_charts.py``: it writes both folders
afresh from the renderings instead of comparing. Look at every image it wrote (Pashto
letters at high zoom) before committing them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from xml.etree import ElementTree

import pytest

from bot.i18n.localdates import format_month_both
from bot.i18n.translations import RTL_LOCALES, Translations, format_number
from bot.partners.bundle import BUNDLE_FORMAT, CONTENT_POLICY, Team, build_bundle
from bot.partners.charts import (
    BAR_COLOUR,
    FONT_DIR,
    PDF,
    RLE,
    Spec,
    png_size,
    render_png,
    render_svg,
    table_spec,
    trend_spec,
)
from bot.partners.digest import (
    PERIOD,
    UNSAID,
    Cell,
    Digest,
    Table,
    build_digest,
)
from bot.partners.months import Month
from bot.partners.regions import AFGHAN_REGIONS
from bot.partners.trend import TrendPoint
from bot.questions import AFGHAN_PROVINCES, COUNTRIES, INCIDENTS, IRANIAN_PROVINCES, PARTIES
from tests.png_support import Image, decode_png, differing_blocks
from tests.test_partners_digest import recs

REPO = Path(__file__).resolve().parent.parent
REFERENCES = REPO / "tests" / "charts_reference"
EXAMPLES = REPO / "docs" / "digest-charts"
REGENERATE = bool(os.environ.get("AMANAT_CHART_REFERENCES"))
LOCALES = ("en", "fa_AF", "ps")
OCTOBER = Month(2026, 10)
TREND_TITLE = "Reports counted in each of the last twelve months"

CATEGORY = Table(
    "category",
    43,
    (
        Cell("recruit_armed", 17),
        Cell("false_job", 12),
        Cell("taliban_threat", None),
        Cell("exploitation", None),
        Cell("other", 6),
    ),
)
REGIONS = Table(
    "region",
    24,
    (Cell("central", 11), Cell("west", 7), Cell("north", None), Cell("south", None)),
    within="AF",
)
CENTRAL = Table("province", 11, (Cell("kabul", 11),), within="AF", region="central")
EXAMPLE = Digest(
    5,
    43,
    (
        CATEGORY,
        Table("party", 43, (Cell("foreign_military", 25), Cell("broker", 18))),
        Table("country", 43, (Cell("AF", 24), Cell("IR", 19))),
        REGIONS,
        CENTRAL,
        Table("urgency", 43, (Cell("urgent", 21), Cell("not_urgent", 22))),
    ),
)
"""An October as a partner might get it: some numbers shown, some hidden."""

TREND = tuple(
    TrendPoint(Month(2025 + (m // 12), m % 12 + 1), total, issued)
    for m, total, issued in [
        (10, None, False),
        (11, None, False),
        (12, 8, True),
        (13, None, True),
        (14, 15, True),
        (15, 21, True),
        (16, 12, True),
        (17, 30, True),
        (18, 27, True),
        (19, 35, True),
        (20, 40, True),
        (21, 43, True),
    ]
)
"""November 2025 to October 2026: never issued, hidden, and shown months; across Nowruz."""


def example_specs(translations: Translations) -> dict[str, tuple[Spec, str]]:
    """The charts with reference images: name -> (specification, locale)."""
    specs: dict[str, tuple[Spec, str]] = {}
    for locale in LOCALES:
        spec = table_spec(CATEGORY, 5, locale, translations, note=None)
        assert spec is not None
        specs[f"category-{locale}"] = (spec, locale)
    region = table_spec(REGIONS, 5, "ps", translations)
    trend = trend_spec(TREND, translations.gettext("fa_AF", TREND_TITLE), 5, "fa_AF", translations)
    trend_en = trend_spec(TREND, TREND_TITLE, 5, "en", translations)
    assert region is not None
    assert trend is not None
    assert trend_en is not None
    specs["region-af-ps"] = (region, "ps")
    specs["trend-fa_AF"] = (trend, "fa_AF")
    specs["trend-en"] = (trend_en, "en")
    return specs


SHOWN_IN_DOCS = ("category-en", "trend-fa_AF", "region-af-ps")


def assert_looks_like(name: str, png: bytes) -> None:
    """Compare a rendering with its reference image, or write it when regenerating."""
    reference = REFERENCES / f"{name}.png"
    if REGENERATE:
        REFERENCES.mkdir(exist_ok=True)
        reference.write_bytes(png)
        if name in SHOWN_IN_DOCS:
            EXAMPLES.mkdir(exist_ok=True)
            (EXAMPLES / f"{name}.png").write_bytes(png)
    assert reference.exists(), f"no reference image {name}.png: see this module's docstring"
    differing = differing_blocks(decode_png(reference.read_bytes()), decode_png(png))
    assert differing == [], f"{name}: {len(differing)} blocks differ, the first at {differing[0]}"


# --- the look -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "category-en",
        "category-fa_AF",
        "category-ps",
        "region-af-ps",
        "trend-fa_AF",
        "trend-en",
    ],
)
def test_a_chart_looks_as_its_reference_image(name: str, translations: Translations) -> None:
    spec, locale = example_specs(translations)[name]
    assert_looks_like(name, render_png(spec, locale))


def test_the_examples_in_the_docs_are_reference_images() -> None:
    for name in SHOWN_IN_DOCS:
        example = (EXAMPLES / f"{name}.png").read_bytes()
        assert example == (REFERENCES / f"{name}.png").read_bytes(), name
        assert f"digest-charts/{name}.png" in (REPO / "docs" / "partner-guide.md").read_text()


def test_the_comparison_passes_a_faint_change_and_fails_a_missing_dot_or_bar(
    translations: Translations,
) -> None:
    """The pixel comparison is what the reference tests rely on: it must catch the defects."""
    spec, locale = example_specs(translations)["category-ps"]
    reference = decode_png((REFERENCES / "category-ps.png").read_bytes())
    faint = Image(
        reference.width,
        reference.height,
        reference.channels,
        tuple(
            bytes(max(0, value - 20) if (x + y) % 3 == 0 else value for x, value in enumerate(row))
            for y, row in enumerate(reference.rows)
        ),
    )
    assert differing_blocks(reference, faint) == []  # antialiasing a little darker

    no_dot = copy.deepcopy(spec)  # ښ of «ښکارېده» without its dots: ش
    axis = no_dot["vconcat"][0]["encoding"]["y"]["axis"]
    assert "\\u069a" in axis["labelExpr"]
    axis["labelExpr"] = axis["labelExpr"].replace("\\u069a", "\\u0634", 1)
    assert 0 < len(differing_blocks(reference, decode_png(render_png(no_dot, locale)))) < 40

    fewer = Table("category", 43, (*CATEGORY.cells[:4], Cell("other", None)))
    no_bar = table_spec(fewer, 5, locale, translations)
    assert no_bar is not None
    assert len(differing_blocks(reference, decode_png(render_png(no_bar, locale)))) > 100


def test_the_decoder_reads_a_bar_and_the_background(translations: Translations) -> None:
    spec, locale = example_specs(translations)["category-en"]
    image = decode_png(render_png(spec, locale))
    colours = {
        bytes(row[x * image.channels : x * image.channels + 3])
        for row in image.rows
        for x in range(0, image.width, 7)
    }
    assert bytes.fromhex(BAR_COLOUR[1:]) in colours
    assert b"\xff\xff\xff" in colours
    assert png_size(render_png(spec, locale)) == (image.width // 2, image.height // 2)


# --- what a chart says ------------------------------------------------------------------------


def svg_texts(svg: str) -> list[str]:
    """Every text an SVG shows, one string per <text> element (its tspans joined)."""
    root = ElementTree.fromstring(svg)
    return ["".join(node.itertext()) for node in root.iter("{http://www.w3.org/2000/svg}text")]


def numbers_in(text: str) -> set[int]:
    """The whole numbers written in ``text``, in ASCII or Dari and Pashto digits."""
    ascii_text = text.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
    return {int(n.replace(",", "").replace("٬", "")) for n in re.findall(r"\d[\d,٬]*", ascii_text)}


def data_numbers(spec: Spec) -> set[int]:
    """Every number in the chart's data, anywhere in its rows."""
    found: set[int] = set()

    def walk(value: object) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int):
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            found.update(numbers_in(value))

    walk(spec["vconcat"][0]["data"])
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_a_hidden_count_is_never_drawn(locale: str, translations: Translations) -> None:
    """Counts 31, 13, 7 and 4: the 4 is below k = 5, so the 7 is hidden with it (sum 11)."""
    records = [
        *recs(31, category="recruit_armed"),
        *recs(13, category="false_job"),
        *recs(7, category="exploitation"),
        *recs(4, category="taliban_threat"),
    ]
    digest = build_digest(records, k=5)
    [category] = [table for table in digest.tables if table.dimension == "category"]
    assert {cell.key: cell.count for cell in category.cells} == {
        "recruit_armed": 31,
        "false_job": 13,
        "taliban_threat": None,
        "exploitation": None,
    }
    spec = table_spec(category, digest.k, locale, translations)
    assert spec is not None
    assert {31, 13} <= data_numbers(spec)  # the shown ones are there: the test can fail
    assert data_numbers(spec).isdisjoint({4, 7, 11})
    texts = svg_texts(render_svg(spec, locale))
    drawn = set().union(*(numbers_in(text) for text in texts))
    assert {31, 13} <= drawn
    assert drawn.isdisjoint({4, 7, 11}), drawn  # neither hidden count, nor their sum
    hidden = translations.format(locale, "{mark} hidden", mark="*")
    assert [text.strip(RLE + PDF) for text in texts].count(hidden) == 2  # in both rows


def test_a_hidden_month_and_a_month_never_issued_say_so(translations: Translations) -> None:
    spec = trend_spec(TREND, TREND_TITLE, 5, "en", translations)
    assert spec is not None
    rows = {row["key"]: row for row in spec["vconcat"][0]["data"]["values"]}
    assert (rows["2026-02"]["count"], rows["2026-02"]["text"]) == (None, "* hidden")
    assert (rows["2025-11"]["count"], rows["2025-11"]["text"]) == (None, "no count")
    assert (rows["2026-10"]["count"], rows["2026-10"]["text"]) == (43, "43")
    texts = svg_texts(render_svg(spec, "en"))
    assert "October 2026" in texts
    assert any(text.startswith("* hidden: fewer than 5 reports") for text in texts)


def test_nothing_to_draw_is_no_chart(translations: Translations) -> None:
    withheld = Table("party", 9, (), withheld=True)
    all_hidden = Table("party", 9, (Cell("broker", None), Cell("taliban", None)))
    assert table_spec(withheld, 5, "en", translations) is None
    assert table_spec(all_hidden, 5, "en", translations) is None
    never = [TrendPoint(point.month, None, issued=False) for point in TREND]
    assert trend_spec(never, TREND_TITLE, 5, "en", translations) is None


@pytest.mark.parametrize("locale", ["fa_AF", "ps"])
def test_dari_and_pashto_read_right_to_left_in_their_digits(
    locale: str, translations: Translations
) -> None:
    spec = trend_spec(TREND, TREND_TITLE, 5, locale, translations)
    assert spec is not None
    chart = spec["vconcat"][0]
    assert chart["encoding"]["y"]["axis"]["orient"] == "right"  # labels on the right
    assert chart["layer"][0]["encoding"]["x"]["scale"]["reverse"]  # bars grow leftwards
    assert spec["title"]["anchor"] == "end"
    texts = [text for text in svg_texts(render_svg(spec, locale)) if text.strip()]
    words = [text for text in texts if re.search("[\u0600-\u06ff]", text)]
    assert words, "nothing in Dari or Pashto"
    for text in words:
        if not re.fullmatch("[۰-۹٬]+", text):  # axis numbers have no direction to set
            assert (text[0], text[-1]) == (RLE, PDF), text
    assert not any(re.search("[0-9]", text) for text in texts)  # no ASCII digit anywhere
    both = format_month_both(locale, 2026, 10)  # as the page writes the month
    assert both.endswith("(اکتوبر ۲۰۲۶ میلادی)" if locale == "fa_AF" else "(اکتوبر ۲۰۲۶ زېږدیز)")
    assert f"{RLE}{both}{PDF}" in texts


def test_english_reads_left_to_right(translations: Translations) -> None:
    spec = table_spec(CATEGORY, 5, "en", translations)
    assert spec is not None
    chart = spec["vconcat"][0]
    assert chart["encoding"]["y"]["axis"]["orient"] == "left"
    assert not chart["layer"][0]["encoding"]["x"]["scale"]["reverse"]
    assert not any(RLE in text for text in svg_texts(render_svg(spec, "en")))


def every_option_table(dimension: str) -> Iterator[Table]:
    options = {
        "category": [o.id for o in INCIDENTS],
        "party": [o.id for o in PARTIES],
        "country": [o.id for o in COUNTRIES],
        "former_forces": ["yes", "no"],
        "urgency": ["urgent", "not_urgent"],
    }
    if dimension == "province":
        for within, provinces in (("AF", AFGHAN_PROVINCES), ("IR", IRANIAN_PROVINCES)):
            keys = [o.id for o in provinces] + [UNSAID]
            yield Table("province", 10 * len(keys), tuple(Cell(k, 10) for k in keys), within)
        for region in AFGHAN_REGIONS:  # each titled with its region's name
            keys = sorted(region.provinces)
            cells = tuple(Cell(k, 10) for k in keys)
            yield Table("province", 10 * len(keys), cells, "AF", region=region.id)
        return
    if dimension == "region":
        keys = [r.id for r in AFGHAN_REGIONS] + [UNSAID]
        yield Table("region", 10 * len(keys), tuple(Cell(k, 10) for k in keys), "AF")
        return
    keys = [*options[dimension], UNSAID]
    yield Table(dimension, 10 * len(keys), tuple(Cell(k, 10) for k in keys))


def font_characters() -> set[str]:
    """The characters Vazirmatn Regular has a glyph for (its cmap's format 4 subtable)."""
    font = (FONT_DIR / "Vazirmatn-Regular.ttf").read_bytes()
    (tables,) = struct.unpack(">H", font[4:6])
    directory = {
        font[12 + 16 * i : 16 + 16 * i]: struct.unpack(">I", font[20 + 16 * i : 24 + 16 * i])[0]
        for i in range(tables)
    }
    cmap = directory[b"cmap"]
    (count,) = struct.unpack(">H", font[cmap + 2 : cmap + 4])
    for i in range(count):
        platform, encoding, offset = struct.unpack(
            ">HHI", font[cmap + 4 + 8 * i : cmap + 12 + 8 * i]
        )
        sub = cmap + offset
        if (platform, encoding) == (3, 1) and struct.unpack(">H", font[sub : sub + 2])[0] == 4:
            (segments,) = struct.unpack(">H", font[sub + 6 : sub + 8])
            segments //= 2
            ends = struct.unpack(f">{segments}H", font[sub + 14 : sub + 14 + 2 * segments])
            start_at = sub + 16 + 2 * segments
            starts = struct.unpack(f">{segments}H", font[start_at : start_at + 2 * segments])
            return {chr(c) for s, e in zip(starts, ends, strict=True) for c in range(s, e + 1)}
    raise AssertionError("no Unicode BMP cmap in the font")


def test_the_font_has_every_letter_a_chart_can_draw(translations: Translations) -> None:
    """No fallback font is ever asked for, so charts look alike on every machine.

    Every label of every option, every title and note, both calendars' months and the
    digits, in all three languages. Ignorable direction marks need no glyph.
    """
    drawn: set[str] = set()
    for locale in LOCALES:
        note = translations.format(locale, PERIOD, month=format_month_both(locale, 2027, 3))
        specs = [
            table_spec(table, 5, locale, translations, note=note)
            for dimension in ("category", "party", "country", "region", "province", "former_forces")
            for table in every_option_table(dimension)
        ]
        specs.extend(
            [
                table_spec(next(every_option_table("urgency")), 5, locale, translations),
                table_spec(CATEGORY, 5, locale, translations),
                trend_spec(
                    TREND, translations.gettext(locale, TREND_TITLE), 5, locale, translations
                ),
                trend_spec(
                    [TrendPoint(Month(2026, m), 10 * m, True) for m in range(1, 13)],
                    TREND_TITLE,
                    5,
                    locale,
                    translations,
                ),
            ]
        )
        for spec in specs:
            assert spec is not None
            drawn.update(*svg_texts(render_svg(spec, locale)))
    assert set("ټځڅډړږښګڼېۍ") <= font_characters()
    assert set("ټځڅډړږښګېۍ") <= drawn  # the Pashto letters drawn are among them
    ignorable = set(
        "\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )
    missing = drawn - font_characters() - ignorable
    assert not missing, sorted(f"U+{ord(c):04X}" for c in missing)


# --- the bytes --------------------------------------------------------------------------------


def test_a_chart_is_the_same_bytes_in_another_process(translations: Translations) -> None:
    """vl-convert writes no time or machine into a PNG: what the bundle's bytes rely on."""
    spec, locale = example_specs(translations)["category-ps"]
    here = hashlib.sha256(render_png(spec, locale)).hexdigest()
    program = (
        "import hashlib, json, sys\n"
        "from bot.partners.charts import render_png\n"
        "spec = json.loads(sys.stdin.read())\n"
        f"print(hashlib.sha256(render_png(spec, {locale!r})).hexdigest())\n"
    )
    there = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=120,
    ).stdout.strip()
    assert here == there


def bundle(locale: str, translations: Translations) -> bytes:
    return build_bundle(
        EXAMPLE,
        OCTOBER,
        locale,
        translations,
        issued_on=date(2026, 11, 8),
        team=Team("Amanat Kabul team", "team@example.org"),
        trend=TREND,
    ).data


def test_the_same_digest_is_the_same_archive(translations: Translations) -> None:
    assert bundle("ps", translations) == bundle("ps", translations)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_bundle_lists_and_embeds_its_charts(locale: str, translations: Translations) -> None:
    with zipfile.ZipFile(io.BytesIO(bundle(locale, translations))) as archive:
        files = {
            name.removeprefix("amanat-digest/"): archive.read(name) for name in archive.namelist()
        }
    charts = sorted(name for name in files if name.startswith("charts/"))
    assert charts == [
        "charts/00-last-twelve-months.png",
        "charts/01-category.png",
        "charts/02-party.png",
        "charts/03-country.png",
        "charts/04-region-af.png",
        "charts/05-province-af-central.png",
        "charts/06-urgency.png",
    ]  # each named as its table's CSV file
    assert {f"tables/{name[7:-4]}.csv" for name in charts} <= set(files)
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == BUNDLE_FORMAT == 2
    listed = {entry["name"]: entry["sha256"] for entry in manifest["files"]}
    page = files["digest.html"].decode()
    dictionary = files["data-dictionary.csv"].decode("utf-8-sig")
    for name in charts:
        png = files[name]
        assert png.startswith(b"\x89PNG")
        assert listed[name] == hashlib.sha256(png).hexdigest()
        assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in page
        assert name in dictionary
    assert page.count("<img ") == len(charts)
    assert f'content="{CONTENT_POLICY}"' in page
    assert "img-src data:" in CONTENT_POLICY
    assert "default-src 'none'" in CONTENT_POLICY
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere
    if locale in RTL_LOCALES:
        assert 'alt="' + translations.gettext(locale, "By kind of event") + '"' in page


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("AMANAT_REQUIRE_BROWSER"),
    reason="Debian's chromium is not installed (.ci/run installs it, and there this test runs)",
)
async def test_the_unpacked_page_shows_its_charts_offline(
    translations: Translations, tmp_path: Path
) -> None:
    """A browser shows every chart of the page under its policy, asking nothing of anyone."""
    from playwright.async_api import async_playwright

    with zipfile.ZipFile(io.BytesIO(bundle("ps", translations))) as archive:
        archive.extractall(tmp_path)
    page_path = tmp_path / "amanat-digest" / "digest.html"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = await browser.new_page(viewport={"width": 900, "height": 800})
            asked: list[str] = []
            refused: list[str] = []
            page.on("request", lambda request: asked.append(request.url))
            page.on("console", lambda message: refused.append(message.text))
            await page.goto(page_path.as_uri())
            widths = await page.eval_on_selector_all(
                "img", "images => images.map(i => i.complete ? i.naturalWidth : 0)"
            )
            assert await page.get_attribute("html", "dir") == "rtl"
        finally:
            await browser.close()
    assert len(widths) == 7
    assert all(width > 300 for width in widths), widths  # decoded, at 2 pixels per CSS pixel
    assert [url for url in asked if not url.startswith(("file:", "data:"))] == []
    assert refused == []  # no Content-Security-Policy complaint


def test_large_numbers_are_written_as_the_tables_write_them(translations: Translations) -> None:
    """Dari writes ۸۰۰۰ but ۱۲٬۰۰۰ (grouped from 10,000 on), English 8,000 and 12,000."""
    table = Table("country", 19_000, (Cell("AF", 12_000), Cell("IR", 7_000)))
    for locale, grouped, ungrouped in (("fa_AF", "۱۰٬۰۰۰", "۸۰۰۰"), ("en", "10,000", "8,000")):
        spec = table_spec(table, 5, locale, translations)
        assert spec is not None
        texts = [text.strip(RLE + PDF) for text in svg_texts(render_svg(spec, locale))]
        assert format_number(locale, 12_000) in texts
        assert {grouped, ungrouped} <= set(texts), texts  # the count axis's ticks
