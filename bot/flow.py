"""Run the intake conversation as a pure function: ``step(draft, event, env, config)``.

This module owns the conversation's states and transitions. It knows nothing of Telegram,
storage or cryptography: adapters turn updates into :class:`Event` values and render the
returned :class:`Reply` values; the service carries out the returned effects (sealing typed
answers, submitting). It must never perform I/O, read clocks or draw random numbers: the
environment (today's date, a fresh report id) comes in through :class:`Env`, so the same
inputs always give the same outputs, which the property tests rely on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Final

from bot.i18n import N_, SUPPORTED_LOCALES
from bot.questions import (
    QUESTIONS,
    UNSAID,
    Choice,
    Confirm,
    FreeText,
    MultiChoice,
    Option,
    Question,
    find_question,
    option_label,
    options_for,
)

DRAFT_VERSION: Final = 1

IDLE: Final = "idle"
PICK_LANGUAGE: Final = "pick_language"
SUMMARY: Final = "summary"
EDIT_MENU: Final = "edit_menu"
CONFIRM_CANCEL: Final = "confirm_cancel"
CONFIRM_RESTART: Final = "confirm_restart"

COMMAND_DESCRIPTIONS: Final = {
    "start": N_("Start"),
    "report": N_("Tell us what happened"),
    "help": N_("How to use this bot"),
    "language": N_("Change the language"),
    "status": N_("Check your report with your code"),
    "cancel": N_("Delete the report you are writing"),
    "safety": N_("Safety advice"),
    "wipe": N_("Delete this whole chat from your phone"),
    "forget": N_("Forget my language and unsent answers"),
}
"""The commands people see in Telegram's menu, in the order shown."""

# ---------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Msg:
    """A translatable message: an English msgid and its parameters, rendered late.

    Parameters that are themselves :class:`Msg` are translated into the same language;
    ``locale`` forces a language (the picker speaks all three at once).
    """

    msgid: str
    params: tuple[tuple[str, object], ...] = ()
    locale: str | None = None


@dataclass(frozen=True)
class Raw:
    """A parameter rendered exactly as given (a mark, not a word): never isolated or translated."""

    text: str


@dataclass(frozen=True)
class Code:
    """A receipt code: shown in the reader's digits, isolated from the surrounding text."""

    text: str


def msg(msgid: str, /, *, locale: str | None = None, **params: object) -> Msg:
    """Build a :class:`Msg`; sorted params keep equal messages equal."""
    return Msg(msgid, tuple(sorted(params.items())), locale)


@dataclass(frozen=True)
class Button:
    """An inline button: its label (a message, or a literal such as a language name)."""

    label: Msg | str
    data: str


@dataclass(frozen=True)
class Reply:
    """One message to show. ``edit_pressed`` replaces the message whose button was pressed."""

    parts: tuple[Msg, ...]
    keyboard: tuple[tuple[Button, ...], ...] = ()
    edit_pressed: bool = False
    compact: bool = False
    """Join the parts line by line (a list), not paragraph by paragraph."""


@dataclass(frozen=True)
class SealText:
    """Seal this typed answer to the admins now; it must never be stored in the clear."""

    kind: str
    index: int
    text: str = field(repr=False)  # never in a log or traceback


@dataclass(frozen=True)
class SealAttachment:
    """Fetch this file from the transport and seal it to the admins as a stream, now.

    ``caption`` and ``file_name`` are the reporter's words about the file and its name; they
    are sealed with the file's description, never kept in the clear.
    """

    question: str
    index: int
    kind: str
    file_ref: str
    size: int | None
    caption: str = field(default="", repr=False)  # repr=False: never in a log or traceback
    file_name: str = field(default="", repr=False)


@dataclass(frozen=True)
class DropSealed:
    """Forget the sealed items of one kind (the reporter skipped or replaced them)."""

    kind: str


@dataclass(frozen=True)
class Submit:
    """Store the report; the service answers with the receipt only after the commit."""


@dataclass(frozen=True)
class RememberLanguage:
    """Remember the reporter's language under their pseudonym."""

    locale: str


@dataclass(frozen=True)
class ForgetMe:
    """Delete the draft and the remembered language."""


@dataclass(frozen=True)
class LookUpReceipt:
    """Look a receipt code up and tell the reporter what became of the report."""

    code: str


@dataclass(frozen=True)
class WipeChat:
    """Delete every message of this conversation that can still be deleted, both sides."""


@dataclass(frozen=True)
class DeleteUserMessage:
    """Delete the message the reporter just sent (a location or a phone contact)."""


Effect = (
    SealText
    | SealAttachment
    | DropSealed
    | Submit
    | RememberLanguage
    | ForgetMe
    | LookUpReceipt
    | DeleteUserMessage
    | WipeChat
)


@dataclass(frozen=True)
class Command:
    """A slash command such as ``/start fa`` (name without slash, lower case)."""

    name: str
    argument: str = ""


@dataclass(frozen=True)
class Pressed:
    """An inline button was pressed; ``data`` is its callback data."""

    data: str


@dataclass(frozen=True)
class Typed:
    """The reporter typed (or forwarded) text."""

    text: str = field(repr=False)  # never in a log or traceback


@dataclass(frozen=True)
class Sent:
    """The reporter sent something that is not text: ``kind`` names it (sticker, photo…)."""

    kind: str


@dataclass(frozen=True)
class Attached:
    """The reporter sent a file the bot can keep: a voice note, photo, video or document.

    ``file_ref`` is the transport's opaque handle for fetching it; ``size`` is what the
    transport announced, if anything; ``caption`` is text sent with the file and
    ``file_name`` the name a document came with ("" when there is none).
    """

    kind: str
    file_ref: str
    size: int | None = None
    caption: str = field(default="", repr=False)  # repr=False: never in a log or traceback
    file_name: str = field(default="", repr=False)


