"""Re-key through the admin API: a lead's machine re-wraps, the server checks and stores.

Adding, revoking or rotating an admin key re-wraps every stored item's data key to the new
set (docs/crypto.md §8). Only a private key unwraps, so the lead's machine does the work; the
server hands it the sealed items and stores what comes back. A run starts with its audit
entry (``rekey``, or ``rekey-check`` for a dry run), naming the new set's size and
fingerprint; the server serves sealed reports for re-keying only to a lead whose latest such
entry is from today, and stores a re-wrapped blob only if:

- that entry is a ``rekey`` for exactly the key set the request names;
- the blob is wrapped to exactly that set (an original of a redacted item: to its leads);
- an item (a snapshot too) keeps the very nonce and ciphertext it had: only its recipient
  table may change, so re-keying cannot be used to alter what a report says;
- the blob it replaces is still stored (its SHA-256 is compared in constant time).

So nothing is read for re-keying that the chain does not record, and a lead's machine cannot
wrap a report to a key the chain does not name.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.admin.redaction import blob_hash
from bot.admin.rekey import rekey_subject
from bot.adminapi.http import (
    Unanswerable,
    admitted,
    answer,
    is_index,
    json_object,
    lead_only,
    refusal,
    report_id_in,
    sealed_report,
)
from bot.crypto.audit import KEY_ID_PATTERN
from bot.crypto.encoding import b64decode, b64encode
from bot.crypto.errors import CryptoError
from bot.crypto.sealer import recipient_ids, sealed_content
from bot.crypto.values import SealedBlob
from bot.partners.months import Month, PartnerDigestError
from bot.questions import ORIGINAL_KINDS
from storage.audit import AuditRepository
from storage.db import session_factory, unit_of_work
from storage.repositories import ReportRepository
from storage.snapshots import DigestSnapshotRepository
from storage.uploads import UploadRepository

REKEY: Final = "rekey"
REKEY_CHECK: Final = "rekey-check"
PAGE_LIMIT: Final = 500
MAX_KEYS: Final = 255
NOT_STARTED: Final = "start a re-key run first (POST /v1/rekey), today"
NOT_THAT_SET: Final = "the key set differs from the one this run's audit entry names"

Audited = Callable[
    [web.Request, str, str, Callable[[AsyncSession], Awaitable[web.Response]]],
    Awaitable[web.Response],
]
Today = Callable[[], date]


@dataclass(frozen=True)
class RekeyRoutes:
    """The re-keying routes: a lead's only."""

    engine: AsyncEngine
    audited: Audited
    today: Today
    lead_ids: frozenset[str]

    def register(self, app: web.Application) -> None:
        """Add the routes, each for leads only."""
        app.router.add_post("/v1/rekey", lead_only(self._start))
        app.router.add_get("/v1/rekey/reports", lead_only(self._report_ids))
        app.router.add_get("/v1/rekey/reports/{report_id}", lead_only(self._report))
        app.router.add_post("/v1/rekey/reports/{report_id}", lead_only(self._write_report))
        app.router.add_get("/v1/rekey/snapshots", lead_only(self._snapshots))
        app.router.add_post("/v1/rekey/snapshots/{month}", lead_only(self._write_snapshot))

    async def _start(self, request: web.Request) -> web.Response:
        """Chain the run before anything is read: its key set's size and fingerprint."""
        body = await json_object(request)
        target = _key_ids(body.get("target"))
        if target is None:
            return refusal("target is the new set's key ids (16 hex digits each)", 400)
        action = REKEY if body.get("execute") is True else REKEY_CHECK
        subject = rekey_subject(target)

        async def started(_: AsyncSession) -> web.Response:
            return answer({"action": action, "subject": subject})

        return await self.audited(request, action, subject, started)

    async def _report_ids(self, request: web.Request) -> web.Response:
        """The next page of report ids, after ``after``."""
        after = request.query.get("after") or None
        async with unit_of_work(session_factory(self.engine)) as session:
            await self._run(session, request, writing=False)
            ids = await ReportRepository(session).ids_after(after, limit=PAGE_LIMIT)
        return answer({"ids": ids})

    async def _report(self, request: web.Request) -> web.Response:
        """One report's sealed items and its files' stream headers."""
        report_id = report_id_in(request)
        async with unit_of_work(session_factory(self.engine)) as session:
            await self._run(session, request, writing=False)
            report = await ReportRepository(session).get(report_id)
            if report is None:
                return refusal("no such report", 404)
            uploads = UploadRepository(session)
            headers = []
            for file in report.files:
                header = await uploads.header(file.upload_id)
                if header is not None:
                    headers.append({"index": file.index, "header": b64encode(header.data)})
        return answer({"report": sealed_report(report), "headers": headers})

    async def _write_report(self, request: web.Request) -> web.Response:
        """Store a report's re-wrapped items and headers where the old blob is still there."""
        report_id = report_id_in(request)
        body = await json_object(request)
        target = _key_ids(body.get("target"))
        try:
            items = [_replacement(entry, with_kind=True) for entry in _list(body.get("items"))]
            headers = [_replacement(entry, with_kind=False) for entry in _list(body.get("headers"))]
        except (CryptoError, KeyError, TypeError, ValueError):
            return refusal("items and headers are lists of replacements", 400)
        if target is None:
            return refusal("target is the new set's key ids (16 hex digits each)", 400)
        everyone, leads = frozenset(target), frozenset(target) & self.lead_ids
        for kind, _, _, new in items + headers:
            wanted = leads if kind in ORIGINAL_KINDS else everyone
            if recipient_ids(new) != wanted:
                return refusal(NOT_WRAPPED_TO_SET, 422)

        async def write(session: AsyncSession) -> web.Response:
            if await self._run(session, request, writing=True) != rekey_subject(target):
                raise Unanswerable(NOT_THAT_SET, 409)
            reports, uploads = ReportRepository(session), UploadRepository(session)
            report = await reports.get(report_id)
            if report is None:
                raise Unanswerable("no such report", 404)
            upload_of = {file.index: file.upload_id for file in report.files}
            stored = {(item.kind, item.index): item.blob for item in report.items}
            done = changed = 0
            for kind, index, old, new in items:
                current = stored.get((kind, index))
                if current is not None and _same(current, old):
                    _require_same_content(current, new)
                    await reports.replace_item_blob(report_id, kind, index, new, expected=current)
                    done += 1
                else:
                    changed += 1
            for _, index, old, new in headers:
                upload = upload_of.get(index)
                current = None if upload is None else await uploads.header(upload)
                if upload is not None and current is not None and _same(current, old):
                    await uploads.replace_header(upload, new, expected=current)
                    done += 1
                else:
                    changed += 1
            return answer({"done": done, "changed": changed})

        try:
            async with unit_of_work(session_factory(self.engine)) as session:
                return await write(session)
        except Unanswerable as refused:  # nothing of this report was kept
            return refusal(refused.reason, refused.status)

    async def _snapshots(self, request: web.Request) -> web.Response:
        """Every month's sealed digest snapshot."""
        async with unit_of_work(session_factory(self.engine)) as session:
            await self._run(session, request, writing=False)
            snapshots = DigestSnapshotRepository(session)
            found = []
            for month in await snapshots.months():
                blob = await snapshots.get(month)
                if blob is not None:
                    found.append({"month": month, "blob": b64encode(blob.data)})
        return answer({"snapshots": found})

    async def _write_snapshot(self, request: web.Request) -> web.Response:
        """Store a month's re-wrapped snapshot if the old one is still there."""
        try:
            month = str(Month.parse(request.match_info["month"]))
        except PartnerDigestError:
            return refusal("a month is YYYY-MM", 404)
        body = await json_object(request)
        target = _key_ids(body.get("target"))
        try:
            _, _, old, new = _replacement({**body, "index": 0}, with_kind=False)
        except (CryptoError, KeyError, TypeError, ValueError):
            return refusal("old and new are a snapshot's hash and its re-wrapped sealing", 400)
        if target is None or recipient_ids(new) != frozenset(target):
            return refusal(NOT_WRAPPED_TO_SET, 422)
        async with unit_of_work(session_factory(self.engine)) as session:
            if await self._run(session, request, writing=True) != rekey_subject(target):
                return refusal(NOT_THAT_SET, 409)
            snapshots = DigestSnapshotRepository(session)
            current = await snapshots.get(month)
            if current is None or not _same(current, old):
                return answer({"month": month, "replaced": False})
            if sealed_content(current) != sealed_content(new):
                return refusal(CONTENT_CHANGED, 422)
            await snapshots.replace(month, new, expected=current)
        return answer({"month": month, "replaced": True})

    async def _run(self, session: AsyncSession, request: web.Request, *, writing: bool) -> str:
        """The subject of the lead's run today, or a refusal: reads need a started run (a
        dry run's too), writes a ``rekey`` run."""
        admin = admitted(request).key_id
        entry = await AuditRepository(session).latest_of(admin, (REKEY, REKEY_CHECK))
        if entry is None or entry.day != self.today() or (writing and entry.action != REKEY):
            raise web.HTTPConflict(
                text=json.dumps({"error": NOT_STARTED}), content_type="application/json"
            )
        return entry.subject


