"""Keep what a reporter types or sends for a free-text question: messages and files.

This module owns the limits a free answer meets (length, file size, files and bytes per
report) and the effects that seal what was kept. Pure, like the step that calls it: it asks
the service to seal, it never seals.
"""

from __future__ import annotations

from dataclasses import replace

from bot.i18n.translations import N_
from bot.intake.asking import advance, callback_data, given_count, menu, resume_report
from bot.intake.texts import RECEIVED_MANY, REPORT_FULL, TOO_BIG, TOO_LONG
from bot.intake.values import (
    Attached,
    Button,
    Draft,
    Effect,
    FlowConfig,
    Outcome,
    Reply,
    SealAttachment,
    SealText,
    msg,
)
from bot.questions import (
    FreeText,
    find_question,
)


def on_free_text(draft: Draft, question: FreeText, text: str, config: FlowConfig) -> Outcome:
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
            (msg(RECEIVED_MANY, count=given_count(new, question.id)),),
            ((Button(msg(N_("Done ✔")), callback_data(new, "d")),),),
        )
        return Outcome(new, (received,), (effect,))
    new = replace(draft, answers={**draft.answers, question.id: "given"})
    outcome = advance(new, question, config)
    received = Reply((msg(N_("Received and locked.")),))
    return replace(outcome, replies=(received, *outcome.replies), effects=(effect,))


def on_attached(draft: Draft, event: Attached, config: FlowConfig) -> Outcome:
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
            new, replies = resume_report(draft, config)
            return Outcome(new, (Reply((note,)), *replies))
        return Outcome(draft, (Reply((note,)), menu(draft)))
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
