"""Tests for bot.i18n: locale mapping, digits, bidi isolation, catalogs loaded or refused."""

from __future__ import annotations

import asyncio
import gettext
import logging
import unicodedata
from pathlib import Path

import pytest
from babel import Locale

from bot.i18n import translations as i18n
from bot.i18n.translations import (
    LANGUAGE_NAMES,
    N_,
    RTL_LOCALES,
    SUPPORTED_LOCALES,
    CatalogError,
    Raw,
    Translations,
    compile_catalogs,
    current_locale,
    format_number,
    is_rtl,
    isolate,
    locale_from_telegram,
    to_locale_digits,
    use_locale,
)
from bot.settings import PACKAGE_LOCALES_DIR

FSI, PDI = "\u2068", "\u2069"

PO_HEADER = """\
msgid ""
msgstr ""
"Project-Id-Version: amanat 0.1\\n"
"Language: {locale}\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=utf-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"Plural-Forms: {plural}\\n"

"""

PLURALS = {"fa_AF": "nplurals=1; plural=0;", "ps": "nplurals=2; plural=(n != 1);"}
PLURALS["en"] = PLURALS["ps"]

ENTRIES = {
    "fa_AF": """\
msgid "Thank you"
msgstr "تشکر"

#, python-brace-format
msgid "Hello {name}"
msgstr "سلام {name}"

#, python-brace-format
msgid "Your code is {code}"
msgstr "کد شما {code} است"

msgid "{n} report"
msgid_plural "{n} reports"
msgstr[0] "{n} گزارش"
""",
    "ps": """\
msgid "Thank you"
msgstr "مننه"

#, python-brace-format
msgid "Hello {name}"
msgstr "سلام {name}"

#, python-brace-format
msgid "Your code is {code}"
msgstr "ستاسو کوډ {code} دی"

msgid "{n} report"
msgid_plural "{n} reports"
msgstr[0] "{n} راپور"
msgstr[1] "{n} راپورونه"
""",
}


def write_po(locales_dir: Path, locale: str, entries: str) -> Path:
    """Write one catalog as a translator would leave it."""
    path = locales_dir / locale / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = PO_HEADER.format(locale=locale, plural=PLURALS[locale])
    path.write_text(header + entries, encoding="utf-8")
    return path


@pytest.fixture
def locales_dir(tmp_path: Path) -> Path:
    """Give a locales directory with compiled Dari and Pashto catalogs and no English one."""
    directory = tmp_path / "locales"
    for locale, entries in ENTRIES.items():
        write_po(directory, locale, entries)
    compile_catalogs(directory)
    return directory


@pytest.fixture
def translations(locales_dir: Path) -> Translations:
    return Translations.load(locales_dir)


# --- constants ------------------------------------------------------------------------------


def test_supported_locales_are_in_picker_order_and_rtl_matches_babel() -> None:
    assert SUPPORTED_LOCALES == ("fa_AF", "ps", "en")
    assert frozenset({"fa_AF", "ps"}) == RTL_LOCALES
    for locale in SUPPORTED_LOCALES:
        babel_rtl = Locale.parse(locale).character_order == "right-to-left"
        assert is_rtl(locale) is babel_rtl


def test_language_names_are_in_their_own_script_and_immutable() -> None:
    assert dict(LANGUAGE_NAMES) == {"fa_AF": "دری", "ps": "پښتو", "en": "English"}
    assert set(LANGUAGE_NAMES) == set(SUPPORTED_LOCALES)
    with pytest.raises(TypeError):
        LANGUAGE_NAMES["de"] = "Deutsch"  # type: ignore[index]


def test_n_marker_returns_the_message_unchanged() -> None:
    assert N_("Hello {name}") == "Hello {name}"


def test_is_rtl_refuses_unsupported_locales() -> None:
    with pytest.raises(ValueError, match="unsupported locale"):
        is_rtl("fa")


