"""The translation gate: the checker on throwaway catalogs, then the repository's own catalogs.

The first part builds a tiny repository in a temporary directory with the real ``babel.cfg`` and
the documented ``pybabel`` commands, breaks its catalogs one way at a time and asserts the gate
names each fault. The last part runs the same gate on ``locales/`` and fails, with the commands
to run, while the catalogs are missing or incomplete: nothing is skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from bot.i18n import catalog_check
from bot.i18n.catalog_check import Problem, check_all, placeholders
from bot.i18n.translations import SUPPORTED_LOCALES, Raw, Translations, compile_catalogs

REPO = Path(__file__).resolve().parent.parent

SOURCES = {
    "bot/strings.py": '''\
"""Strings for the catalog gate tests."""

from bot.i18n import N_

THANKS = N_("Thank you")
# Translators: {name} is the province the reporter chose.
GREETING = N_("Hello {name}")


def count(translations, locale, n):
    # Translators: {n} is a number of reports.
    return translations.nformat(locale, "{n} report", "{n} reports", n)
''',
    "handlers/extra.py": """\
from bot.i18n import N_

# Translators: the name of the service; do not translate.
BRAND = N_("Amanat")
""",
    "tests/ignored.py": 'N_("Tests are not extracted")\n',
}


def plural_forms(locale: str, singular: str, plural: str) -> tuple[str, ...]:
    """Give as many forms as the installed Babel's CLDR data says the locale has.

    The count is Babel's, not ours: Babel 2.19 gives Persian two forms where 2.18 gave one, and
    ``pybabel init`` writes whatever the installed release says (the lock pins it).
    """
    count = get_plural(locale).num_plurals
    return (singular, *[plural] * (count - 1))


TRANSLATED: dict[str, dict[object, object]] = {
    "fa_AF": {
        "Thank you": "تشکر",
        "Hello {name}": "سلام {name}",
        # Dari counts without a plural ending ("۵ گزارش"), so every form reads the same.
        ("{n} report", "{n} reports"): plural_forms("fa_AF", "{n} گزارش", "{n} گزارش"),
        "Amanat": "Amanat",
    },
    "ps": {
        "Thank you": "مننه",
        "Hello {name}": "سلام {name}",
        ("{n} report", "{n} reports"): plural_forms("ps", "{n} راپور", "{n} راپورونه"),
        "Amanat": "Amanat",
    },
}


def pybabel(root: Path, *args: str) -> None:
    """Run pybabel as the maintainers do, from the repository root."""
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def po_path(root: Path, locale: str) -> Path:
    return root / "locales" / locale / "LC_MESSAGES" / "messages.po"


def fill(root: Path, locale: str, translations: dict[object, object]) -> None:
    """Translate a freshly initialised catalog as a translator would."""
    path = po_path(root, locale)
    with path.open("rb") as file:
        catalog = read_po(file)
    for message in catalog:
        if message.id:
            key = tuple(message.id) if isinstance(message.id, (list, tuple)) else message.id
            message.string = translations[key]  # type: ignore[assignment]
    with path.open("wb") as file:
        write_po(file, catalog)


@pytest.fixture(scope="module")
def clean_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build once: sources, the real babel.cfg, an extracted POT, two complete catalogs."""
    root = tmp_path_factory.mktemp("clean") / "repo"
    for relative, text in SOURCES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    shutil.copy(REPO / "babel.cfg", root / "babel.cfg")
    (root / "locales").mkdir()
    pybabel(root, "extract", "-F", "babel.cfg", "-k", "N_", "-c", "Translators:", "-o",
            "locales/messages.pot", ".")  # fmt: skip
    for locale, translations in TRANSLATED.items():
        pybabel(root, "init", "-i", "locales/messages.pot", "-d", "locales", "-l", locale)
        fill(root, locale, translations)
    return root


@pytest.fixture
def repo(clean_repo: Path, tmp_path: Path) -> Path:
    """Give each test its own copy of the clean repository to break."""
    return Path(shutil.copytree(clean_repo, tmp_path / "repo"))


