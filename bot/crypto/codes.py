"""Make and read the codes people type: receipt codes and report ids.

Format: ``docs/crypto.md`` §7. A receipt code is 20 random decimal digits (66 bits) in groups
of four, read back in Persian, Arabic-Indic or ASCII digits with any dashes or invisible marks
a phone adds; a report id is 10 Crockford base32 characters an admin can type.
"""

from __future__ import annotations

import secrets

_RECEIPT_DIGITS = 20
_RECEIPT_GROUP = 4
_MAX_RECEIPT_INPUT = 200

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_REPORT_ID_LENGTH = 10

_PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
_ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
# Dashes people type or paste, and invisible marks that right-to-left chat clients insert.
_RECEIPT_SEPARATORS = (
    "-_.\u2010\u2011\u2012\u2013\u2014\u2212"
    "\u200b\u200c\u200d\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\ufeff"
)


def new_receipt_code() -> str:
    """Return a fresh receipt code: 20 random decimal digits (66 bits) in groups of four."""
    digits = f"{secrets.randbelow(10**_RECEIPT_DIGITS):0{_RECEIPT_DIGITS}d}"
    return "-".join(
        digits[i : i + _RECEIPT_GROUP] for i in range(0, _RECEIPT_DIGITS, _RECEIPT_GROUP)
    )


def normalise_receipt_code(text: str) -> str | None:
    """Read a receipt code as typed: Persian, Arabic or ASCII digits, spaces and dashes."""
    if not isinstance(text, str) or len(text) > _MAX_RECEIPT_INPUT:
        return None
    digits: list[str] = []
    for ch in text:
        if "0" <= ch <= "9":
            digits.append(ch)
        elif ch in _PERSIAN_DIGITS:
            digits.append(str(_PERSIAN_DIGITS.index(ch)))
        elif ch in _ARABIC_INDIC_DIGITS:
            digits.append(str(_ARABIC_INDIC_DIGITS.index(ch)))
        elif not (ch.isspace() or ch in _RECEIPT_SEPARATORS):
            return None
    return "".join(digits) if len(digits) == _RECEIPT_DIGITS else None


def new_report_id() -> str:
    """Return a fresh report id: 10 Crockford base32 characters (50 bits) admins can type."""
    return "".join(secrets.choice(_CROCKFORD) for _ in range(_REPORT_ID_LENGTH))


def normalise_report_id(text: str) -> str | None:
    """Read a report id as an admin may type it (any case, O for 0, I or L for 1, dashes)."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    if len(cleaned) != _REPORT_ID_LENGTH or any(ch not in _CROCKFORD for ch in cleaned):
        return None
    return cleaned
