"""Say what the service has to say outside a step: receipts, status, refusals and apologies.

Each function returns the replies for one situation the service meets after (or instead of)
a step: a report stored, a code looked up, a flood, a failure. Pure, like the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from bot.i18n.translations import N_
from bot.intake.followup import CONSENT_QUESTION, consent_buttons, done_button, write_button
from bot.intake.texts import TEAM_ANSWER
from bot.intake.values import Button, Code, Reply, msg


def replacing_pressed(replies: tuple[Reply, ...]) -> tuple[Reply, ...]:
    """Let the first reply take the place of the pressed message, if it brings buttons too.

    One screen of buttons follows another in the same message, so the chat holds only the
    current question: a phone searched half-way through a report shows that question, not
    every answer given so far. It also costs Telegram one call (an edit) where an echo and a
    new question took two. A reply without buttons (safety advice, a note) is sent below
    instead, so the buttons above it stay usable; a reply that already edits the pressed
    message is left as it is.
    """
    if not replies or not replies[0].keyboard or any(r.edit_pressed for r in replies):
        return replies
    return (replace(replies[0], edit_pressed=True), *replies[1:])


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
                        "delete this whole chat from your phone, your messages and mine. I can "
                        "do this for 48 hours; after that, delete the chat yourself."
                    )
                ),
            ),
            ((Button(msg(N_("🧹 I wrote it down: delete this chat")), "m:wipe"),),),
        ),
    )


def status_replies(
    found: bool,
    submitted_on: date | None,
    status: str | None,
    answers: Sequence[tuple[date, str]] = (),
    *,
    question_waiting: bool = False,
) -> tuple[Reply, ...]:
    """Answer /status: found or not, what the team has done, the team's answers and question.

    A found report is open for an hour: the last message carries "Write to our team", and a
    question the team asked comes last, with yes and no.
    """
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
    last = replies[-1]
    replies[-1] = Reply(last.parts, (write_button(),))
    if question_waiting:
        replies.append(Reply((msg(CONSENT_QUESTION),), consent_buttons()))
    return tuple(replies)


def followup_saved_replies() -> tuple[Reply, ...]:
    """Confirm a message to the team only once it is stored; more may follow."""
    return (
        Reply(
            (msg(N_("Sent to our team and locked. You can send more, or press Done.")),),
            done_button(),
        ),
    )


def consent_answered_replies(agreed: bool) -> tuple[Reply, ...]:
    """Confirm the reporter's answer about sharing their case, once it is stored."""
    if agreed:
        return _say(N_("Thank you. Our team may now share your case, without your name."))
    return _say(N_("Understood. We will not share your case. You can still write to us."))


def no_question_replies() -> tuple[Reply, ...]:
    """Say there is nothing to answer (the question was answered already, or withdrawn)."""
    return _say(N_("There is no question from our team waiting for your answer."))


def code_tries_replies() -> tuple[Reply, ...]:
    """Refuse more codes for a while: codes must not be guessed by trying many."""
    return _say(
        N_(
            "You have tried many codes. Please wait ten minutes, then try again. Check the "
            "numbers on your paper."
        )
    )


def report_gone_replies() -> tuple[Reply, ...]:
    """Say that the report opened with the code is not there any more."""
    return _say(N_("I could not find a report with this code. Please check the numbers."))


def flood_replies() -> tuple[Reply, ...]:
    """Ask someone who sends a flood of messages to wait; nothing they sent is lost."""
    return _say(
        N_(
            "You are sending very many messages. Please wait ten minutes, then go on. "
            "Your earlier answers are safe."
        )
    )


def answer_waiting_replies() -> tuple[Reply, ...]:
    """Tell an opted-in reporter that the team wrote (an answer or a question), nothing more.

    No buttons: the code stays the only key to a report, so the notice only sends the person
    to /status.
    """
    return _say(
        N_("Our team has written to you about your report. Send /status and your code to read it.")
    )


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


def wipe_too_old_replies() -> tuple[Reply, ...]:
    """Say plainly that /wipe could not delete everything, and how the person clears the rest."""
    # Translators: "Delete chat" is Telegram's own menu item: use the words Telegram shows in
    # this language, or describe it plainly.
    text = N_(
        "I deleted what I could. Some older messages could not be deleted: Telegram "
        "lets me delete messages only for 48 hours. Please delete this chat yourself: "
        "press and hold it in your list of chats, then choose “Delete chat”."
    )
    return (Reply((msg(text),)),)


def wipe_failed_replies() -> tuple[Reply, ...]:
    """Say that Telegram refused the wipe just now; nothing was forgotten, try again."""
    return _say(
        N_(
            "Sorry, I could not delete the chat just now. Please send /wipe again in a "
            "minute. I still know which messages to delete."
        )
    )