# --- Telegram language codes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("fa", "fa_AF"),
        ("fa-AF", "fa_AF"),
        ("fa_AF", "fa_AF"),
        ("fa-IR", "fa_AF"),
        ("FA-ir", "fa_AF"),
        ("fa-Arab-AF", "fa_AF"),
        ("prs", "fa_AF"),
        ("prs-AF", "fa_AF"),
        ("PRS_af", "fa_AF"),
        ("ps", "ps"),
        ("ps-AF", "ps"),
        ("ps_PK", "ps"),
        ("pbt", "ps"),
        ("pbu", "ps"),
        ("pst", "ps"),
        ("PS", "ps"),
        ("en", "en"),
        ("en-US", "en"),
        ("en_gb", "en"),
        (" en ", "en"),
        ("de", None),
        ("ar", None),
        ("ur", None),
        ("tg", None),
        ("uz-AF", None),
        ("fas", None),
        ("english", None),
        ("", None),
        (None, None),
    ],
)
def test_locale_from_telegram(code: str | None, expected: str | None) -> None:
    assert locale_from_telegram(code) == expected


# --- digits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "n", "expected"),
    [
        ("fa_AF", 0, "۰"),
        ("fa_AF", 1405, "۱۴۰۵"),
        ("fa_AF", 1234567, "۱٬۲۳۴٬۵۶۷"),
        ("ps", 4, "۴"),
        ("ps", 1234567, "۱٬۲۳۴٬۵۶۷"),
        # Afghans group only from 10,000 on: ۳۰۰۰ حرف, but ۱۲٬۰۰۰.
        ("fa_AF", 3000, "۳۰۰۰"),
        ("ps", 9999, "۹۹۹۹"),
        ("ps", 10000, "۱۰٬۰۰۰"),
        ("fa_AF", 12345, "۱۲٬۳۴۵"),
        ("fa_AF", -9999, "\u200e\u2212۹۹۹۹"),
        ("ps", -10000, "\u200e\u2212۱۰٬۰۰۰"),
        ("en", 3000, "3,000"),
        ("fa_AF", -25, "\u200e\u2212۲۵"),
        ("en", 1234567, "1,234,567"),
        ("en", -25, "-25"),
    ],
)
def test_format_number(locale: str, n: int, expected: str) -> None:
    assert format_number(locale, n) == expected


def test_format_number_uses_persian_not_arabic_indic_digits() -> None:
    text = format_number("ps", 4567890123)
    assert not any("\u0660" <= char <= "\u0669" for char in text)
    assert not any(char.isascii() and char.isdigit() for char in text)
    assert {unicodedata.name(char).split()[0] for char in text if char.isdigit()} == {"EXTENDED"}


def test_format_number_refuses_bools_and_floats() -> None:
    with pytest.raises(TypeError):
        format_number("en", True)
    with pytest.raises(TypeError):
        format_number("en", 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("locale", "text", "expected"),
    [
        ("fa_AF", "1234-5678", "۱۲۳۴-۵۶۷۸"),
        ("ps", "AB12-٣٤", "AB۱۲-۳۴"),
        ("en", "۱۲۳۴-٥٦٧٨", "1234-5678"),
        ("en", "no digits", "no digits"),
    ],
)
def test_to_locale_digits(locale: str, text: str, expected: str) -> None:
    assert to_locale_digits(locale, text) == expected


# --- isolation ------------------------------------------------------------------------------


def test_isolate_wraps_in_first_strong_isolate_and_marks_raw() -> None:
    result = isolate("Ali")
    assert result == FSI + "Ali" + PDI
    assert isinstance(result, Raw)


def test_isolate_drops_explicit_bidi_controls_so_the_isolate_stays_balanced() -> None:
    result = isolate("evil\u2069\u202etext")
    assert result == FSI + "eviltext" + PDI
    assert result.count(PDI) == 1


# --- use_locale -----------------------------------------------------------------------------


def test_current_locale_has_no_default() -> None:
    with pytest.raises(LookupError):
        current_locale.get()
    assert current_locale.get(None) is None


def test_use_locale_sets_and_restores_even_nested_and_on_error() -> None:
    with use_locale("ps"):
        assert current_locale.get() == "ps"
        with use_locale("fa_AF"):
            assert current_locale.get() == "fa_AF"
        assert current_locale.get() == "ps"
        with pytest.raises(RuntimeError), use_locale("en"):
            raise RuntimeError
        assert current_locale.get() == "ps"
    assert current_locale.get(None) is None


def test_use_locale_refuses_unsupported() -> None:
    with pytest.raises(ValueError, match="unsupported locale"), use_locale("fa"):
        pass


