"""Walk the question set for one draft and put each question to the reporter.

This module owns which questions apply given the answers so far, the next and previous
question, and the replies that ask a question, show the summary and the menus. It is pure,
like the step that calls it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Final

from bot.i18n.translations import N_, SUPPORTED_LOCALES
from bot.intake.textnorm import fold_for_matching
from bot.intake.texts import (
    HONESTY,
    NEVER_GIVE_CODE,
    PICK_LANGUAGE_TEXT,
    SAFETY,
    TRUE_BOT,
    VERIFICATION_PHRASE,
    WELCOME,
)
from bot.intake.values import (
    CONFIRM_CANCEL,
    CONFIRM_RESTART,
    EDIT_MENU,
    IDLE,
    PICK_LANGUAGE,
    SUMMARY,
    Button,
    Draft,
    DropSealed,
    Effect,
    Env,
    FlowConfig,
    Msg,
    Outcome,
    Raw,
    Reply,
    msg,
)
from bot.questions import (
    QUESTIONS,
    Choice,
    Confirm,
    FreeText,
    MultiChoice,
    Question,
    find_question,
    option_label,
    options_for,
)


def callback_data(draft: Draft, action: str, value: str = "") -> str:
    """Build callback data bound to the current question, so old buttons are recognised."""
    return f"{draft.seq}:{action}:{value}"


# ----------------------------------------------------------------------- helpers


def _applicable(answers: Mapping[str, str | tuple[str, ...]]) -> list[Question]:
    return [q for q in QUESTIONS if q.ask_if(answers)]


def prune(answers: Mapping[str, str | tuple[str, ...]]) -> dict[str, str | tuple[str, ...]]:
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


def next_question(draft: Draft, after: str | None) -> Question | None:
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


def previous_question(draft: Draft, current: str) -> Question | None:
    questions = _applicable(draft.answers)
    ids = [q.id for q in questions]
    if current not in ids:
        return None
    index = ids.index(current)
    return questions[index - 1] if index > 0 else None


def _rows(buttons: Sequence[Button], columns: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + columns]) for i in range(0, len(buttons), columns))


_DECIDED_BY: Final[Mapping[str, str]] = {"province": "country", "destination": "incident"}
"""The answer that decides whether a conditional question is asked at all."""


def _counted(answers: Mapping[str, str | tuple[str, ...]]) -> list[Question]:
    """The questions "Question N of M" counts: those asked, and those not yet decided.

    A question whose deciding answer is not given yet counts as asked, so the total never
    grows as answers come in; it only shrinks when an answer makes a question unnecessary.
    """
    return [
        q
        for q in QUESTIONS
        if q.ask_if(answers) or (q.id in _DECIDED_BY and _DECIDED_BY[q.id] not in answers)
    ]


def _progress(draft: Draft, question: Question) -> Msg:
    questions = _counted(draft.answers)
    number = [q.id for q in questions].index(question.id) + 1
    # Translators: shown above each question, e.g. "Question 3 of 12".
    return msg(N_("Question {number} of {total}"), number=number, total=len(questions))


def answer_text(question: Question, value: str | tuple[str, ...]) -> Msg:
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


def ask(draft: Draft, question: Question, config: FlowConfig) -> tuple[Draft, Reply]:
    """Put a question: bump the sequence so buttons of older questions become stale."""
    draft = replace(draft, position=question.id, seq=draft.seq + 1, selection=())
    if isinstance(question, MultiChoice):
        current = draft.answers.get(question.id, ())
        draft = replace(draft, selection=tuple(current) if isinstance(current, tuple) else ())
    return draft, question_reply(draft, question, config)


def question_reply(draft: Draft, question: Question, config: FlowConfig) -> Reply:
    parts = [_progress(draft, question), msg(question.prompt)]
    buttons: list[Button] = []
    nav: list[Button] = []
    columns = 1
    if isinstance(question, Choice | Confirm):
        columns = question.columns if isinstance(question, Choice) else 2
        for number, option in enumerate(options_for(question, draft.answers), start=1):
            # Translators: a button: {number} is the button's number, {label} the answer on it.
            label = msg(N_("{number}. {label}"), number=number, label=msg(option.label))
            buttons.append(Button(label, callback_data(draft, "a", option.id)))
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
            buttons.append(Button(label, callback_data(draft, "t", option.id)))
        nav.append(Button(msg(N_("Done ✔")), callback_data(draft, "d")))
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
        if question.many:  # the prompt names Done: it is there from the start
            nav.append(Button(msg(N_("Done ✔")), callback_data(draft, "d")))
        nav.append(Button(msg(N_("Skip")), callback_data(draft, "s")))
    if draft.editing or previous_question(draft, question.id) is not None:
        # While changing one answer, Back returns to the list of answers unchanged.
        nav.insert(0, Button(msg(N_("⬅ Back")), callback_data(draft, "b")))
    keyboard = _rows(buttons, columns)
    if nav:
        keyboard = (*keyboard, tuple(nav))
    return Reply(tuple(parts), keyboard)


def summary(draft: Draft) -> tuple[Draft, Reply]:
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
                count=given_count(draft, question.id),
            )
        else:
            answer = answer_text(question, value)
        parts.append(
            # Translators: one line of the summary: {question} is a short name of the
            # question, {answer} the answer, e.g. "• Country: Iran".
            msg(N_("• {question}: {answer}"), question=msg(question.admin_label), answer=answer)
        )
    parts.append(msg(N_("Is this right? Press Send when you are ready.")))
    keyboard = (
        (Button(msg(N_("✅ Send report")), callback_data(draft, "send")),),
        (Button(msg(N_("✏️ Change an answer")), callback_data(draft, "edit")),),
        (Button(msg(N_("🗑 Delete this report")), callback_data(draft, "cancel")),),
    )
    return draft, Reply(tuple(parts), keyboard, compact=True)


def edit_menu(draft: Draft) -> tuple[Draft, Reply]:
    draft = replace(draft, position=EDIT_MENU, seq=draft.seq + 1)
    buttons = [
        Button(msg(q.admin_label), callback_data(draft, "e", q.id))
        for q in _applicable(draft.answers)
        if q.id in draft.answers
    ]
    keyboard = (*_rows(buttons, 2), (Button(msg(N_("⬅ Back")), callback_data(draft, "b")),))
    return draft, Reply((msg(N_("Which answer do you want to change?")),), keyboard)


def menu(draft: Draft) -> Reply:
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


def identity_parts(config: FlowConfig) -> tuple[Msg, ...]:
    """Say which bot is the real one, and never to hand the code to anyone.

    Impostor bots are a known attack on reporting bots: a look-alike name collects reports
    and receipt codes, and a code opens the team's answers. The true username and a phrase
    the organisation also publishes elsewhere let a reporter check; the warning stands even
    where the deployment set neither.
    """
    parts = []
    if config.bot_username:
        parts.append(msg(TRUE_BOT, username=config.bot_username))
    if config.verification_phrase:
        parts.append(msg(VERIFICATION_PHRASE, phrase=config.verification_phrase))
    parts.append(msg(NEVER_GIVE_CODE))
    return tuple(parts)


def welcome(draft: Draft, config: FlowConfig) -> Reply:
    """The menu as /start and a newly chosen language show it: with how to spot a fake bot."""
    shown = menu(draft)
    return replace(shown, parts=(*shown.parts, *identity_parts(config)))


def safety_advice(config: FlowConfig) -> Reply:
    """The safety advice, ending with how to spot a fake bot."""
    return Reply((msg(SAFETY), *identity_parts(config)))


LANGUAGE_WORDS: Final = {
    "fa_AF": ("دری", "dari", "فارسی", "farsi", "persian"),
    "ps": ("پښتو", "پشتو", "pashto", "pashtu", "pushto"),
    "en": ("English", "انگلیسی", "انګلیسي", "inglisi"),
}
"""What people type at the picker for each language, besides its button's number."""


