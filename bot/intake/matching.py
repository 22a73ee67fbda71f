"""Match what a reporter types against the options of a question, in every language.

Many reporters type rather than press buttons, in any script and with any digits; this module
owns the index from folded option labels (all three languages) to option ids. It must never
guess: ambiguous or unknown text matches nothing, and the flow then asks again.
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


def build_label_index(translations: Translations, locales: Sequence[str]) -> dict[str, set[str]]:
    """Map every option msgid to its folded labels in all languages."""
    index: dict[str, set[str]] = {}
    msgids: set[str] = set()
    for question in QUESTIONS:
        if isinstance(question, FreeText):
            continue
        for option in (*question.all_options(), *options_for(question, {"country": "AF"})):
            msgids.add(option.label)
        for option in options_for(question, {"country": "IR"}):
            msgids.add(option.label)
    for msgid in msgids:
        folded: set[str] = _variants(msgid)
        for locale in locales:
            folded |= _variants(translations.gettext(locale, msgid))
        index[msgid] = folded
    return index


def make_option_matcher(index: Mapping[str, set[str]]) -> OptionMatcher:
    """Return a matcher that picks the one option whose label equals the typed text."""

    def match(options: Sequence[Option], text: str) -> str | None:
        typed = fold_for_matching(text)
        if not typed:
            return None
        hits = [o.id for o in options if typed in index.get(o.label, _variants(o.label))]
        return hits[0] if len(hits) == 1 else None

    return match