async def test_use_locale_is_per_task() -> None:
    seen: dict[str, str] = {}
    both_inside = asyncio.Event()
    entered = 0

    async def handle(locale: str) -> None:
        nonlocal entered
        with use_locale(locale):
            entered += 1
            if entered == 2:
                both_inside.set()
            await both_inside.wait()
            seen[locale] = current_locale.get()

    await asyncio.gather(handle("fa_AF"), handle("ps"))
    assert seen == {"fa_AF": "fa_AF", "ps": "ps"}


# --- Translations ---------------------------------------------------------------------------


def test_gettext_translates_per_locale(translations: Translations) -> None:
    assert translations.gettext("fa_AF", "Thank you") == "تشکر"
    assert translations.gettext("ps", "Thank you") == "مننه"
    assert translations.gettext("en", "Thank you") == "Thank you"
    assert translations.gettext("fa_AF", "Not in the catalog") == "Not in the catalog"
    assert translations.gettext("fa_AF", "") == ""
    assert translations.locales == SUPPORTED_LOCALES


def test_ngettext_uses_each_catalogs_plural_rule(translations: Translations) -> None:
    assert translations.ngettext("fa_AF", "{n} report", "{n} reports", 1) == "{n} گزارش"
    assert translations.ngettext("fa_AF", "{n} report", "{n} reports", 5) == "{n} گزارش"
    assert translations.ngettext("ps", "{n} report", "{n} reports", 1) == "{n} راپور"
    assert translations.ngettext("ps", "{n} report", "{n} reports", 5) == "{n} راپورونه"
    assert translations.ngettext("en", "{n} report", "{n} reports", 5) == "{n} reports"


def test_format_isolates_strings_in_rtl_locales(translations: Translations) -> None:
    assert translations.format("fa_AF", "Hello {name}", name="Ali") == f"سلام {FSI}Ali{PDI}"
    assert translations.format("ps", "Hello {name}", name="Ali") == f"سلام {FSI}Ali{PDI}"
    assert translations.format("en", "Hello {name}", name="Ali") == "Hello Ali"


def test_format_keeps_a_hyphenated_code_in_one_isolated_run(translations: Translations) -> None:
    code = to_locale_digits("fa_AF", "1234-5678")
    text = translations.format("fa_AF", "Your code is {code}", code=code)
    assert text == f"کد شما {FSI}۱۲۳۴-۵۶۷۸{PDI} است"


def test_format_renders_ints_in_locale_digits(translations: Translations) -> None:
    assert translations.format("fa_AF", "Hello {name}", name=1405) == "سلام ۱۴۰۵"
    assert translations.format("en", "Hello {name}", name=1405) == "Hello 1,405"


def test_format_leaves_raw_values_alone(translations: Translations) -> None:
    already = isolate("Kabul")
    assert translations.format("ps", "Hello {name}", name=already) == f"سلام {FSI}Kabul{PDI}"
    assert translations.format("ps", "Hello {name}", name=Raw("x")) == "سلام x"


def test_format_refuses_values_without_a_safe_rendering(translations: Translations) -> None:
    for value in (True, 1.5, None, b"x"):
        with pytest.raises(TypeError):
            translations.format("fa_AF", "Hello {name}", name=value)


def test_format_takes_params_named_like_its_own_arguments(translations: Translations) -> None:
    assert translations.format("en", "{locale} {message}", locale="a", message="b") == "a b"


def test_nformat_picks_the_form_and_renders_the_count(translations: Translations) -> None:
    assert translations.nformat("ps", "{n} report", "{n} reports", 1) == "۱ راپور"
    assert translations.nformat("ps", "{n} report", "{n} reports", 12) == "۱۲ راپورونه"
    assert translations.nformat("fa_AF", "{n} report", "{n} reports", 3) == "۳ گزارش"
    assert translations.nformat("en", "{n} report", "{n} reports", 1000) == "1,000 reports"


def test_format_falls_back_to_english_when_a_translation_is_broken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    locales_dir = tmp_path / "locales"
    write_po(locales_dir, "ps", ENTRIES["ps"])
    write_po(
        locales_dir,
        "fa_AF",
        'msgid "Hello {name}"\nmsgstr "سلام {nam}"\n',  # a typo the gate would catch
    )
    compile_catalogs(locales_dir)
    translations = Translations.load(locales_dir)
    with caplog.at_level(logging.WARNING, logger="bot.i18n"):
        text = translations.format("fa_AF", "Hello {name}", name="SECRET-NAME")
    assert text == f"Hello {FSI}SECRET-NAME{PDI}"
    assert "KeyError" in caplog.text
    assert "SECRET-NAME" not in caplog.text
    assert "Hello" not in caplog.text


