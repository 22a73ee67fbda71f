"""Store what a reporter sends the team after the report: sealed to the admins, bound to it.

This module owns the writes behind "Write to our team" and the answer to the team's question
about sharing a case. Each message, file or answer is sealed to the admins (like the report
itself: :mod:`bot.crypto.sealer`), bound to the report id, its kind and index
(``docs/crypto.md`` §17), and committed in its own transaction before the reporter is told
it arrived. Nothing here says when it was written: no time column, and a file's chunks carry
the report's own expiry day, not today's.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.answers import encode_consent
from bot.crypto.sealer import AdminSealer, seal_stream_for_admins
from bot.crypto.values import ItemRef
from bot.questions import CONSENT_KIND, FOLLOWUP_FILE_KIND, FOLLOWUP_KIND, FOLLOWUP_META_KIND
from storage.consent import ConsentRepository
from storage.db import unit_of_work
from storage.records import NewFile
from storage.repositories import ReportRepository
from storage.uploads import UploadRepository

UPLOAD_ID_BYTES = 16


class Stored(Enum):
    """What became of one thing sent to the team."""

    STORED = "stored"
    NO_REPORT = "no_report"
    """The report is gone (deleted after its retention time, or by the team)."""
    NO_QUESTION = "no_question"
    """A consent answer came, but no question waits (answered already, or never asked)."""


@dataclass(frozen=True)
class FileSent:
    """A file for the team, in memory: its bytes and the reporter's words about it."""

    kind: str
    data: bytes = field(repr=False)
    size: int | None = None
    caption: str = field(default="", repr=False)
    file_name: str = field(default="", repr=False)


class FollowupStore:
    """Seal and store follow-ups; holds only the admins' public keys."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], sealer: AdminSealer) -> None:
        """Take the database and the sealer every report item goes through."""
        self._sessions = sessions
        self._sealer = sealer

    async def write_text(self, report_id: str, text: str) -> Stored:
        """Add a message as the report's next ``followup`` item."""
        async with unit_of_work(self._sessions) as session:
            reports = ReportRepository(session)
            if await reports.submitted_on(report_id) is None:
                return Stored.NO_REPORT
            index = await reports.next_index(report_id, FOLLOWUP_KIND)
            ref = ItemRef(report_id, FOLLOWUP_KIND, index)
            sealed = self._sealer.seal_for_admins(text.encode("utf-8"), ref)
            await reports.add_item(report_id, FOLLOWUP_KIND, index, sealed)
        return Stored.STORED

    async def write_file(self, report_id: str, sent: FileSent) -> Stored:
        """Add a file: its sealed stream as an upload the report claims, and its description."""
        async with unit_of_work(self._sessions) as session:
            reports = ReportRepository(session)
            submitted_on = await reports.submitted_on(report_id)
            if submitted_on is None:
                return Stored.NO_REPORT
            index = await reports.next_file_index(report_id)
            upload_id = secrets.token_hex(UPLOAD_ID_BYTES)
            uploads = UploadRepository(session)
            # The expiry day of a claimed upload is never used; the report's own day says
            # nothing new about when this file came.
            expires_on = submitted_on + timedelta(days=1)
            stream_ref = ItemRef(report_id, FOLLOWUP_FILE_KIND, index)
            for seq, blob in enumerate(
                seal_stream_for_admins(self._sealer, stream_ref, [sent.data])
            ):
                await uploads.add_chunk(upload_id, seq, blob, expires_on)
            await reports.add_file(report_id, NewFile(index, upload_id))
            meta: dict[str, object] = {"kind": sent.kind, "size": sent.size}
            if sent.caption:
                meta["caption"] = sent.caption
            if sent.file_name:
                meta["file_name"] = sent.file_name
            meta_ref = ItemRef(report_id, FOLLOWUP_META_KIND, index)
            sealed = self._sealer.seal_for_admins(
                json.dumps(meta, sort_keys=True).encode(), meta_ref
            )
            await reports.add_item(report_id, FOLLOWUP_META_KIND, index, sealed)
        return Stored.STORED

    async def answer_consent(self, report_id: str, agreed: bool) -> Stored:
        """Seal the reporter's yes or no as the report's next consent item; the question goes."""
        async with unit_of_work(self._sessions) as session:
            reports = ReportRepository(session)
            if await reports.submitted_on(report_id) is None:
                return Stored.NO_REPORT
            consent = ConsentRepository(session)
            if await consent.pending(report_id) is None:
                return Stored.NO_QUESTION
            index = await reports.next_index(report_id, CONSENT_KIND)
            ref = ItemRef(report_id, CONSENT_KIND, index)
            sealed = self._sealer.seal_for_admins(encode_consent(agreed), ref)
            await reports.add_item(report_id, CONSENT_KIND, index, sealed)
            await consent.answered(report_id)
        return Stored.STORED