@dataclass(frozen=True)
class Edited:
    """The reporter edited an earlier message."""


Event = Command | Pressed | Typed | Sent | Attached | Edited

OptionMatcher = Callable[[Sequence[Option], str], "str | None"]
"""Match typed text against options (in every language); returns an option id or None."""


def _no_match(options: Sequence[Option], text: str) -> str | None:
    return None


@dataclass(frozen=True)
class Env:
    """What the step may know of the outside world, passed in so the step stays pure."""

    today: date
    fresh_report_id: str
    language_hint: str | None = None


@dataclass(frozen=True)
class FlowConfig:
    """Deployment choices that shape the conversation."""

    max_answer_chars: int = 3000
    max_attachment_bytes: int = 20 * 1024 * 1024
    max_files_per_report: int = 30
    max_report_file_bytes: int = 200 * 1024 * 1024
    emergency_contacts: tuple[str, ...] = ()
    draft_ttl_minutes: int = 24 * 60
    match_option: OptionMatcher = field(default=_no_match, compare=False)


@dataclass(frozen=True)
class Draft:
    """Everything the conversation remembers between messages (stored encrypted)."""

    locale: str | None = None
    position: str = IDLE
    report_id: str | None = None
    month: str | None = None
    answers: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    text_counts: Mapping[str, int] = field(default_factory=dict)
    file_counts: Mapping[str, int] = field(default_factory=dict)
    file_bytes: Mapping[str, int] = field(default_factory=dict)
    """Announced sizes of the files kept, per question: what the report's cap counts."""
    files_sent: int = 0
    """Files ever kept in this report; the next file's index, so none is ever reused."""
    selection: tuple[str, ...] = ()
    seq: int = 0
    editing: bool = False
    resume: str | None = None

    @property
    def in_report(self) -> bool:
        """Tell whether a report is being filled in."""
        return self.report_id is not None

    @property
    def is_blank(self) -> bool:
        """Tell whether there is nothing worth storing."""
        return self == Draft()

    def to_json(self) -> bytes:
        """Serialise for encryption; the format is versioned."""
        data = {
            "v": DRAFT_VERSION,
            "locale": self.locale,
            "position": self.position,
            "report_id": self.report_id,
            "month": self.month,
            "answers": {k: list(v) if isinstance(v, tuple) else v for k, v in self.answers.items()},
            "text_counts": dict(self.text_counts),
            "file_counts": dict(self.file_counts),
            "file_bytes": dict(self.file_bytes),
            "files_sent": self.files_sent,
            "selection": list(self.selection),
            "seq": self.seq,
            "editing": self.editing,
            "resume": self.resume,
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Draft:
        """Parse a stored draft; unknown versions give a blank draft rather than a crash."""
        data = json.loads(raw)
        if data.get("v") != DRAFT_VERSION:
            return cls()
        answers = {k: tuple(v) if isinstance(v, list) else v for k, v in data["answers"].items()}
        return cls(
            locale=data["locale"],
            position=data["position"],
            report_id=data["report_id"],
            month=data["month"],
            answers=answers,
            text_counts=dict(data["text_counts"]),
            file_counts=dict(data.get("file_counts", {})),
            file_bytes=dict(data.get("file_bytes", {})),
            files_sent=int(data.get("files_sent", sum(data.get("file_counts", {}).values()))),
            selection=tuple(data["selection"]),
            seq=int(data["seq"]),
            editing=bool(data["editing"]),
            resume=data["resume"],
        )


@dataclass(frozen=True)
class Outcome:
    """What one step produced."""

    draft: Draft
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()


# ----------------------------------------------------------------------- texts

WELCOME: Final = N_(
    "Salaam. This is Amanat. Here you can tell us, safely, if someone tried to recruit you "
    "for a war or an armed group, offered you a false job abroad, threatened you, or took "
    "your documents or wages."
)
HONESTY: Final = N_(
    "Your answers are locked with a key that only our small team holds. We do not ask your "
    "name. Telegram itself is not fully private: if you are in great danger, be careful "
    "what you write."
)
HELP: Final = N_(
    "How to use Amanat:\n"
    "• Press the buttons to answer.\n"
    "• You can type instead of pressing.\n"
    "• /report starts a new report.\n"
    "• /cancel deletes the report you are writing.\n"
    "• /language changes the language.\n"
    "• /safety shows safety advice.\n"
    "• /wipe deletes this whole chat from your phone.\n"
    "• /status and your code shows what happened to your report."
)
SAFETY: Final = N_(
    "Stay safe:\n"
    "• If someone may check your phone, delete this chat when you finish.\n"
    "• Do not send your name, your photo or your exact address.\n"
    "• Never pay anyone to be 'sent' to a job or to a war abroad.\n"
    "• Keep your documents with you. Do not give them to an agent."
)
EMERGENCY: Final = N_(
    "If your life is in danger now, go to a safe place first. Call someone you trust. "
    "Our team sees that your report is urgent."
)
PICK_LANGUAGE_TEXT: Final = N_("Please choose your language.")

# Translators: {answer} is the chosen answer, e.g. "Iran".
YOUR_ANSWER: Final = N_("Your answer: {answer}")
# Translators: {count} is how many messages were received so far.
RECEIVED_MANY: Final = N_("Received and locked ({count}). Send more, or press Done.")
# Translators: {hours} is a number of hours, e.g. 24.
OLD_BUTTON: Final = N_(
    "That button is old. Unsent answers are deleted after {hours} hours, "
    "for your safety. You can start again."
)
# Translators: {length} and {limit} are numbers of letters.
TOO_LONG: Final = N_(
    "This message is too long ({length} letters). Please send at most "
    "{limit} letters in one message. You can send the rest in another "
    "message. Nothing was saved from this one."
)
ANSWER_WITH_BUTTONS: Final = N_(
    "I did not understand. Please press one of the buttons, or type its number."
)


def _cb(draft: Draft, action: str, value: str = "") -> str:
    """Build callback data bound to the current question, so old buttons are recognised."""
    return f"{draft.seq}:{action}:{value}"


# ----------------------------------------------------------------------- helpers


def _applicable(answers: Mapping[str, str | tuple[str, ...]]) -> list[Question]:
    return [q for q in QUESTIONS if q.ask_if(answers)]


def _prune(answers: Mapping[str, str | tuple[str, ...]]) -> dict[str, str | tuple[str, ...]]:
    """Drop answers that no longer fit: a question that no longer applies, or a province
    of another country after the country was changed."""
    kept: dict[str, str | tuple[str, ...]] = {}
    for question in _applicable(answers):
        value = answers.get(question.id)
        if value is None:
            continue
        if isinstance(question, Choice) and value not in {
            o.id for o in options_for(question, answers)
        }:
            continue
        kept[question.id] = value
    return kept


def _answered(draft: Draft, question: Question) -> bool:
    if isinstance(question, FreeText):
        return question.id in draft.answers
    return question.id in draft.answers


def _next_question(draft: Draft, after: str | None) -> Question | None:
    """Return the next unanswered applicable question after ``after`` (None: from the start)."""
    questions = _applicable(draft.answers)
    ids = [q.id for q in questions]
    start = ids.index(after) + 1 if after in ids else 0
    for question in questions[start:]:
        if not _answered(draft, question):
            return question
    for question in questions[:start]:
        if not _answered(draft, question):
            return question
    return None


def _previous_question(draft: Draft, current: str) -> Question | None:
    questions = _applicable(draft.answers)
    ids = [q.id for q in questions]
    if current not in ids:
        return None
    index = ids.index(current)
    return questions[index - 1] if index > 0 else None


def _rows(buttons: Sequence[Button], columns: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + columns]) for i in range(0, len(buttons), columns))