def test_format_raises_when_the_source_itself_is_broken(translations: Translations) -> None:
    with pytest.raises(KeyError):
        translations.format("en", "Hello {name}")


def test_gettext_refuses_a_locale_that_was_not_loaded(locales_dir: Path) -> None:
    translations = Translations.load(locales_dir, locales=("ps",))
    assert translations.locales == ("ps",)
    with pytest.raises(CatalogError, match="not loaded"):
        translations.gettext("fa_AF", "Thank you")


# --- loading fails loudly -------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["fa_AF", "ps"])
def test_load_names_the_missing_catalog(locales_dir: Path, missing: str) -> None:
    mo_path = locales_dir / missing / "LC_MESSAGES" / "messages.mo"
    mo_path.unlink()
    with pytest.raises(CatalogError, match="missing compiled catalog") as caught:
        Translations.load(locales_dir)
    assert str(mo_path) in str(caught.value)


def test_load_fails_on_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="fa_AF"):
        Translations.load(tmp_path)


def test_english_without_any_catalog_is_the_identity(locales_dir: Path) -> None:
    assert not (locales_dir / "en").exists()
    translations = Translations.load(locales_dir)
    assert translations.gettext("en", "Hello {name}") == "Hello {name}"


def test_english_po_without_its_mo_is_a_forgotten_compile(locales_dir: Path) -> None:
    write_po(locales_dir, "en", 'msgid "Thank you"\nmsgstr "Thanks"\n')
    with pytest.raises(CatalogError, match="en"):
        Translations.load(locales_dir)
    compile_catalogs(locales_dir)
    assert Translations.load(locales_dir).gettext("en", "Thank you") == "Thanks"


def test_load_refuses_a_stale_mo(locales_dir: Path) -> None:
    po_path = locales_dir / "ps" / "LC_MESSAGES" / "messages.po"
    po_path.write_text(po_path.read_text(encoding="utf-8").replace("مننه", "ډېره مننه"), "utf-8")
    with pytest.raises(CatalogError, match="stale"):
        Translations.load(locales_dir)
    compile_catalogs(locales_dir)
    assert Translations.load(locales_dir).gettext("ps", "Thank you") == "ډېره مننه"


def test_an_untranslated_plural_form_is_not_mistaken_for_staleness(tmp_path: Path) -> None:
    locales_dir = tmp_path / "locales"
    write_po(locales_dir, "fa_AF", ENTRIES["fa_AF"])
    write_po(locales_dir, "ps", ENTRIES["ps"].replace('msgstr[1] "{n} راپورونه"', 'msgstr[1] ""'))
    compile_catalogs(locales_dir)
    translations = Translations.load(locales_dir)
    assert translations.ngettext("ps", "{n} report", "{n} reports", 2) == "{n} reports"


def test_load_accepts_a_mo_shipped_without_its_po(locales_dir: Path) -> None:
    for locale in ("fa_AF", "ps"):
        (locales_dir / locale / "LC_MESSAGES" / "messages.po").unlink()
    assert Translations.load(locales_dir).gettext("fa_AF", "Thank you") == "تشکر"


def test_load_refuses_a_corrupt_mo(locales_dir: Path) -> None:
    (locales_dir / "ps" / "LC_MESSAGES" / "messages.po").unlink()
    (locales_dir / "ps" / "LC_MESSAGES" / "messages.mo").write_bytes(b"not a catalog")
    with pytest.raises(CatalogError, match="cannot read"):
        Translations.load(locales_dir)


def test_load_refuses_unsupported_locales(locales_dir: Path) -> None:
    with pytest.raises(CatalogError, match="unsupported"):
        Translations.load(locales_dir, locales=("fa",))


def test_constructor_refuses_empty_and_unsupported() -> None:
    with pytest.raises(CatalogError):
        Translations({})
    with pytest.raises(ValueError, match="unsupported"):
        Translations({"de": gettext.NullTranslations()})


# --- compiling ------------------------------------------------------------------------------


