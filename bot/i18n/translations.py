"""Own Amanat's language machinery: locales, compiled catalogs, digits and bidi-safe formatting.

This module maps Telegram language codes to the three supported locales (Dari ``fa_AF``,
Pashto ``ps``, English ``en``), loads the compiled gettext catalogs once at start (failing
loudly when one is missing or stale), renders numbers in the reader's digits and isolates
interpolated values so Latin names and codes do not scramble right-to-left text.

It must never hold a global "current translations" object (the composition root builds one
:class:`Translations` and injects it), never guess a locale Babel would mis-negotiate, and never
put user content into an exception message or a log line. The only module-level mutable
object is the :data:`current_locale` context variable, which is per task by construction.

Marking strings: mark every user-facing literal with :func:`N_` where it is defined (flow
tables, handler constants) and pass the marked constant to :class:`Translations`.
``babel.cfg`` also extracts literals passed straight to ``gettext(locale, "...")``,
``ngettext(locale, "...", "...", n)``, ``format(locale, "...", ...)`` and
``nformat(locale, "...", "...", n, ...)`` so nothing user-facing escapes the catalogs.
"""

from __future__ import annotations

import argparse
import gettext as _gettext
import io
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Final

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import PoFileError, read_po
from babel.numbers import format_decimal

from bot.settings import PACKAGE_LOCALES_DIR

__all__ = [
    "GROUPED_FROM",
    "LANGUAGE_NAMES",
    "N_",
    "RTL_LOCALES",
    "SUPPORTED_LOCALES",
    "CatalogError",
    "Raw",
    "Translations",
    "compile_catalogs",
    "current_locale",
    "format_number",
    "is_rtl",
    "isolate",
    "locale_from_telegram",
    "po_syntax_errors",
    "read_po_strictly",
    "to_locale_digits",
    "use_locale",
]

logger = logging.getLogger(__name__)

DOMAIN: Final = "messages"
"""The one gettext domain: ``locales/<locale>/LC_MESSAGES/messages.mo``."""

SUPPORTED_LOCALES: Final[tuple[str, ...]] = ("fa_AF", "ps", "en")
"""Every locale the bot speaks, in the order the language picker shows them."""

RTL_LOCALES: Final[frozenset[str]] = frozenset({"fa_AF", "ps"})
"""Locales written right to left (Babel agrees: ``Locale.parse(x).character_order``)."""

SOURCE_LOCALE: Final = "en"
"""The locale of the msgids themselves; its catalog is optional (see :meth:`Translations.load`)."""

LANGUAGE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {"fa_AF": "دری", "ps": "پښتو", "en": "English"}
)
"""Each language's name in its own script, for the picker (a reader must recognise their own)."""

FSI: Final = "\u2068"  # FIRST STRONG ISOLATE
PDI: Final = "\u2069"  # POP DIRECTIONAL ISOLATE

# Explicit embeddings, overrides and isolates: removed from inside an isolate so a stray PDI in a
# value can never close the isolate early and an override can never leak into the sentence.
_EXPLICIT_BIDI: Final = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DROP_EXPLICIT_BIDI: Final[Mapping[int, None]] = MappingProxyType(
    dict.fromkeys(map(ord, _EXPLICIT_BIDI))
)

GROUPED_FROM: Final[Mapping[str, int]] = MappingProxyType({"fa_AF": 10_000, "ps": 10_000})
"""The smallest number written with a thousands separator, per locale (others: from 1,000).

CLDR calls this minimum grouping digits 2; its Dari and Pashto data say 1, which is not how
numbers are written in Afghanistan («۳۰۰۰ حرف», but «۱۲٬۰۰۰»).
"""

