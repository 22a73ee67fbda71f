"""Carry out one conversation step for one person: remember, step, seal, submit, answer.

This service owns the work around :func:`bot.intake.step.step` and the effects it asks for.
It is transport-free (Telegram and, later, Signal adapters call :meth:`IntakeService.handle`).
A conversation in progress lives only in volatile memory (:mod:`bot.intake.memory`): typed
answers are sealed to the admins the moment they arrive and kept there; files are sealed
chunk by chunk into the database under random upload ids, in transactions holding nothing
else; the database sees the report itself only when it is submitted
(:mod:`bot.intake.submission`). The reporter is told "received" only after that commit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.crypto.codes import normalise_receipt_code
from bot.crypto.errors import CryptoError
from bot.crypto.sealer import AdminSealer, seal_stream_for_admins
from bot.crypto.server import ServerKeys
from bot.crypto.values import ItemRef, SealedBlob
from bot.intake.followup import NEED_CODE
from bot.intake.followup_store import FileSent, FollowupStore, Stored
from bot.intake.memory import UNLOCKED_FOR, ConversationMemory, Remembered, Upload
from bot.intake.replies import (
    attachment_failed_replies,
    code_tries_replies,
    consent_answered_replies,
    error_replies,
    flood_replies,
    followup_saved_replies,
    no_question_replies,
    no_room_for_files_replies,
    receipt_replies,
    replacing_pressed,
    report_gone_replies,
    status_replies,
    submit_failed_replies,
    wipe_too_old_replies,
)
from bot.intake.step import step
from bot.intake.submission import REPLY_KEY_V2_FROM_FORMAT, KeysChanged, Submission, Submitter
from bot.intake.values import (
    ANSWER_CONSENT,
    IDLE,
    LOST_RESTART,
    WRITING,
    AnswerConsent,
    Command,
    Draft,
    DropSealed,
    Effect,
    Env,
    Event,
    FileToTeam,
    FlowConfig,
    ForgetMe,
    LookUpReceipt,
    Outcome,
    Pressed,
    RememberLanguage,
    Reply,
    SealAttachment,
    SealText,
    Submit,
    WipeChat,
    WriteToTeam,
    msg,
)
from bot.questions import ATTACHMENT_KIND, ATTACHMENT_META_KIND, REPLY_KIND
from storage.consent import ConsentRepository
from storage.conversations import Opened
from storage.db import unit_of_work
from storage.replies import ReplyNoticeRepository, ReplyRepository
from storage.repositories import ReportRepository
from storage.uploads import UploadRepository

log = logging.getLogger(__name__)

FileFetcher = Callable[[str], Awaitable[bytes]]
DELETABLE_FOR = timedelta(hours=48) - timedelta(minutes=5)
"""How long Telegram lets a bot delete a message, less a margin for clocks and queues."""
UPLOAD_ID_BYTES = 16
CODE_TRIES = 5
"""Receipt codes one person may type in a ten-minute window: against guessing by trying."""


class AttachmentUnavailable(Exception):
    """A file could not be fetched or kept; nothing of the update is kept."""


class NoRoomForFiles(Exception):
    """The disk is nearly full: files are refused until there is room; text still works."""


def new_draft_id() -> str:
    """Return a fresh draft id: 128 random bits, what the draft's sealed items are bound to."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Inbound:
    """One event from one person on one transport; the user id never leaves this service.

    ``fetch_file`` downloads an attachment by the transport's handle, into memory only.
    """

    transport: str
    user_id: int
    event: Event
    update_id: int | None = None
    language_hint: str | None = None
    fetch_file: FileFetcher | None = None
    message_id: int | None = None


@dataclass(frozen=True)
class Handled:
    """What the adapter must show: replies in ``locale``, and whether to delete the input."""

    replies: tuple[Reply, ...]
    locale: str
    delete_user_message: bool = False
    duplicate: bool = False
    wipe: tuple[int, ...] = ()
    """Message ids to delete now, both sides (the reporter asked to wipe the chat)."""
    wiping: bool = False
    """The reporter asked to wipe the chat: delete ``wipe``, then show only ``replies``."""
    submitted: bool = False
    """A report was stored by this update."""
    receipt: str | None = None
    """The receipt code ``replies`` carry: if Telegram fails to deliver them, the adapter
    hands it back (:meth:`IntakeService.keep_undelivered_receipt`) for the next message."""


