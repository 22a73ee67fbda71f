"""Route a case to a partner through the admin API: consent read and case sealed here.

The server cannot read the reporter's sealed yes, so the admin's machine opens it, checks it
(:mod:`bot.partners.routing`), writes the case and seals it to the partner's age key; the
server chains the route first, so no case leaves unrecorded. The command line and the console
both route through this one function.
"""

from __future__ import annotations

from bot.admin.opening import open_stored
from bot.adminapi.client import AdminApiClient
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.partner import seal_for_partner
from bot.i18n.translations import Translations
from bot.partners.routing import check_consent, recorded_consent, render_case
from bot.settings import Partner


async def route_case(
    api: AdminApiClient,
    key: AdminPrivateKey,
    report_id: str,
    partner: Partner,
    summary: str,
    translations: Translations,
) -> bytes:
    """The case sealed to ``partner``, its route chained; RoutingRefused without a yes.

    ``summary`` is checked already (:func:`bot.partners.routing.check_summary`);
    ``translations`` holds the partner's language.
    """
    stored = await api.report(report_id)
    report = open_stored(stored, key, await api.history(report_id))
    waiting = await api.consent_waiting(report_id)
    check_consent(recorded_consent(report), question_waiting=waiting)
    text = render_case(report_id, report.answers, summary, partner.language, translations)
    sealed = seal_for_partner(text, partner.age_recipients)
    await api.record_route(report_id, partner.name)
    return sealed