_ASCII_DIGITS: Final = "0123456789"
_PERSIAN_DIGITS: Final = "۰۱۲۳۴۵۶۷۸۹"  # U+06F0..U+06F9, EXTENDED ARABIC-INDIC
_ARABIC_INDIC_DIGITS: Final = "٠١٢٣٤٥٦٧٨٩"  # U+0660..U+0669
_TO_PERSIAN: Final[Mapping[int, int]] = MappingProxyType(
    str.maketrans(_ASCII_DIGITS + _ARABIC_INDIC_DIGITS, _PERSIAN_DIGITS * 2)
)
_TO_ASCII: Final[Mapping[int, int]] = MappingProxyType(
    str.maketrans(_PERSIAN_DIGITS + _ARABIC_INDIC_DIGITS, _ASCII_DIGITS * 2)
)

# Telegram sends IETF tags ("fa", "fa-IR", "pt-br"); only the primary subtag decides. Babel's
# negotiation never maps "fa" to "fa_AF" and does not know "prs" (ISO 639-3 for Dari), so the
# table is ours. Iranian Persian settings map to Dari: Afghans in Iran often run phones set up
# there, and written Dari and Persian are mutually readable. Pashto's ISO 639-3 codes are pbt
# (Southern), pbu (Northern) and pst (Central).
_PRIMARY_SUBTAG_TO_LOCALE: Final[Mapping[str, str]] = MappingProxyType(
    {
        "fa": "fa_AF",
        "prs": "fa_AF",
        "ps": "ps",
        "pbt": "ps",
        "pbu": "ps",
        "pst": "ps",
        "en": "en",
    }
)

current_locale: ContextVar[str] = ContextVar("amanat_locale")
"""The locale of the update being handled; set it with :func:`use_locale`.

It has no default on purpose: rendering outside :func:`use_locale` is a bug that should raise
``LookupError`` in tests rather than silently answer a Dari speaker in English. Code that may run
before the locale is known (an error handler) calls ``current_locale.get(None)`` and decides.
"""


class CatalogError(Exception):
    """Raise when a catalog is missing, stale or broken, so the bot refuses to start."""


class Raw(str):
    """Mark text as already rendered for its locale so :meth:`Translations.format` leaves it alone.

    Use it for values that are already isolated (the result of :func:`isolate`), for a message
    translated and formatted earlier, or for text whose direction the caller controls.
    """

    __slots__ = ()


def N_(message: str) -> str:
    """Mark a literal for extraction without translating it yet (gettext_noop)."""
    return message


def _require_supported(locale: str) -> None:
    """Refuse locales we do not ship, so a typo fails in tests instead of answering in English."""
    if locale not in SUPPORTED_LOCALES:
        # The value is not echoed: it may come from a deep-link payload a user typed.
        raise ValueError("unsupported locale")


def locale_from_telegram(language_code: str | None) -> str | None:
    """Map Telegram's ``language_code`` to a supported locale, or None so the caller asks.

    Case-insensitive, accepts ``-`` or ``_``; only the primary language subtag matters, so
    ``fa``, ``fa-AF``, ``fa_IR``, ``prs-AF`` give ``fa_AF`` and ``ps``, ``pbt``, ``pbu``, ``pst``
    give ``ps``. Anything else (or nothing) gives None and the user sees the language picker.
    """
    if not language_code:
        return None
    primary = language_code.strip().replace("_", "-").split("-", 1)[0].casefold()
    return _PRIMARY_SUBTAG_TO_LOCALE.get(primary)


def is_rtl(locale: str) -> bool:
    """Tell whether the locale is written right to left (Dari and Pashto are)."""
    _require_supported(locale)
    return locale in RTL_LOCALES


def to_locale_digits(locale: str, text: str) -> str:
    """Rewrite only the digits of ``text`` in the locale's digits (codes such as ``1234-5678``).

    Dari and Pashto get Extended Arabic-Indic digits ۰۱۲۳۴۵۶۷۸۹ (U+06F0..U+06F9): both are
    written with these forms in Afghanistan (the Arabic-Indic ٠١٢… of Arabic differ in 4, 5, 6).
    English gets ASCII digits. Digits of any of the three systems are converted.
    """
    _require_supported(locale)
    if locale in RTL_LOCALES:
        return text.translate(_TO_PERSIAN)
    return text.translate(_TO_ASCII)


