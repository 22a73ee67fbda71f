"""Run the intake conversation as a pure function: ``step(draft, event, env, config)``.

This module owns the conversation's transitions. It knows nothing of Telegram, storage or
cryptography: adapters turn updates into events (:mod:`bot.intake.values`) and render the
returned replies; the service carries out the returned effects (sealing typed answers,
submitting). It must never perform I/O, read clocks or draw random numbers: the environment
(today's date, a fresh report id) comes in through ``Env``, so the same inputs always give the
same outputs, which the property tests rely on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Final

from bot.i18n.translations import N_, SUPPORTED_LOCALES
from bot.intake.asking import (
    advance,
    answer_text,
    ask,
    confirm,
    edit_menu,
    given_count,
    language_picker,
    menu,
    previous_question,
    prune,
    question_reply,
    resume_report,
    safety_advice,
    start_report,
    summary,
    typed_language,
    welcome,
)
from bot.intake.followup import (
    on_consent,
    on_consent_typed,
    on_writing_file,
    on_writing_other,
    on_writing_text,
    start_writing,
    stop_writing,
)
from bot.intake.free_answers import on_attached, on_free_text
from bot.intake.texts import (
    ANSWER_WITH_BUTTONS,
    DRAFT_EXPIRED,
    EMERGENCY,
    HELP,
    OLD_BUTTON,
    RESTARTED,
    YOUR_ANSWER,
)
from bot.intake.values import (
    ANSWER_CONSENT,
    CONFIRM_CANCEL,
    CONFIRM_RESTART,
    EDIT_MENU,
    IDLE,
    LOST_EXPIRED,
    PICK_LANGUAGE,
    SUMMARY,
    WRITING,
    Attached,
    Command,
    DeleteUserMessage,
    Draft,
    DropSealed,
    Effect,
    Env,
    Event,
    FlowConfig,
    ForgetMe,
    LookUpReceipt,
    Outcome,
    Pressed,
    RememberLanguage,
    Reply,
    Sent,
    Submit,
    Typed,
    WipeChat,
    msg,
)
from bot.questions import (
    QUESTIONS,
    UNSAID,
    FreeText,
    MultiChoice,
    Option,
    Question,
    find_question,
    options_for,
)

# ----------------------------------------------------------------------- step


def step(draft: Draft, event: Event, env: Env, config: FlowConfig) -> Outcome:
    """Advance the conversation by one event; pure, total and deterministic."""
    if env.lost is not None and not draft.in_report and not isinstance(event, Command):
        return _after_loss(draft, event, env, config)
    if draft.locale is None:
        return _without_language(draft, event, env, config)
    if draft.position == WRITING and isinstance(event, Typed | Attached | Sent):
        return _on_writing(draft, event, env, config)
    if draft.position == ANSWER_CONSENT and isinstance(event, Typed):
        return on_consent_typed(draft, event.text.strip(), env, config)
    if isinstance(event, Command):
        return _on_command(draft, event, env, config)
    if isinstance(event, Pressed):
        return _on_pressed(draft, event, env, config)
    if isinstance(event, Typed):
        return _on_typed(draft, event, env, config)
    if isinstance(event, Sent):
        return _on_sent(draft, event, config)
    if isinstance(event, Attached):
        return on_attached(draft, event, config)
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


def _on_writing(
    draft: Draft, event: Typed | Attached | Sent, env: Env, config: FlowConfig
) -> Outcome:
    """Send on what someone writes to the team after opening their report with the code."""
    if isinstance(event, Typed):
        return on_writing_text(draft, event.text.strip(), env, config)
    if isinstance(event, Attached):
        return on_writing_file(draft, event, env, config)
    return on_writing_other(draft, event)


def _after_loss(draft: Draft, event: Event, env: Env, config: FlowConfig) -> Outcome:
    """Say plainly, in the person's language, that unsent answers are gone; offer a new start.

    Nothing of a conversation survives a restart of the bot's memory or the end of a draft's
    lifetime, so someone who comes back mid-report must not be met by a silent menu or an
    "old button" they cannot make sense of. Commands are answered as usual.
    """
    if env.lost == LOST_EXPIRED:
        notice = partial(msg, DRAFT_EXPIRED, hours=max(1, config.draft_ttl_minutes // 60))
    else:
        notice = partial(msg, RESTARTED)
    if isinstance(event, Pressed) and event.data.startswith("l:"):
        chosen = step(draft, event, replace(env, lost=None), config)
        return replace(chosen, replies=(Reply((notice(),)), *chosen.replies))
    if draft.locale is None:
        # The language went with the memory: say it in all three, then ask.
        everyone = Reply(tuple(notice(locale=each) for each in SUPPORTED_LOCALES))
        return Outcome(replace(draft, position=PICK_LANGUAGE), (everyone, language_picker()))
    draft = replace(draft, position=IDLE)
    return Outcome(draft, (Reply((notice(),)), menu(draft)))


def _without_language(draft: Draft, event: Event, env: Env, config: FlowConfig) -> Outcome:
    """Get a language first: from a button of the picker, or a deep link.

    Telegram's own language setting is no guide: its apps have no Dari or Pashto interface,
    so most Afghans arrive with ``en`` or ``fa``. Each first contact therefore shows the
    picker, each language in its own script. A command that acts (``/status``, ``/cancel``,
    ``/wipe``, ``/help``, ``/safety``) is carried out at once, in Telegram's language as a
    guess, and the picker follows: nobody at a checkpoint should wait for a menu to wipe.
    """
    chosen: str | None = None
    if isinstance(event, Pressed) and event.data.startswith("l:"):
        chosen = event.data[2:]
    elif isinstance(event, Command) and event.name == "start":
        chosen = _locale_from_argument(event.argument)
    elif isinstance(event, Typed):
        chosen = typed_language(event.text)
    if chosen in SUPPORTED_LOCALES:
        assert chosen is not None
        draft = replace(draft, locale=chosen, position=IDLE)
        return Outcome(draft, (welcome(draft, config),), (RememberLanguage(chosen),))
    picking = replace(draft, position=PICK_LANGUAGE)
    if isinstance(event, Command) and event.name in ACT_BEFORE_LANGUAGE:
        guess = env.language_hint if env.language_hint in SUPPORTED_LOCALES else "en"
        acted = _on_command(replace(draft, locale=guess), event, env, config)
        quiet = tuple(reply for reply in acted.replies if not reply.keyboard)
        if event.name == "wipe":  # an empty chat is the answer: no picker on top of it
            return Outcome(draft, quiet, acted.effects)
        return Outcome(picking, (*quiet, language_picker()), acted.effects)
    return Outcome(picking, (language_picker(),))


ACT_BEFORE_LANGUAGE: Final = frozenset({"status", "cancel", "wipe", "help", "safety"})
"""Commands carried out at once at a first contact; the language picker follows them."""


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
            return Outcome(draft, (welcome(draft, config),), effects)
        return Outcome(replace(draft, position=IDLE), (welcome(draft, config),), effects)
    if name == "language":
        resume = draft.position if draft.position != PICK_LANGUAGE else draft.resume
        return Outcome(replace(draft, position=PICK_LANGUAGE, resume=resume), (language_picker(),))
    if name == "report":
        if draft.in_report:
            new, replies = confirm(replace(draft, resume=_resume_point(draft)), CONFIRM_RESTART)
            return Outcome(new, replies)
        new, replies, effects = start_report(draft, env, config)
        return Outcome(new, replies, effects)
    if name == "cancel":
        if draft.position == WRITING:
            return stop_writing(draft)
        if not draft.in_report:
            return Outcome(draft, (Reply((msg(N_("There is no report to cancel.")),)), menu(draft)))
        new, replies = confirm(replace(draft, resume=_resume_point(draft)), CONFIRM_CANCEL)
        return Outcome(new, replies)
    if name in ("help", "safety"):
        advice = Reply((msg(HELP),)) if name == "help" else safety_advice(config)
        new, replies = resume_report(draft, config) if draft.in_report else (draft, ())
        return Outcome(new, (advice, *replies))
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
        return Outcome(Draft(), (*replies, language_picker()), (ForgetMe(),))
    if name == "wipe":
        # Nothing is said afterwards: an empty chat is the answer, and nothing new to hide.
        return Outcome(draft, (), (WipeChat(),))
    unknown = Reply((msg(N_("I do not know this command.")), msg(HELP)))
    new, replies = resume_report(draft, config) if draft.in_report else (draft, ())
    return Outcome(new, (unknown, *replies))


def _resume_point(draft: Draft) -> str:
    """Where "No, continue" returns to: never to a confirmation itself (/cancel twice)."""
    if draft.position in (CONFIRM_CANCEL, CONFIRM_RESTART) and draft.resume is not None:
        return draft.resume
    return draft.position


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
            new, reply = summary(draft)
            return Outcome(new, (reply,))
        new, reply = ask(replace(draft, editing=True), question, config)
        return Outcome(new, (reply,))
    if draft.position in (CONFIRM_CANCEL, CONFIRM_RESTART):
        return _on_confirm(draft, value, env, config)
    question = find_question(draft.position)
    if question is None:
        return _stale(draft, config)
    if action == "b":
        if draft.editing:  # back to the list of answers; this one stays as it was
            new, reply = edit_menu(replace(draft, selection=()))
            return Outcome(new, (reply,))
        previous = previous_question(draft, question.id)
        if previous is None:
            return _stale(draft, config)
        new, reply = ask(draft, previous, config)
        return Outcome(new, (reply,))
    if isinstance(question, MultiChoice):
        return _on_multi(draft, question, action, value, config)
    if isinstance(question, FreeText):
        if action == "s" or (action == "d" and not given_count(draft, question.id)):
            # Done before any message is Skip: the button is there from the start.
            answers = {**draft.answers, question.id: "skipped"}
            counts = {**draft.text_counts, question.id: 0}
            files = {**draft.file_counts, question.id: 0}
            sizes = {**draft.file_bytes, question.id: 0}
            new = replace(
                draft, answers=answers, text_counts=counts, file_counts=files, file_bytes=sizes
            )
            outcome = advance(new, question, config)
            return replace(outcome, effects=(DropSealed(question.id), *outcome.effects))
        if action == "d":
            new = replace(draft, answers={**draft.answers, question.id: "given"})
            return advance(new, question, config)
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
            new, replies = resume_report(draft, config)
            return Outcome(new, replies, (RememberLanguage(value),))
        return Outcome(
            replace(draft, position=IDLE), (welcome(draft, config),), (RememberLanguage(value),)
        )
    if action == "m" and value == "report":
        if draft.in_report:
            new, replies = resume_report(draft, config)
            return Outcome(new, replies)
        new, replies, effects = start_report(draft, env, config)
        return Outcome(new, replies, effects)
    if action == "m" and value == "continue":
        if draft.in_report:
            new, replies = resume_report(draft, config)
            return Outcome(new, replies)
        return _stale(draft, config)
    if action == "m" and value == "safety":
        return Outcome(draft, (safety_advice(config),))
    if action == "m" and value == "wipe":
        return Outcome(draft, (), (WipeChat(),))
    if action == "m" and value == "language":
        return _on_command(draft, Command("language"), env, config)
    if action == "m" and value == "write":
        return start_writing(draft, env, config)
    if action == "w" and value == "done" and draft.position == WRITING:
        return stop_writing(draft)
    if action == "c" and value in ("yes", "no"):
        return on_consent(draft, value == "yes", env)
    return _stale(draft, config)


def _stale(draft: Draft, config: FlowConfig) -> Outcome:
    """Answer a button from an older message: say so, then show where we are."""
    if draft.in_report:
        note = Reply((msg(N_("That button is from an older message. Here is where we are now:")),))
        new, replies = resume_report(draft, config)
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
    return Outcome(replace(draft, position=IDLE), (note, menu(draft)))


def _on_summary_button(draft: Draft, action: str, config: FlowConfig) -> Outcome:
    if action == "send":
        return Outcome(draft, (), (Submit(),))
    if action == "edit":
        new, reply = edit_menu(draft)
        return Outcome(new, (reply,))
    if action == "cancel":
        new, replies = confirm(replace(draft, resume=SUMMARY), CONFIRM_CANCEL)
        return Outcome(new, replies)
    return _stale(draft, config)


def _on_confirm(draft: Draft, value: str, env: Env, config: FlowConfig) -> Outcome:
    position = draft.position
    if value == "yes" and position == CONFIRM_CANCEL:
        drops = tuple(DropSealed(q.id) for q in QUESTIONS if isinstance(q, FreeText))
        new = Draft(locale=draft.locale, seq=draft.seq)
        done = Reply((msg(N_("Your report was deleted. Nothing was sent.")),))
        return Outcome(new, (done, menu(new)), drops)
    if value == "yes" and position == CONFIRM_RESTART:
        new, replies, effects = start_report(draft, env, config)
        return Outcome(new, replies, effects)
    new, replies = resume_report(replace(draft, position=draft.resume or IDLE, resume=None), config)
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
        reply = replace(question_reply(new, question, config), edit_pressed=True)
        return Outcome(new, (reply,))
    if action == "d":
        if not draft.selection:
            reply = Reply((msg(N_("Please choose at least one, or “Prefer not to say”.")),))
            return Outcome(draft, (reply,))
        chosen = tuple(o.id for o in question.all_options() if o.id in draft.selection)
        new = replace(draft, answers={**draft.answers, question.id: chosen}, selection=())
        return advance(new, question, config)  # the next question replaces this one
    return _stale(draft, config)


def _answer_choice(
    draft: Draft, question: Question, value: str, config: FlowConfig, *, edit_pressed: bool
) -> Outcome:
    """Record a choice and go on.

    A pressed answer needs no echo: the next question replaces the pressed one (see
    :func:`bot.intake.replies.replacing_pressed`). A typed answer is echoed, because the
    bot read it from words and the reporter should see what it understood; so is a "yes"
    to danger, so the emergency numbers stand under the question they answer.
    """
    answers = prune({**draft.answers, question.id: value})
    new = replace(draft, answers=answers)
    replies: list[Reply] = []
    emergency = question.id == "danger_now" and value == "yes"
    if emergency or not edit_pressed:
        echo_parts = (
            msg(question.prompt),
            msg(YOUR_ANSWER, answer=answer_text(question, value)),
        )
        replies.append(Reply(echo_parts, edit_pressed=edit_pressed))
    if emergency:
        parts = [msg(EMERGENCY)]
        for contact in config.emergency_contacts:
            # Translators: {contact} is an emergency phone line or address set by the organisation.
            parts.append(msg(N_("• {contact}"), contact=contact))
        replies.append(Reply(tuple(parts)))
    outcome = advance(new, question, config)
    return replace(outcome, replies=(*replies, *outcome.replies))


def _on_typed(draft: Draft, event: Typed, env: Env, config: FlowConfig) -> Outcome:
    text = event.text.strip()
    if draft.position == PICK_LANGUAGE:
        chosen = typed_language(text)
        if chosen is not None:
            return _on_menu_button(draft, "l", chosen, env, config)
        return Outcome(draft, (language_picker(),))
    if not draft.in_report:
        hint = Reply((msg(N_("To tell us what happened, press “Start a report”.")),))
        return Outcome(replace(draft, position=IDLE), (hint, menu(draft)))
    question = find_question(draft.position)
    if question is None:
        new, replies = resume_report(draft, config)
        note = Reply((msg(ANSWER_WITH_BUTTONS),))
        return Outcome(new, (note, *replies))
    if isinstance(question, FreeText):
        return on_free_text(draft, question, text, config)
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
    new, reply = ask(draft, question, config)
    if isinstance(question, MultiChoice):
        new = replace(new, selection=draft.selection)
        reply = question_reply(new, question, config)
    return Outcome(new, (note, reply))


_DIGITS: Final = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def _match_number(options: Sequence[Option], text: str) -> str | None:
    """Accept the number shown on a button, typed in Persian, Arabic or Latin digits."""
    text = text.translate(_DIGITS).strip(" .")
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1].id
    return None


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
        new, replies = resume_report(draft, config)
        return Outcome(new, (Reply((note,)), *replies), effects)
    return Outcome(draft, (Reply((note,)), menu(draft)), effects)
