"""Own the translation gate: find every reason the catalogs are not ready to ship.

Run in CI as ``python -m bot.i18n.catalog_check`` (exit status 1 with one line per problem) and by
``tests/test_i18n_catalog_check.py``. It checks, like SecureDrop's ``check-strings``:

- the template ``locales/messages.pot`` is not stale (a fresh extraction with ``babel.cfg``
  yields the same message ids);
- every message with a placeholder carries a ``Translators:`` comment, and placeholders are
  plain ``{name}`` fields (:meth:`bot.i18n.Translations.format` renders values to text first,
  so a format spec or conversion would break at run time);
- each of Dari and Pashto has a catalog with every template message translated, none fuzzy,
  none copied from English, the same placeholders as the source (plural forms too), the
  right ``Language`` and a sane ``Plural-Forms`` header, and nothing Babel's checkers reject.

It reads files and reports; it must never modify a catalog or pass when catalogs are absent.
"""

from __future__ import annotations

import argparse
import gettext
import re
import string
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural

from bot.i18n.translations import CatalogError, read_po_strictly

__all__ = [
    "COMMENT_TAG",
    "REQUIRED_LOCALES",
    "Problem",
    "check_all",
    "check_template",
    "check_template_fresh",
    "check_translation",
    "extract_ids",
    "main",
    "placeholders",
]

REQUIRED_LOCALES: Final[tuple[str, ...]] = ("fa_AF", "ps")
"""Catalogs that must exist and be complete (English is the source language)."""

COMMENT_TAG: Final = "Translators:"
EXTRACT_KEYWORDS: Final = {**DEFAULT_KEYWORDS, "N_": None}
"""The keywords of ``pybabel extract -k N_``; babel.cfg adds its own per section."""

HOW_TO_EXTRACT: Final = (
    "pybabel extract -F babel.cfg -k N_ -c Translators: -o locales/messages.pot ."
)
HOW_TO_UPDATE: Final = "pybabel update -i locales/messages.pot -d locales"
DO_NOT_TRANSLATE: Final = "do not translate"
_LATIN_LETTER: Final = re.compile("[A-Za-z]")
_PLACEHOLDER_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

MessageKey = tuple[str | None, str, str | None]
"""(context, singular, plural) — what identifies a message in a template."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the catalogs cannot ship: where, which source message, what is wrong."""

    where: str
    reason: str
    msgid: str = ""

    def __str__(self) -> str:
        """Render as ``where: reason [msgid]`` for CI logs."""
        suffix = f" [msgid {self.msgid!r}]" if self.msgid else ""
        return f"{self.where}: {self.reason}{suffix}"


def placeholders(text: str) -> frozenset[str]:
    """Return the ``{field}`` names of a str.format template; raise ValueError if malformed."""
    names: set[str] = set()
    for _literal, field, _spec, _conversion in string.Formatter().parse(text):
        if field is not None:
            names.add(field)
    return frozenset(names)


def _placeholder_form_errors(text: str) -> list[str]:
    """List what is wrong with the placeholders of one string (empty when all are plain)."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [f"malformed braces ({exc}); write literal braces as {{{{ and }}}}"]
    errors: list[str] = []
    for _literal, field, spec, conversion in fields:
        if field is None:
            continue
        if not _PLACEHOLDER_NAME.match(field):
            errors.append(f"placeholder {{{field}}} is not a plain name")
        if spec or conversion:
            errors.append(f"placeholder {{{field}}} has a format spec or conversion; use {{name}}")
    return errors


def _strings(message: Message) -> tuple[str, ...]:
    value = message.string
    if isinstance(value, (tuple, list)):
        return tuple(text or "" for text in value)
    return (value or "",)


def _ids(message: Message) -> tuple[str, ...]:
    value = message.id
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _key(message: Message) -> MessageKey:
    ids = _ids(message)
    return (message.context, ids[0], ids[1] if len(ids) > 1 else None)


def _has_translator_comment(message: Message) -> bool:
    return any(comment.strip().startswith(COMMENT_TAG) for comment in message.auto_comments)


def _source_placeholders(message: Message) -> frozenset[str] | None:
    """Return the union of placeholders over the msgid forms, None if they are malformed."""
    try:
        return frozenset().union(*(placeholders(text) for text in _ids(message)))
    except ValueError:
        return None


def _read_catalog(path: Path) -> Catalog:
    """Read a .po or .pot as written, so its own Language header decides the locale."""
    return read_po_strictly(path)


def check_template(template: Catalog, where: str) -> list[Problem]:
    """Check the template's own messages: placeholder form and translator comments."""
    problems: list[Problem] = []
    for message in template:
        if not message.id:
            continue
        msgid = _ids(message)[0]
        for text in _ids(message):
            problems.extend(
                Problem(f"{where}:{message.lineno}", error, msgid)
                for error in _placeholder_form_errors(text)
            )
        names = _source_placeholders(message)
        if names and not _has_translator_comment(message):
            problems.append(
                Problem(
                    f"{where}:{message.lineno}",
                    f"has placeholders {sorted(names)} but no '# {COMMENT_TAG}' comment "
                    "saying what they stand for",
                    msgid,
                )
            )
    return problems