@dataclass
class _Work:
    """One update's changes, applied to memory only once every effect has succeeded."""

    key: str
    inbound: Inbound
    now: datetime
    before: Remembered
    after: Remembered
    new_items: dict[tuple[str, int], SealedBlob] = field(default_factory=dict)
    dropped_items: list[tuple[str, int]] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    delete_input: bool = False
    wipe: tuple[int, ...] = ()
    wiping: bool = False
    submitting: bool = False
    forget: bool = False
    receipt: str | None = None


class IntakeService:
    """Run the intake for every transport; holds only public keys and the server key."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        memory: ConversationMemory,
        server_keys: ServerKeys,
        sealer: AdminSealer,
        config: FlowConfig,
        new_report_id: Callable[[], str],
        new_receipt_code: Callable[[], str],
        new_draft_id: Callable[[], str] = new_draft_id,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        flood_limit: int = 120,
        free_disk: Callable[[], int] | None = None,
        min_free_disk_bytes: int = 0,
        code_tries: int = CODE_TRIES,
    ) -> None:
        """Take every collaborator; nothing here is global."""
        self._sessions = sessions
        self._memory = memory
        self._keys = server_keys
        self._sealer = sealer
        self._config = config
        self._submitter = Submitter(
            sealer=sealer,
            server_keys=server_keys,
            new_report_id=new_report_id,
            new_receipt_code=new_receipt_code,
        )
        self._new_draft_id = new_draft_id
        self._clock = clock
        self._flood_limit = flood_limit
        self._free_disk = free_disk
        self._min_free_disk = min_free_disk_bytes
        self._code_tries = code_tries
        self._followups = FollowupStore(sessions, sealer)

    @property
    def memory(self) -> ConversationMemory:
        """The volatile memory of conversations (the purge and notice jobs use it)."""
        return self._memory

    @property
    def sealer(self) -> AdminSealer:
        """The admin key set new items are sealed to (public keys only)."""
        return self._sealer

    @property
    def sealer_fingerprint(self) -> str:
        """Name the admin key set new items are sealed to (drafts under another are dropped)."""
        return self._sealer.fingerprint

    async def handle(self, inbound: Inbound) -> Handled:
        """Process one event; answer only what was kept (and, for a report, committed).

        The event is handled in its conversation's turn: no other update of the same person
        runs meanwhile, in this worker or (with Redis) in any other, so two quick messages
        never read the same draft and lose one another.
        """
        key = self._memory.key(inbound.transport, inbound.user_id)
        async with self._memory.store.turn(key):
            return await self._handle(inbound, key)

    async def _handle(self, inbound: Inbound, key: str) -> Handled:
        now = self._clock()
        hint = inbound.language_hint
        wiping = _is_wipe(inbound.event)
        # A wipe always works, flood or not: it is not counted.
        opened = await self._memory.open(
            key, inbound.transport, inbound.update_id, now, count=not wiping
        )
        if not opened.first_delivery:
            return Handled((), "en", duplicate=True)
        if opened.count is not None:
            flooded = self._flood_answer(key, opened, hint)
            if flooded is not None:
                return flooded
        remembered = await self._memory.remembered(key, opened, now, self._sealer.fingerprint)
        if remembered.discarded:
            await self._drop_uploads(remembered.discarded)
        env = Env(
            today=now.date(),
            fresh_draft_id=self._new_draft_id(),
            language_hint=hint,
            lost=remembered.lost,
            unlocked=remembered.unlocked_report(now) is not None,
        )
        waiting = remembered.undelivered_receipt(now)
        if waiting is not None and isinstance(inbound.event, Pressed) and not wiping:
            # Most likely Send pressed again: the answer is the receipt, not "old button".
            outcome = Outcome(remembered.draft, ())
        else:
            outcome = step(remembered.draft, inbound.event, env, self._config)
        after = replace(remembered, draft=outcome.draft, lost=None, discarded=(), receipt=None)
        work = _Work(key, inbound, now, remembered, after)
        if waiting is not None and not wiping:  # a wipe wants nothing left on the phone
            work.replies.extend(receipt_replies(waiting))
            work.receipt = waiting
        work.replies.extend(outcome.replies)
        self._follow_draft(work)
        try:
            for effect in outcome.effects:
                await self._apply(work, effect)
        except NoRoomForFiles:
            log.warning("disk nearly full: a file was refused; nothing was kept")
            return Handled(no_room_for_files_replies(), self._locale(remembered.draft, hint))
        except AttachmentUnavailable:
            log.warning("an attachment could not be fetched; nothing was kept")
            return Handled(attachment_failed_replies(), self._locale(remembered.draft, hint))
        except KeysChanged:
            log.warning("a draft sealed to other admin keys was not submitted")
            await self._discard(work)
            lost = replace(env, lost=LOST_RESTART)
            again = step(Draft(locale=remembered.draft.locale), inbound.event, lost, self._config)
            return Handled(again.replies, self._locale(remembered.draft, hint))
        except SQLAlchemyError as exc:
            # Only the type: driver messages can quote parameters.
            log.warning("storage failed (%s); nothing was committed", type(exc).__name__)
            failed = submit_failed_replies() if work.submitting else error_replies()
            return Handled(failed, self._locale(remembered.draft, hint))
        await self._keep(work)
        # /forget clears the language: its confirmation still comes in the one just used.
        spoken = work.before.draft if work.forget else work.after.draft
        locale = self._locale(spoken, hint)
        replies = tuple(work.replies)
        if isinstance(inbound.event, Pressed) and not work.wiping:
            replies = replacing_pressed(replies)
        return Handled(
            replies,
            locale,
            work.delete_input,
            wipe=work.wipe,
            wiping=work.wiping,
            submitted=work.submitting,
            receipt=work.receipt,
        )

    @staticmethod
    def _locale(draft: Draft, hint: str | None) -> str:
        return draft.locale or hint or "en"

    def _flood_answer(self, key: str, opened: Opened, hint: str | None) -> Handled | None:
        """Over the limit, answer the first update and drop the rest.

        A flood must not keep a worker busy, nor fill the chat or the memory.
        """
        sent = opened.count or 0
        if sent <= self._flood_limit:
            return None
        locale = self._memory.locale_in(key, opened) or hint or "en"
        if sent == self._flood_limit + 1:
            return Handled(flood_replies(), locale)
        return Handled((), locale, duplicate=True)

    def _follow_draft(self, work: _Work) -> None:
        """Start the clock of a new report; forget everything sealed for a replaced one."""
        before, after = work.before.draft, work.after.draft
        if after.draft_id is not None and after.draft_id != before.draft_id:
            work.after = replace(
                work.after, started=work.now, keys=self._sealer.fingerprint, uploads={}
            )
        if before.draft_id is not None and after.draft_id != before.draft_id:
            work.dropped_items.extend(_all_items(work.before))
            old = tuple(upload.upload_id for upload in work.before.uploads.values())
            work.after = replace(work.after, discarded=(*work.after.discarded, *old))
        if after.draft_id is None:
            work.after = replace(work.after, started=None, keys=None, uploads={})

    async def _apply(self, work: _Work, effect: Effect) -> None:
        """Carry out one effect the flow asked for."""
        if isinstance(effect, SealText):
            self._seal(work, effect)
        elif isinstance(effect, SealAttachment):
            await self._seal_attachment(work, effect)
        elif isinstance(effect, DropSealed):
            self._drop(work, effect.kind)
        elif isinstance(effect, RememberLanguage):
            pass  # the language is part of the draft, remembered with it
        elif isinstance(effect, ForgetMe):
            work.forget = True
            work.after = Remembered(draft=work.after.draft, notices=work.before.notices)
        elif isinstance(effect, WipeChat):
            await self._wipe(work)
        elif isinstance(effect, LookUpReceipt):
            await self._look_up(work, effect.code)
        elif isinstance(effect, WriteToTeam | FileToTeam | AnswerConsent):
            await self._to_team(work, effect)
        elif isinstance(effect, Submit):
            await self._submit(work)
        else:
            work.delete_input = True

    def _seal(self, work: _Work, effect: SealText) -> None:
        """Seal a typed answer to the admins now, bound to the draft id."""
        draft_id = work.after.draft.draft_id
        if draft_id is None:
            raise RuntimeError("sealing outside a report")
        ref = ItemRef(draft_id, effect.kind, effect.index)
        work.new_items[(effect.kind, effect.index)] = self._sealer.seal_for_admins(
            effect.text.encode(), ref
        )

    async def _seal_attachment(self, work: _Work, effect: SealAttachment) -> None:
        """Fetch a file into memory and store it sealed under a random upload id."""
        draft_id = work.after.draft.draft_id
        if draft_id is None:
            raise AttachmentUnavailable
        data = await self._fetch_bytes(work, effect.file_ref)
        upload_id = secrets.token_hex(UPLOAD_ID_BYTES)
        deadline = self._memory.deadline(work.after) or work.now
        expires_on = deadline.date() + timedelta(days=1)
        ref = ItemRef(draft_id, ATTACHMENT_KIND, effect.index)
        async with unit_of_work(self._sessions) as session:
            uploads = UploadRepository(session)
            for seq, blob in enumerate(seal_stream_for_admins(self._sealer, ref, [data])):
                await uploads.add_chunk(upload_id, seq, blob, expires_on)
        del data
        meta: dict[str, object] = {
            "kind": effect.kind,
            "question": effect.question,
            "size": effect.size,
        }
        if effect.caption:
            meta["caption"] = effect.caption
        if effect.file_name:
            meta["file_name"] = effect.file_name
        work.new_items[(ATTACHMENT_META_KIND, effect.index)] = self._sealer.seal_for_admins(
            json.dumps(meta, sort_keys=True).encode(),
            ItemRef(draft_id, ATTACHMENT_META_KIND, effect.index),
        )
        uploads_now = dict(work.after.uploads)
        uploads_now[effect.index] = Upload(effect.question, upload_id)
        work.after = replace(work.after, uploads=uploads_now)

    def _drop(self, work: _Work, kind: str) -> None:
        """Forget what was sealed for one question: its texts and its files."""
        count = work.before.draft.text_counts.get(kind, 0)
        work.dropped_items.extend((kind, index) for index in range(count))
        for index in range(count):
            work.new_items.pop((kind, index), None)
        files = [i for i, upload in work.after.uploads.items() if upload.question == kind]
        work.dropped_items.extend((ATTACHMENT_META_KIND, index) for index in files)
        for index in files:
            work.new_items.pop((ATTACHMENT_META_KIND, index), None)
        kept = {i: u for i, u in work.after.uploads.items() if i not in files}
        gone = [work.after.uploads[i].upload_id for i in files]
        work.after = replace(work.after, uploads=kept, discarded=(*work.after.discarded, *gone))

    async def _wipe(self, work: _Work) -> None:
        """Collect every message id for deletion, and stop answer notices to this chat.

        Telegram lets a bot delete messages for 48 hours only: older ones are not asked for,
        and the person is told plainly that some are left and how to clear the chat.
        """
        work.wiping = True
        noted = await self._memory.take_messages(work.key)
        if work.inbound.message_id is not None:
            noted.append((work.inbound.message_id, work.now))
        deletable = work.now - DELETABLE_FOR
        work.wipe = whole_range([i for i, at in noted if at > deletable])
        too_old = len({i for i, at in noted if at <= deletable} - set(work.wipe))
        if too_old:
            work.replies = [*work.replies, *wipe_too_old_replies()]
        if work.before.notices:
            async with unit_of_work(self._sessions) as session:
                await ReplyNoticeRepository(session).delete(work.before.notices)
            work.after = replace(work.after, notices=())
        # A wiped phone may be in other hands next: the code must be typed again.
        work.after = replace(work.after, unlocked=None)
        if work.after.draft.position in (WRITING, ANSWER_CONSENT):
            work.after = replace(work.after, draft=replace(work.after.draft, position=IDLE))

    async def _submit(self, work: _Work) -> None:
        """Store the report, then hold its statistics back and clear the draft."""
        work.submitting = True
        draft = work.before.draft
        items = await self._memory.sealed_items(work.key)
        for name in work.dropped_items:
            items.pop(name, None)
        items.update(work.new_items)
        submission = Submission(
            draft=draft,
            items=items,
            uploads={i: u.upload_id for i, u in work.before.uploads.items()},
            transport=work.inbound.transport,
            user_id=work.inbound.user_id,
            today=work.now.date(),
        )
        drawn = await self._submitter.draw()
        async with unit_of_work(self._sessions) as session:
            submitted = await self._submitter.submit(session, submission, drawn)
        # Committed. Everything below is volatile memory only.
        if submitted.stats is not None:
            await self._memory.queue_stat(submitted.stats)
        await self._memory.count_submission()
        work.replies.extend(receipt_replies(submitted.code))
        work.receipt = submitted.code
        notices = work.before.notices + ((submitted.report_id,) if submitted.notice else ())
        work.after = Remembered(draft=Draft(locale=draft.locale), notices=notices)
        work.new_items.clear()
        work.dropped_items = _all_items(work.before)

    async def _discard(self, work: _Work) -> None:
        """Forget a draft that must not be submitted (saved outside a report: every item
        goes), and its uploads."""
        uploads = [u.upload_id for u in work.before.uploads.values()]
        await self._drop_uploads(tuple(uploads))
        work.after = Remembered(draft=Draft(locale=work.before.draft.locale))
        await self._memory.save(work.key, work.after, work.now)

    async def _keep(self, work: _Work) -> None:
        """Write the update's changes to memory, now that nothing can fail any more."""
        if work.forget:
            await self._memory.forget(work.key, work.now)
        if work.after.discarded:
            await self._drop_uploads(work.after.discarded)
            work.after = replace(work.after, discarded=())
        message_id = work.inbound.message_id
        await self._memory.save(
            work.key,
            work.after,
            work.now,
            dropped=() if work.forget else work.dropped_items,
            new_items=work.new_items,
            message_ids=[message_id] if message_id is not None and not work.wipe else [],
        )

    async def _drop_uploads(self, upload_ids: tuple[str, ...]) -> None:
        """Delete uploads nobody will claim, in a transaction that holds nothing else."""
        if not upload_ids:
            return
        try:
            async with unit_of_work(self._sessions) as session:
                await UploadRepository(session).drop(upload_ids)
        except SQLAlchemyError as exc:  # they expire anyway
            log.warning("uploads not dropped (%s); they expire", type(exc).__name__)

    async def remember_messages(self, transport: str, user_id: int, ids: list[int]) -> None:
        """Note the ids of messages just sent, so a later /wipe deletes them too."""
        if ids:
            key = self._memory.key(transport, user_id)
            await self._memory.remember_messages(key, ids, self._clock())

    async def keep_undelivered_receipt(self, transport: str, user_id: int, code: str) -> None:
        """Hold a receipt Telegram failed to deliver; the person's next message gets it.

        The report is stored: asking the person to start again would make them redo every
        step and file it twice, with nobody holding the first one's code.
        """
        key = self._memory.key(transport, user_id)
        async with self._memory.store.turn(key):
            await self._memory.keep_receipt(key, code, self._clock())

    async def locale_of(self, transport: str, user_id: int) -> str | None:
        """Return the language this person chose, if it is still remembered."""
        return await self._memory.locale_of(self._memory.key(transport, user_id))

    async def _look_up(self, work: _Work, typed: str) -> None:
        """Answer /status CODE from the database, and open the report for an hour.

        Codes are counted per person and ten-minute window, found or not: a code has 66 bits,
        and trying many must stay slow even so.
        """
        if await self._memory.count_code_try(work.key, work.now) > self._code_tries:
            work.replies.extend(code_tries_replies())
            return
        code = normalise_receipt_code(typed)
        if code is None:
            work.replies.extend(status_replies(False, None, None))
            return
        # scrypt, in a thread: the event loop serves everyone else's chats meanwhile.
        receipt = await asyncio.to_thread(self._keys.receipt_keys, code)
        async with unit_of_work(self._sessions) as session:
            reports = ReportRepository(session)
            report_id = await reports.find_by_receipt_hash(receipt.receipt_hash)
            report = await reports.get(report_id) if report_id else None
            if report is None:
                work.replies.extend(status_replies(False, None, None))
                return
            stored = await ReplyRepository(session).for_report(report.id)
            waiting = await ConsentRepository(session).pending(report.id) is not None
        answers: list[tuple[date, str]] = []
        if stored and report.reporter_key is not None:
            if report.format_version >= REPLY_KEY_V2_FROM_FORMAT:
                reporter = receipt.reporter_key(report.id)
            else:  # an older report: its key took a second scrypt run of its own
                reporter = await asyncio.to_thread(self._keys.reporter_key_v1, code, report.id)
            for reply in stored:
                ref = ItemRef(report.id, REPLY_KIND, reply.index)
                try:
                    answers.append((reply.sent_on, reporter.open_reply(reply.blob, ref).decode()))
                except (CryptoError, UnicodeDecodeError):
                    log.warning("a reply did not open; it is left out")
        work.replies.extend(
            status_replies(
                True, report.submitted_on, report.status, answers, question_waiting=waiting
            )
        )
        draft = work.after.draft
        if not draft.in_report and draft.locale is not None:
            position = ANSWER_CONSENT if waiting else IDLE
            work.after = replace(work.after, draft=replace(draft, position=position))
        work.after = replace(work.after, unlocked=(report.id, work.now + UNLOCKED_FOR))

    async def _to_team(self, work: _Work, effect: WriteToTeam | FileToTeam | AnswerConsent) -> None:
        """Store a message, file or consent answer on the report opened with the code."""
        report_id = work.before.unlocked_report(work.now)
        if report_id is None:  # the hour ran out between the step and here
            work.replies.append(Reply((msg(NEED_CODE),)))
            return
        if isinstance(effect, WriteToTeam):
            stored = await self._followups.write_text(report_id, effect.text)
        elif isinstance(effect, FileToTeam):
            stored = await self._followups.write_file(report_id, await self._fetch(work, effect))
        else:
            stored = await self._followups.answer_consent(report_id, effect.agreed)
        if stored is Stored.NO_REPORT:
            work.replies.extend(report_gone_replies())
            work.after = replace(work.after, unlocked=None)
        elif stored is Stored.NO_QUESTION:
            work.replies.extend(no_question_replies())
        elif isinstance(effect, AnswerConsent):
            # A pressed yes or no replaces the question, so its buttons cannot be pressed again.
            pressed = isinstance(work.inbound.event, Pressed)
            work.replies.extend(
                replace(reply, edit_pressed=pressed)
                for reply in consent_answered_replies(effect.agreed)
            )
        else:
            work.replies.extend(followup_saved_replies())

    async def _fetch(self, work: _Work, effect: FileToTeam) -> FileSent:
        """Fetch a file for the team into memory, if the disk has room and it is not too big."""
        data = await self._fetch_bytes(work, effect.file_ref)
        return FileSent(effect.kind, data, effect.size, effect.caption, effect.file_name)

    async def _fetch_bytes(self, work: _Work, file_ref: str) -> bytes:
        """Download a file into memory (never to disk) while the disk has room for uploads."""
        fetch = work.inbound.fetch_file
        if fetch is None:
            raise AttachmentUnavailable
        if self._free_disk is not None and self._free_disk() < self._min_free_disk:
            raise NoRoomForFiles
        try:
            data = await fetch(file_ref)
        except Exception as exc:  # any transport failure: the reporter sends it again
            raise AttachmentUnavailable(type(exc).__name__) from None
        if len(data) > self._config.max_attachment_bytes:
            raise AttachmentUnavailable("too big")
        return data


