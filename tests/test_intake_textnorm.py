"""Tests for bot.intake.textnorm: typed Dari, Pashto and English made canonical, no letter lost."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.intake.textnorm import PASHTO_LETTERS, fold_for_matching, normalise_input, strip_control

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
ZWNJ = "\u200c"
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

# Text that looks like what reporters send: Arabic-script letters and marks, the Persian and
# Pashto extras, presentation forms, digits of three systems, spaces, ZWNJ/ZWJ, bidi controls.
arabic_script = st.characters(min_codepoint=0x0600, max_codepoint=0x06FF)
presentation_forms = st.characters(min_codepoint=0xFB50, max_codepoint=0xFEFC)
special = st.sampled_from(
    list(
        " \t\n\r\u00a0\u2009\u202f\u3000\u0640\u200b\u200c\u200d\ufeff\u00ad\u2028"
        + BIDI_CONTROLS
        + PERSIAN_DIGITS
        + ARABIC_INDIC_DIGITS
        + "0123456789-.,!?؟،"
        + "".join(PASHTO_LETTERS)
        + "يىكۀةئؤأإآٱهەہھ"
    )
)
typed_text = st.text(
    st.one_of(arabic_script, presentation_forms, special, st.characters()), max_size=60
)
digit_strings = st.text(st.sampled_from("0123456789"), min_size=1, max_size=20)


# --- normalise_input ------------------------------------------------------------------------


@given(typed_text)
@example("ي\u0654 ه\u0654")
@example("\u200c \u200c")
@example("ﻯ\u0654")
@example("a\n \u0301")
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise_input(text)
    assert normalise_input(once) == once


@given(typed_text, st.sampled_from(["fa_AF", "ps", "en", None]))
def test_normalise_is_idempotent_for_every_locale(text: str, locale: str | None) -> None:
    once = normalise_input(text, locale=locale)
    assert normalise_input(once, locale=locale) == once


@given(typed_text)
def test_normalised_text_is_nfc_and_has_no_stray_controls(text: str) -> None:
    result = normalise_input(text)
    assert unicodedata.is_normalized("NFC", result)
    assert not set(result) & set(BIDI_CONTROLS + "\u0640\u200b\ufeff\u00ad\r\t")
    assert not set(result) & set(PERSIAN_DIGITS + ARABIC_INDIC_DIGITS)
    assert "  " not in result
    assert ZWNJ * 2 not in result
    assert result == result.strip()
    assert not result.startswith(ZWNJ)
    assert not result.endswith(ZWNJ)


@given(digit_strings)
def test_persian_arabic_and_ascii_digits_are_equal_after_normalising(digits: str) -> None:
    persian = digits.translate(str.maketrans("0123456789", PERSIAN_DIGITS))
    arabic = digits.translate(str.maketrans("0123456789", ARABIC_INDIC_DIGITS))
    assert normalise_input(persian) == normalise_input(arabic) == normalise_input(digits) == digits


def test_receipt_code_in_any_digits_becomes_ascii() -> None:
    assert normalise_input("\u200f۱۲۳۴-٥٦٧٨\u200e") == "1234-5678"


@given(st.text(st.sampled_from([*sorted(PASHTO_LETTERS), " ", "ا", "ی", "ي"]), max_size=40))
def test_pashto_letters_are_preserved(text: str) -> None:
    result = normalise_input(text)
    for letter in PASHTO_LETTERS:
        assert result.count(letter) == text.count(letter)


@pytest.mark.parametrize(
    "word", ["لیندۍ", "سړی", "ښځې", "ډېر", "ټوپک", "ګران", "ږیره", "ځای", "څه"]
)
def test_pashto_words_survive_unchanged(word: str) -> None:
    assert normalise_input(word) == word
    assert normalise_input(word, locale="fa_AF") == word


def test_pashto_ye_forms_are_not_turned_into_persian_yeh() -> None:
    assert normalise_input("ې ۍ ئ", locale="ps") == "ې ۍ ئ"
    assert normalise_input("ې ۍ ئ") == "ې ۍ ئ"


def test_arabic_yeh_becomes_persian_yeh_in_dari() -> None:
    assert normalise_input("علي") == "علی"
    assert normalise_input("علي", locale="fa_AF") == "علی"
    assert normalise_input("موسى") == "موسی"


def test_arabic_yeh_is_kept_in_pashto_where_it_spells_other_words() -> None:
    # سړي "men" and سړی "man" differ only by ي / ی.
    assert normalise_input("سړي او سړی") == "سړي او سړی"
    assert normalise_input("سپي", locale="ps") == "سپي"
    # ى (alef maksura) is never a Pashto letter of its own: it becomes ی everywhere.
    assert normalise_input("سړى", locale="ps") == "سړی"


def test_arabic_kaf_and_heh_variants_become_persian_forms() -> None:
    assert normalise_input("كابل") == "کابل"
    assert normalise_input("ڪابل") == "کابل"
    assert normalise_input("ھرات") == "هرات"
    assert normalise_input("ہرات") == "هرات"
    assert normalise_input("هەرات") == "ههرات"


def test_teh_marbuta_and_ezafe_heh_are_kept() -> None:
    assert normalise_input("مدرسة") == "مدرسة"
    assert normalise_input("خانۀ من") == "خانۀ من"
    assert normalise_input("خانه\u0654 من") == "خانه\u0654 من"  # no precomposed form exists


def test_yeh_with_combining_hamza_becomes_the_letter_everyone_types() -> None:
    assert normalise_input("ي\u0654") == "ئ"
    assert normalise_input("ی\u0654") == "ئ"


def test_presentation_forms_become_letters() -> None:
    assert normalise_input("ﻛﺘﺎﺏ") == "کتاب"
    assert normalise_input("ﻻ") == "لا"
    assert normalise_input("ﯾ") == "ی"  # FARSI YEH initial form
    assert normalise_input("１２３") == "123"


def test_emoji_are_not_rewritten() -> None:
    family = "👨\u200d👩\u200d👧"
    assert normalise_input(f"سلام {family}") == f"سلام {family}"
    assert normalise_input("ℹ️ ©") == "ℹ️ ©"


def test_tatweel_and_bidi_controls_are_removed() -> None:
    assert normalise_input("ســـلام") == "سلام"
    assert normalise_input("\u202bسلام\u202c \u2067Ali\u2069") == "سلام Ali"


def test_zwnj_runs_collapse_and_zwnj_next_to_spaces_disappears() -> None:
    assert normalise_input(f"می{ZWNJ}{ZWNJ}{ZWNJ}خواهم") == f"می{ZWNJ}خواهم"
    assert normalise_input(f"کتاب {ZWNJ}ها") == "کتاب ها"
    assert normalise_input(f"کتاب{ZWNJ} ها") == "کتاب ها"
    assert normalise_input(f"{ZWNJ}سلام{ZWNJ}") == "سلام"
    assert normalise_input(f"سلام{ZWNJ}\nدنیا") == "سلام\nدنیا"


def test_whitespace_is_unified_but_paragraphs_are_kept() -> None:
    assert normalise_input("  a\u00a0\u00a0b\tc  ") == "a b c"
    assert normalise_input("one\r\ntwo\rthree\u2028four") == "one\ntwo\nthree\nfour"
    assert normalise_input("para one  \n\n\n\n  para two") == "para one\n\npara two"
    assert normalise_input("a\x00b\x07c") == "abc"


def test_zwj_outside_emoji_is_removed() -> None:
    assert strip_control("a\u200db") == "ab"
    assert strip_control("\u200d👍") == "👍"


def test_strip_control_keeps_zwnj_and_removes_the_rest() -> None:
    text = f"می{ZWNJ}خواهم\u200b\u200e\u2066x\u2069\ufeff\u00ad\u2060"
    assert strip_control(text) == f"می{ZWNJ}خواهمx"


def test_latin_text_is_left_alone() -> None:
    assert normalise_input("Hello, World! 42") == "Hello, World! 42"


# --- fold_for_matching ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "option"),
    [
        ("كندھار", "کندهار"),
        ("  کندهار ", "کندهار"),
        ("ننگرهار", "ننګرهار"),
        ("إيران", "ایران"),
        ("آیینه", "آئینه"),
        ("ٱفغانستان", "افغانستان"),
        ("لیندی", "لیندۍ"),
        ("سړي", "سړی"),
        ("ډېر", "دیر"),
        ("ټوپک", "توپک"),
        ("ښار", "شار"),
        ("مدرسة", "مدرسه"),
        ("خانۀ", "خانه"),
        ("اجزاء", "اجزا"),
        ("می خواهم", f"می{ZWNJ}خواهم"),
        ("Prefer not to say", "prefer-not-to-say"),
        ("RUSSIA", "Russia"),
        ("Café", "cafe"),
        ("۱۲۳", "123"),
        ("بلی!", "بلی"),
        ("آری؟", "آری"),
    ],
)
def test_fold_matches_spelling_variants(typed: str, option: str) -> None:
    assert fold_for_matching(typed) == fold_for_matching(option)


@pytest.mark.parametrize(
    ("left", "right"),
    [("کابل", "بابل"), ("ایران", "عراق"), ("بلی", "نه"), ("گ", "ک"), ("1", "2")],
)
def test_fold_keeps_different_words_apart(left: str, right: str) -> None:
    assert fold_for_matching(left) != fold_for_matching(right)


@given(typed_text)
def test_fold_is_idempotent_and_has_no_spaces(text: str) -> None:
    folded = fold_for_matching(text)
    assert fold_for_matching(folded) == folded
    assert not any(char.isspace() or char == ZWNJ for char in folded)


def test_fold_does_not_change_what_normalise_keeps() -> None:
    # Folding is for matching only: the stored text still has its Pashto letters.
    assert normalise_input("ننګرهار") == "ننګرهار"
    assert fold_for_matching("ننګرهار") == "ننگرهار"