def extract_ids(root: Path, mapping_cfg: Path) -> set[MessageKey]:
    """Extract message keys from the sources exactly as ``HOW_TO_EXTRACT`` would."""
    with mapping_cfg.open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(  # type: ignore[no-untyped-call]
            cfg, str(mapping_cfg)
        )
    keys: set[MessageKey] = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        str(root),
        method_map,
        options_map,
        keywords=EXTRACT_KEYWORDS,
        comment_tags=(COMMENT_TAG,),
    ):
        if isinstance(message, (tuple, list)):
            keys.add((context, message[0], message[1] if len(message) > 1 else None))
        else:
            keys.add((context, message, None))
    return keys


def check_template_fresh(
    template: Catalog, root: Path, mapping_cfg: Path, where: str
) -> list[Problem]:
    """Compare the template's ids with a fresh extraction; any difference means it is stale."""
    fresh = extract_ids(root, mapping_cfg)
    in_template = {_key(message) for message in template if message.id}
    problems = [
        Problem(
            where,
            f"stale: message in the sources but not in the template; run {HOW_TO_EXTRACT}",
            key[1],
        )
        for key in sorted(fresh - in_template, key=repr)
    ]
    problems.extend(
        Problem(where, f"stale: message no longer in the sources; run {HOW_TO_EXTRACT}", key[1])
        for key in sorted(in_template - fresh, key=repr)
    )
    return problems


def _check_plural_header(catalog: Catalog, locale: str, where: str) -> list[Problem]:
    expected = get_plural(locale).num_plurals
    problems: list[Problem] = []
    if catalog.num_plurals != expected:
        problems.append(
            Problem(
                where, f"Plural-Forms has nplurals={catalog.num_plurals}, {locale} needs {expected}"
            )
        )
    try:
        plural = gettext.c2py(catalog.plural_expr)
    except (ValueError, SyntaxError):
        return [*problems, Problem(where, "Plural-Forms expression does not parse")]
    if any(not 0 <= plural(n) < catalog.num_plurals for n in range(1000)):
        problems.append(Problem(where, "Plural-Forms expression picks a form that does not exist"))
    return problems


def _looks_copied(message: Message, template_message: Message) -> bool:
    """Tell whether a translation is the English source pasted back (Latin text left)."""
    if any(DO_NOT_TRANSLATE in comment.casefold() for comment in template_message.auto_comments):
        return False
    for source, translated in zip(_ids(message), _strings(message), strict=False):
        without_fields = re.sub(r"\{[^{}]*\}", "", source)
        if translated == source and _LATIN_LETTER.search(without_fields):
            return True
    return False


def _check_message(
    message: Message, template_message: Message, num_plurals: int, where: str, required: bool
) -> list[Problem]:
    msgid = _ids(message)[0]
    here = f"{where}:{message.lineno}"
    strings = _strings(message)
    if message.fuzzy:
        return [
            Problem(here, f"fuzzy: review it and remove the fuzzy flag ({HOW_TO_UPDATE})", msgid)
        ]
    if not any(strings):
        return [Problem(here, "untranslated", msgid)] if required else []
    problems: list[Problem] = []
    if message.pluralizable and len(strings) != num_plurals:
        problems.append(
            Problem(here, f"has {len(strings)} plural forms, header says {num_plurals}", msgid)
        )
    if required and not all(strings):
        problems.append(Problem(here, "a plural form is untranslated", msgid))
    if required and _looks_copied(message, template_message):
        problems.append(Problem(here, "translation is the English source copied", msgid))
    source = _source_placeholders(template_message)
    found: set[str] = set()
    for text in filter(None, strings):
        errors = _placeholder_form_errors(text)
        problems.extend(Problem(here, error, msgid) for error in errors)
        if errors:
            continue
        names = placeholders(text)
        found |= names
        if source is not None and not names <= source:
            unknown = sorted(names - source)
            problems.append(
                Problem(here, f"translation uses unknown placeholders {unknown}", msgid)
            )
        if source is not None and not message.pluralizable and names != source:
            problems.append(
                Problem(
                    here,
                    f"placeholders differ: source {sorted(source)}, translation {sorted(names)}",
                    msgid,
                )
            )
    if source is not None and message.pluralizable and all(strings) and found != source:
        problems.append(
            Problem(here, f"plural forms lose placeholders {sorted(source - found)}", msgid)
        )
    return problems


