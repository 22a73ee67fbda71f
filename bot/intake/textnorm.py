"""Own the normalisation of what reporters type in Dari, Pashto or English.

Reporters type on Persian, Arabic, Pashto, Urdu or Latin keyboards, paste from other apps and
mix scripts, so the same word reaches us in many encodings: Arabic yeh and kaf for Persian
ones, three digit systems, presentation forms, stray bidi marks, tatweel, doubled ZWNJs.
:func:`normalise_input` makes that text canonical without changing what it says (it is what
gets sealed and what admins read); :func:`fold_for_matching` builds a much looser key that is
only for comparing a typed answer with option names, never for storing.

This module must never drop letters that carry meaning: Pashto letters (ټ ډ ړ ږ ښ ګ ڼ ې ۍ ئ
ځ څ) survive :func:`normalise_input`, and in Pashto text the Arabic yeh ي (/i/, e.g. سړي "men")
is not merged into ی (/ay/, سړی "man"). It holds no state and logs nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["fold_for_matching", "normalise_input", "strip_control"]

ZWNJ: Final = "\u200c"
ZWJ: Final = "\u200d"

# Bidi controls: ALM, LRM, RLM, embeddings and overrides (LRE RLE PDF LRO RLO), isolates.
_BIDI_CONTROLS: Final = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Invisible characters other than ZWNJ and ZWJ: soft hyphen, Mongolian vowel separator, ZWSP,
# word joiner, invisible operators, deprecated format controls, BOM / zero-width no-break space.
_ZERO_WIDTH: Final = (
    "\u00ad\u180e\u200b\u2060\u2061\u2062\u2063\u2064"
    + "".join(map(chr, range(0x206A, 0x2070)))
    + "\ufeff"
)
_DROP_CONTROLS: Final[Mapping[int, None]] = MappingProxyType(
    dict.fromkeys(map(ord, _BIDI_CONTROLS + _ZERO_WIDTH))
)

TATWEEL: Final = "\u0640"

# Letters only found in Pashto (ئ is shared with Dari, so it does not count).
PASHTO_LETTERS: Final = frozenset("ټډړږښګڼېۍځڅ")

_PERSIAN_DIGITS: Final = "۰۱۲۳۴۵۶۷۸۹"
_ARABIC_INDIC_DIGITS: Final = "٠١٢٣٤٥٦٧٨٩"

_COMMON_LETTERS: Final[tuple[tuple[str, str], ...]] = (
    ("\u0649", "\u06cc"),  # ى ALEF MAKSURA -> ی FARSI YEH (same dotless shape in Dari and Pashto)
    ("\u0643", "\u06a9"),  # ك ARABIC KAF -> ک KEHEH (the kaf of Persian and Pashto)
    ("\u06aa", "\u06a9"),  # ڪ SWASH KAF -> ک
    ("\u06d5", "\u0647"),  # ە AE (Kurdish/Uyghur keyboards) -> ه
    ("\u06c1", "\u0647"),  # ہ HEH GOAL (Urdu keyboards) -> ه
    ("\u06be", "\u0647"),  # ھ HEH DOACHASHMEE (Urdu keyboards) -> ه
    ("\u06c2", "\u06c0"),  # ۂ HEH GOAL WITH HAMZA -> ۀ (the ezafe heh Dari writes); ة is kept
)
_ARABIC_YEH: Final = ("\u064a", "\u06cc")  # ي -> ی, in Dari only
_DIGITS: Final[tuple[tuple[str, str], ...]] = tuple(
    zip(_PERSIAN_DIGITS + _ARABIC_INDIC_DIGITS, "0123456789" * 2, strict=True)
)


def _table(*pairs: tuple[str, str]) -> Mapping[int, str]:
    """Build an immutable str.translate table from (source, replacement) pairs."""
    return MappingProxyType({ord(source): target for source, target in pairs})


_DARI_TABLE: Final = _table(*_COMMON_LETTERS, _ARABIC_YEH, *_DIGITS)
_PASHTO_TABLE: Final = _table(*_COMMON_LETTERS, *_DIGITS)

# Presentation forms (Arabic A and B) and half/full-width forms: compatibility characters that
# old keyboards, PDFs and some fonts produce; NFKC maps them to the letters and digits they show.
# NFKC is applied to these blocks only: over whole texts it would also rewrite emoji such as ℹ.
_COMPATIBILITY_BLOCKS: Final = re.compile("[\ufb50-\ufdff\ufe70-\ufefe\uff00-\uffef]")
_NEWLINES: Final = re.compile("\r\n|[\r\u2028\u2029\x85\x0b\x0c]")
_ZWNJ_RUN: Final = re.compile(ZWNJ + "{2,}")
_ZWNJ_AT_SPACE: Final = re.compile(ZWNJ + "*([ \n]+)" + ZWNJ + "*")
_SPACE_RUN: Final = re.compile(" {2,}")
_BLANK_LINES: Final = re.compile("\n{3,}")

_FOLD_LETTERS: Final = _table(
    ("\u0671", "\u0627"),  # ٱ ALEF WASLA -> ا (أ إ آ lose their marks in NFD already)
    ("\u06ab", "\u06af"),  # ګ Pashto gaf -> گ
    ("\u0643", "\u06a9"),  # ك -> ک
    ("\u064a", "\u06cc"),  # ي -> ی
    ("\u06d0", "\u06cc"),  # ې -> ی
    ("\u06cd", "\u06cc"),  # ۍ -> ی
    ("\u0649", "\u06cc"),  # ى -> ی
    ("\u06d5", "\u0647"),  # ە (ۀ after NFD) -> ه
    ("\u0629", "\u0647"),  # ة -> ه
    ("\u0621", ""),  # standalone hamza: spelled or omitted at will
    # Pashto letters typed on a Dari keyboard lose their ring or dot: fold them together.
    ("\u067c", "\u062a"),  # ټ -> ت
    ("\u0689", "\u062f"),  # ډ -> د
    ("\u0693", "\u0631"),  # ړ -> ر
    ("\u06bc", "\u0646"),  # ڼ -> ن
    ("\u069a", "\u0634"),  # ښ -> ش
    ("\u0696", "\u0698"),  # ږ -> ژ
)


def _is_pictographic(char: str) -> bool:
    """Tell whether a character can sit on either side of an emoji ZWJ sequence."""
    return (
        unicodedata.category(char) == "So"
        or char == "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
    )


def strip_control(text: str) -> str:
    """Remove bidi controls and zero-width characters, keeping ZWNJ (a letter-shaping mark).

    ZWJ is removed too, except between two pictographs, where it joins an emoji sequence
    (👨‍👩‍👧) rather than hiding in words.
    """
    text = text.translate(_DROP_CONTROLS)
    if ZWJ not in text:
        return text
    kept: list[str] = []
    for index, char in enumerate(text):
        if char == ZWJ and not (
            0 < index < len(text) - 1
            and _is_pictographic(text[index - 1])
            and _is_pictographic(text[index + 1])
        ):
            continue
        kept.append(char)
    return "".join(kept)


def _fold_compatibility_forms(text: str) -> str:
    return _COMPATIBILITY_BLOCKS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def _drop_other_controls(text: str) -> str:
    """Turn tabs into spaces and drop C0/C1 control characters other than newline."""
    return "".join(
        " " if char == "\t" else char
        for char in text
        if char in "\t\n" or unicodedata.category(char) != "Cc"
    )


def _normalise_spaces(text: str) -> str:
    """Make every space a plain space, trim lines, keep at most one blank line in a row."""
    text = "".join(" " if unicodedata.category(char) == "Zs" else char for char in text)
    text = _ZWNJ_RUN.sub(ZWNJ, text)
    text = _ZWNJ_AT_SPACE.sub(lambda m: m.group(1), text)
    lines = [_SPACE_RUN.sub(" ", line).strip(" " + ZWNJ) for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def normalise_input(text: str, *, locale: str | None = None) -> str:
    """Make typed text canonical: one encoding per letter, ASCII digits, clean spacing.

    - NFC, plus NFKC for Arabic presentation forms and full-width forms only;
    - Arabic yeh ي ى -> Persian yeh ی, Arabic kaf ك -> ک, Urdu/Kurdish heh forms -> ه;
      teh marbuta ة and ezafe heh ۀ are kept;
    - Persian ۰-۹ and Arabic-Indic ٠-٩ digits -> ASCII;
    - bidi controls, zero-width characters, tatweel and control characters removed;
    - ZWNJ runs collapsed, ZWNJ next to a space or line end removed;
    - spaces unified and collapsed, lines trimmed, at most one blank line kept.

    Pashto text keeps ي apart from ی because Pashto spells different words with them: the text
    counts as Pashto when ``locale == "ps"`` or when it contains a letter only Pashto uses.
    Pashto ې ۍ ئ and the other Pashto letters are never changed.
    """
    text = strip_control(text).replace(TATWEEL, "")
    text = _drop_other_controls(_NEWLINES.sub("\n", text))
    text = unicodedata.normalize("NFC", _fold_compatibility_forms(text))
    pashto = locale == "ps" or not PASHTO_LETTERS.isdisjoint(text)
    text = text.translate(_PASHTO_TABLE if pashto else _DARI_TABLE)
    # ی + combining hamza has no precomposed form in NFC; the letter everyone types is ئ.
    text = unicodedata.normalize("NFC", text.replace("\u06cc\u0654", "\u0626"))
    return _normalise_spaces(text)


def fold_for_matching(text: str) -> str:
    """Reduce text to a loose key for comparing a typed answer with option names; never store it.

    On top of :func:`normalise_input`: casefold; strip diacritics and hamza marks (so أ إ آ and
    ٱ become ا, ئ and ؤ become ی and و); unify every yeh (ي ی ې ۍ ى), ګ with گ, ة and ۀ with ه;
    fold the ringed and dotted Pashto letters (ټ ډ ړ ڼ ښ ږ) into the letters a Dari keyboard
    offers; drop spaces, ZWNJ, punctuation (hyphens included) and other invisible characters.
    """
    text = normalise_input(text).casefold()
    text = unicodedata.normalize("NFD", text)
    text = "".join(char for char in text if unicodedata.category(char) != "Mn")
    text = text.translate(_FOLD_LETTERS)
    text = "".join(
        char for char in text if not char.isspace() and unicodedata.category(char)[0] not in "PC"
    )
    return unicodedata.normalize("NFC", text)