def _progress(draft: Draft, question: Question) -> Msg:
    questions = _applicable(draft.answers)
    number = [q.id for q in questions].index(question.id) + 1
    # Translators: shown above each question, e.g. "Question 3 of 12".
    return msg(N_("Question {number} of {total}"), number=number, total=len(questions))


def _answer_text(question: Question, value: str | tuple[str, ...]) -> Msg:
    if isinstance(value, tuple):
        return _joined([option_label(question.id, v) for v in value])
    if isinstance(question, FreeText):
        return msg(N_("Given")) if value == "given" else msg(N_("Skipped"))
    return msg(option_label(question.id, value))


def _joined(labels: Sequence[str]) -> Msg:
    """Join option labels with the list separator of the reader's language."""
    if not labels:
        return msg(N_("Nothing chosen"))
    result = msg(labels[0])
    for label in labels[1:]:
        # Translators: joins two items of a list, e.g. "Money, Papers".
        result = msg(N_("{first}, {second}"), first=result, second=msg(label))
    return result


def _ask(draft: Draft, question: Question, config: FlowConfig) -> tuple[Draft, Reply]:
    """Put a question: bump the sequence so buttons of older questions become stale."""
    draft = replace(draft, position=question.id, seq=draft.seq + 1, selection=())
    if isinstance(question, MultiChoice):
        current = draft.answers.get(question.id, ())
        draft = replace(draft, selection=tuple(current) if isinstance(current, tuple) else ())
    return draft, _question_reply(draft, question, config)


def _question_reply(draft: Draft, question: Question, config: FlowConfig) -> Reply:
    parts = [_progress(draft, question), msg(question.prompt)]
    buttons: list[Button] = []
    nav: list[Button] = []
    columns = 1
    if isinstance(question, Choice | Confirm):
        columns = question.columns if isinstance(question, Choice) else 2
        for number, option in enumerate(options_for(question, draft.answers), start=1):
            # Translators: a button: {number} is the button's number, {label} the answer on it.
            label = msg(N_("{number}. {label}"), number=number, label=msg(option.label))
            buttons.append(Button(label, _cb(draft, "a", option.id)))
    elif isinstance(question, MultiChoice):
        columns = question.columns
        for number, option in enumerate(question.all_options(), start=1):
            mark = "✅ " if option.id in draft.selection else ""
            label = msg(
                # Translators: a button that can be ticked: {mark} is a tick or nothing,
                # {number} the button's number, {label} the answer.
                N_("{mark}{number}. {label}"),
                mark=Raw(mark),
                number=number,
                label=msg(option.label),
            )
            buttons.append(Button(label, _cb(draft, "t", option.id)))
        nav.append(Button(msg(N_("Done ✔")), _cb(draft, "d")))
    else:
        parts.append(
            msg(
                # Translators: {limit} is a number of letters, e.g. 3000.
                N_(
                    "Type your answer (at most {limit} letters), or send a voice note. "
                    "You can also send a photo or a file."
                ),
                limit=config.max_answer_chars,
            )
        )
        if question.many and _given(draft, question.id):
            nav.append(Button(msg(N_("Done ✔")), _cb(draft, "d")))
        nav.append(Button(msg(N_("Skip")), _cb(draft, "s")))
    if _previous_question(draft, question.id) is not None and not draft.editing:
        nav.insert(0, Button(msg(N_("⬅ Back")), _cb(draft, "b")))
    keyboard = _rows(buttons, columns)
    if nav:
        keyboard = (*keyboard, tuple(nav))
    return Reply(tuple(parts), keyboard)