def check_translation(
    template: Catalog, catalog: Catalog, locale: str, where: str, *, required: bool = True
) -> list[Problem]:
    """Check one locale's catalog against the template.

    With ``required`` (Dari, Pashto) every template message must be translated; without it
    (an optional English catalog) only the entries that are translated are checked.
    """
    problems: list[Problem] = []
    if str(catalog.locale) != locale:
        problems.append(Problem(where, f"Language header is {catalog.locale}, expected {locale}"))
    problems.extend(_check_plural_header(catalog, locale, where))
    by_key = {_key(message): message for message in catalog if message.id}
    template_by_key = {_key(message): message for message in template if message.id}
    for key, template_message in template_by_key.items():
        message = by_key.get(key)
        if message is None:
            if required:
                problems.append(Problem(where, f"missing; run {HOW_TO_UPDATE}", key[1]))
            continue
        problems.extend(
            _check_message(message, template_message, catalog.num_plurals, where, required)
        )
    for key in sorted(by_key.keys() - template_by_key.keys(), key=repr):
        problems.append(
            Problem(where, f"not in the template (obsolete); run {HOW_TO_UPDATE}", key[1])
        )
    for message, errors in catalog.check():
        problems.extend(
            Problem(f"{where}:{message.lineno}", str(error), _ids(message)[0]) for error in errors
        )
    return problems


def check_all(root: Path, locales: Iterable[str] = REQUIRED_LOCALES) -> list[Problem]:
    """Run every check on the repository at ``root``; an empty list means ready to ship."""
    locales_dir = root / "locales"
    pot_path = locales_dir / "messages.pot"
    mapping_cfg = root / "babel.cfg"
    if not mapping_cfg.is_file():
        return [Problem(str(mapping_cfg), "missing extraction config")]
    if not pot_path.is_file():
        return [
            Problem(
                str(locales_dir),
                f"no catalogs: run {HOW_TO_EXTRACT} then `pybabel init -i locales/messages.pot "
                "-d locales -l fa_AF` (and -l ps), and translate them",
            )
        ]
    try:
        template = _read_catalog(pot_path)
    except CatalogError as exc:
        return [Problem(str(pot_path), str(exc))]
    problems = check_template(template, str(pot_path))
    problems.extend(check_template_fresh(template, root, mapping_cfg, str(pot_path)))
    checked = [(locale, True) for locale in locales]
    if (locales_dir / "en" / "LC_MESSAGES" / "messages.po").is_file():
        checked.append(("en", False))
    for locale, required in checked:
        po_path = locales_dir / locale / "LC_MESSAGES" / "messages.po"
        if not po_path.is_file():
            problems.append(
                Problem(
                    str(po_path),
                    f"no catalogs for {locale}: run `pybabel init -i locales/messages.pot "
                    f"-d locales -l {locale}` and translate it",
                )
            )
            continue
        try:
            catalog = _read_catalog(po_path)
        except CatalogError as exc:
            problems.append(Problem(str(po_path), str(exc)))
            continue
        problems.extend(
            check_translation(template, catalog, locale, str(po_path), required=required)
        )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Print every problem and exit 1 if there is any (the CI gate)."""
    parser = argparse.ArgumentParser(prog="python -m bot.i18n.catalog_check")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    args = parser.parse_args(argv)
    problems = check_all(args.root)
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    if problems:
        sys.stderr.write(f"{len(problems)} translation problem(s)\n")
        return 1
    sys.stdout.write("catalogs complete\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
