"""Carry out one conversation step for one person: load, step, seal, store, commit, answer.

This service owns the unit of work around :func:`bot.intake.step.step` and the effects it asks for.
It is transport-free (Telegram and, later, Signal adapters call :meth:`IntakeService.handle`)
and it must never let plaintext reach storage: typed answers are sealed to the admins before
anything is written, the draft is encrypted with the server key, and the submitted report row
carries no pseudonym. The reporter is told "saved" only after the commit succeeded.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.crypto.codes import normalise_receipt_code
from bot.crypto.errors import CryptoError
from bot.crypto.sealer import AdminSealer, seal_stream_for_admins
from bot.crypto.server import ServerKeys
from bot.crypto.values import ItemRef, SealedBlob
from bot.i18n.translations import SUPPORTED_LOCALES
from bot.intake.asking import answers_for_storage
from bot.intake.replies import (
    attachment_failed_replies,
    error_replies,
    flood_replies,
    no_room_for_files_replies,
    receipt_replies,
    status_replies,
    submit_failed_replies,
)
from bot.intake.step import step
from bot.intake.values import (
    Draft,
    DropSealed,
    Effect,
    Env,
    Event,
    FlowConfig,
    ForgetMe,
    LookUpReceipt,
    RememberLanguage,
    Reply,
    SealAttachment,
    SealText,
    Submit,
    WipeChat,
)
from bot.questions import (
    ANSWERS_KIND,
    ATTACHMENT_KIND,
    ATTACHMENT_META_KIND,
    REPLY_KIND,
    REPLY_NOTICE_DAYS,
    UNSAID,
)
from storage.attachments import AttachmentRepository
from storage.db import unit_of_work
from storage.replies import ReplyNoticeRepository, ReplyRepository
from storage.repositories import (
    DraftRepository,
    LanguageRepository,
    NewItem,
    NewReport,
    RateLimitRepository,
    ReportRepository,
    StatRecord,
    StatsRepository,
    UpdateLedger,
)

log = logging.getLogger(__name__)

ANSWERS_FORMAT_VERSION = 1
MAX_TRACED_MESSAGES = 2000

FileFetcher = Callable[[str], Awaitable[bytes]]


FLOOD_WINDOW = timedelta(minutes=10)


def flood_window(now: datetime) -> int:
    """Number the ten-minute window ``now`` falls in."""
    return int(now.timestamp() // FLOOD_WINDOW.total_seconds())


class AttachmentUnavailable(Exception):
    """A file could not be fetched or kept; the whole update is rolled back."""


class NoRoomForFiles(Exception):
    """The disk is nearly full: files are refused until there is room; text still works."""


LEDGER_TTL = timedelta(days=2)
LANGUAGE_KEPT = timedelta(days=90)
"""How long a chosen language is remembered: a convenience, and a sign the account used us."""


def ledger_expiry(now: datetime) -> datetime:
    """Return when an update's ledger entry may go: LEDGER_TTL on, rounded up to midnight UTC.

    The entry of the update that submits a report is written with the report (same
    transaction id on PostgreSQL); an exact expiry would date the submission to the
    microsecond, where docs/design.md §2 allows a seized server nothing finer than the day.
    """
    due = now.astimezone(UTC) + LEDGER_TTL
    midnight = due.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == due else midnight + timedelta(days=1)


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


@dataclass
class _Result:
    """What one update produced besides the draft: replies and instructions to the adapter."""

    replies: list[Reply] = field(default_factory=list)
    delete_input: bool = False
    wipe: tuple[int, ...] = ()
    submitting: bool = False


@dataclass
class _Payload:
    """The decrypted draft: the conversation state plus answers already sealed to admins."""

    draft: Draft
    sealed: dict[tuple[str, int], SealedBlob] = field(default_factory=dict)
    attachments: dict[int, str] = field(default_factory=dict)
    """Attachment index → the question it answers (its chunks are already stored)."""
    messages: list[int] = field(default_factory=list)
    """Ids of the chat's messages, both sides, so /wipe can delete them (no content)."""

    def to_bytes(self) -> bytes:
        items = [
            [kind, index, base64.b64encode(blob.data).decode()]
            for (kind, index), blob in sorted(self.sealed.items())
        ]
        doc = {
            "draft": json.loads(self.draft.to_json()),
            "sealed": items,
            "attachments": sorted(self.attachments.items()),
            "messages": self.messages[-MAX_TRACED_MESSAGES:],
        }
        return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> _Payload:
        doc = json.loads(raw)
        draft = Draft.from_json(json.dumps(doc["draft"]).encode())
        sealed = {
            (str(kind), int(index)): SealedBlob(base64.b64decode(data))
            for kind, index, data in doc["sealed"]
        }
        attachments = {int(i): str(q) for i, q in doc.get("attachments", [])}
        messages = [int(m) for m in doc.get("messages", [])]
        if draft.report_id is None:
            return cls(draft, messages=messages)
        return cls(draft, sealed, attachments, messages)