def _summary(draft: Draft) -> tuple[Draft, Reply]:
    draft = replace(draft, position=SUMMARY, seq=draft.seq + 1, editing=False)
    parts = [msg(N_("Please check your report:"))]
    for question in _applicable(draft.answers):
        if question.id not in draft.answers:
            continue
        value = draft.answers[question.id]
        if isinstance(question, FreeText) and question.many and value == "given":
            answer = msg(
                # Translators: {count} is how many story messages were sent.
                N_("Given ({count})"),
                count=_given(draft, question.id),
            )
        else:
            answer = _answer_text(question, value)
        parts.append(
            # Translators: one line of the summary: {question} is a short name of the
            # question, {answer} the answer, e.g. "• Country: Iran".
            msg(N_("• {question}: {answer}"), question=msg(question.admin_label), answer=answer)
        )
    parts.append(msg(N_("Is this right? Press Send when you are ready.")))
    keyboard = (
        (Button(msg(N_("✅ Send report")), _cb(draft, "send")),),
        (Button(msg(N_("✏️ Change an answer")), _cb(draft, "edit")),),
        (Button(msg(N_("🗑 Delete this report")), _cb(draft, "cancel")),),
    )
    return draft, Reply(tuple(parts), keyboard, compact=True)


def _edit_menu(draft: Draft) -> tuple[Draft, Reply]:
    draft = replace(draft, position=EDIT_MENU, seq=draft.seq + 1)
    buttons = [
        Button(msg(q.admin_label), _cb(draft, "e", q.id))
        for q in _applicable(draft.answers)
        if q.id in draft.answers
    ]
    keyboard = (*_rows(buttons, 2), (Button(msg(N_("⬅ Back")), _cb(draft, "b")),))
    return draft, Reply((msg(N_("Which answer do you want to change?")),), keyboard)


def _menu(draft: Draft) -> Reply:
    keyboard: list[tuple[Button, ...]] = []
    if draft.in_report:
        keyboard.append((Button(msg(N_("▶ Continue my report")), "m:continue"),))
    else:
        keyboard.append((Button(msg(N_("📝 Start a report")), "m:report"),))
    keyboard.append(
        (
            Button(msg(N_("🛡 Safety")), "m:safety"),
            Button(msg(N_("🌐 Language")), "m:language"),
        )
    )
    return Reply((msg(WELCOME), msg(HONESTY)), tuple(keyboard))


def _language_picker() -> Reply:
    parts = tuple(msg(PICK_LANGUAGE_TEXT, locale=locale) for locale in SUPPORTED_LOCALES)
    names = {"fa_AF": "دری", "ps": "پښتو", "en": "English"}
    keyboard = tuple((Button(names[locale], f"l:{locale}"),) for locale in SUPPORTED_LOCALES)
    return Reply(parts, keyboard)


def _resume(draft: Draft, config: FlowConfig) -> tuple[Draft, tuple[Reply, ...]]:
    """Show again whatever the reporter was doing, so a detour loses nothing."""
    if draft.position == SUMMARY:
        draft, reply = _summary(draft)
        return draft, (reply,)
    if draft.position == EDIT_MENU:
        draft, reply = _edit_menu(draft)
        return draft, (reply,)
    if draft.position in (CONFIRM_CANCEL, CONFIRM_RESTART):
        return _confirm(draft, draft.position)
    if draft.position == PICK_LANGUAGE:
        return draft, (_language_picker(),)
    question = find_question(draft.position)
    if question is not None and draft.in_report:
        keep = draft.selection
        draft, reply = _ask(draft, question, config)
        if isinstance(question, MultiChoice):
            draft = replace(draft, selection=keep)
            reply = _question_reply(draft, question, config)
        return draft, (reply,)
    return replace(draft, position=IDLE), (_menu(draft),)


def _confirm(draft: Draft, what: str) -> tuple[Draft, tuple[Reply, ...]]:
    draft = replace(draft, position=what, seq=draft.seq + 1)
    text = (
        N_("Delete this report? All your answers will be deleted.")
        if what == CONFIRM_CANCEL
        else N_("You already have a report in progress. Start again from the beginning?")
    )
    keyboard = (
        (
            Button(
                msg(N_("Yes, delete it"))
                if what == CONFIRM_CANCEL
                else msg(N_("Yes, start again")),
                _cb(draft, "x", "yes"),
            ),
        ),
        (Button(msg(N_("No, continue")), _cb(draft, "x", "no")),),
    )
    return draft, (Reply((msg(text),), keyboard),)


def _start_report(
    draft: Draft, env: Env, config: FlowConfig
) -> tuple[Draft, tuple[Reply, ...], tuple[Effect, ...]]:
    fresh = Draft(
        locale=draft.locale,
        report_id=env.fresh_report_id,
        month=f"{env.today.year:04d}-{env.today.month:02d}",
        seq=draft.seq,
    )
    effects: tuple[Effect, ...] = ()
    if draft.report_id is not None:
        effects = tuple(DropSealed(q.id) for q in QUESTIONS if isinstance(q, FreeText))
    question = _next_question(fresh, None)
    assert question is not None  # the question set is never empty
    fresh, reply = _ask(fresh, question, config)
    intro = Reply((msg(N_("Let us begin. You can stop at any time with /cancel.")),))
    return fresh, (intro, reply), effects


# ----------------------------------------------------------------------- step


def step(draft: Draft, event: Event, env: Env, config: FlowConfig) -> Outcome:
    """Advance the conversation by one event; pure, total and deterministic."""
    if draft.locale is None:
        return _without_language(draft, event, env, config)
    if isinstance(event, Command):
        return _on_command(draft, event, env, config)
    if isinstance(event, Pressed):
        return _on_pressed(draft, event, env, config)
    if isinstance(event, Typed):
        return _on_typed(draft, event, env, config)
    if isinstance(event, Sent):
        return _on_sent(draft, event, config)
    if isinstance(event, Attached):
        return _on_attached(draft, event, config)
    return Outcome(
        draft,
        (
            Reply(
                (
                    msg(
                        N_(
                            "You changed a message. I keep what you sent first. To change an "
                            "answer, use “Change an answer” at the end."
                        )
                    ),
                )
            ),
        ),
    )


