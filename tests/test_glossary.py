"""Check that translations use the fixed terms of docs/glossary.md wherever the source does.

A reader who meets two words for one thing wonders whether they are two things; the glossary
fixes one word per idea, and this test holds every catalog entry to it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

LOCALES = Path(__file__).resolve().parent.parent / "locales"
GLOSSARY = Path(__file__).resolve().parent.parent / "docs" / "glossary.md"

# English pattern in the source -> the stem each translation must contain (docs/glossary.md).
TERMS: dict[str, dict[str, str]] = {
    r"\breports?\b": {"fa_AF": "گزارش", "ps": "راپور"},
    r"\bTaliban\b": {"fa_AF": "طالبان", "ps": "طالبان"},
    r"\bprovinces?\b": {"fa_AF": "ولایت", "ps": "ولایت"},
    r"\bdanger\b": {"fa_AF": "خطر", "ps": "خطر"},
    r"\bcode\b": {"fa_AF": "کود", "ps": "کوډ"},
    r"\bdelete\b": {"fa_AF": "پاک", "ps": "پاک"},
    r"\barmed group\b": {"fa_AF": "گروه مسلح", "ps": "وسله وال"},
    r"\blocked\b": {"fa_AF": "قفل", "ps": "قلف"},
    r"\bpartner organisations?\b": {"fa_AF": "موسسه", "ps": "موسس"},
    r"\bteam\b": {"fa_AF": "تیم", "ps": "ټیم"},
    r"\bsmuggler\b": {"fa_AF": "قاچاقبر", "ps": "قاچاقبر"},
    r"\bpolice\b": {"fa_AF": "پولیس", "ps": "پولیس"},
    r"\bvoice notes?\b": {"fa_AF": "صوتی", "ps": "غږیز"},  # plurals: پیام‌های صوتی
    r"\bintelligence service\b": {"fa_AF": "امنیت ملی", "ps": "امنیت ملي"},
    r"\bArbaki\b": {"fa_AF": "اربکی", "ps": "اربکي"},
    r"\bbots?\b": {"fa_AF": "ربات", "ps": "بوټ"},
}

# Iranian-Persian words the glossary rules out in Afghan Dari.
NOT_AFGHAN_DARI = ("پلیس", "ارتش", "فوری", "قاچاقچی", "استان", "فروردین", "تلفن")


def _entries(locale: str) -> list[tuple[str, str]]:
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    return [(str(m.id), str(m.string)) for m in catalog if m.id and isinstance(m.id, str)]


def test_the_glossary_names_every_checked_term() -> None:
    text = GLOSSARY.read_text(encoding="utf-8")
    for stems in TERMS.values():
        for stem in stems.values():
            assert stem in text, f"{stem} is checked here but missing from docs/glossary.md"


@pytest.mark.parametrize("locale", ["fa_AF", "ps"])
def test_translations_use_the_glossary_terms(locale: str) -> None:
    misses = []
    for msgid, msgstr in _entries(locale):
        for pattern, stems in TERMS.items():
            if re.search(pattern, msgid, re.IGNORECASE) and stems[locale] not in msgstr:
                misses.append(f"{pattern!r} → {stems[locale]!r} missing in: {msgid!r} = {msgstr!r}")
    assert not misses, "\n".join(misses)


def test_dari_avoids_iranian_words() -> None:
    found = [
        (word, msgid)
        for msgid, msgstr in _entries("fa_AF")
        for word in NOT_AFGHAN_DARI
        if word in msgstr
    ]
    assert not found, found
