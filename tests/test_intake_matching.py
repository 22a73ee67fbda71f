"""Test that typed answers are understood in any script, spelling or digits."""

from __future__ import annotations

from datetime import date

import pytest

from bot.i18n.translations import SUPPORTED_LOCALES, Translations
from bot.intake.matching import build_label_index, make_option_matcher
from bot.intake.step import step
from bot.intake.values import Draft, Env, FlowConfig, Typed
from bot.questions import AFGHAN_PROVINCES, COUNTRIES


@pytest.fixture(scope="module")
def matcher(translations: Translations):  # type: ignore[no-untyped-def]
    return make_option_matcher(build_label_index(translations, SUPPORTED_LOCALES))


@pytest.mark.parametrize(
    "typed",
    [
        "Kabul",
        "kabul",
        "کابل",  # Persian kaf
        "كابل",  # Arabic kaf
        "کابل\u200f",  # a stray right-to-left mark
        " کابل ",
    ],
)
def test_a_province_is_recognised_however_it_is_typed(matcher, typed: str) -> None:  # type: ignore[no-untyped-def]
    assert matcher(AFGHAN_PROVINCES, typed) == "kabul"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("هرات", "herat"), ("ننګرهار", "nangarhar"), ("ننگرهار", "nangarhar"), ("Mazar", None)],
)
def test_pashto_and_dari_spellings_match_and_unknown_text_does_not(
    matcher,
    typed: str,
    expected: str | None,  # type: ignore[no-untyped-def]
) -> None:
    assert matcher(AFGHAN_PROVINCES, typed) == expected


def test_country_names_in_each_language(matcher, translations: Translations) -> None:  # type: ignore[no-untyped-def]
    for locale in SUPPORTED_LOCALES:
        assert matcher(COUNTRIES, translations.gettext(locale, "Iran")) == "IR"


def test_the_flow_takes_a_typed_province_in_arabic_letters(matcher) -> None:  # type: ignore[no-untyped-def]
    config = FlowConfig(match_option=matcher)
    draft = Draft(
        locale="fa_AF",
        position="province",
        draft_id="R1",
        answers={"danger_now": "no", "incident": "other", "country": "AF"},
        seq=4,
    )
    env = Env(today=date(2026, 11, 25), fresh_draft_id="R2")
    outcome = step(draft, Typed("كابل"), env, config)
    assert outcome.draft.answers["province"] == "kabul"
    outcome = step(
        outcome.draft, Typed("۱"), env, config
    )  # and a number typed in Persian digits answers the next question
    assert outcome.draft.answers["when"] == "this_week"
