"""Render the local console's pages: plain HTML, every value escaped, no script, no outside asset.

Right-to-left languages get ``dir="rtl"`` on the page; text from reporters sits in
``dir="auto"`` blocks so each line takes its own direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from bot.admin.view import (
    OpenedReport,
    QueueRow,
    item_label,
    queue_table,
    render_report,
    status_label,
)
from bot.console import texts
from bot.i18n.localdates import format_month_both
from bot.i18n.translations import LANGUAGE_NAMES, RTL_LOCALES, Translations, format_number
from bot.partners.routing import MAX_SUMMARY_CHARS, Sharing
from bot.questions import REDACTABLE_KINDS
from storage.deliveries import Delivery

STATUSES: Final = ("new", "claimed", "closed")
STYLE: Final = """
body { font-family: "Noto Naskh Arabic", "Noto Sans", sans-serif; margin: 1.5rem; }
body { line-height: 1.6; }
nav a, nav form { margin-inline-end: 1rem; display: inline-block; }
table { border-collapse: collapse; }
td, th { padding: 0.3rem 0.6rem; border-bottom: 1px solid #ccc; text-align: start; }
.urgent { color: #a00; font-weight: bold; }
pre { white-space: pre-wrap; font-family: inherit; background: #f6f6f6; padding: 1rem; }
textarea { width: 100%; min-height: 6rem; }
.refused { color: #a00; }
.failed { border: 2px solid #a00; padding: 0.5rem 1rem; margin-bottom: 1rem; }
"""


def page(title: str, body: str, locale: str, translations: Translations, *, here: str = "/") -> str:
    """A whole page: language, direction, the language links and the body."""
    direction = "rtl" if locale in RTL_LOCALES else "ltr"
    html_lang = locale.split("_")[0]
    languages = " ".join(
        f'<a href="{escape(here)}?lang={code}" lang="{code.split("_")[0]}">{escape(name)}</a>'
        for code, name in LANGUAGE_NAMES.items()
    )
    queue = escape(translations.gettext(locale, texts.QUEUE))
    return (
        f'<!doctype html><html lang="{html_lang}" dir="{direction}"><head>'
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/console.css"></head>'
        f'<body><nav><a href="/?lang={locale}">{queue}</a> {languages}</nav>{body}</body></html>'
    )


def queue_page(
    rows: Sequence[QueueRow],
    locale: str,
    translations: Translations,
    csrf: str,
    status: str | None = None,
    failed: Sequence[Delivery] = (),
) -> str:
    """The queue as a table, filtered by status if asked; each report id opens it.

    Digests that failed to reach a partner are shown above it, so that no admin misses one.
    """
    t = translations.gettext
    choices: list[tuple[str | None, str]] = [(None, t(locale, texts.QUEUE))]
    choices += [(name, status_label(name, locale, translations)) for name in STATUSES]

    def choice(name: str | None, label: str) -> str:
        if name == status:
            return f"<strong>{escape(label)}</strong>"
        query = f"?lang={locale}" + (f"&amp;status={name}" if name else "")
        return f'<a href="/{query}">{escape(label)}</a>'

    filters = " ".join(choice(name, label) for name, label in choices)
    header, table = queue_table(rows, locale, translations, decrypted=True)
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    lines = []
    for row, cells in zip(rows, table, strict=True):
        link = f'<a href="/reports/{escape(row.report_id)}?lang={locale}">{escape(cells[1])}</a>'
        shown = [escape(cells[0]), link, *(escape(cell) for cell in cells[2:])]
        marked = ' class="urgent"' if row.urgent else ""
        lines.append(f"<tr{marked}>" + "".join(f'<td dir="auto">{c}</td>' for c in shown) + "</tr>")
    take = (
        f'<form method="post" action="/claim?lang={locale}">{_csrf(csrf)}'
        f"<button>{escape(t(locale, texts.TAKE_NEXT))}</button></form>"
    )
    body = (
        f"<h1>{escape(t(locale, texts.TITLE))}</h1>"
        f"{failed_deliveries(failed, locale, translations)}{take}<p>{filters}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )
    return page(t(locale, texts.TITLE), body, locale, translations)


def failed_deliveries(failed: Sequence[Delivery], locale: str, translations: Translations) -> str:
    """A box naming each failed delivery: partner, month, channel, why, how often tried."""
    if not failed:
        return ""
    t = translations.gettext
    lines = []
    for item in failed:
        year, month = (int(part) for part in item.month.split("-"))
        reason = texts.DELIVERY_ERROR_LABELS.get(
            item.last_error or "error", texts.DELIVERY_ERROR_LABELS["error"]
        )
        said = translations.format(
            locale,
            texts.FAILED_DELIVERY,
            partner=item.partner,
            month=format_month_both(locale, year, month),
            channel=t(locale, texts.CHANNEL_LABELS.get(item.channel, item.channel)),
            reason=t(locale, reason),
            tries=item.attempts,
        )
        lines.append(f'<li dir="auto">{escape(said)}</li>')
    return (
        f'<section class="failed"><h2>{escape(t(locale, texts.FAILED_DELIVERIES))}</h2>'
        f"<ul>{''.join(lines)}</ul><p>{escape(t(locale, texts.REDELIVER_HINT))}</p></section>"
    )


def report_page(
    report: OpenedReport,
    file_indexes: Sequence[int],
    locale: str,
    translations: Translations,
    csrf: str,
    sharing: Sharing = Sharing.NOT_ASKED,
    partners: Sequence[str] = (),
) -> str:
    """One report, opened on this machine, with its files and the team's actions."""
    t = translations.gettext
    rid = escape(report.report_id)

    def form(action: str, label: str, inside: str = "") -> str:
        return (
            f'<form method="post" action="/reports/{rid}/{action}?lang={locale}">{_csrf(csrf)}'
            f"{inside}<button>{escape(t(locale, label))}</button></form>"
        )

    def file_links(index: int) -> str:
        number = format_number(locale, index + 1)
        shown = escape(translations.format(locale, texts.OPEN_FILE, number=number))
        saved = escape(translations.format(locale, texts.SAVE_FILE, number=number))
        target = f"/reports/{rid}/files/{index}"
        return f'<li><a href="{target}">{shown}</a> · <a href="{target}?save=1">{saved}</a></li>'

    files = "".join(file_links(index) for index in file_indexes)
    saving = (
        f'<p><a href="/reports/{rid}/export">{escape(t(locale, texts.SAVE_REPORT))}</a></p>'
        f"<p>{escape(t(locale, texts.SAVED_PLAIN))}</p>"
    )
    status_forms = [
        form("status", label, f'<input type="hidden" name="status" value="{status}">')
        for status, label in (("claimed", texts.WORK_ON), ("closed", texts.CLOSE))
        if status != report.status
    ]
    if report.status == "claimed":
        status_forms.append(form("release", texts.RELEASE))
    writing = "".join(
        form(
            kind,
            texts.SAVE,
            f'<label>{escape(t(locale, label))}<textarea name="text" dir="auto" required '
            'maxlength="3500"></textarea></label>',
        )
        for kind, label in (("notes", texts.NOTE), ("replies", texts.ANSWER))
    )
    report_text = render_report(report, locale, translations, files_heading=texts.FILES)
    body = (
        f'<pre dir="auto">{escape(report_text)}</pre>'
        + (f"<h2>{escape(t(locale, texts.FILES))}</h2><ul>{files}</ul>" if files else "")
        + saving
        + f"<nav>{''.join(status_forms)}</nav>{writing}"
        + _redactable(report, locale, translations)
        + _sharing(rid, locale, translations, csrf, sharing, partners)
    )
    return page(report.report_id, body, locale, translations, here=f"/reports/{report.report_id}")


def _redactable(report: OpenedReport, locale: str, translations: Translations) -> str:
    """Links to hide parts of each of the reporter's texts."""
    items = [i for i in report.items if i.kind in REDACTABLE_KINDS]
    if not items:
        return ""
    rid = escape(report.report_id)
    links = "".join(
        f'<li><a href="/reports/{rid}/redact/{item.kind}/{item.index}?lang={locale}">'
        f"{escape(item_label(item.kind, item.index, locale, translations))}</a></li>"
        for item in items
    )
    title = escape(translations.gettext(locale, texts.REDACT_TITLE))
    return f"<h2>{title}</h2><ul>{links}</ul>"


def redact_page(
    report_id: str,
    kind: str,
    index: int,
    text: str,
    locale: str,
    translations: Translations,
    csrf: str,
) -> str:
    """The reporter's text in a box to change; saving seals the change, the original to leads."""
    t = translations.gettext
    label = item_label(kind, index, locale, translations)
    target = f"/reports/{escape(report_id)}/redact/{kind}/{index}?lang={locale}"
    body = (
        f"<h1>{escape(t(locale, texts.REDACT_TITLE))}</h1>"
        f"<p>{escape(report_id)}: {escape(label)}</p>"
        f"<p>{escape(t(locale, texts.REDACT_HELP))}</p>"
        f'<form method="post" action="{target}">{_csrf(csrf)}'
        f'<textarea name="text" dir="auto" required rows="12">{escape(text)}</textarea>'
        f"<button>{escape(t(locale, texts.REDACT_SAVE))}</button></form>"
    )
    return page(
        label, body, locale, translations, here=f"/reports/{report_id}/redact/{kind}/{index}"
    )


def _sharing(
    rid: str,
    locale: str,
    translations: Translations,
    csrf: str,
    sharing: Sharing,
    partners: Sequence[str],
) -> str:
    """Where consent stands, asking (again) when no question waits, and sharing after a yes."""
    t = translations.gettext
    parts = [f"<h2>{escape(t(locale, texts.SHARE))}</h2>"]
    parts.append(f"<p>{escape(t(locale, texts.SHARING_SAID[sharing]))}</p>")
    if sharing is not Sharing.WAITING:
        parts.append(
            f'<form method="post" action="/reports/{rid}/ask-consent?lang={locale}">'
            f"{_csrf(csrf)}<button>{escape(t(locale, texts.ASK_CONSENT))}</button></form>"
        )
    if sharing is Sharing.YES and not partners:
        parts.append(f"<p>{escape(t(locale, texts.NO_PARTNERS))}</p>")
    elif sharing is Sharing.YES:
        options = "".join(
            f'<option value="{escape(name)}">{escape(name)}</option>' for name in partners
        )
        parts.append(
            f'<form method="post" action="/reports/{rid}/route?lang={locale}">{_csrf(csrf)}'
            f'<label>{escape(t(locale, texts.PARTNER))} <select name="partner" required>'
            f"{options}</select></label>"
            f'<label>{escape(t(locale, texts.SUMMARY))}<textarea name="summary" dir="auto" '
            f'required maxlength="{MAX_SUMMARY_CHARS}"></textarea></label>'
            f"<button>{escape(t(locale, texts.SHARE_BUTTON))}</button></form>"
        )
    return "".join(parts)


def refused_page(reason: str, locale: str, translations: Translations) -> str:
    """Say what the server refused, in the admin's language."""
    text = translations.format(locale, texts.REFUSED, reason=reason)
    return page(text, f'<p class="refused">{escape(text)}</p>', locale, translations)


def _csrf(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(token)}">'