WIPE_RANGE: Final = 3000
"""Most message ids below the newest one that a wipe asks Telegram to delete."""


def whole_range(noted: list[int]) -> tuple[int, ...]:
    """Every message id from the oldest noted one to the newest, in order.

    A message the bot sent whose answer was lost on the way back (the connection dropped
    after Telegram took it) was never noted, yet it is on the phone: in a private chat every
    id between two of ours is this conversation's, so the wipe asks for them all. Telegram
    skips ids that are gone.
    """
    if not noted:
        return ()
    newest = max(noted)
    oldest = max(min(noted), newest - WIPE_RANGE + 1)
    return tuple(sorted(set(range(oldest, newest + 1)).union(noted)))


def _is_wipe(event: Event) -> bool:
    """Tell whether an event asks to wipe the chat (the command, or the receipt's button)."""
    if isinstance(event, Command):
        return event.name == "wipe"
    return isinstance(event, Pressed) and event.data.endswith("m:wipe")


def _all_items(remembered: Remembered) -> list[tuple[str, int]]:
    """Name every sealed item a draft may hold: its texts and its files' descriptions."""
    names = [
        (kind, index)
        for kind, count in remembered.draft.text_counts.items()
        for index in range(count)
    ]
    names.extend((ATTACHMENT_META_KIND, index) for index in remembered.uploads)
    return names