def _without_language(draft: Draft, event: Event, env: Env, config: FlowConfig) -> Outcome:
    """Get a language first: from a deep link, a button, or Telegram's hint."""
    chosen: str | None = None
    if isinstance(event, Pressed) and event.data.startswith("l:"):
        chosen = event.data[2:]
    elif isinstance(event, Command) and event.name == "start":
        chosen = _locale_from_argument(event.argument) or env.language_hint
    elif env.language_hint is not None and not isinstance(event, Command):
        chosen = env.language_hint
    if chosen not in SUPPORTED_LOCALES:
        return Outcome(replace(draft, position=PICK_LANGUAGE), (_language_picker(),))
    assert chosen is not None
    draft = replace(draft, locale=chosen, position=IDLE)
    return Outcome(draft, (_menu(draft),), (RememberLanguage(chosen),))


def _locale_from_argument(argument: str) -> str | None:
    aliases = {
        "fa": "fa_AF",
        "fa_af": "fa_AF",
        "prs": "fa_AF",
        "dari": "fa_AF",
        "ps": "ps",
        "pashto": "ps",
        "en": "en",
        "english": "en",
    }
    return aliases.get(argument.strip().lower().replace("-", "_"))


def _on_command(draft: Draft, event: Command, env: Env, config: FlowConfig) -> Outcome:
    name = event.name
    if name == "start":
        locale = _locale_from_argument(event.argument)
        effects: tuple[Effect, ...] = ()
        if locale is not None and locale != draft.locale:
            draft = replace(draft, locale=locale)
            effects = (RememberLanguage(locale),)
        if draft.in_report:
            return Outcome(draft, (_menu(draft),), effects)
        return Outcome(replace(draft, position=IDLE), (_menu(draft),), effects)
    if name == "language":
        resume = draft.position if draft.position != PICK_LANGUAGE else draft.resume
        return Outcome(replace(draft, position=PICK_LANGUAGE, resume=resume), (_language_picker(),))
    if name == "report":
        if draft.in_report:
            new, replies = _confirm(replace(draft, resume=draft.position), CONFIRM_RESTART)
            return Outcome(new, replies)
        new, replies, effects = _start_report(draft, env, config)
        return Outcome(new, replies, effects)
    if name == "cancel":
        if not draft.in_report:
            return Outcome(
                draft, (Reply((msg(N_("There is no report to cancel.")),)), _menu(draft))
            )
        new, replies = _confirm(replace(draft, resume=draft.position), CONFIRM_CANCEL)
        return Outcome(new, replies)
    if name in ("help", "safety"):
        text = HELP if name == "help" else SAFETY
        new, replies = _resume(draft, config) if draft.in_report else (draft, ())
        return Outcome(new, (Reply((msg(text),)), *replies))
    if name == "status":
        code = event.argument.strip()
        if not code:
            reply = Reply(
                (
                    msg(
                        N_(
                            "Please send /status followed by your code, for example:\n"
                            "/status 1234-5678-9012-3456-7890"
                        )
                    ),
                )
            )
            return Outcome(draft, (reply,))
        return Outcome(draft, (), (LookUpReceipt(code),))
    if name == "forget":
        replies = (
            Reply((msg(N_("Done. I deleted your unsent answers and your language choice.")),)),
        )
        return Outcome(Draft(), (*replies, _language_picker()), (ForgetMe(),))
    if name == "wipe":
        # Nothing is said afterwards: an empty chat is the answer, and nothing new to hide.
        return Outcome(draft, (), (WipeChat(),))
    unknown = Reply((msg(N_("I do not know this command.")), msg(HELP)))
    new, replies = _resume(draft, config) if draft.in_report else (draft, ())
    return Outcome(new, (unknown, *replies))


def _parse(data: str) -> tuple[int | None, str, str]:
    parts = data.split(":", 2)
    if len(parts) == 3 and parts[0].isdigit():
        return int(parts[0]), parts[1], parts[2]
    if len(parts) == 2:
        return None, parts[0], parts[1]
    return None, "", ""


def _on_pressed(draft: Draft, event: Pressed, env: Env, config: FlowConfig) -> Outcome:
    seq, action, value = _parse(event.data)
    if seq is None:
        return _on_menu_button(draft, action, value, env, config)
    if seq != draft.seq or not (draft.in_report or draft.position == PICK_LANGUAGE):
        return _stale(draft, config)
    if draft.position == SUMMARY:
        return _on_summary_button(draft, action, config)
    if draft.position == EDIT_MENU:
        question = find_question(value) if action == "e" else None
        if question is None:
            new, reply = _summary(draft)
            return Outcome(new, (reply,))
        new, reply = _ask(replace(draft, editing=True), question, config)
        return Outcome(new, (reply,))
    if draft.position in (CONFIRM_CANCEL, CONFIRM_RESTART):
        return _on_confirm(draft, value, env, config)
    question = find_question(draft.position)
    if question is None:
        return _stale(draft, config)
    if action == "b":
        previous = _previous_question(draft, question.id)
        if previous is None:
            return _stale(draft, config)
        new, reply = _ask(draft, previous, config)
        return Outcome(new, (reply,))
    if isinstance(question, MultiChoice):
        return _on_multi(draft, question, action, value, config)
    if isinstance(question, FreeText):
        if action == "s":
            answers = {**draft.answers, question.id: "skipped"}
            counts = {**draft.text_counts, question.id: 0}
            files = {**draft.file_counts, question.id: 0}
            sizes = {**draft.file_bytes, question.id: 0}
            new = replace(
                draft, answers=answers, text_counts=counts, file_counts=files, file_bytes=sizes
            )
            outcome = _advance(new, question, config)
            return replace(outcome, effects=(DropSealed(question.id), *outcome.effects))
        if action == "d" and _given(draft, question.id):
            new = replace(draft, answers={**draft.answers, question.id: "given"})
            return _advance(new, question, config)
        return _stale(draft, config)
    if action == "a" and value in {o.id for o in options_for(question, draft.answers)}:
        return _answer_choice(draft, question, value, config, edit_pressed=True)
    return _stale(draft, config)


