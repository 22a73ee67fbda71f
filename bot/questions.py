"""Declare the intake questions as data: what is asked, in which order, and when it is skipped.

This module owns the question set of docs/design.md §5 and nothing else: no Telegram types, no
storage, no randomness. Every user-facing string is an English msgid marked with ``N_`` so that
``pybabel extract`` finds it; it is translated only when a reply is rendered. Option ids are
short ASCII words because they travel in callback data (64 bytes at most) and in statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from bot.i18n.translations import N_

UNSAID: Final = "unsaid"
"""Option id of "prefer not to say", offered wherever it makes sense."""
NOT_SAID: Final = N_("Not said")
"""How an answer that was skipped, or never asked, reads to admins and partners."""

Answers = Mapping[str, "str | tuple[str, ...]"]


@dataclass(frozen=True)
class Option:
    """One button: a stable id for data, a msgid for people.

    ``typed`` holds other words a reporter may type for it, in any language and script (the
    everyday name of a place, "بله" for a button that reads "بلی، …"): many reporters type
    instead of pressing, and a word the label lacks must not get "I did not understand".
    They are only matched, never shown. ``digest_label`` names the option in a partner
    digest when ``label`` is the reporter's own first-person words ("I do not know").
    """

    id: str
    label: str
    typed: tuple[str, ...] = ()
    digest_label: str = ""


def _always(_: Answers) -> bool:
    return True


@dataclass(frozen=True)
class _OptionQuestion:
    """A question answered with buttons; typed text is matched against the option labels."""

    id: str
    prompt: str
    admin_label: str
    options: tuple[Option, ...]
    allow_unsaid: bool = True
    columns: int = 1
    ask_if: Callable[[Answers], bool] = field(default=_always, compare=False)

    def all_options(self) -> tuple[Option, ...]:
        """Return the options as shown, "prefer not to say" last."""
        if self.allow_unsaid:
            return (*self.options, Option(UNSAID, N_("Prefer not to say")))
        return self.options


@dataclass(frozen=True)
class Choice(_OptionQuestion):
    """Ask for exactly one option."""


@dataclass(frozen=True)
class MultiChoice(_OptionQuestion):
    """Ask for one or more options, toggled on and off, then confirmed with "Done"."""


@dataclass(frozen=True)
class FreeText:
    """Ask for typed text that is sealed to the admins the moment it arrives.

    ``many`` lets the reporter send several messages before pressing "Done".
    """

    id: str
    prompt: str
    admin_label: str
    many: bool = False
    ask_if: Callable[[Answers], bool] = field(default=_always, compare=False)


@dataclass(frozen=True)
class Confirm:
    """Ask a yes/no question whose answer changes what happens to the report."""

    id: str
    prompt: str
    admin_label: str
    ask_if: Callable[[Answers], bool] = field(default=_always, compare=False)

    def all_options(self) -> tuple[Option, ...]:
        """Return yes and no, yes first."""
        return (YES, NO)


Question = Choice | MultiChoice | FreeText | Confirm

YES_WORDS: Final = ("yes", "بلی", "بله", "آری", "هو", "هاو", "ها")
"""What people type for "yes" in Dari, Pashto and English; the first word of every yes button."""
NO_WORDS: Final = ("no", "نه", "نخیر")
"""What people type for "no" in Dari, Pashto and English."""
YES: Final = Option("yes", N_("Yes"), typed=YES_WORDS)
NO: Final = Option("no", N_("No"), typed=NO_WORDS)

MESSAGING_APPS: Final = (
    "imo",
    "ایمو",
    "whatsapp",
    "واتساپ",
    "واتس‌اپ",
    "واټساپ",
    "facebook",
    "فیسبوک",
    "فېسبوک",
    "telegram",
    "تلگرام",
    "ټلګرام",
)
"""The apps people name when asked how someone reached them (Imo is common in Afghanistan)."""

RUSSIA_WORDS: Final = ("روس",)
"""Russia as people say it in Dari and Pashto (the label says روسیه)."""

INCIDENTS: Final = (
    Option(
        "recruit_armed",
        N_("Asked to fight abroad or join an armed group"),
        digest_label=N_("Approached to fight abroad or join an armed group"),
    ),
    Option("false_job", N_("A job offer abroad that looked false")),
    Option("taliban_threat", N_("Threats, searches or arrest by the Taliban")),
    Option("exploitation", N_("Documents or wages taken, debt, or being held")),
    Option("other", N_("Something else")),
)

COUNTRIES: Final = (
    Option("AF", N_("Afghanistan")),
    Option("IR", N_("Iran")),
    Option("PK", N_("Pakistan")),
    Option("TR", N_("Turkey")),
    Option("RU", N_("Russia"), typed=RUSSIA_WORDS),
    Option("other", N_("Another country")),
)

AFGHAN_PROVINCES: Final = (
    Option("badakhshan", N_("Badakhshan")),
    Option("badghis", N_("Badghis")),
    Option("baghlan", N_("Baghlan")),
    Option("balkh", N_("Balkh")),
    Option("bamyan", N_("Bamyan")),
    Option("daykundi", N_("Daykundi")),
    Option("farah", N_("Farah")),
    Option("faryab", N_("Faryab")),
    Option("ghazni", N_("Ghazni")),
    Option("ghor", N_("Ghor")),
    Option("helmand", N_("Helmand")),
    Option("herat", N_("Herat")),
    Option("jowzjan", N_("Jowzjan")),
    Option("kabul", N_("Kabul")),
    Option("kandahar", N_("Kandahar")),
    Option("kapisa", N_("Kapisa")),
    Option("khost", N_("Khost")),
    Option("kunar", N_("Kunar")),
    Option("kunduz", N_("Kunduz")),
    Option("laghman", N_("Laghman")),
    Option("logar", N_("Logar")),
    Option("nangarhar", N_("Nangarhar")),
    Option("nimruz", N_("Nimruz")),
    Option("nuristan", N_("Nuristan")),
    Option("paktia", N_("Paktia")),
    Option("paktika", N_("Paktika")),
    Option("panjshir", N_("Panjshir")),
    Option("parwan", N_("Parwan")),
    Option("samangan", N_("Samangan")),
    Option("sar_e_pol", N_("Sar-e Pol")),
    Option("takhar", N_("Takhar")),
    Option("uruzgan", N_("Uruzgan"), typed=("اروزگان", "اروزګان", "Oruzgan", "Urozgan")),
    Option("wardak", N_("Wardak"), typed=("وردک", "وردګ", "Maidan Wardak")),
    Option("zabul", N_("Zabul")),
)

IRANIAN_PROVINCES: Final = (
    Option("tehran", N_("Tehran")),
    Option("khorasan_razavi", N_("Razavi Khorasan (Mashhad)")),
    Option("south_khorasan", N_("South Khorasan")),
    Option("isfahan", N_("Isfahan")),
    Option("kerman", N_("Kerman")),
    Option("fars", N_("Fars (Shiraz)")),
    Option("qom", N_("Qom")),
    Option("yazd", N_("Yazd")),
    Option("alborz", N_("Alborz (Karaj)")),
    Option(
        "sistan_baluchestan",
        N_("Sistan and Baluchestan (Zahedan)"),
        typed=("زاهدان", "Zahedan", "سیستان و بلوچستان", "Sistan and Baluchestan"),
    ),
    Option("semnan", N_("Semnan")),
    Option("markazi", N_("Markazi (Arak)")),
    Option("golestan", N_("Golestan")),
    Option("other_ir", N_("Another province of Iran")),
)

WHEN: Final = (
    Option("this_week", N_("This week")),
    Option("this_month", N_("This month")),
    Option("months_ago", N_("One to six months ago")),
    Option("earlier", N_("More than six months ago")),
)

PARTIES: Final = (
    Option("foreign_military", N_("A foreign army or private military company")),
    Option("armed_group", N_("An armed group")),
    Option("taliban", N_("The Taliban")),
    Option("broker", N_("A smuggler or broker")),
    Option("unknown", N_("I do not know"), digest_label=N_("Not known to the reporter")),
)

CHANNELS: Final = (
    Option("in_person", N_("In person")),
    Option("phone", N_("By phone")),
    Option(
        "social_media",
        N_("On Facebook, WhatsApp, Imo, Telegram or another app"),
        typed=MESSAGING_APPS,
        digest_label=N_("On social media or a messaging app"),
    ),
    Option("relative", N_("Through a relative or friend")),
    Option("other", N_("Another way")),
)

OFFERS: Final = (
    Option("money", N_("Money")),
    Option("family_payment", N_("Payment to my family")),
    Option("clemency", N_("Pardon from the Taliban or safety for relatives")),
    Option("papers", N_("Papers or residency")),
    Option("job", N_("A job abroad")),
    Option("threat", N_("Threats to me or my family")),
    Option("documents_taken", N_("My documents were taken")),
    Option("other", N_("Something else")),
)

DESTINATIONS: Final = (
    Option("russia_ukraine", N_("Russia or the war in Ukraine"), typed=RUSSIA_WORDS),
    Option("syria", N_("Syria")),
    Option("iran_group", N_("An armed group in Iran")),
    Option("job_abroad", N_("A job in another country")),
    Option("unknown", N_("I do not know")),
)


def _asks_province(answers: Answers) -> bool:
    return answers.get("country") in ("AF", "IR")


def _asks_destination(answers: Answers) -> bool:
    return answers.get("incident") != "taliban_threat"


def provinces_for(answers: Answers) -> tuple[Option, ...]:
    """Return the provinces of the chosen country; empty where no province is asked."""
    country = answers.get("country")
    if country == "AF":
        return AFGHAN_PROVINCES
    if country == "IR":
        return IRANIAN_PROVINCES
    return ()


QUESTIONS: Final[tuple[Question, ...]] = (
    Choice(
        "danger_now",
        N_("First: are you in danger right now?"),
        N_("In danger now"),
        (Option("yes", N_("Yes, I am in danger"), typed=YES_WORDS), NO),
    ),
    Choice(
        "incident",
        N_("What happened? Choose the closest one."),
        N_("What happened"),
        INCIDENTS,
    ),
    Choice(
        "country",
        N_("In which country did it happen?"),
        N_("Country"),
        COUNTRIES,
        columns=2,
    ),
    Choice(
        "province",
        N_("In which province? You can also type the name."),
        N_("Province"),
        (*AFGHAN_PROVINCES, *IRANIAN_PROVINCES),
        columns=3,
        ask_if=_asks_province,
    ),
    Choice("when", N_("When did it happen, roughly?"), N_("When"), WHEN, columns=2),
    Choice("party", N_("Who approached or threatened you?"), N_("Who"), PARTIES),
    Choice("channel", N_("How did they reach you?"), N_("How"), CHANNELS),
    MultiChoice(
        "offered",
        N_("What did they offer or demand? Choose all that fit, then press Done."),
        N_("Offered or demanded"),
        OFFERS,
    ),
    Choice(
        "destination",
        N_("Where did they want you to go?"),
        N_("Where to"),
        DESTINATIONS,
        ask_if=_asks_destination,
    ),
    FreeText(
        "recruiter_contact",
        N_(
            "Do you have a phone number, account name or place of the person who approached "
            "you? Type it here. Only our team can read it. You can skip this."
        ),
        N_("Contact of that person"),
    ),
    Choice(
        "former_forces",
        N_(
            "Did you serve in the former government's army, police, intelligence service (NDS) "
            "or local police (Arbaki)?"
        ),
        N_("Former Afghan forces"),
        (YES, NO),
    ),
    FreeText(
        "narrative",
        N_(
            "Now tell us what happened, in your own words. You can send several messages. "
            "Press Done when you have finished, or Skip."
        ),
        N_("Story"),
        many=True,
    ),
    Confirm(
        "consent_statistics",
        N_(
            "We count reports to show partner organisations what is happening. We count only: "
            "the kind of event, who did it, the country and province, the month, whether you "
            "were in danger, and whether you served in the former army, police or intelligence "
            "service. No name, no phone "
            "number, no story. May we count your report?"
        ),
        N_("Agrees to be counted"),
    ),
    Confirm(
        "consent_referral",
        N_(
            "A partner organisation may be able to help you. May our team share your case with "
            "them, without your name? We will ask you again before we do."
        ),
        N_("Agrees to referral"),
    ),
    Confirm(
        "notify_replies",
        N_(
            "Do you want us to tell you here when an answer comes? To do this, we keep a "
            "locked note that this report is from this Telegram account, for three months at "
            "most. If you are in danger, press No."
        ),
        N_("Wants a message when answered"),
    ),
)

REPLY_NOTICE_DAYS: Final = 90
"""How long the link kept for a reply notice lives; the notify question says "three months"."""

QUESTION_INDEX: Final[Mapping[str, Question]] = {q.id: q for q in QUESTIONS}
SEALED_TEXT_KINDS: Final = tuple(q.id for q in QUESTIONS if isinstance(q, FreeText))
ANSWERS_KIND: Final = "answers"
"""Item kind of the sealed JSON that holds a report's choice answers."""
ATTACHMENT_KIND: Final = "attachment"
"""Item kind attachment streams are bound to (their chunks live in ``attachment_chunks``)."""
ATTACHMENT_META_KIND: Final = "attachment_meta"
"""Item kind of the sealed JSON that describes one attachment (kind, size, question)."""
REPLY_KIND: Final = "reply"
"""Item kind of an admin's answer: sealed to the reporter in ``replies``, and a copy for admins."""
NOTE_KIND: Final = "note"
"""Item kind of a team note on a report: sealed to the admins only, never shown to the reporter."""
FOLLOWUP_KIND: Final = "followup"
"""Item kind of what a reporter writes to the team after the report (opened with the code)."""
FOLLOWUP_META_KIND: Final = "followup_meta"
"""Item kind of the sealed JSON that describes a file a reporter sent after the report."""
FOLLOWUP_FILE_KIND: Final = "followup_file"
"""Item kind a file sent after the report is bound to (its chunks are an upload)."""
CONSENT_KIND: Final = "referral_consent"
"""Item kind of a reporter's answer when the team asked to share the case with a partner."""
REDACTABLE_KINDS: Final = (*SEALED_TEXT_KINDS, FOLLOWUP_KIND)
"""Text items the team may redact: the reporter's own words, in the report and after it."""
ORIGINAL_PREFIX: Final = "original_"