NOT_WRAPPED_TO_SET: Final = "a re-wrapped blob is not wrapped to exactly the new key set"
CONTENT_CHANGED: Final = "a re-wrap changes only the recipients: this blob's content differs"


def _key_ids(value: object) -> list[str] | None:
    """A list of distinct admin key ids, or None."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_KEYS:
        return None
    if not all(isinstance(v, str) and KEY_ID_PATTERN.fullmatch(v) for v in value):
        return None
    return list(value) if len(set(value)) == len(value) else None


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


def _replacement(entry: Any, *, with_kind: bool) -> tuple[str, int, bytes, SealedBlob]:
    """(kind, index, SHA-256 of the old blob, new blob) from one JSON replacement."""
    kind = str(entry["kind"]) if with_kind else ""
    index = entry["index"]
    if not is_index(index):
        raise ValueError("index")
    old = b64decode(entry["old"], size=32)
    return kind, index, old, SealedBlob(b64decode(entry["new"], size=None))


def _require_same_content(current: SealedBlob, new: SealedBlob) -> None:
    """Refuse a re-wrapped item whose content differs from the stored one's."""
    kept = sealed_content(current)
    if kept is None or sealed_content(new) != kept:
        raise Unanswerable(CONTENT_CHANGED, 422)


def _same(current: SealedBlob, old_hash: bytes) -> bool:
    return hmac.compare_digest(blob_hash(current), old_hash)