def typed_language(text: str) -> str | None:
    """Read a language typed at the picker: its number on the picker or its name, any script.

    Many people type instead of pressing; «۱» or «دری» must not get the picker again.
    """
    typed = fold_for_matching(text)
    for position, locale in enumerate(SUPPORTED_LOCALES, start=1):
        words = {str(position), *(fold_for_matching(word) for word in LANGUAGE_WORDS[locale])}
        if typed in words:
            return locale
    return None


def language_picker() -> Reply:
    parts = tuple(msg(PICK_LANGUAGE_TEXT, locale=locale) for locale in SUPPORTED_LOCALES)
    names = {"fa_AF": "دری", "ps": "پښتو", "en": "English"}
    keyboard = tuple((Button(names[locale], f"l:{locale}"),) for locale in SUPPORTED_LOCALES)
    return Reply(parts, keyboard)


def resume_report(draft: Draft, config: FlowConfig) -> tuple[Draft, tuple[Reply, ...]]:
    """Show again whatever the reporter was doing, so a detour loses nothing."""
    if draft.position == SUMMARY:
        draft, reply = summary(draft)
        return draft, (reply,)
    if draft.position == EDIT_MENU:
        draft, reply = edit_menu(draft)
        return draft, (reply,)
    if draft.position in (CONFIRM_CANCEL, CONFIRM_RESTART):
        return confirm(draft, draft.position)
    if draft.position == PICK_LANGUAGE:
        return draft, (language_picker(),)
    question = find_question(draft.position)
    if question is not None and draft.in_report:
        keep = draft.selection
        draft, reply = ask(draft, question, config)
        if isinstance(question, MultiChoice):
            draft = replace(draft, selection=keep)
            reply = question_reply(draft, question, config)
        return draft, (reply,)
    return replace(draft, position=IDLE), (menu(draft),)


