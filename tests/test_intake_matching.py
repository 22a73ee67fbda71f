"""Test that typed answers are understood in any script, spelling or digits."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bot.app import Services
from bot.i18n.translations import SUPPORTED_LOCALES, Translations
from bot.intake.matching import build_label_index, make_option_matcher
from bot.intake.step import step
from bot.intake.texts import ANSWER_WITH_BUTTONS, EMERGENCY
from bot.intake.values import Draft, Env, FlowConfig, Typed
from bot.questions import (
    AFGHAN_PROVINCES,
    CHANNELS,
    COUNTRIES,
    DESTINATIONS,
    IRANIAN_PROVINCES,
    QUESTION_INDEX,
    QUESTIONS,
    Option,
    Question,
    options_for,
)
from tests.test_intake_service import Person, current_question, texts

TYPE_ANSWER = (
    "Type your answer (at most {limit} letters), or send a voice note. "
    "You can also send a photo or a file."
)


def q_options(question: Question) -> tuple[Option, ...]:
    """The options a question shows (none for typed answers)."""
    return options_for(question, {})


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


# --- everyday words (issue 13): yes and no, places by the names people use ------------------

YES_NO_QUESTIONS = [q for q in QUESTIONS if {"yes", "no"} <= {o.id for o in q_options(q)}]


@pytest.mark.parametrize("question", YES_NO_QUESTIONS, ids=lambda q: q.id)
@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        *[(word, "yes") for word in ("بلی", "بله", "آری", "هو", "هاو", "ها", "yes", "Yes")],
        *[(word, "no") for word in ("نه", "نخیر", "no", "NO")],
        ("بلي", "yes"),  # Arabic yeh from an Arabic keyboard
        (" بله‌ ", "yes"),  # stray spaces and a half-space
    ],
)
def test_every_yes_no_question_takes_the_common_words(
    matcher,  # type: ignore[no-untyped-def]
    question: Question,
    typed: str,
    expected: str,
) -> None:
    assert matcher(q_options(question), typed) == expected


@pytest.mark.parametrize("question", YES_NO_QUESTIONS, ids=lambda q: q.id)
@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_first_word_of_a_yes_or_no_button_answers_it(
    matcher,  # type: ignore[no-untyped-def]
    translations: Translations,
    question: Question,
    locale: str,
) -> None:
    """«بلی» answers a button that reads «بلی، در خطر هستم»: people type the first word."""
    for option in q_options(question):
        if option.id not in ("yes", "no"):
            continue
        first_word = re.split("[،,]", translations.gettext(locale, option.label))[0]
        assert matcher(q_options(question), first_word) == option.id, (locale, first_word)


def test_bli_typed_at_the_danger_question_means_in_danger(matcher) -> None:  # type: ignore[no-untyped-def]
    danger = QUESTION_INDEX["danger_now"]
    assert matcher(q_options(danger), "بلی") == "yes"
    assert matcher(q_options(danger), "نخیر") == "no"
    assert matcher(q_options(danger), "نمی‌دانم") is None  # not a yes or no: asked again


@pytest.mark.parametrize(
    ("options", "typed", "expected"),
    [
        (AFGHAN_PROVINCES, "وردک", "wardak"),
        (AFGHAN_PROVINCES, "وردګ", "wardak"),
        (AFGHAN_PROVINCES, "میدان وردک", "wardak"),
        (AFGHAN_PROVINCES, "اروزگان", "uruzgan"),
        (AFGHAN_PROVINCES, "اروزګان", "uruzgan"),
        (AFGHAN_PROVINCES, "ارزگان", "uruzgan"),
        (COUNTRIES, "روس", "RU"),
        (COUNTRIES, "روسیه", "RU"),
        (DESTINATIONS, "روس", "russia_ukraine"),
        (IRANIAN_PROVINCES, "زاهدان", "sistan_baluchestan"),
        (IRANIAN_PROVINCES, "Zahedan", "sistan_baluchestan"),
        (IRANIAN_PROVINCES, "مشهد", "khorasan_razavi"),  # the city in brackets, as before
        (IRANIAN_PROVINCES, "سیستان و بلوچستان", "sistan_baluchestan"),
        (CHANNELS, "imo", "social_media"),
        (CHANNELS, "ایمو", "social_media"),
        (CHANNELS, "واټساپ", "social_media"),
    ],
)
def test_places_are_recognised_by_their_everyday_names(
    matcher,  # type: ignore[no-untyped-def]
    options: tuple[Option, ...],
    typed: str,
    expected: str,
) -> None:
    assert matcher(options, typed) == expected


def test_every_typed_word_names_exactly_its_own_option(matcher) -> None:  # type: ignore[no-untyped-def]
    """Synonyms are data: one that also named another option (or its label) would be a guess."""
    for question in QUESTIONS:
        for answers in ({}, {"country": "AF"}, {"country": "IR"}):
            options = options_for(question, answers)
            for option in options:
                for word in option.typed:
                    assert matcher(options, word) == option.id, (question.id, word)


def test_the_flow_takes_a_typed_everyday_place_name(matcher) -> None:  # type: ignore[no-untyped-def]
    config = FlowConfig(match_option=matcher)
    draft = Draft(
        locale="ps",
        position="province",
        draft_id="R1",
        answers={"danger_now": "no", "incident": "other", "country": "AF"},
        seq=4,
    )
    env = Env(today=date(2026, 11, 25), fresh_draft_id="R2")
    assert step(draft, Typed("وردک"), env, config).draft.answers["province"] == "wardak"


def test_the_answer_limit_reads_as_afghans_write_it(translations: Translations) -> None:
    """«تا ۳۰۰۰ حرف», not «حد اکثر ۳٬۰۰۰ حرف»: plain words and no separator below 10,000."""
    dari = translations.format("fa_AF", TYPE_ANSWER, limit=3000)
    assert "(تا ۳۰۰۰ حرف)" in dari
    assert "۳٬۰۰۰" not in translations.format("ps", TYPE_ANSWER, limit=3000)


async def test_a_reporter_who_types_bli_is_understood_by_the_service(services: Services) -> None:
    """Through the whole service: «بلی» at "are you in danger now?" is a yes, not a puzzle."""
    person = Person(services, hint="fa_AF")
    await person.begin()
    await person.press("m:report")
    assert current_question(person) == "danger_now"
    handled = await person.send(Typed("بلی"))
    assert ANSWER_WITH_BUTTONS not in texts(handled)
    assert EMERGENCY in texts(handled)
    assert current_question(person) == "incident"
    await person.send(Typed("هو"))  # not an option of "what happened?": asked again
    assert current_question(person) == "incident"
