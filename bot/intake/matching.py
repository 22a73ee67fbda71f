"""Match what a reporter types against the options of a question, in every language.

Many reporters type rather than press buttons, in any script and with any digits; this module
owns the index from folded option labels (all three languages) and the everyday words each
option lists in ``Option.typed`` (bot/questions.py: "بله" for yes, "وردک" for Wardak) to
option ids. Words people type are data there, never special cases here. It must never guess:
ambiguous or unknown text matches nothing, and the flow then asks again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.i18n.translations import Translations
from bot.intake.textnorm import fold_for_matching
from bot.intake.values import OptionMatcher
from bot.questions import QUESTIONS, FreeText, Option, options_for

_PARENTHESES = re.compile(r"\(([^)]*)\)")


def _variants(label: str) -> set[str]:
    """Return the label, the label without its parenthesis, and the parenthesis alone."""
    variants = {label, _PARENTHESES.sub("", label)}
    variants.update(_PARENTHESES.findall(label))
    return {fold_for_matching(v) for v in variants if v.strip()}


def _typed_words(option: Option) -> set[str]:
    """Fold the other words a reporter may type for an option, as typed text is folded."""
    return {fold_for_matching(word) for word in option.typed if word.strip()}


def build_label_index(translations: Translations, locales: Sequence[str]) -> dict[str, set[str]]:
    """Map every option msgid to its folded labels in all languages and its typed words."""
    index: dict[str, set[str]] = {}
    options: list[Option] = []
    for question in QUESTIONS:
        if isinstance(question, FreeText):
            continue
        options.extend(question.all_options())
        for country in ("AF", "IR"):
            options.extend(options_for(question, {"country": country}))
    for option in options:
        folded = index.get(option.label)
        if folded is None:
            folded = _variants(option.label)
            for locale in locales:
                folded |= _variants(translations.gettext(locale, option.label))
            index[option.label] = folded
        folded |= _typed_words(option)
    return index


def make_option_matcher(index: Mapping[str, set[str]]) -> OptionMatcher:
    """Return a matcher that picks the one option whose label or typed word equals the text."""

    def keys(option: Option) -> set[str]:
        known = index.get(option.label)
        return known if known is not None else _variants(option.label) | _typed_words(option)

    def match(options: Sequence[Option], text: str) -> str | None:
        typed = fold_for_matching(text)
        if not typed:
            return None
        hits = [o.id for o in options if typed in keys(o)]
        return hits[0] if len(hits) == 1 else None

    return match