def test_compile_writes_mo_beside_each_po_and_leaves_no_temp_files(tmp_path: Path) -> None:
    locales_dir = tmp_path / "locales"
    for locale, entries in ENTRIES.items():
        write_po(locales_dir, locale, entries)
    written = compile_catalogs(locales_dir)
    assert written == sorted(
        locales_dir / locale / "LC_MESSAGES" / "messages.mo" for locale in ENTRIES
    )
    leftovers = [p.name for p in locales_dir.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


def test_compile_leaves_fuzzy_entries_out(tmp_path: Path) -> None:
    locales_dir = tmp_path / "locales"
    write_po(locales_dir, "ps", ENTRIES["ps"] + '\n#, fuzzy\nmsgid "Guess"\nmsgstr "اټکل"\n')
    write_po(locales_dir, "fa_AF", ENTRIES["fa_AF"])
    compile_catalogs(locales_dir)
    (locales_dir / "ps" / "LC_MESSAGES" / "messages.po").unlink()
    assert Translations.load(locales_dir).gettext("ps", "Guess") == "Guess"


def test_compile_refuses_a_po_that_does_not_parse(tmp_path: Path) -> None:
    locales_dir = tmp_path / "locales"
    path = write_po(locales_dir, "ps", 'msgid "Thank you"\nmsgstr "unterminated\n')
    with pytest.raises(CatalogError, match="does not parse") as caught:
        compile_catalogs(locales_dir)
    assert str(path) in str(caught.value)
    assert not path.with_suffix(".mo").exists()


def test_compile_refuses_more_plural_forms_than_the_header_allows(tmp_path: Path) -> None:
    locales_dir = tmp_path / "locales"
    write_po(
        locales_dir,
        "ps",
        'msgid "a"\nmsgid_plural "b"\nmsgstr[0] "x"\nmsgstr[1] "y"\nmsgstr[2] "z"\n',
    )
    with pytest.raises(CatalogError, match="num_plurals"):
        compile_catalogs(locales_dir)


def test_compile_refuses_mismatched_percent_placeholders(tmp_path: Path) -> None:
    locales_dir = tmp_path / "locales"
    path = write_po(
        locales_dir,
        "ps",
        '#, python-format\nmsgid "%(count)d files"\nmsgstr "%(cuont)d فایلونه"\n',
    )
    with pytest.raises(CatalogError, match="cuont") as caught:
        compile_catalogs(locales_dir)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "bad",
    [
        'msgid "Thank you"\nmsgstr "unterminated\n',
        'msgid "Thank you"\nmsgstr unquoted\n',
        'msgid "Thank you"\nmsgstr "a" "b"\n',
        'msgid "Thank you"\nmsgstr "say "hi""\n',
        'msgid "Thank you"\nmsgstr "ok"\ngarbage\n',
    ],
)
def test_po_syntax_errors_catch_what_babel_would_misread(bad: str) -> None:
    assert i18n.po_syntax_errors(bad) != []


def test_po_syntax_accepts_real_catalog_shapes() -> None:
    text = PO_HEADER.format(locale="ps", plural=PLURALS["ps"]) + ENTRIES["ps"]
    text += '\n#~ msgid "old"\n#~ msgstr "زوړ"\n\nmsgctxt "menu"\nmsgid "a \\"q\\" \\\\ b"\n'
    text += 'msgstr ""\n"continued "\n  "line"\n'
    assert i18n.po_syntax_errors(text) == []


def test_compile_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locales_dir = tmp_path / "locales"
    assert i18n.main(["compile", str(locales_dir)]) == 1
    assert "no .po catalogs" in capsys.readouterr().err
    write_po(locales_dir, "ps", ENTRIES["ps"])
    assert i18n.main(["compile", str(locales_dir)]) == 0
    assert (locales_dir / "ps" / "LC_MESSAGES" / "messages.mo").is_file()
    write_po(locales_dir, "fa_AF", 'msgid "x"\nmsgstr "broken\n')
    assert i18n.main(["compile", str(locales_dir)]) == 1
    assert "does not parse" in capsys.readouterr().err


def test_compile_command_line_defaults_to_the_checkout_catalogs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``python -m bot.i18n compile`` with no folder compiles the catalogs the bot loads."""
    assert i18n.main(["compile"]) == 0
    out = capsys.readouterr().out
    for locale in ("fa_AF", "ps"):
        assert str(PACKAGE_LOCALES_DIR / locale / "LC_MESSAGES" / "messages.mo") in out