class IntakeService:
    """Run the intake for every transport; holds only public keys and the server key."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        server_keys: ServerKeys,
        sealer: AdminSealer,
        config: FlowConfig,
        draft_ttl: timedelta,
        new_report_id: Callable[[], str],
        new_receipt_code: Callable[[], str],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        flood_limit: int = 120,
        free_disk: Callable[[], int] | None = None,
        min_free_disk_bytes: int = 0,
    ) -> None:
        if draft_ttl <= timedelta(0):
            raise ValueError("draft_ttl must be positive")
        self._sessions = sessions
        self._keys = server_keys
        self._sealer = sealer
        self._config = config
        self._ttl = draft_ttl
        self._new_report_id = new_report_id
        self._new_receipt_code = new_receipt_code
        self._clock = clock
        self._flood_limit = flood_limit
        self._free_disk = free_disk
        self._min_free_disk = min_free_disk_bytes

    async def handle(self, inbound: Inbound) -> Handled:
        """Process one event inside one unit of work; answer only what was committed."""
        owner = self._keys.pseudonym(inbound.transport, inbound.user_id)
        now = self._clock()
        result = _Result()
        try:
            async with unit_of_work(self._sessions) as session:
                if inbound.update_id is not None:
                    key = self._keys.update_key(inbound.transport, inbound.update_id)
                    if not await UpdateLedger(session).claim(key, ledger_expiry(now)):
                        return Handled((), "en", duplicate=True)
                flooded = await self._flood_answer(session, owner, now)
                if flooded is not None:
                    return flooded
                payload = await self._load(session, owner, now)
                if inbound.message_id is not None:
                    payload.messages.append(inbound.message_id)
                env = Env(
                    today=now.date(),
                    fresh_report_id=self._new_report_id(),
                    language_hint=inbound.language_hint,
                )
                outcome = step(payload.draft, inbound.event, env, self._config)
                previous_report = payload.draft.report_id
                payload.draft = outcome.draft
                if previous_report is not None and outcome.draft.report_id != previous_report:
                    # A new report (or none): nothing sealed for the old one may survive.
                    await AttachmentRepository(session).drop(previous_report)
                    payload.sealed, payload.attachments = {}, {}
                result.replies.extend(outcome.replies)
                for effect in outcome.effects:
                    payload = await self._apply(
                        session, owner, payload, effect, inbound, now, result
                    )
                await self._save(session, owner, payload, now)
                locale = payload.draft.locale or inbound.language_hint or "en"
        except NoRoomForFiles:
            log.warning("disk nearly full: a file was refused; nothing was committed")
            refused = no_room_for_files_replies()
            return Handled(refused, await self._locale_of(owner, inbound.language_hint))
        except AttachmentUnavailable:
            log.warning("an attachment could not be fetched; nothing was committed")
            failed = attachment_failed_replies()
            return Handled(failed, await self._locale_of(owner, inbound.language_hint))
        except SQLAlchemyError as exc:
            # Only the type: driver messages can quote parameters.
            log.warning("storage failed (%s); nothing was committed", type(exc).__name__)
            failed = submit_failed_replies() if result.submitting else error_replies()
            return Handled(failed, await self._locale_of(owner, inbound.language_hint))
        return Handled(tuple(result.replies), locale, result.delete_input, wipe=result.wipe)

    async def _flood_answer(
        self, session: AsyncSession, owner: str, now: datetime
    ) -> Handled | None:
        """Count the update; over the limit, answer the first one and drop the rest.

        A flood must not keep a worker busy, nor fill the chat or the disk.
        """
        sent = await RateLimitRepository(session).hit(owner, flood_window(now))
        if sent <= self._flood_limit:
            return None
        locale = await LanguageRepository(session).get(owner) or "en"
        if sent == self._flood_limit + 1:
            return Handled(flood_replies(), locale)
        return Handled((), locale, duplicate=True)

    async def _apply(
        self,
        session: AsyncSession,
        owner: str,
        payload: _Payload,
        effect: Effect,
        inbound: Inbound,
        now: datetime,
        result: _Result,
    ) -> _Payload:
        """Carry out one effect the flow asked for; return the payload to keep."""
        if isinstance(effect, SealText):
            self._seal(payload, effect)
        elif isinstance(effect, SealAttachment):
            await self._seal_attachment(session, payload, effect, inbound, now)
        elif isinstance(effect, DropSealed):
            await self._drop(session, payload, effect.kind)
        elif isinstance(effect, RememberLanguage):
            until = now.date() + LANGUAGE_KEPT
            await LanguageRepository(session).set(owner, effect.locale, expires_on=until)
        elif isinstance(effect, ForgetMe):
            await LanguageRepository(session).delete(owner)
            return _Payload(Draft(), messages=payload.messages)
        elif isinstance(effect, WipeChat):
            result.wipe = tuple(dict.fromkeys(payload.messages))
            payload.messages = []
        elif isinstance(effect, LookUpReceipt):
            result.replies.extend(await self._look_up(session, effect.code))
        elif isinstance(effect, Submit):
            result.submitting = True
            code = await self._submit(session, payload, now.date(), inbound)
            result.replies.extend(receipt_replies(code))
            return _Payload(Draft(locale=payload.draft.locale), messages=payload.messages)
        else:
            result.delete_input = True
        return payload

    async def remember_messages(self, transport: str, user_id: int, ids: list[int]) -> None:
        """Note the ids of messages just sent, so a later /wipe deletes them too."""
        if not ids:
            return
        owner = self._keys.pseudonym(transport, user_id)
        now = self._clock()
        try:
            async with unit_of_work(self._sessions) as session:
                payload = await self._load(session, owner, now)
                payload.messages.extend(ids)
                await self._save(session, owner, payload, now)
        except SQLAlchemyError as exc:
            log.warning("message ids not kept (%s)", type(exc).__name__)

    async def _locale_of(self, owner: str, hint: str | None) -> str:
        try:
            async with unit_of_work(self._sessions) as session:
                return await LanguageRepository(session).get(owner) or hint or "en"
        except SQLAlchemyError:
            return hint or "en"

    async def _load(self, session: AsyncSession, owner: str, now: datetime) -> _Payload:
        stored = await DraftRepository(session).get(owner)
        if stored is not None:
            try:
                return _Payload.from_bytes(self._keys.open_draft(stored.blob, owner))
            except (CryptoError, ValueError, KeyError, TypeError):
                log.warning("unreadable draft discarded")
        locale = await LanguageRepository(session).get(owner)
        return _Payload(Draft(locale=locale if locale in SUPPORTED_LOCALES else None))

    async def _save(
        self, session: AsyncSession, owner: str, payload: _Payload, now: datetime
    ) -> None:
        drafts = DraftRepository(session)
        draft = payload.draft
        if not draft.in_report and draft.resume is None and not payload.messages:
            await drafts.delete(owner)
            return
        blob = self._keys.seal_draft(payload.to_bytes(), owner)
        await drafts.put(owner, blob, now + self._ttl)

    async def _seal_attachment(
        self,
        session: AsyncSession,
        payload: _Payload,
        effect: SealAttachment,
        inbound: Inbound,
        now: datetime,
    ) -> None:
        """Fetch a file into memory and store it sealed, chunk by chunk; never on disk in clear."""
        report_id = payload.draft.report_id
        if report_id is None or inbound.fetch_file is None:
            raise AttachmentUnavailable
        if self._free_disk is not None and self._free_disk() < self._min_free_disk:
            raise NoRoomForFiles
        try:
            data = await inbound.fetch_file(effect.file_ref)
        except Exception as exc:  # any transport failure: the reporter sends it again
            raise AttachmentUnavailable(type(exc).__name__) from None
        if len(data) > self._config.max_attachment_bytes:
            raise AttachmentUnavailable("too big")
        expires_on = (now + self._ttl).date() + timedelta(days=1)
        ref = ItemRef(report_id, ATTACHMENT_KIND, effect.index)
        repository = AttachmentRepository(session)
        for seq, blob in enumerate(seal_stream_for_admins(self._sealer, ref, [data])):
            await repository.add_chunk(report_id, effect.index, seq, blob, expires_on)
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
        payload.sealed[(ATTACHMENT_META_KIND, effect.index)] = self._sealer.seal_for_admins(
            json.dumps(meta, sort_keys=True).encode(),
            ItemRef(report_id, ATTACHMENT_META_KIND, effect.index),
        )
        payload.attachments[effect.index] = effect.question

    async def _drop(self, session: AsyncSession, payload: _Payload, kind: str) -> None:
        """Forget what was sealed for one question: its texts and its files."""
        indexes = [i for i, question in payload.attachments.items() if question == kind]
        payload.sealed = {
            key: blob
            for key, blob in payload.sealed.items()
            if key[0] != kind and not (key[0] == ATTACHMENT_META_KIND and key[1] in indexes)
        }
        for index in indexes:
            del payload.attachments[index]
        if indexes and payload.draft.report_id is not None:
            await AttachmentRepository(session).drop(payload.draft.report_id, indexes)

    def _seal(self, payload: _Payload, effect: SealText) -> None:
        report_id = payload.draft.report_id
        if report_id is None:
            raise RuntimeError("sealing outside a report")
        ref = ItemRef(report_id, effect.kind, effect.index)
        payload.sealed[(effect.kind, effect.index)] = self._sealer.seal_for_admins(
            effect.text.encode(), ref
        )

    async def _submit(
        self, session: AsyncSession, payload: _Payload, today: date, inbound: Inbound
    ) -> str:
        draft = payload.draft
        if draft.report_id is None:
            raise RuntimeError("submit outside a report")
        answers = answers_for_storage(draft)
        document = {
            "v": ANSWERS_FORMAT_VERSION,
            "locale": draft.locale,
            "month": draft.month,
            "answers": answers,
        }
        answers_blob = self._sealer.seal_for_admins(
            json.dumps(document, ensure_ascii=False, sort_keys=True).encode(),
            ItemRef(draft.report_id, ANSWERS_KIND, 0),
        )
        items = [NewItem(ANSWERS_KIND, 0, answers_blob)]
        items.extend(
            NewItem(kind, index, blob) for (kind, index), blob in sorted(payload.sealed.items())
        )
        code = self._new_receipt_code()
        report = NewReport(
            id=draft.report_id,
            submitted_on=today,
            urgent=answers.get("danger_now") == "yes",
            receipt_hash=self._keys.receipt_hash(code),
            items=items,
            reporter_key=self._keys.reporter_key(code, draft.report_id).public_bytes(),
        )
        await ReportRepository(session).add(report)
        await AttachmentRepository(session).keep(draft.report_id)
        if answers.get("notify_replies") == "yes":
            # The reporter chose this link, after being told what it means (docs/design.md §3.3).
            contact = {"transport": inbound.transport, "user_id": inbound.user_id}
            contact["locale"] = draft.locale or "en"
            blob = self._keys.seal_notice(json.dumps(contact).encode(), draft.report_id)
            until = today + timedelta(days=REPLY_NOTICE_DAYS)
            await ReplyNoticeRepository(session).add(draft.report_id, blob, until)
        if answers.get("consent_statistics") == "yes":
            await StatsRepository(session).add(_stat_record(answers, draft.month or ""))
        return code

    async def _look_up(self, session: AsyncSession, typed: str) -> tuple[Reply, ...]:
        code = normalise_receipt_code(typed)
        if code is None:
            return status_replies(False, None, None)
        report_id = await ReportRepository(session).find_by_receipt_hash(
            self._keys.receipt_hash(code)
        )
        report = await ReportRepository(session).get(report_id) if report_id else None
        if report is None:
            return status_replies(False, None, None)
        answers: list[tuple[date, str]] = []
        stored = await ReplyRepository(session).for_report(report.id)
        if stored and report.reporter_key is not None:
            reporter = self._keys.reporter_key(code, report.id)
            for reply in stored:
                ref = ItemRef(report.id, REPLY_KIND, reply.index)
                try:
                    answers.append((reply.sent_on, reporter.open_reply(reply.blob, ref).decode()))
                except (CryptoError, UnicodeDecodeError):
                    log.warning("a reply did not open; it is left out")
        return status_replies(True, report.submitted_on, report.status, answers)


def _stat_record(answers: dict[str, str | list[str]], month: str) -> StatRecord:
    """Keep only the coarse fields the reporter agreed to share (docs/design.md §3.5)."""

    def one(key: str) -> str:
        value = answers.get(key, UNSAID)
        return value if isinstance(value, str) else UNSAID

    danger = one("danger_now")
    urgency = {"yes": "urgent", "no": "not_urgent"}.get(danger, UNSAID)
    province = answers.get("province")
    return StatRecord(
        category=one("incident"),
        party=one("party"),
        country=one("country"),
        province=province if isinstance(province, str) else None,
        month=month,
        urgency=urgency,
        former_forces=one("former_forces"),
    )