def format_number(locale: str, n: int) -> str:
    """Format an integer as a reader of the locale writes it, with their digits and separators.

    Babel formats with the locale's default numbering system (for Dari and Pashto ``arabext``:
    thousands separator ٬ U+066C) but ASCII digits, so the digits are converted afterwards.
    Dari and Pashto group only from :data:`GROUPED_FROM` on: Afghans write ۳۰۰۰, and a
    separator inside a four-digit number looks like a stray mark to many readers.
    A negative sign in a right-to-left locale becomes LRM + U+2212 MINUS SIGN, as CLDR's
    ``arabext`` symbols have it, so the sign stays in front of the number inside RTL text.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("format_number takes an int")
    _require_supported(locale)
    grouped = abs(n) >= GROUPED_FROM.get(locale, 0)
    text = format_decimal(n, locale=locale, numbering_system="default", group_separator=grouped)
    if locale in RTL_LOCALES and text.startswith("-"):
        text = "\u200e\u2212" + text[1:]
    return to_locale_digits(locale, text)


def isolate(text: str) -> Raw:
    """Wrap text in FSI…PDI so its direction cannot reorder the sentence around it.

    First-strong isolation lets a Latin name, a phone number or a code with hyphens keep its own
    order inside Dari or Pashto text (and the reverse). Explicit bidi controls inside the text
    are dropped first so the isolate is always balanced.
    """
    return Raw(FSI + text.translate(_DROP_EXPLICIT_BIDI) + PDI)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Set :data:`current_locale` for the duration of one update (aiogram ``use_locale`` style)."""
    _require_supported(locale)
    token = current_locale.set(locale)
    try:
        yield
    finally:
        current_locale.reset(token)


def _render_param(locale: str, value: object) -> str:
    """Render one interpolated value for the locale; refuse types that have no safe rendering."""
    if isinstance(value, Raw):
        return value
    if isinstance(value, bool):
        raise TypeError("booleans have no user-facing rendering; pass translated text")
    if isinstance(value, int):
        return format_number(locale, value)
    if isinstance(value, str):
        return isolate(value) if locale in RTL_LOCALES else value
    raise TypeError("format() takes int, str or Raw values; render other types first")


def _mo_path(locales_dir: Path, locale: str) -> Path:
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"


def _translated_entries(catalog: Catalog) -> dict[object, object]:
    """Collect what the compiled catalog must hold: the entries ``write_mo`` keeps, as kept.

    Plural ids and strings are compared as tuples (read_po gives tuples, read_mo lists), and an
    empty plural form counts as the source form, which is what ``write_mo`` stores in its place.
    """
    entries: dict[object, object] = {}
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        if isinstance(message.id, (list, tuple)) and isinstance(message.string, (list, tuple)):
            ids = tuple(message.id)
            strings = tuple(text or ids[min(index, 1)] for index, text in enumerate(message.string))
            entries[(message.context, ids)] = strings
        else:
            entries[(message.context, message.id)] = message.string
    return entries


def _check_not_stale(po_path: Path, mo_path: Path, locale: str) -> None:
    """Refuse a .mo whose translations differ from its .po: the install forgot to recompile."""
    source = read_po_strictly(po_path, locale=locale)
    try:
        with mo_path.open("rb") as mo_file:
            compiled = read_mo(mo_file)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read compiled catalog {mo_path}") from exc
    if _translated_entries(source) != _translated_entries(compiled):
        raise CatalogError(
            f"{mo_path} is stale (it differs from {po_path.name}): run `python -m bot.i18n "
            "compile` or `pybabel compile -d locales`"
        )