def _on_menu_button(draft: Draft, action: str, value: str, env: Env, config: FlowConfig) -> Outcome:
    if action == "l" and value in SUPPORTED_LOCALES:
        draft = replace(draft, locale=value)
        resume = draft.resume
        draft = replace(draft, resume=None, position=resume or IDLE)
        if draft.in_report and resume is not None:
            new, replies = _resume(draft, config)
            return Outcome(new, replies, (RememberLanguage(value),))
        return Outcome(replace(draft, position=IDLE), (_menu(draft),), (RememberLanguage(value),))
    if action == "m" and value == "report":
        if draft.in_report:
            new, replies = _resume(draft, config)
            return Outcome(new, replies)
        new, replies, effects = _start_report(draft, env, config)
        return Outcome(new, replies, effects)
    if action == "m" and value == "continue":
        if draft.in_report:
            new, replies = _resume(draft, config)
            return Outcome(new, replies)
        return _stale(draft, config)
    if action == "m" and value == "safety":
        return Outcome(draft, (Reply((msg(SAFETY),)),))
    if action == "m" and value == "wipe":
        return Outcome(draft, (), (WipeChat(),))
    if action == "m" and value == "language":
        return _on_command(draft, Command("language"), env, config)
    return _stale(draft, config)


def _stale(draft: Draft, config: FlowConfig) -> Outcome:
    """Answer a button from an older message: say so, then show where we are."""
    if draft.in_report:
        note = Reply((msg(N_("That button is from an older message. Here is where we are now:")),))
        new, replies = _resume(draft, config)
        return Outcome(new, (note, *replies))
    hours = max(1, config.draft_ttl_minutes // 60)
    note = Reply(
        (
            msg(
                OLD_BUTTON,
                hours=hours,
            ),
        )
    )
    return Outcome(replace(draft, position=IDLE), (note, _menu(draft)))


def _on_summary_button(draft: Draft, action: str, config: FlowConfig) -> Outcome:
    if action == "send":
        return Outcome(draft, (), (Submit(),))
    if action == "edit":
        new, reply = _edit_menu(draft)
        return Outcome(new, (reply,))
    if action == "cancel":
        new, replies = _confirm(replace(draft, resume=SUMMARY), CONFIRM_CANCEL)
        return Outcome(new, replies)
    return _stale(draft, config)


def _on_confirm(draft: Draft, value: str, env: Env, config: FlowConfig) -> Outcome:
    position = draft.position
    if value == "yes" and position == CONFIRM_CANCEL:
        drops = tuple(DropSealed(q.id) for q in QUESTIONS if isinstance(q, FreeText))
        new = Draft(locale=draft.locale, seq=draft.seq)
        done = Reply((msg(N_("Your report was deleted. Nothing was sent.")),))
        return Outcome(new, (done, _menu(new)), drops)
    if value == "yes" and position == CONFIRM_RESTART:
        new, replies, effects = _start_report(draft, env, config)
        return Outcome(new, replies, effects)
    new, replies = _resume(replace(draft, position=draft.resume or IDLE, resume=None), config)
    return Outcome(new, replies)


def _on_multi(
    draft: Draft, question: MultiChoice, action: str, value: str, config: FlowConfig
) -> Outcome:
    valid = {o.id for o in question.all_options()}
    if action == "t" and value in valid:
        if value == UNSAID:
            selection: tuple[str, ...] = () if UNSAID in draft.selection else (UNSAID,)
        elif value in draft.selection:
            selection = tuple(s for s in draft.selection if s != value)
        else:
            selection = (*(s for s in draft.selection if s != UNSAID), value)
        new = replace(draft, selection=selection)
        reply = replace(_question_reply(new, question, config), edit_pressed=True)
        return Outcome(new, (reply,))
    if action == "d":
        if not draft.selection:
            reply = Reply((msg(N_("Please choose at least one, or “Prefer not to say”.")),))
            return Outcome(draft, (reply,))
        chosen = tuple(o.id for o in question.all_options() if o.id in draft.selection)
        new = replace(draft, answers={**draft.answers, question.id: chosen}, selection=())
        echo = Reply(
            (
                msg(question.prompt),
                msg(YOUR_ANSWER, answer=_answer_text(question, chosen)),
            ),
            edit_pressed=True,
        )
        outcome = _advance(new, question, config)
        return replace(outcome, replies=(echo, *outcome.replies))
    return _stale(draft, config)


def _answer_choice(
    draft: Draft, question: Question, value: str, config: FlowConfig, *, edit_pressed: bool
) -> Outcome:
    answers = _prune({**draft.answers, question.id: value})
    new = replace(draft, answers=answers)
    replies: list[Reply] = []
    echo_parts = (
        msg(question.prompt),
        msg(YOUR_ANSWER, answer=_answer_text(question, value)),
    )
    replies.append(Reply(echo_parts, edit_pressed=edit_pressed))
    if question.id == "danger_now" and value == "yes":
        parts = [msg(EMERGENCY)]
        for contact in config.emergency_contacts:
            # Translators: {contact} is an emergency phone line or address set by the organisation.
            parts.append(msg(N_("• {contact}"), contact=contact))
        replies.append(Reply(tuple(parts)))
    outcome = _advance(new, question, config)
    return replace(outcome, replies=(*replies, *outcome.replies))


def _advance(draft: Draft, answered: Question, config: FlowConfig) -> Outcome:
    """Go to the next unanswered question, or to the summary when none is left."""
    following = _next_question(draft, None) if draft.editing else _next_question(draft, answered.id)
    if following is None:
        new, reply = _summary(draft)
        return Outcome(new, (reply,))
    new, reply = _ask(draft, following, config)
    return Outcome(new, (reply,))


def _on_typed(draft: Draft, event: Typed, env: Env, config: FlowConfig) -> Outcome:
    text = event.text.strip()
    if not draft.in_report:
        if draft.position == PICK_LANGUAGE:
            return Outcome(draft, (_language_picker(),))
        hint = Reply((msg(N_("To tell us what happened, press “Start a report”.")),))
        return Outcome(replace(draft, position=IDLE), (hint, _menu(draft)))
    question = find_question(draft.position)
    if question is None:
        new, replies = _resume(draft, config)
        note = Reply((msg(ANSWER_WITH_BUTTONS),))
        return Outcome(new, (note, *replies))
    if isinstance(question, FreeText):
        return _on_free_text(draft, question, text, config)
    options = (
        options_for(question, draft.answers)
        if not isinstance(question, MultiChoice)
        else question.all_options()
    )
    chosen = _match_number(options, text) or config.match_option(options, text)
    if chosen is not None and not isinstance(question, MultiChoice):
        return _answer_choice(draft, question, chosen, config, edit_pressed=False)
    if chosen is not None and isinstance(question, MultiChoice):
        return _on_multi(draft, question, "t", chosen, config)
    note = Reply((msg(ANSWER_WITH_BUTTONS),))
    new, reply = _ask(draft, question, config)
    if isinstance(question, MultiChoice):
        new = replace(new, selection=draft.selection)
        reply = _question_reply(new, question, config)
    return Outcome(new, (note, reply))


_DIGITS: Final = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def _match_number(options: Sequence[Option], text: str) -> str | None:
    """Accept the number shown on a button, typed in Persian, Arabic or Latin digits."""
    text = text.translate(_DIGITS).strip(" .")
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1].id
    return None