def edit(path: Path, old: str, new: str) -> None:
    """Replace text that must be there, so a changed fixture cannot make a test pass vacuously."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def reasons(problems: list[Problem]) -> str:
    return "\n".join(map(str, problems))


# --- the checker on throwaway catalogs ------------------------------------------------------


def test_clean_catalogs_pass(repo: Path) -> None:
    assert check_all(repo) == []


def test_the_documented_extract_command_picks_up_every_marker(repo: Path) -> None:
    pot = (repo / "locales" / "messages.pot").read_text(encoding="utf-8")
    for msgid in ("Thank you", "Hello {name}", "{n} report", "{n} reports", "Amanat"):
        assert f'"{msgid}"' in pot
    assert "Tests are not extracted" not in pot
    assert "#. Translators: {name} is the province" in pot


def test_babel_cfg_alone_sets_the_keywords_and_comment_tag(repo: Path) -> None:
    pybabel(repo, "extract", "-F", "babel.cfg", "-o", "locales/plain.pot", ".")
    plain = (repo / "locales" / "plain.pot").read_text(encoding="utf-8")
    assert '"{n} reports"' in plain
    assert "#. Translators: {n} is a number of reports." in plain


def test_no_template_means_no_catalogs(repo: Path) -> None:
    (repo / "locales" / "messages.pot").unlink()
    problems = check_all(repo)
    assert len(problems) == 1
    assert "no catalogs: run pybabel extract" in problems[0].reason


def test_missing_babel_cfg_is_reported(repo: Path) -> None:
    (repo / "babel.cfg").unlink()
    assert "missing extraction config" in reasons(check_all(repo))


@pytest.mark.parametrize("locale", ["fa_AF", "ps"])
def test_a_missing_locale_is_reported(repo: Path, locale: str) -> None:
    po_path(repo, locale).unlink()
    problems = check_all(repo)
    assert len(problems) == 1
    assert f"no catalogs for {locale}" in problems[0].reason


def test_untranslated_entries_fail(repo: Path) -> None:
    edit(po_path(repo, "ps"), 'msgstr "مننه"', 'msgstr ""')
    problems = check_all(repo)
    assert [(p.reason, p.msgid) for p in problems] == [("untranslated", "Thank you")]
    assert "ps/LC_MESSAGES/messages.po:" in problems[0].where


def test_a_missing_plural_form_fails(repo: Path) -> None:
    edit(po_path(repo, "ps"), 'msgstr[1] "{n} راپورونه"', 'msgstr[1] ""')
    assert "a plural form is untranslated" in reasons(check_all(repo))


def test_fuzzy_entries_fail(repo: Path) -> None:
    edit(po_path(repo, "fa_AF"), 'msgid "Thank you"', '#, fuzzy\nmsgid "Thank you"')
    problems = check_all(repo)
    assert len(problems) == 1
    assert problems[0].reason.startswith("fuzzy")


def test_an_entry_missing_from_a_catalog_fails(repo: Path) -> None:
    edit(po_path(repo, "fa_AF"), 'msgid "Thank you"\nmsgstr "تشکر"', "")
    assert "missing; run pybabel update" in reasons(check_all(repo))


def test_an_entry_not_in_the_template_fails(repo: Path) -> None:
    path = po_path(repo, "ps")
    path.write_text(
        path.read_text(encoding="utf-8") + '\nmsgid "Gone"\nmsgstr "تللی"\n', encoding="utf-8"
    )
    assert "not in the template (obsolete)" in reasons(check_all(repo))


def test_obsolete_entries_marked_by_pybabel_are_fine(repo: Path) -> None:
    path = po_path(repo, "ps")
    path.write_text(
        path.read_text(encoding="utf-8") + '\n#~ msgid "Gone"\n#~ msgstr "تللی"\n',
        encoding="utf-8",
    )
    assert check_all(repo) == []


def test_placeholder_renamed_in_a_translation_fails(repo: Path) -> None:
    edit(po_path(repo, "fa_AF"), 'msgstr "سلام {name}"', 'msgstr "سلام {nam}"')
    text = reasons(check_all(repo))
    assert "unknown placeholders ['nam']" in text
    assert "placeholders differ" in text


def test_placeholder_dropped_in_a_translation_fails(repo: Path) -> None:
    edit(po_path(repo, "ps"), 'msgstr "سلام {name}"', 'msgstr "سلام"')
    assert "placeholders differ: source ['name'], translation []" in reasons(check_all(repo))


def test_plural_forms_must_keep_the_placeholders(repo: Path) -> None:
    for form in range(get_plural("fa_AF").num_plurals):
        edit(po_path(repo, "fa_AF"), f'msgstr[{form}] "{{n}} گزارش"', f'msgstr[{form}] "چند گزارش"')
    assert "plural forms lose placeholders ['n']" in reasons(check_all(repo))


def test_plural_forms_must_not_invent_placeholders(repo: Path) -> None:
    edit(po_path(repo, "ps"), 'msgstr[1] "{n} راپورونه"', 'msgstr[1] "{count} راپورونه"')
    assert "unknown placeholders ['count']" in reasons(check_all(repo))


def test_a_singular_form_may_spell_out_one(repo: Path) -> None:
    edit(po_path(repo, "ps"), 'msgstr[0] "{n} راپور"', 'msgstr[0] "یو راپور"')
    assert check_all(repo) == []


@pytest.mark.parametrize("bad", ["{name!r}", "{name:>10}", "{0}", "{}", "{name.upper}", "{name"])
def test_placeholders_must_be_plain_names(repo: Path, bad: str) -> None:
    edit(po_path(repo, "ps"), 'msgstr "سلام {name}"', f'msgstr "سلام {bad}"')
    assert check_all(repo) != []


def test_format_specs_in_the_source_fail_too(repo: Path) -> None:
    edit(repo / "bot" / "strings.py", 'N_("Hello {name}")', 'N_("Hello {name:>5}")')
    pybabel(repo, "extract", "-F", "babel.cfg", "-k", "N_", "-c", "Translators:", "-o",
            "locales/messages.pot", ".")  # fmt: skip
    assert "has a format spec or conversion" in reasons(check_all(repo))


def test_a_placeholder_without_a_translators_comment_fails(repo: Path) -> None:
    edit(
        repo / "bot" / "strings.py",
        "# Translators: {name} is the province the reporter chose.\n",
        "",
    )
    pybabel(repo, "extract", "-F", "babel.cfg", "-k", "N_", "-c", "Translators:", "-o",
            "locales/messages.pot", ".")  # fmt: skip
    problems = check_all(repo)
    assert [p.msgid for p in problems] == ["Hello {name}"]
    assert "no '# Translators:' comment" in problems[0].reason


def test_a_new_string_in_the_sources_makes_the_template_stale(repo: Path) -> None:
    path = repo / "handlers" / "extra.py"
    path.write_text(path.read_text(encoding="utf-8") + 'LATER = N_("Added later")\n', "utf-8")
    problems = check_all(repo)
    assert [(p.msgid, p.reason.split(":")[0]) for p in problems] == [("Added later", "stale")]


def test_a_string_literal_passed_to_translations_is_extracted_too(repo: Path) -> None:
    path = repo / "bot" / "strings.py"
    path.write_text(
        path.read_text(encoding="utf-8")
        + '\n\ndef direct(t, locale):\n    return t.gettext(locale, "Direct")\n',
        "utf-8",
    )
    assert [p.msgid for p in check_all(repo)] == ["Direct"]


def test_a_string_removed_from_the_sources_makes_the_template_stale(repo: Path) -> None:
    edit(repo / "bot" / "strings.py", 'THANKS = N_("Thank you")\n', "")
    problems = check_all(repo)
    assert [p.msgid for p in problems] == ["Thank you"]
    assert "no longer in the sources" in problems[0].reason


def test_english_pasted_as_a_translation_fails(repo: Path) -> None:
    edit(po_path(repo, "ps"), 'msgstr "مننه"', 'msgstr "Thank you"')
    assert "translation is the English source copied" in reasons(check_all(repo))


def test_a_plural_header_with_the_wrong_count_fails(repo: Path) -> None:
    path = po_path(repo, "fa_AF")
    needed = get_plural("fa_AF").num_plurals
    wrong = needed + 1
    forms = "".join(f'\nmsgstr[{i}] "{{n}} گزارش"' for i in range(needed, wrong))
    edit(
        path, get_plural("fa_AF").plural_forms, f"nplurals={wrong}; plural=(n > 1 ? {needed} : 0);"
    )
    edit(path, f'msgstr[{needed - 1}] "{{n}} گزارش"', f'msgstr[{needed - 1}] "{{n}} گزارش"{forms}')
    assert f"Plural-Forms has nplurals={wrong}, fa_AF needs {needed}" in reasons(check_all(repo))


def test_a_plural_expression_that_picks_a_missing_form_fails(repo: Path) -> None:
    edit(po_path(repo, "ps"), "plural=(n != 1)", "plural=(n > 5 ? 2 : n != 1)")
    assert "picks a form that does not exist" in reasons(check_all(repo))


def test_the_language_header_must_match_the_directory(repo: Path) -> None:
    edit(po_path(repo, "fa_AF"), "Language: fa_AF", "Language: fa")
    assert "Language header is fa, expected fa_AF" in reasons(check_all(repo))


def test_a_catalog_that_does_not_parse_fails(repo: Path) -> None:
    edit(po_path(repo, "ps"), 'msgstr "مننه"', 'msgstr "مننه')
    assert "does not parse" in reasons(check_all(repo))


def test_an_optional_english_catalog_is_checked_but_may_be_empty(repo: Path) -> None:
    pybabel(repo, "init", "-i", "locales/messages.pot", "-d", "locales", "-l", "en")
    assert check_all(repo) == []
    edit(
        po_path(repo, "en"),
        'msgid "Hello {name}"\nmsgstr ""',
        'msgid "Hello {name}"\nmsgstr "Hi {nme}"',
    )
    assert "unknown placeholders ['nme']" in reasons(check_all(repo))


def test_the_command_line_exit_status(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert catalog_check.main(["--root", str(repo)]) == 0
    assert "catalogs complete" in capsys.readouterr().out
    edit(po_path(repo, "ps"), 'msgstr "مننه"', 'msgstr ""')
    assert catalog_check.main(["--root", str(repo)]) == 1
    err = capsys.readouterr().err
    assert "untranslated [msgid 'Thank you']" in err
    assert "1 translation problem(s)" in err


def test_clean_catalogs_compile_and_load(repo: Path) -> None:
    compile_catalogs(repo / "locales")
    translations = Translations.load(repo / "locales")
    assert translations.nformat("ps", "{n} report", "{n} reports", 2) == "۲ راپورونه"
    assert translations.gettext("fa_AF", "Thank you") == "تشکر"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("plain", set()), ("{a} and {b}", {"a", "b"}), ("{{literal}} {a}", {"a"}), ("{a}{a}", {"a"})],
)
def test_placeholders(text: str, expected: set[str]) -> None:
    assert placeholders(text) == expected


# --- the repository's own catalogs ---------------------------------------------------------


def test_repository_catalogs_pass_the_gate() -> None:
    problems = check_all(REPO)
    assert not problems, f"{len(problems)} translation problem(s):\n{reasons(problems)}"


def test_repository_catalogs_compile_load_and_render_every_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    locales_dir = Path(shutil.copytree(REPO / "locales", tmp_path / "locales"))
    if not list(locales_dir.glob("*/LC_MESSAGES/messages.po")):
        pytest.fail(
            f"no catalogs: run {catalog_check.HOW_TO_EXTRACT}, then pybabel init -l fa_AF / -l ps "
            "and translate"
        )
    compile_catalogs(locales_dir)
    translations = Translations.load(locales_dir)
    with (locales_dir / "messages.pot").open("rb") as file:
        template = read_po(file)
    for message in template:
        if not message.id:
            continue
        ids = list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]
        values: dict[str, object] = {name: Raw("X") for text in ids for name in placeholders(text)}
        for locale in SUPPORTED_LOCALES:
            if len(ids) == 2:
                for n in (0, 1, 2, 5, 11, 100):
                    translations.nformat(locale, ids[0], ids[1], n, **values)
            else:
                rendered = translations.format(locale, ids[0], **values)
                assert rendered.strip(), (locale, ids[0])
    assert "failed to format" not in caplog.text