def _load_one(locales_dir: Path, locale: str) -> _gettext.NullTranslations:
    """Load one locale's compiled catalog, or the identity for an English without a catalog."""
    mo_path = _mo_path(locales_dir, locale)
    po_path = mo_path.with_suffix(".po")
    if not mo_path.is_file():
        if locale == SOURCE_LOCALE and not po_path.exists():
            # English msgids are the English text: with no en catalog at all, identity is exact.
            return _gettext.NullTranslations()
        raise CatalogError(
            f"missing compiled catalog {mo_path}: run `python -m bot.i18n compile` "
            "(the install step does this)"
        )
    if po_path.is_file():
        _check_not_stale(po_path, mo_path, locale)
    try:
        with mo_path.open("rb") as mo_file:
            return _gettext.GNUTranslations(mo_file)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read compiled catalog {mo_path}") from exc


class Translations:
    """Loaded compiled catalogs for every supported locale; fail loudly at start if any is missing.

    Build one in the composition root with :meth:`load` and inject it. Instances are immutable.
    English may run without a catalog (its msgids are the text); Dari and Pashto may not.
    """

    __slots__ = ("_catalogs",)

    def __init__(self, catalogs: Mapping[str, _gettext.NullTranslations]) -> None:
        """Take already-loaded catalogs; prefer :meth:`load`, which validates the directory."""
        for locale in catalogs:
            _require_supported(locale)
        if not catalogs:
            raise CatalogError("no locales to load")
        self._catalogs: Mapping[str, _gettext.NullTranslations] = MappingProxyType(dict(catalogs))

    @classmethod
    def load(cls, locales_dir: Path, locales: Sequence[str] = SUPPORTED_LOCALES) -> Translations:
        """Load ``<locales_dir>/<locale>/LC_MESSAGES/messages.mo`` for each locale or refuse.

        Raises :class:`CatalogError` naming the missing or stale file. Decision for English:
        it falls back to the identity only when ``locales/en`` has no catalog at all (no .po,
        no .mo); an ``en`` .po without its .mo is a forgotten compile and fails like the others.
        A .mo whose translations differ from the .po beside it is refused as stale.
        """
        catalogs: dict[str, _gettext.NullTranslations] = {}
        for locale in locales:
            if locale not in SUPPORTED_LOCALES:
                raise CatalogError("unsupported locale requested")
            catalogs[locale] = _load_one(Path(locales_dir), locale)
        return cls(catalogs)

    @property
    def locales(self) -> tuple[str, ...]:
        """Return the loaded locales, in picker order."""
        return tuple(locale for locale in SUPPORTED_LOCALES if locale in self._catalogs)

    def _catalog(self, locale: str) -> _gettext.NullTranslations:
        try:
            return self._catalogs[locale]
        except KeyError:
            raise CatalogError("locale not loaded") from None

    def gettext(self, locale: str, message: str) -> str:
        """Translate one message; an untranslated message comes back in English."""
        if not message:
            return message  # gettext("") would return the catalog's metadata header
        return self._catalog(locale).gettext(message)

    def ngettext(self, locale: str, singular: str, plural: str, n: int) -> str:
        """Translate a message whose form depends on a count, with the catalog's plural rule."""
        return self._catalog(locale).ngettext(singular, plural, n)

    def format(self, locale: str, message: str, /, **params: object) -> str:
        """Translate, then fill ``{name}`` placeholders with values rendered for the locale.

        ints become locale digits; str values are FSI…PDI isolated in right-to-left locales so
        Latin names and codes do not scramble; :class:`Raw` values are inserted as they are.
        Should a translation fail to format (a catalog the gate did not check), the English
        source is used instead so the user still gets an answer; the failure is logged
        without content.
        """
        return self._fill(locale, message, self.gettext(locale, message), params)

    def nformat(self, locale: str, singular: str, plural: str, n: int, /, **params: object) -> str:
        """Translate a counted message and fill its placeholders; ``{n}`` is the count itself."""
        template = self.ngettext(locale, singular, plural, n)
        source = singular if n == 1 else plural
        return self._fill(locale, source, template, {"n": n, **params})

    @staticmethod
    def _fill(locale: str, source: str, template: str, params: Mapping[str, object]) -> str:
        rendered = {name: _render_param(locale, value) for name, value in params.items()}
        try:
            return template.format_map(rendered)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            if template == source:
                raise
            logger.warning(
                "translation failed to format (locale=%s, error=%s); using the source text",
                locale,
                type(exc).__name__,
            )
            return source.format_map(rendered)


