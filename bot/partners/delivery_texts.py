"""What a partner reads around a delivered digest: the e-mail and the Telegram caption.

In the partner's language, with its digits and both calendars. None of it says anything the
file name does not: the month and who it is for. The delivery code is shown so that a partner
who gets the same file twice (a retry after the server stopped mid-send) can see it is one.
Commands, file names and codes stand on lines of their own, outside the translated sentences,
so that copying them picks up no direction marks.
"""

from __future__ import annotations

from typing import Final

from bot.i18n.localdates import format_month_both
from bot.i18n.translations import N_, Translations
from bot.partners.months import Month

# Translators: {month} is a month, e.g. "October 2026" (in Dari and Pashto both calendars).
SUBJECT: Final = N_("Amanat digest for {month}")
# Translators: {month} is a month, e.g. "October 2026" (in Dari and Pashto both calendars).
CAPTION: Final = N_("Amanat digest for {month}. It is locked: open it with your age key.")
# Translators: {month} is a month, e.g. "October 2026" (in Dari and Pashto both calendars).
EMAIL_TEXT: Final = N_(
    "The Amanat digest for {month} is attached. It is locked: only your organisation's age "
    "key opens it, with this command:"
)
SAME_CODE: Final = N_(
    "If this comes twice with the same delivery code, keep one: it is the same file."
)
DELIVERY_CODE: Final = N_("Delivery code:")


def _month(locale: str, month: Month) -> str:
    return format_month_both(locale, month.year, month.month)


def subject(translations: Translations, locale: str, month: Month) -> str:
    """The e-mail's subject line."""
    return translations.format(locale, SUBJECT, month=_month(locale, month))


def caption(translations: Translations, locale: str, month: Month, delivery_id: str) -> str:
    """The caption under the document in the partner's Telegram chat."""
    said = translations.format(locale, CAPTION, month=_month(locale, month))
    code = translations.gettext(locale, DELIVERY_CODE)
    return f"{said}\n{code}\n{delivery_id}"


def email_body(
    translations: Translations, locale: str, month: Month, file_name: str, delivery_id: str
) -> str:
    """The e-mail's text: what is attached, how to open it, and the delivery code."""
    return "\n".join(
        (
            translations.format(locale, EMAIL_TEXT, month=_month(locale, month)),
            "",
            f"age -d -i KEYFILE {file_name} > digest.zip",
            "",
            translations.gettext(locale, SAME_CODE),
            translations.gettext(locale, DELIVERY_CODE),
            delivery_id,
            "",
        )
    )
