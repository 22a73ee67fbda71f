"""Let a reporter talk to the team after the report: write more, and answer the team's question.

This module owns the conversation's part after ``/status CODE``: the code opens the report for
an hour (the service knows which report; the step only knows ``Env.unlocked``), and then the
person may press "Write to our team" and send text, voice notes and files, or answer the
team's question whether their case may be shared with a partner. Pure, like the step: it asks
the service to seal and store, it never does. The code stays the only key: nothing here works
without it, and a notice never carries buttons that would.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Final

from bot.i18n.translations import N_
from bot.intake.asking import menu, resume_report
from bot.intake.texts import ANSWER_WITH_BUTTONS, TOO_BIG, TOO_LONG
from bot.intake.values import (
    ANSWER_CONSENT,
    IDLE,
    WRITING,
    AnswerConsent,
    Attached,
    Button,
    DeleteUserMessage,
    Draft,
    Env,
    FileToTeam,
    FlowConfig,
    Outcome,
    Reply,
    Sent,
    WriteToTeam,
    msg,
)
from bot.questions import find_question, options_for

WRITE_BUTTON: Final = "m:write"
DONE_BUTTON: Final = "w:done"
YES_BUTTON: Final = "c:yes"
NO_BUTTON: Final = "c:no"

WRITE_PROMPT: Final = N_(
    "Write your message to our team. You can also send voice notes, photos or files. Each "
    "message is locked at once, so only our team can read it. When you have finished, "
    "press Done."
)
NEED_CODE: Final = N_("To do this, first send /status and your code.")
FINISH_REPORT_FIRST: Final = N_(
    "Please first send or delete the report you are writing. Then send /status and your code again."
)
WRITING_KINDS: Final = N_(
    "I can send text, voice notes, photos, videos and files to our team. Press Done when you "
    "have finished."
)
WRITING_DONE: Final = N_(
    "Thank you. Our team will read it. To see their answer later, send /status and your code."
)
NO_LOCATION: Final = N_(
    "Please do not send your location or phone contact. We do not need them. I deleted that "
    "message and saved nothing from it."
)
CONSENT_QUESTION: Final = N_(
    "Our team asks you: may we share your case with an organisation that can help you? We "
    "will not give your name. They get only a short summary our team writes, never your own "
    "words or files."
)


def done_button() -> tuple[tuple[Button, ...], ...]:
    """The one button that ends writing to the team."""
    return ((Button(msg(N_("✔ Done")), DONE_BUTTON),),)


def write_button() -> tuple[Button, ...]:
    """The button under a status answer that opens writing to the team."""
    return (Button(msg(N_("✉ Write to our team")), WRITE_BUTTON),)


def consent_buttons() -> tuple[tuple[Button, ...], ...]:
    """Yes and no, each on its own line so the words are never cut on a small screen."""
    return (
        (Button(msg(N_("✔ Yes, you may share it")), YES_BUTTON),),
        (Button(msg(N_("✖ No, do not share it")), NO_BUTTON),),
    )


def start_writing(draft: Draft, env: Env, config: FlowConfig) -> Outcome:
    """Open writing to the team, for someone who just opened their report with the code."""
    if draft.in_report:
        new, replies = resume_report(draft, config)
        return Outcome(new, (Reply((msg(FINISH_REPORT_FIRST),)), *replies))
    if not env.unlocked:
        return _need_code(draft)
    writing = replace(draft, position=WRITING)
    return Outcome(writing, (Reply((msg(WRITE_PROMPT),), done_button()),))


def stop_writing(draft: Draft) -> Outcome:
    """End writing to the team (Done, or /cancel); what was sent is already stored."""
    idle = replace(draft, position=IDLE)
    return Outcome(idle, (Reply((msg(WRITING_DONE),)), menu(idle)))


def on_writing_text(draft: Draft, text: str, env: Env, config: FlowConfig) -> Outcome:
    """Hand a typed message to the service for sealing; it answers once it is stored."""
    if not env.unlocked:
        return _need_code(replace(draft, position=IDLE))
    if not text:
        return Outcome(draft, (Reply((msg(WRITING_KINDS),), done_button()),))
    if len(text) > config.max_answer_chars:
        too_long = msg(TOO_LONG, length=len(text), limit=config.max_answer_chars)
        return Outcome(draft, (Reply((too_long,)),))
    return Outcome(draft, (), (WriteToTeam(text),))


def on_writing_file(draft: Draft, event: Attached, env: Env, config: FlowConfig) -> Outcome:
    """Hand a file to the service for sealing, if it is not too big."""
    if not env.unlocked:
        return _need_code(replace(draft, position=IDLE))
    if event.size is not None and event.size > config.max_attachment_bytes:
        megabytes = 1024 * 1024
        too_big = msg(
            TOO_BIG,
            size=-(-event.size // megabytes),
            limit=config.max_attachment_bytes // megabytes,
        )
        return Outcome(draft, (Reply((too_big,)),))
    effect = FileToTeam(
        event.kind,
        event.file_ref,
        event.size,
        caption=event.caption.strip(),
        file_name=event.file_name.strip(),
    )
    return Outcome(draft, (), (effect,))


def on_writing_other(draft: Draft, event: Sent) -> Outcome:
    """Refuse what cannot be sent on (a sticker); delete a location or contact at once."""
    if event.kind in ("location", "contact"):
        return Outcome(draft, (Reply((msg(NO_LOCATION),)),), (DeleteUserMessage(),))
    return Outcome(draft, (Reply((msg(WRITING_KINDS),), done_button()),))


def on_consent(draft: Draft, agreed: bool, env: Env) -> Outcome:
    """Record a yes or no to sharing the case: only with the report opened by the code."""
    settled = replace(draft, position=IDLE) if draft.position == ANSWER_CONSENT else draft
    if not env.unlocked:
        return _need_code(settled)
    return Outcome(settled, (), (AnswerConsent(agreed),))


def on_consent_typed(draft: Draft, text: str, env: Env, config: FlowConfig) -> Outcome:
    """Accept a typed yes or no (in any of the three languages) to the team's question."""
    question = find_question("consent_referral")
    options = options_for(question, draft.answers) if question is not None else ()
    chosen = config.match_option(options, text) if options else None
    if chosen in ("yes", "no"):
        return on_consent(draft, chosen == "yes", env)
    again = Reply((msg(CONSENT_QUESTION),), consent_buttons())
    return Outcome(draft, (Reply((msg(ANSWER_WITH_BUTTONS),)), again))


def _need_code(draft: Draft) -> Outcome:
    """Say that the code is needed (again): it opens a report for an hour."""
    return Outcome(draft, (Reply((msg(NEED_CODE),)),))
