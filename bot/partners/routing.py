"""Share one case with a partner organisation: with the reporter's yes, only what the team wrote.

This module owns what a routed case may contain and when it may go. The reporter was asked
"May our team share your case with them, without your name? We will ask you again before we
do." So a case goes only when the reporter said yes when the team asked again
(``amanat admin ask-consent``): their latest recorded answer, sealed to the admins on the
report, is yes, and no newer question waits for an answer.

What goes: the report's choice answers (what happened, who, where, the month) in the partner's
language, and a summary the team wrote and redacted itself. What never goes: the reporter's
own words, recruiter contacts, voice notes, photos, files, the receipt code, and the answers
about statistics and notices, which concern only the team (``docs/partner-guide.md`` §8).
Copying the story would copy names, places and ways of speaking that identify a person; a
summary written for the purpose does not. The text is sealed to the partner's age key by
:mod:`bot.partners`. Pure: no storage, no files, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Final

from bot.admin.view import MONTH, OpenedReport, answer_lines, neutralise
from bot.answers import AnswersDocument, AnswersFormatError, decode_consent
from bot.i18n.localdates import format_month
from bot.i18n.translations import N_, Translations
from bot.partners.months import MONTH_PATTERN
from bot.questions import CONSENT_KIND

NOT_SHARED: Final = frozenset({"consent_statistics", "notify_replies"})
"""Answers that concern only the team: never in a shared case."""

MAX_SUMMARY_CHARS: Final = 20_000

CASE_TITLE: Final = N_("Amanat: a case shared with your organisation")
# Translators: {case} is a case number of 10 letters and digits, e.g. 7K3M9Q2X1A.
CASE_NUMBER: Final = N_("Case {case}")
TEAM_SUMMARY: Final = N_("What our team wrote about it:")
CASE_RULES: Final = N_(
    "The person agreed that we share this with you, without their name. Do not try to find or "
    "contact them. If you can help, tell our team, and our team will answer them."
)


class Sharing(Enum):
    """Where the reporter's consent to sharing their case stands."""

    NOT_ASKED = "not asked"
    WAITING = "waiting"
    YES = "yes"
    NO = "no"


class RoutingRefused(Exception):
    """A case may not be shared; the message says why and names no content.

    ``sharing`` is where consent stands when that is the reason (None for a bad summary or
    answer), so a console can say it in the admin's language.
    """

    def __init__(self, message: str, sharing: Sharing | None = None) -> None:
        """Keep the reason."""
        super().__init__(message)
        self.sharing = sharing


def recorded_consent(report: OpenedReport) -> list[bool]:
    """The reporter's answers about sharing the case, oldest first, as sealed on the report."""
    answers = sorted((i for i in report.items if i.kind == CONSENT_KIND), key=lambda i: i.index)
    try:
        return [decode_consent(item.data) for item in answers]
    except AnswersFormatError:
        raise RoutingRefused(
            f"a consent answer of report {report.report_id} is not in a known format"
        ) from None


def sharing_state(recorded: Sequence[bool], *, question_waiting: bool) -> Sharing:
    """Where consent stands: a waiting question outranks every older answer."""
    if question_waiting:
        return Sharing.WAITING
    if not recorded:
        return Sharing.NOT_ASKED
    return Sharing.YES if recorded[-1] else Sharing.NO


def check_consent(recorded: Sequence[bool], *, question_waiting: bool) -> None:
    """Refuse unless the reporter's latest recorded answer is yes and no question waits.

    ``recorded`` holds the reporter's answers to "may we share your case?", oldest first, as
    sealed on the report when they answered with their code.
    """
    state = sharing_state(recorded, question_waiting=question_waiting)
    if state is Sharing.WAITING:
        raise RoutingRefused(
            "the team's question to the reporter is still waiting for an answer: they answer "
            "yes or no the next time they check with their code",
            state,
        )
    if state is Sharing.NOT_ASKED:
        raise RoutingRefused(
            "the reporter has not said yes to sharing this case: ask them first with "
            "amanat admin ask-consent ID",
            state,
        )
    if state is Sharing.NO:
        raise RoutingRefused("the reporter said no to sharing this case", state)


def check_summary(text: str) -> str:
    """Accept the team's summary: 1 to MAX_SUMMARY_CHARS characters once trimmed."""
    summary = text.strip()
    if not 0 < len(summary) <= MAX_SUMMARY_CHARS:
        raise RoutingRefused(f"the summary must have 1 to {MAX_SUMMARY_CHARS} characters")
    return summary


def render_case(
    report_id: str,
    document: AnswersDocument,
    summary: str,
    locale: str,
    translations: Translations,
) -> str:
    """Write the case for one partner, in its language: answers, the team's summary, rules."""
    shared = AnswersDocument(
        locale=document.locale,
        month=document.month,
        answers={q: a for q, a in document.answers.items() if q not in NOT_SHARED},
    )
    lines = [
        translations.gettext(locale, CASE_TITLE),
        translations.format(locale, CASE_NUMBER, case=report_id),
        "",
    ]
    month = MONTH_PATTERN.fullmatch(document.month or "")
    if month is not None:
        shown = format_month(locale, int(month.group(1)), int(month.group(2)))
        lines.append(f"{translations.gettext(locale, MONTH)}: {shown}")
    lines.extend(
        f"{label}: {answer}" for label, answer in answer_lines(shared, locale, translations)
    )
    lines += ["", translations.gettext(locale, TEAM_SUMMARY), neutralise(summary), ""]
    lines.append(translations.gettext(locale, CASE_RULES))
    return "\n".join(lines) + "\n"