def _on_free_text(draft: Draft, question: FreeText, text: str, config: FlowConfig) -> Outcome:
    if not text:
        return Outcome(
            draft, (Reply((msg(N_("That message was empty. Please type your answer.")),)),)
        )
    if len(text) > config.max_answer_chars:
        reply = Reply(
            (
                msg(
                    TOO_LONG,
                    length=len(text),
                    limit=config.max_answer_chars,
                ),
            )
        )
        return Outcome(draft, (reply,))
    count = draft.text_counts.get(question.id, 0)
    index = count if question.many else 0
    seal = SealText(question.id, index, text)
    counts = {**draft.text_counts, question.id: index + 1}
    new = replace(draft, text_counts=counts)
    return _received(new, question, seal, config)


def _received(draft: Draft, question: FreeText, effect: Effect, config: FlowConfig) -> Outcome:
    """Confirm a kept answer; ask for more where several are welcome, else move on."""
    if question.many:
        new = replace(draft, seq=draft.seq + 1)
        received = Reply(
            (msg(RECEIVED_MANY, count=_given(new, question.id)),),
            ((Button(msg(N_("Done ✔")), _cb(new, "d")),),),
        )
        return Outcome(new, (received,), (effect,))
    new = replace(draft, answers={**draft.answers, question.id: "given"})
    outcome = _advance(new, question, config)
    received = Reply((msg(N_("Received and locked.")),))
    return replace(outcome, replies=(received, *outcome.replies), effects=(effect,))


def _given(draft: Draft, question_id: str) -> int:
    """Count what the reporter gave for a free-text question: messages and files."""
    return draft.text_counts.get(question_id, 0) + draft.file_counts.get(question_id, 0)


# Translators: {size} and {limit} are sizes in megabytes, e.g. 35 and 20.
TOO_BIG: Final = N_(
    "This file is too big ({size} MB). Please send files of at most {limit} MB. "
    "Nothing from it was saved."
)


