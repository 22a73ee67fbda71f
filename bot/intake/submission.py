"""Turn a finished draft into a stored report, in one transaction of report tables only.

This module owns what a submission writes, and when: the report row (a random id drawn now,
the day, the urgent flag, a slow hash of the receipt code, the reporter's reply key), its
sealed items, its claims on uploaded files and, only if the reporter asked for it, the answer
notice. Nothing else: no statistics record (it waits in volatile memory for a batch, so that
nothing pairs it with this report), no conversation state, nothing keyed by the account. The
reporter is told "received" only after this transaction committed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.answers import ANSWERS_VERSION, AnswersDocument, encode_answers
from bot.crypto.sealer import AdminSealer
from bot.crypto.server import ServerKeys
from bot.crypto.values import ItemRef, SealedBlob
from bot.intake.asking import answers_for_storage
from bot.intake.values import Draft
from bot.questions import ANSWERS_KIND, REPLY_NOTICE_DAYS, UNSAID
from storage.records import NewFile, NewItem, NewReport, StatRecord
from storage.replies import ReplyNoticeRepository
from storage.repositories import ReportRepository
from storage.uploads import UploadRepository

REPORT_FORMAT_VERSION = 3
"""Format 2: intake items bound to the draft id named in answers document v2. Format 3 adds the
reporter's reply key v2, derived from the receipt code's one scrypt run (docs/crypto.md §13.1);
``/status`` reads the format to know which derivation made a report's key."""

REPLY_KEY_V2_FROM_FORMAT = 3
"""The first report format whose reply key comes from :meth:`ReceiptKeys.reporter_key`."""


class KeysChanged(Exception):
    """An item of the draft is not sealed to exactly the admin keys configured now."""


@dataclass(frozen=True)
class Submitted:
    """What a committed submission gives back: the receipt code and the statistics held back."""

    report_id: str
    code: str
    stats: StatRecord | None
    notice: bool


@dataclass(frozen=True)
class Drawn:
    """A report's id and receipt code, and what the one slow scrypt run derives from them."""

    report_id: str
    code: str
    reporter_key: bytes
    receipt_hash: bytes


@dataclass(frozen=True)
class Submission:
    """Everything one submission needs, gathered from volatile memory before the transaction."""

    draft: Draft
    items: Mapping[tuple[str, int], SealedBlob]
    uploads: Mapping[int, str]
    """Attachment index → upload id."""
    transport: str
    user_id: int
    today: date


class Submitter:
    """Write reports; holds public keys and the server keys only."""

    def __init__(
        self,
        *,
        sealer: AdminSealer,
        server_keys: ServerKeys,
        new_report_id: Callable[[], str],
        new_receipt_code: Callable[[], str],
    ) -> None:
        """Take the sealer, the server keys and the sources of fresh ids and codes."""
        self._sealer = sealer
        self._keys = server_keys
        self._new_report_id = new_report_id
        self._new_receipt_code = new_receipt_code

    def _derive(self, code: str, report_id: str) -> tuple[bytes, bytes]:
        """The reporter's reply public key and the receipt hash, from one scrypt run."""
        receipt = self._keys.receipt_keys(code)
        return receipt.reporter_key(report_id).public_bytes(), receipt.receipt_hash

    async def draw(self) -> Drawn:
        """Draw the report id and receipt code, and derive their keys, before the transaction.

        The id and the code are drawn at submission: nothing written earlier (uploads under
        random ids) names the report. The scrypt run (about 45 ms of CPU) happens in a thread
        and outside any unit of work, so neither the event loop (everyone's chats) nor the
        writers queued behind this one wait on it.
        """
        report_id = self._new_report_id()
        code = self._new_receipt_code()
        reporter_key, receipt_hash = await asyncio.to_thread(self._derive, code, report_id)
        return Drawn(report_id, code, reporter_key, receipt_hash)

    async def submit(
        self, session: AsyncSession, submission: Submission, drawn: Drawn
    ) -> Submitted:
        """Store the report inside the caller's unit of work; raise KeysChanged before writing."""
        draft = submission.draft
        if draft.draft_id is None:
            raise RuntimeError("submit outside a report")
        report_id, code = drawn.report_id, drawn.code
        reporter_key, receipt_hash = drawn.reporter_key, drawn.receipt_hash
        await self._check_current(session, submission)
        answers = answers_for_storage(draft)
        month = f"{submission.today:%Y-%m}"
        document = AnswersDocument(
            locale=draft.locale,
            month=month,
            answers={k: tuple(v) if isinstance(v, list) else v for k, v in answers.items()},
            version=ANSWERS_VERSION,
            draft_id=draft.draft_id,
            reporter_key=reporter_key,
        )
        answers_blob = self._sealer.seal_for_admins(
            encode_answers(document), ItemRef(report_id, ANSWERS_KIND, 0)
        )
        items = [NewItem(ANSWERS_KIND, 0, answers_blob)]
        items.extend(
            NewItem(kind, index, blob) for (kind, index), blob in sorted(submission.items.items())
        )
        report = NewReport(
            id=report_id,
            submitted_on=submission.today,
            urgent=answers.get("danger_now") == "yes",
            receipt_hash=receipt_hash,
            items=items,
            format_version=REPORT_FORMAT_VERSION,
            reporter_key=reporter_key,
            files=[NewFile(i, upload) for i, upload in sorted(submission.uploads.items())],
        )
        await ReportRepository(session).add(report)
        notice = answers.get("notify_replies") == "yes"
        if notice:
            # The reporter chose this link, after being told what it means (docs/design.md §3.3).
            contact = {
                "transport": submission.transport,
                "user_id": submission.user_id,
                "locale": draft.locale or "en",
            }
            blob = self._keys.seal_notice(json.dumps(contact).encode(), report_id)
            until = submission.today + timedelta(days=REPLY_NOTICE_DAYS)
            await ReplyNoticeRepository(session).add(report_id, blob, until)
        stats = stat_record(answers, month) if answers.get("consent_statistics") == "yes" else None
        return Submitted(report_id, code, stats, notice)

    async def _check_current(self, session: AsyncSession, submission: Submission) -> None:
        """Refuse items or files sealed to any other admin key set than the one configured.

        The conversation already drops a draft sealed under another key set; this checks the
        ciphertext itself, so a revoked admin's key can open nothing submitted after it went.
        """
        if not all(self._sealer.is_current(blob) for blob in submission.items.values()):
            raise KeysChanged
        uploads = UploadRepository(session)
        for upload_id in submission.uploads.values():
            header = await uploads.header(upload_id)
            if header is None or not self._sealer.is_current(header):
                raise KeysChanged


def stat_record(answers: Mapping[str, str | list[str]], month: str) -> StatRecord:
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