_PO_STRING: Final = r'"(?:[^"\\]|\\.)*"'
_PO_LINE: Final = re.compile(
    r"(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?)[ \t]+)?" + _PO_STRING + r"[ \t]*"
)


def po_syntax_errors(text: str) -> list[int]:
    """Return the numbers of lines that are not valid .po syntax.

    Babel's reader is lenient: it silently chops the last character of an unterminated string
    (``msgstr "abc`` reads as ``ab``), so a translator's typo would ship as a truncated message.
    Every line must be blank, a comment, or a keyword followed by exactly one quoted string.
    """
    errors: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not _PO_LINE.fullmatch(stripped):
            errors.append(number)
    return errors


def read_po_strictly(po_path: Path, locale: str | None = None) -> Catalog:
    """Read a .po or .pot, refusing what Babel would silently misread; raise CatalogError."""
    try:
        raw = po_path.read_bytes()
        bad_lines = po_syntax_errors(raw.decode("utf-8"))
        if bad_lines:
            lines = ", ".join(map(str, bad_lines[:10]))
            raise CatalogError(f"{po_path} does not parse: malformed line(s) {lines}")
        return read_po(io.BytesIO(raw), locale=locale, abort_invalid=True)
    except (OSError, PoFileError, ValueError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{po_path} does not parse: {exc}") from exc


def compile_catalogs(locales_dir: Path) -> list[Path]:
    """Compile every ``<locale>/LC_MESSAGES/*.po`` under ``locales_dir`` to a .mo beside it.

    Used by the install step and the tests. Fuzzy entries are left out (gettext convention).
    A .po that does not parse (see :func:`po_syntax_errors`), or that Babel's checkers reject
    (wrong plural count, mismatched ``%`` placeholders), raises :class:`CatalogError`; each .mo
    is written atomically so a running bot never reads half a file. Returns the paths, sorted.
    """
    written: list[Path] = []
    for po_path in sorted(Path(locales_dir).glob("*/LC_MESSAGES/*.po")):
        catalog = read_po_strictly(po_path, locale=po_path.parent.parent.name)
        errors = [
            f"{po_path}:{message.lineno}: {error}"
            for message, message_errors in catalog.check()
            for error in message_errors
        ]
        if errors:
            raise CatalogError("\n".join(errors))
        mo_path = po_path.with_suffix(".mo")
        fd, tmp_name = tempfile.mkstemp(dir=po_path.parent, prefix=".", suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as mo_file:
                write_mo(mo_file, catalog, use_fuzzy=False)
            os.replace(tmp_name, mo_path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        written.append(mo_path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Compile the catalogs from the command line: ``python -m bot.i18n compile [DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m bot.i18n")
    commands = parser.add_subparsers(dest="command", required=True)
    compile_cmd = commands.add_parser("compile", help="compile every .po to .mo")
    compile_cmd.add_argument(
        "locales_dir",
        nargs="?",
        type=Path,
        default=PACKAGE_LOCALES_DIR,
    )
    args = parser.parse_args(argv)
    try:
        written = compile_catalogs(args.locales_dir)
    except CatalogError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    if not written:
        sys.stderr.write(f"error: no .po catalogs under {args.locales_dir}\n")
        return 1
    for path in written:
        sys.stdout.write(f"compiled {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
