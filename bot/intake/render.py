"""Render transport-free messages into text in the reader's language.

This module owns the last step before text leaves for a chat: translation, the reader's
digits and calendar, and bidi isolation of interpolated values so that Latin names or codes
inside Dari and Pashto text never scramble. It must never see Telegram objects.
"""

from __future__ import annotations

from datetime import date

from bot.i18n.localdates import format_date
from bot.i18n.translations import Translations, format_number, is_rtl, isolate, to_locale_digits
from bot.intake.values import Button, Code, Msg, Raw, Reply


def render(message: Msg, locale: str, translations: Translations) -> str:
    """Translate a message and its parameters; forced locales win over the reader's."""
    language = message.locale or locale
    template = translations.gettext(language, message.msgid)
    if not message.params:
        return template
    params = {name: _render_param(value, language, translations) for name, value in message.params}
    return template.format(**params)


def _render_param(value: object, locale: str, translations: Translations) -> str:
    if isinstance(value, Msg):
        return render(value, locale, translations)
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Code):
        digits = to_locale_digits(locale, value.text)
        return isolate(digits) if is_rtl(locale) else digits
    if isinstance(value, bool):
        raise TypeError("booleans are not rendered; pass a message instead")
    if isinstance(value, int):
        return format_number(locale, value)
    if isinstance(value, date):
        return format_date(locale, value)
    if isinstance(value, str):
        return isolate(value) if is_rtl(locale) else value
    raise TypeError(f"cannot render a parameter of type {type(value).__name__}")


def render_text(reply: Reply, locale: str, translations: Translations) -> str:
    """Join a reply's parts into one chat message: paragraphs, or lines when compact."""
    separator = "\n" if reply.compact else "\n\n"
    return separator.join(render(part, locale, translations) for part in reply.parts)


def render_label(button: Button, locale: str, translations: Translations) -> str:
    """Render a button label; literal labels (language names) stay as they are."""
    if isinstance(button.label, str):
        return button.label
    return render(button.label, locale, translations)