def confirm(draft: Draft, what: str) -> tuple[Draft, tuple[Reply, ...]]:
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
                callback_data(draft, "x", "yes"),
            ),
        ),
        (Button(msg(N_("No, continue")), callback_data(draft, "x", "no")),),
    )
    return draft, (Reply((msg(text),), keyboard),)


def start_report(
    draft: Draft, env: Env, config: FlowConfig
) -> tuple[Draft, tuple[Reply, ...], tuple[Effect, ...]]:
    fresh = Draft(
        locale=draft.locale,
        draft_id=env.fresh_draft_id,
        seq=draft.seq,
    )
    effects: tuple[Effect, ...] = ()
    if draft.draft_id is not None:
        effects = tuple(DropSealed(q.id) for q in QUESTIONS if isinstance(q, FreeText))
    question = next_question(fresh, None)
    assert question is not None  # the question set is never empty
    fresh, reply = ask(fresh, question, config)
    # One message, not two: it replaces the menu whose button started the report.
    intro = msg(N_("Let us begin. You can stop at any time with /cancel."))
    return fresh, (replace(reply, parts=(intro, *reply.parts)),), effects


def answers_for_storage(draft: Draft) -> dict[str, str | list[str]]:
    """Return the choice answers to seal with the report (free-text markers dropped)."""
    result: dict[str, str | list[str]] = {}
    for question in _applicable(draft.answers):
        value = draft.answers.get(question.id)
        if value is None or isinstance(question, FreeText):
            continue
        result[question.id] = list(value) if isinstance(value, tuple) else value
    return result


def given_count(draft: Draft, question_id: str) -> int:
    """Count what the reporter gave for a free-text question: messages and files."""
    return draft.text_counts.get(question_id, 0) + draft.file_counts.get(question_id, 0)


def advance(draft: Draft, answered: Question, config: FlowConfig) -> Outcome:
    """Go to the next unanswered question, or to the summary when none is left."""
    following = next_question(draft, None) if draft.editing else next_question(draft, answered.id)
    if following is None:
        new, reply = summary(draft)
        return Outcome(new, (reply,))
    new, reply = ask(draft, following, config)
    return Outcome(new, (reply,))