def _on_attached(draft: Draft, event: Attached, config: FlowConfig) -> Outcome:
    """Keep a voice note or file where a free answer is asked; elsewhere, say when to send it."""
    question = find_question(draft.position) if draft.in_report else None
    if not isinstance(question, FreeText):
        note = msg(
            N_(
                "Please answer this question first. You can send voice notes, photos and "
                "files when I ask you to tell what happened."
            )
        )
        if draft.in_report:
            new, replies = _resume(draft, config)
            return Outcome(new, (Reply((note,)), *replies))
        return Outcome(draft, (Reply((note,)), _menu(draft)))
    if event.size is not None and event.size > config.max_attachment_bytes:
        megabytes = 1024 * 1024
        reply = Reply(
            (
                msg(
                    TOO_BIG,
                    size=-(-event.size // megabytes),
                    limit=config.max_attachment_bytes // megabytes,
                ),
            )
        )
        return Outcome(draft, (reply,))
    size = event.size or 0
    if (
        sum(draft.file_counts.values()) >= config.max_files_per_report
        or sum(draft.file_bytes.values()) + size > config.max_report_file_bytes
    ):
        return Outcome(draft, (_report_full(config),))
    files = {**draft.file_counts, question.id: draft.file_counts.get(question.id, 0) + 1}
    sizes = {**draft.file_bytes, question.id: draft.file_bytes.get(question.id, 0) + size}
    effect = SealAttachment(
        question.id,
        draft.files_sent,
        event.kind,
        event.file_ref,
        event.size,
        caption=event.caption.strip(),
        file_name=event.file_name.strip(),
    )
    kept = replace(draft, file_counts=files, file_bytes=sizes, files_sent=draft.files_sent + 1)
    return _received(kept, question, effect, config)


# Translators: {files} is a number of files, {megabytes} a size in megabytes, e.g. 30 and 200.
REPORT_FULL: Final = N_(
    "This report is full: one report can hold at most {files} files, {megabytes} MB in all. "
    "Nothing from this file was saved. You can still type, or send this report and start a "
    "new one."
)


def _report_full(config: FlowConfig) -> Reply:
    """Refuse a file the report has no room for; a flood of files must not fill the disk."""
    return Reply(
        (
            msg(
                REPORT_FULL,
                files=config.max_files_per_report,
                megabytes=config.max_report_file_bytes // (1024 * 1024),
            ),
        )
    )


def _on_sent(draft: Draft, event: Sent, config: FlowConfig) -> Outcome:
    effects: tuple[Effect, ...] = ()
    if event.kind in ("location", "contact"):
        note = msg(
            N_(
                "Please do not send your location or phone contact. We do not need them. "
                "I deleted that message and saved nothing from it."
            )
        )
        effects = (DeleteUserMessage(),)
    else:
        note = msg(N_("I can only read text and button presses here."))
    if draft.in_report:
        new, replies = _resume(draft, config)
        return Outcome(new, (Reply((note,)), *replies), effects)
    return Outcome(draft, (Reply((note,)), _menu(draft)), effects)


def answers_for_storage(draft: Draft) -> dict[str, str | list[str]]:
    """Return the choice answers to seal with the report (free-text markers dropped)."""
    result: dict[str, str | list[str]] = {}
    for question in _applicable(draft.answers):
        value = draft.answers.get(question.id)
        if value is None or isinstance(question, FreeText):
            continue
        result[question.id] = list(value) if isinstance(value, tuple) else value
    return result


def receipt_replies(code: str) -> tuple[Reply, ...]:
    """Tell the reporter the report is stored, only after the commit, with their code."""
    return (
        Reply(
            (
                msg(N_("Thank you. Your report is saved and locked.")),
                # Translators: {code} is the receipt code, e.g. 1234-5678-9012-3456-7890.
                msg(N_("Your code is:\n{code}"), code=Code(code)),
                msg(
                    N_(
                        "Write this code on paper and keep it hidden. With it you can ask us "
                        "later what happened to your report: send /status and the code. "
                        "Without the code nobody, not even you, can find your report."
                    )
                ),
                msg(
                    N_(
                        "When you have written down the code, press the button below. I will "
                        "delete this whole chat from your phone, your messages and mine."
                    )
                ),
            ),
            ((Button(msg(N_("🧹 I wrote it down: delete this chat")), "m:wipe"),),),
        ),
    )


# Translators: {day} is a date in the reader's calendar, {reply} the team's answer.
TEAM_ANSWER: Final = N_("Answer from our team ({day}):\n{reply}")


def status_replies(
    found: bool,
    submitted_on: date | None,
    status: str | None,
    answers: Sequence[tuple[date, str]] = (),
) -> tuple[Reply, ...]:
    """Answer /status: found or not, what the team has done, and the team's answers."""
    if not found or submitted_on is None:
        return (
            Reply(
                (msg(N_("I could not find a report with this code. Please check the numbers.")),)
            ),
        )
    state = {
        "new": N_("Our team has not opened it yet."),
        "claimed": N_("Our team is working on it."),
        "closed": N_("Our team has finished working on it."),
    }.get(status or "new", N_("Our team has not opened it yet."))
    # Translators: {day} is a date in the reader's calendar.
    replies = [Reply((msg(N_("Your report of {day} is saved."), day=submitted_on), msg(state)))]
    if not answers:
        replies.append(Reply((msg(N_("There is no answer from our team yet.")),)))
    for day, text in answers:
        replies.append(Reply((msg(TEAM_ANSWER, day=day, reply=text),)))
    if answers:
        replies.append(
            Reply((msg(N_("For your safety, delete these messages when you have read them.")),))
        )
    return tuple(replies)


def flood_replies() -> tuple[Reply, ...]:
    """Ask someone who sends a flood of messages to wait; nothing they sent is lost."""
    return _say(
        N_(
            "You are sending very many messages. Please wait ten minutes, then go on. "
            "Your earlier answers are safe."
        )
    )


def answer_waiting_replies() -> tuple[Reply, ...]:
    """Tell an opted-in reporter that an answer waits, without saying anything of it."""
    return _say(N_("Our team has answered your report. Send /status and your code to read it."))


def _say(text: str) -> tuple[Reply, ...]:
    """One plain message, no buttons."""
    return (Reply((msg(text),)),)


def submit_failed_replies() -> tuple[Reply, ...]:
    """Say plainly that nothing was saved, so the reporter presses Send again."""
    return _say(
        N_(
            "Sorry, your report could not be saved just now. Your answers are still "
            "here. Please press Send again in a minute."
        )
    )


def attachment_failed_replies() -> tuple[Reply, ...]:
    """Say that a file did not arrive, so the reporter sends it again; nothing else changed."""
    return _say(
        N_(
            "Sorry, I could not receive that file. Please send it again. "
            "Your other answers are safe."
        )
    )


def no_room_for_files_replies() -> tuple[Reply, ...]:
    """Refuse a file while the server is short of disk space; typing still works."""
    return _say(
        N_(
            "Sorry, I cannot keep files just now. Please type your answer instead, or send "
            "the file again later. Your other answers are safe."
        )
    )


def group_chat_replies() -> tuple[Reply, ...]:
    """Refuse group chats: reports are only safe in a private chat."""
    return _say(
        N_(
            "I only work in a private chat, for your safety. Please do not write "
            "about your case here. Open a private chat with me instead."
        )
    )


def error_replies() -> tuple[Reply, ...]:
    """Answer an unexpected failure without losing earlier answers."""
    return _say(
        N_(
            "Sorry, something went wrong. Your earlier answers are safe. "
            "Please try again, or send /start."
        )
    )