def original_kind(kind: str) -> str:
    """The kind under which a redacted item's original is kept, sealed to the leads only."""
    return ORIGINAL_PREFIX + kind


ORIGINAL_KINDS: Final = frozenset(original_kind(kind) for kind in REDACTABLE_KINDS)


def find_question(question_id: str) -> Question | None:
    """Look a question up by id; None for ids from an older or newer flow."""
    return QUESTION_INDEX.get(question_id)


def options_for(question: Question, answers: Answers) -> tuple[Option, ...]:
    """Return the options shown for a question given earlier answers."""
    if isinstance(question, FreeText):
        return ()
    if question.id == "province":
        provinces = provinces_for(answers)
        return (*provinces, Option(UNSAID, N_("Prefer not to say")))
    return question.all_options()


def _find_option(question_id: str, option_id: str) -> Option | None:
    question = find_question(question_id)
    if question is None or isinstance(question, FreeText):
        return None
    return next((option for option in question.all_options() if option.id == option_id), None)


def option_label(question_id: str, option_id: str) -> str:
    """Return the msgid of an option's label, or the id itself when it is unknown."""
    option = _find_option(question_id, option_id)
    return option_id if option is None else option.label


def digest_label(question_id: str, option_id: str) -> str:
    """Return the msgid a partner digest names an option with, or the id when it is unknown.

    A digest row speaks about reporters, so an option worded as the reporter's own answer
    ("I do not know", Dari «خواستند … بجنگم») has neutral words of its own.
    """
    option = _find_option(question_id, option_id)
    if option is None:
        return option_id
    return option.digest_label or option.label
