"""Test rendering: translation, the reader's digits, bidi isolation and nested messages."""

from __future__ import annotations

from datetime import date

import pytest

from bot.i18n.translations import Translations
from bot.intake.render import render, render_label, render_text
from bot.intake.values import Button, Code, Msg, Raw, Reply, msg

FSI, PDI = "\u2068", "\u2069"


def test_numbers_and_codes_use_the_readers_digits(translations: Translations) -> None:
    progress = msg("Question {number} of {total}", number=3, total=12)
    assert "3" in render(progress, "en", translations)
    dari = render(progress, "fa_AF", translations)
    assert "۳" in dari
    assert "۱۲" in dari
    assert "3" not in dari
    code = render(msg("Your code is:\n{code}", code=Code("1234-5678")), "ps", translations)
    assert f"{FSI}۱۲۳۴-۵۶۷۸{PDI}" in code


def test_latin_values_are_isolated_in_right_to_left_text(translations: Translations) -> None:
    line = render(msg("• {contact}", contact="Hotline +93 700"), "fa_AF", translations)
    assert f"{FSI}Hotline +93 700{PDI}" in line
    assert FSI not in render(msg("• {contact}", contact="Hotline"), "en", translations)


def test_nested_messages_are_translated_not_isolated(translations: Translations) -> None:
    answer = msg("Your answer: {answer}", answer=msg("Iran"))
    dari = render(answer, "fa_AF", translations)
    assert "ایران" in dari
    assert FSI not in dari


def test_forced_locale_wins(translations: Translations) -> None:
    text = render(Msg("Please choose your language.", locale="ps"), "en", translations)
    assert text == translations.gettext("ps", "Please choose your language.")


def test_dates_follow_the_readers_calendar(translations: Translations) -> None:
    saved = msg("Your report of {day} is saved.", day=date(2026, 11, 25))
    assert "25 November 2026" in render(saved, "en", translations)
    assert "قوس" in render(saved, "fa_AF", translations)


def test_compact_replies_are_lists(translations: Translations) -> None:
    parts = (msg("Yes"), msg("No"))
    assert render_text(Reply(parts, compact=True), "en", translations) == "Yes\nNo"
    assert render_text(Reply(parts), "en", translations) == "Yes\n\nNo"


def test_raw_marks_and_literal_labels_stay_as_given(translations: Translations) -> None:
    label = msg("{mark}{number}. {label}", mark=Raw("✅ "), number=1, label=msg("Money"))
    assert render(label, "en", translations) == "✅ 1. Money"
    assert render_label(Button("پښتو", "l:ps"), "en", translations) == "پښتو"


def test_unknown_parameter_types_are_refused(translations: Translations) -> None:
    with pytest.raises(TypeError):
        render(msg("• {contact}", contact=3.5), "en", translations)
