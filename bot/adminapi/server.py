"""Serve the admin API: sealed reports and their metadata, to signed requests only.

Admins' machines talk to this instead of holding database credentials (docs/operations.md,
"Admin API"). It runs on its own port behind the reverse proxy, which ends TLS. Every route
but ``/healthz`` passes the :class:`~bot.adminapi.gate.Gate` first; what it answers is
metadata (day, urgency, status, counts) and ciphertext sealed to the admins, so the server
never needs, and never receives, a private key or a plaintext.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.admin.history import RECORDED_ACTIONS
from bot.admin.redaction import blob_hash
from bot.adminapi.deliveries import DELIVERIES_PATH, MAX_QUEUE_BODY_BYTES, DeliveryRoutes
from bot.adminapi.gate import AUDIT_HEADER, AUDIT_MOVED_ON, Gate, Refused, Role
from bot.adminapi.http import (
    ADMIN,
    Handler,
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
from bot.adminapi.protocol import (
    ALREADY_ASKED,
    ANSWER_TAKEN,
    NEXT_CHANGED,
    NOTE_TAKEN,
    NOTHING_NEW,
    could_be_report_id,
    queue_subject,
)
from bot.adminapi.rekeying import RekeyRoutes
from bot.answers import NOT_SENT_BY_REPORTER
from bot.crypto.audit import SIGNATURE_SIZE, AuditEntry, entry_signature_holds
from bot.crypto.encoding import b64decode, b64encode
from bot.crypto.errors import CryptoError
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import SealedBlob
from bot.partners.months import Month, PartnerDigestError
from bot.partners.snapshot import (
    DIGEST_ACTION,
    PIN_HEX_DIGITS,
    digest_subject,
    encode_snapshot,
)
from bot.questions import (
    ANSWERS_KIND,
    NOTE_KIND,
    REDACTABLE_KINDS,
    REPLY_KIND,
    original_kind,
)
from bot.settings import Partner
from storage.audit import AuditRepository
from storage.consent import ConsentRepository
from storage.db import session_factory, unit_of_work
from storage.records import (
    REPORT_STATUSES,
    STATUS_CLAIMED,
    STATUS_CLOSED,
    STATUS_NEW,
    ReportSummary,
)
from storage.replies import ReplyNoticeRepository, ReplyRepository
from storage.repositories import ReportRepository, StatsRepository
from storage.revocations import RevocationRepository
from storage.snapshots import DigestSnapshotRepository
from storage.uploads import UploadRepository, paged_chunks

log = logging.getLogger(__name__)

PAGE_SIZE: Final = 50
AUDIT_PAGE_SIZE: Final = 1000
MAX_BODY_BYTES: Final = 1024 * 1024


@dataclass
class AdminApi:
    """The routes, bound to the database and the gate."""

    engine: AsyncEngine
    gate: Gate
    sealer: AdminSealer
    lead_ids: frozenset[str] = frozenset()
    admin_ids: tuple[str, ...] = ()
    lead_sealer: AdminSealer | None = None
    """The lead keys: a redacted item's original must be sealed to exactly these."""
    partners: tuple[Partner, ...] = ()
    """AMANAT_PARTNERS: whom digests may be queued for, and by which channels."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)

    def application(self) -> web.Application:
        """The aiohttp application: the gate in front of every route but /healthz."""
        # Only queueing a digest takes a body larger than MAX_BODY_BYTES (the guard checks).
        app = web.Application(client_max_size=MAX_QUEUE_BODY_BYTES, middlewares=[self._guard])
        app.router.add_get("/healthz", self._alive)
        app.router.add_get("/v1/whoami", self._whoami)
        app.router.add_get("/v1/audit/head", self._audit_head)
        app.router.add_get("/v1/audit", self._audit_entries)
        app.router.add_get("/v1/queue", self._queue)
        app.router.add_get("/v1/reports/{report_id}", self._report)
        app.router.add_get("/v1/reports/{report_id}/counts", self._counts)
        app.router.add_get("/v1/reports/{report_id}/history", self._history)
        app.router.add_get("/v1/claimable", self._claimable)
        app.router.add_post("/v1/claim-next", self._claim_next)
        app.router.add_post("/v1/reports/{report_id}/claim", self._claim)
        app.router.add_post("/v1/reports/{report_id}/release", self._release)
        app.router.add_post("/v1/reports/{report_id}/status", self._status)
        app.router.add_post("/v1/reports/{report_id}/notes", self._note)
        app.router.add_post("/v1/reports/{report_id}/replies", self._reply)
        app.router.add_get("/v1/reports/{report_id}/consent", self._consent)
        app.router.add_get("/v1/reports/{report_id}/files/{index}", self._file)
        app.router.add_post("/v1/reports/{report_id}/ask-consent", self._ask_consent)
        app.router.add_post("/v1/reports/{report_id}/route", self._route)
        app.router.add_post("/v1/reports/{report_id}/redactions", self._redact)
        app.router.add_get("/v1/stats", self._stats)
        app.router.add_get("/v1/digests/{month}", self._digest_month)
        app.router.add_post("/v1/digests/{month}/issue", lead_only(self._issue_digest))
        RekeyRoutes(self.engine, self._audited, self.gate.today, self.lead_ids).register(app)
        DeliveryRoutes(
            self.engine,
            self._audited,
            {partner.name: partner for partner in self.partners},
            self.clock,
            self.gate.today,
        ).register(app)
        app.router.add_get("/v1/admins", lead_only(self._admins))
        app.router.add_post("/v1/admins/{key_id}/revoke", lead_only(self._revoke))
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/healthz":
            return await handler(request)
        limit = _body_limit(request)
        if request.content_length is not None and request.content_length > limit:
            return refusal("the body is too large", 413)
        body = await request.read()
        if len(body) > limit:
            return refusal("the body is too large", 413)
        try:
            admin = await self.gate.admit(
                request.method, request.raw_path, dict(request.headers), body
            )
        except Refused as refused:
            return refusal(refused.reason, refused.status)
        request[ADMIN] = admin
        return await handler(request)

    async def _alive(self, _: web.Request) -> web.Response:
        return answer({"alive": True})

    async def _whoami(self, request: web.Request) -> web.Response:
        admin = admitted(request)
        leads = sorted(self.lead_ids)
        return answer({"key_id": admin.key_id, "role": admin.role.value, "leads": leads})

    async def _queue(self, request: web.Request) -> web.Response:
        """One page of the queue, urgent first, then the newest day first.

        Metadata only; with ``answers=1`` each row also carries its sealed answers item, and
        the page is served only with its signed audit entry, as the database commands chain
        a decrypted queue.
        """
        status = request.query.get("status") or None
        page_text = request.query.get("page", "1")
        sealed = request.query.get("answers") == "1"
        if status is not None and status not in REPORT_STATUSES:
            return refusal(f"status is one of: {', '.join(REPORT_STATUSES)}", 400)
        if not page_text.isdigit() or not 0 < int(page_text) <= 10_000:
            return refusal("page is a number from 1", 400)
        page = int(page_text)

        async def read(session: AsyncSession) -> web.Response:
            reports = ReportRepository(session)
            rows = await reports.queue(
                status=status,
                limit=PAGE_SIZE + 1,
                offset=(page - 1) * PAGE_SIZE,
                uncounted=NOT_SENT_BY_REPORTER,
            )
            listed = [_summary(row) for row in rows[:PAGE_SIZE]]
            if sealed:
                for row in listed:
                    row["answers"] = await _answers_item(reports, row["id"])
            return answer({"page": page, "more": len(rows) > PAGE_SIZE, "reports": listed})

        if sealed:
            return await self._audited(request, "queue", queue_subject(status, page), read)
        async with unit_of_work(session_factory(self.engine)) as session:
            return await read(session)

    async def _reply(self, request: web.Request) -> web.Response:
        """Store an answer to the reporter and the team's copy, both sealed on the admin's
        machine: one to the reporter's key (only their code opens it), one to the admins."""
        report_id = report_id_in(request)
        body = await json_object(request)
        index = body.get("index")
        try:
            for_reporter = SealedBlob(b64decode(body.get("for_reporter")))
            for_admins = SealedBlob(b64decode(body.get("for_admins")))
        except CryptoError:
            return refusal("for_reporter and for_admins are sealed answers in base64", 400)
        if not is_index(index):
            return refusal("index is the answer's number, from 0", 400)
        if not self.sealer.is_current(for_admins):
            return refusal("the team's copy is not sealed to the current admin key set", 422)

        async def add(session: AsyncSession) -> web.Response:
            reports, replies = ReportRepository(session), ReplyRepository(session)
            report = await reports.get(report_id)
            if report is None:
                raise Unanswerable("no such report", 404)
            if report.status == STATUS_CLOSED:
                raise Unanswerable(CLOSED, 409)
            if report.reporter_key is None:
                raise Unanswerable("this report was stored before answers existed", 409)
            if index != await replies.next_index(report_id):
                raise Unanswerable(ANSWER_TAKEN, 409)
            await replies.add(report_id, index, for_reporter, self.gate.today())
            await reports.add_item(report_id, REPLY_KIND, index, for_admins)
            if report.status == STATUS_NEW:
                await reports.set_status(report_id, STATUS_CLAIMED)
            notified = await ReplyNoticeRepository(session).mark_pending(report_id)
            return answer({"id": report_id, "reply": index, "notified": notified})

        return await self._audited(request, "reply", report_id, add)

    async def _report(self, request: web.Request) -> web.Response:
        """A report's sealed items and metadata: only an admin key opens them, elsewhere.

        Chained as "show", or "export-report" (``export=1``) when the admin keeps a copy.
        """
        report_id = report_id_in(request)
        action = "export-report" if request.query.get("export") == "1" else "show"

        async def read(session: AsyncSession) -> web.Response:
            report = await ReportRepository(session).get(report_id)
            if report is None:
                raise Unanswerable("no such report", 404)
            return answer(sealed_report(report))

        return await self._audited(request, action, report_id, read)

    async def _counts(self, request: web.Request) -> web.Response:
        """How many notes and answers a report has: the index the next one is sealed under."""
        report_id = report_id_in(request)
        async with unit_of_work(session_factory(self.engine)) as session:
            reports = ReportRepository(session)
            if not await reports.exists(report_id):
                return refusal("no such report", 404)
            notes = await reports.next_index(report_id, NOTE_KIND)
            replies = await ReplyRepository(session).next_index(report_id)
        return answer({"note": notes, "reply": replies})

    async def _history(self, request: web.Request) -> web.Response:
        """Who wrote a report's notes and answers, and when: the audit entries that chain them.

        Metadata the chain already shows every admin (`amanat audit list`); the signatures
        stay with `amanat audit verify`.
        """
        report_id = report_id_in(request)
        async with unit_of_work(session_factory(self.engine)) as session:
            entries = await AuditRepository(session).about(report_id, RECORDED_ACTIONS.values())
        return answer(
            {
                "entries": [
                    {"action": e.action, "day": e.day.isoformat(), "admin": e.admin}
                    for e in entries
                ]
            }
        )

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """Stream one attachment's sealed chunks, each as u32 length then its bytes.

        Served only with the audit entry (`export` or, when the admin will keep the hidden
        details, `export-original`, subject "<report> <index>"); each batch of chunks is read
        in a transaction of its own, so a slow download never holds the database.
        """
        report_id = report_id_in(request)
        index_text = request.match_info["index"]
        if not index_text.isdigit() or len(index_text) > 6:
            return refusal("no such file", 404)
        index = int(index_text)
        action = "export-original" if request.query.get("original") == "1" else "export"
        upload: list[str] = []

        async def find(session: AsyncSession) -> web.Response:
            found = await ReportRepository(session).upload_of(report_id, index)
            if found is None:
                raise Unanswerable("no such file", 404)
            upload.append(found)
            return answer({})

        recorded = await self._audited(request, action, f"{report_id} {index}", find)
        if not upload:
            return recorded  # the refusal
        response = web.StreamResponse(
            headers={"Content-Type": "application/octet-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)

        async def batch(from_seq: int) -> list[tuple[int, SealedBlob]]:
            async with unit_of_work(session_factory(self.engine)) as session:
                return await UploadRepository(session).chunk_batch(upload[0], from_seq)

        async for blob in paged_chunks(batch):
            await response.write(FRAME.pack(len(blob.data)) + blob.data)
        await response.write_eof()
        return response

    async def _consent(self, request: web.Request) -> web.Response:
        """Whether the team's question to the reporter still waits for an answer."""
        report_id = report_id_in(request)
        async with unit_of_work(session_factory(self.engine)) as session:
            waiting = await ConsentRepository(session).pending(report_id) is not None
        return answer({"waiting": waiting})

    async def _ask_consent(self, request: web.Request) -> web.Response:
        """Ask the reporter whether the case may go to a partner; one question at a time."""
        report_id = report_id_in(request)

        async def ask(session: AsyncSession) -> web.Response:
            if not await ReportRepository(session).exists(report_id):
                raise Unanswerable("no such report", 404)
            if not await ConsentRepository(session).ask(report_id, self.gate.today()):
                raise Unanswerable(ALREADY_ASKED, 409)
            notified = await ReplyNoticeRepository(session).mark_pending(report_id)
            return answer({"id": report_id, "notified": notified})

        return await self._audited(request, "ask-consent", report_id, ask)

    async def _route(self, request: web.Request) -> web.Response:
        """Chain that a case goes to a partner, before the admin's machine writes it.

        The case is sealed to the partner on that machine, after it read the reporter's
        sealed yes; the server cannot read that answer, so it records and trusts nothing
        else. Recording first means no case leaves unrecorded.
        """
        report_id = report_id_in(request)
        partner = (await json_object(request)).get("partner")
        if not isinstance(partner, str) or not _PARTNER_NAME.fullmatch(partner):
            return refusal("partner is a partner's name from AMANAT_PARTNERS", 400)

        async def record(session: AsyncSession) -> web.Response:
            if not await ReportRepository(session).exists(report_id):
                raise Unanswerable("no such report", 404)
            return answer({"id": report_id, "partner": partner})

        return await self._audited(request, "route", f"{report_id} {partner}", record)

    async def _redact(self, request: web.Request) -> web.Response:
        """Replace a reporter's text with the copy an admin redacted, keeping the original
        sealed to the leads only (docs/crypto.md §19).

        The server reads neither text; it checks that the copy is sealed to every current
        admin key, that a new original is sealed to exactly the lead keys, and that the copy
        replaces the very blob the admin opened.
        """
        report_id = report_id_in(request)
        body = await json_object(request)
        kind, index = body.get("kind"), body.get("index")
        if kind not in REDACTABLE_KINDS or not is_index(index):
            return refusal(f"kind is one of: {', '.join(REDACTABLE_KINDS)}; index from 0", 400)
        try:
            redacted = SealedBlob(b64decode(body.get("redacted"), size=None))
            replaces = b64decode(body.get("replaces"), size=32)
            sent = body.get("original")
            original = None if sent is None else SealedBlob(b64decode(sent, size=None))
        except CryptoError:
            return refusal("redacted, original and replaces are base64", 400)
        if not self.sealer.is_current(redacted):
            return refusal("the redacted copy is not sealed to the current admin key set", 422)
        if original is not None and (
            self.lead_sealer is None or not self.lead_sealer.is_current(original)
        ):
            return refusal(ORIGINAL_NOT_FOR_LEADS, 422)

        async def store(session: AsyncSession) -> web.Response:
            reports = ReportRepository(session)
            current = await reports.item(report_id, str(kind), index)
            if current is None:
                raise Unanswerable("no such item", 404)
            if not hmac.compare_digest(blob_hash(current), replaces):
                raise Unanswerable(ITEM_CHANGED, 409)
            kept = await reports.item(report_id, original_kind(str(kind)), index) is not None
            if kept == (original is not None):
                raise Unanswerable(
                    "the original is kept already: send the copy alone"
                    if kept
                    else "the first redaction must keep the original for the leads",
                    409,
                )
            if original is not None:
                await reports.add_item(report_id, original_kind(str(kind)), index, original)
            await reports.replace_item_blob(report_id, str(kind), index, redacted, expected=current)
            return answer({"id": report_id, "kind": kind, "index": index})

        return await self._audited(request, "redact", f"{report_id} {kind} {index}", store)

    async def _claimable(self, _: web.Request) -> web.Response:
        """The report a claim would take now, urgent first, then the longest waiting."""
        async with unit_of_work(session_factory(self.engine)) as session:
            report_id = await ReportRepository(session).next_new()
        return answer({"id": report_id})

    async def _claim_next(self, request: web.Request) -> web.Response:
        """Take the next new report, urgent first, as the admin signed its claim.

        The row is taken ``FOR UPDATE SKIP LOCKED`` (docs/operations.md, "Admin API"): two
        admins claiming at once never wait on each other's row. The admin signed the claim of
        the report ``/v1/claimable`` named; if the next one is another by now (taken, or a
        more urgent one arrived), nothing is kept and the admin asks again.
        """
        expected = (await json_object(request)).get("id")
        if not isinstance(expected, str) or not could_be_report_id(expected):
            return refusal("id is the report /v1/claimable named", 400)

        async def take(session: AsyncSession) -> web.Response:
            taken = await ReportRepository(session).claim_next()
            if taken is None:
                raise Unanswerable(NOTHING_NEW, 404)
            if taken != expected:
                raise Unanswerable(NEXT_CHANGED, 409)
            return answer({"id": taken, "status": STATUS_CLAIMED})

        return await self._audited(request, "claim", expected, take)

    async def _release(self, request: web.Request) -> web.Response:
        """Give a claimed report back to the queue, for another admin to take."""
        report_id = report_id_in(request)

        async def give_back(session: AsyncSession) -> web.Response:
            reports = ReportRepository(session)
            moved = await reports.release(report_id)
            await _moved_or_refused(reports, report_id, moved, ONLY_CLAIMED)
            return answer({"id": report_id, "status": STATUS_NEW})

        return await self._audited(request, "release", report_id, give_back)

    async def _claim(self, request: web.Request) -> web.Response:
        """Take one new report; 409 if another admin took it first (ask for the next)."""
        report_id = report_id_in(request)

        async def take(session: AsyncSession) -> web.Response:
            reports = ReportRepository(session)
            moved = await reports.claim(report_id)
            await _moved_or_refused(reports, report_id, moved, "another admin took it first")
            return answer({"id": report_id, "status": STATUS_CLAIMED})

        return await self._audited(request, "claim", report_id, take)

    async def _status(self, request: web.Request) -> web.Response:
        """Set a report's status: the reporter sees it with /status."""
        report_id = report_id_in(request)
        status = (await json_object(request)).get("status")
        if status not in REPORT_STATUSES:
            return refusal(f"status is one of: {', '.join(REPORT_STATUSES)}", 400)

        async def change(session: AsyncSession) -> web.Response:
            if not await ReportRepository(session).set_status(report_id, str(status)):
                raise Unanswerable("no such report", 404)
            return answer({"id": report_id, "status": status})

        return await self._audited(request, "status", f"{report_id} {status}", change)

    async def _note(self, request: web.Request) -> web.Response:
        """Store a note sealed on the admin's machine to the current admin key set."""
        report_id = report_id_in(request)
        body = await json_object(request)
        index, blob = body.get("index"), body.get("blob")
        try:
            sealed = SealedBlob(b64decode(blob, size=None))
        except CryptoError:
            return refusal("blob is the sealed note in base64", 400)
        if not is_index(index):
            return refusal("index is the note's number, from 0", 400)
        if not self.sealer.is_current(sealed):
            return refusal("the note is not sealed to the current admin key set", 422)

        async def add(session: AsyncSession) -> web.Response:
            reports = ReportRepository(session)
            report = await reports.get(report_id)
            if report is None:
                raise Unanswerable("no such report", 404)
            if report.status == STATUS_CLOSED:
                raise Unanswerable(CLOSED, 409)
            if index != await reports.next_index(report_id, NOTE_KIND):  # as counts says
                raise Unanswerable(NOTE_TAKEN, 409)
            await reports.add_item(report_id, NOTE_KIND, index, sealed)
            return answer({"id": report_id, "note": index})

        return await self._audited(request, "note", report_id, add)

    async def _audited(
        self,
        request: web.Request,
        action: str,
        subject: str,
        work: Callable[[AsyncSession], Awaitable[web.Response]],
    ) -> web.Response:
        """Do ``work`` and chain its audit entry in one transaction, or neither.

        ``work`` raises :class:`Unanswerable` to refuse (nothing is kept, nothing chained).
        """
        signature = _audit_signature(request)
        if signature is None:
            return refusal(NOT_RECORDED, 428)
        try:
            async with unit_of_work(session_factory(self.engine)) as session:
                done = await work(session)
                await self._record(session, request, action, subject, signature)
        except Unanswerable as refused:
            return refusal(refused.reason, refused.status)
        except AuditMoved:
            return refusal(AUDIT_MOVED_ON, 409)
        return done

    async def _audit_entries(self, request: web.Request) -> web.Response:
        """One page of the audit chain, with hashes and signatures, for `amanat audit` to
        list and verify on the admin's machine against the keys it holds itself."""
        after_text = request.query.get("after", "0")
        if not after_text.isdigit() or len(after_text) > 12:
            return refusal("after is an entry number, from 0", 400)
        async with unit_of_work(session_factory(self.engine)) as session:
            page = await AuditRepository(session).entries_after(
                int(after_text), AUDIT_PAGE_SIZE + 1
            )
        return answer(
            {
                "entries": [_audit_entry(entry) for entry in page[:AUDIT_PAGE_SIZE]],
                "more": len(page) > AUDIT_PAGE_SIZE,
            }
        )

    async def _audit_head(self, _: web.Request) -> web.Response:
        """What an admin's machine needs to sign the next audit entry: its number, the hash
        it follows, and the server's day."""
        async with unit_of_work(session_factory(self.engine)) as session:
            seq, digest = await AuditRepository(session).head()
        return answer({"seq": seq, "hash": b64encode(digest), "day": self.gate.today().isoformat()})

    async def _record(
        self,
        session: AsyncSession,
        request: web.Request,
        action: str,
        subject: str,
        signature: bytes,
    ) -> None:
        """Chain the entry the admin signed for this request, or raise :class:`AuditMoved`.

        The server recomputes the entry after the current head with its own day; the
        admin's signature holds only if they signed exactly that. So no read or change is
        served that the chain does not record, in the admin's own name.
        """
        admin = admitted(request)
        signing = self.gate.signing_key(admin.key_id)

        def signed(digest: bytes) -> bytes:
            if not entry_signature_holds(signing, signature, digest):
                raise AuditMoved
            return signature

        await AuditRepository(session).append(
            self.gate.today(), admin.key_id, action, subject, signer=signed
        )

    async def _stats(self, _: web.Request) -> web.Response:
        """How many statistics records (coarse fields of consenting reports) have each value
        of each field, for a preview: ``StatsRepository.margins``, never the records."""
        async with unit_of_work(session_factory(self.engine)) as session:
            margins = await StatsRepository(session).margins()
        return answer(
            {
                "fields": {name: dict(counts) for name, counts in margins.fields.items()},
                "provinces": [
                    [c, p, n] for (c, p), n in sorted(margins.provinces.items(), key=str)
                ],
            }
        )

    async def _digest_month(self, request: web.Request) -> web.Response:
        """A month's sealed snapshot, if one was taken, and its records stored now.

        With ``records=0`` the snapshot only (``"records": null``): the trend table of a
        digest needs each earlier month's snapshot and nothing else, and counting eleven months
        of records for it would be work thrown away. Which snapshot the audit chain vouches
        for, the admin's machine reads from the chain itself (`GET /v1/audit`).
        """
        month = _month(request)
        wanted = request.query.get("records", "1")
        if wanted not in ("0", "1"):
            return refusal("records is 0 or 1", 400)
        async with unit_of_work(session_factory(self.engine)) as session:
            snapshot = await DigestSnapshotRepository(session).get(str(month))
            records = None
            if wanted == "1":
                stored = (await StatsRepository(session).tally(str(month))).elements()
                records = encode_snapshot(month, list(stored)).decode("ascii")
        sent = None if snapshot is None else b64encode(snapshot.data)
        return answer({"snapshot": sent, "records": records})

    async def _issue_digest(self, request: web.Request) -> web.Response:
        """Chain a lead's digest of a month (a lead only), keeping its first snapshot.

        The first issue sends the snapshot it sealed on the lead's machine; every later one
        sends none and renders the stored one. The audit entry, signed by the lead, names the
        snapshot's hash (docs/partner-guide.md §7); the server cannot read the snapshot, so
        the lead's machine checks that hash against the chain on every later issue.
        """
        month = _month(request)
        body = await json_object(request)
        partner, pin = body.get("partner"), body.get("pin")
        if not isinstance(partner, str) or not _PARTNER_NAME.fullmatch(partner):
            return refusal("partner is a partner's name from AMANAT_PARTNERS", 400)
        if not isinstance(pin, str) or not _PIN.fullmatch(pin):
            return refusal("pin is the snapshot's hash as the audit entry names it", 400)
        try:
            sent = body.get("snapshot")
            snapshot = None if sent is None else SealedBlob(b64decode(sent, size=None))
        except CryptoError:
            return refusal("snapshot is a sealed snapshot in base64", 400)
        if snapshot is not None and not self.sealer.is_current(snapshot):
            return refusal("the snapshot is not sealed to the current admin key set", 422)

        async def issue(session: AsyncSession) -> web.Response:
            snapshots = DigestSnapshotRepository(session)
            kept = await snapshots.get(str(month)) is not None
            if snapshot is None and not kept:
                raise Unanswerable("this month has no snapshot yet: send the one you took", 409)
            if snapshot is not None and not await snapshots.add(str(month), snapshot):
                raise Unanswerable(SNAPSHOT_TAKEN, 409)
            return answer({"month": str(month), "partner": partner, "first": snapshot is not None})

        subject = digest_subject(partner, month, pin)
        return await self._audited(request, DIGEST_ACTION, subject, issue)

    async def _admins(self, _: web.Request) -> web.Response:
        lead, reviewer = Role.LEAD.value, Role.REVIEWER.value
        async with unit_of_work(session_factory(self.engine)) as session:
            revoked = await RevocationRepository(session).all()
        return answer(
            [
                {
                    "key_id": key_id,
                    "role": lead if key_id in self.lead_ids else reviewer,
                    "revoked_on": revoked[key_id].isoformat() if key_id in revoked else None,
                }
                for key_id in self.admin_ids
            ]
        )

    async def _revoke(self, request: web.Request) -> web.Response:
        """Lock an admin key out of the API at once (a lead only), chained in the audit.

        Stored reports stay readable with that key until a lead re-wraps them (`amanat keys
        revoke --execute`), and new ones are sealed to it until AMANAT_ADMIN_PUBLIC_KEYS
        drops it and the bot restarts: docs/operations.md says so.
        """
        key_id = request.match_info["key_id"]
        if not self.gate.knows(key_id):
            return refusal("no admin has this key id", 404)
        if key_id == admitted(request).key_id:
            return refusal("a lead cannot revoke their own key: another lead must", 409)

        async def revoke(session: AsyncSession) -> web.Response:
            by = admitted(request).key_id
            if not await RevocationRepository(session).revoke(key_id, self.gate.today(), by):
                raise Unanswerable("this key was revoked already", 409)
            return answer({"key_id": key_id, "revoked_on": self.gate.today().isoformat()})

        return await self._audited(request, "revoke-access", key_id, revoke)

    @property
    def address(self) -> tuple[str, int]:
        """The host and port actually listened on."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the admin API is not running")
        host, port = self._runner.addresses[0][:2]
        return str(host), int(port)

    async def start(self, host: str, port: int) -> None:
        """Listen, with no access log (paths name reports)."""
        self._runner = web.AppRunner(self.application(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


ONLY_CLAIMED: Final = "only a claimed report can be given back"
ORIGINAL_NOT_FOR_LEADS: Final = "the original must be sealed to exactly the lead keys"
ITEM_CHANGED: Final = "the item changed meanwhile: open the report again"
CLOSED: Final = "the report is closed: reopen it first with `amanat admin mark ID claimed`"
_PARTNER_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_PIN: Final = re.compile(f"[0-9a-f]{{{PIN_HEX_DIGITS}}}")
SNAPSHOT_TAKEN: Final = "another digest of this month was issued at the same moment: issue again"
FRAME: Final = struct.Struct(">I")
"""The length before each sealed chunk of a streamed file."""


async def _moved_or_refused(
    reports: ReportRepository, report_id: str, moved: bool, otherwise: str
) -> None:
    """Refuse a status move that did not happen: 404 for no such report, else ``otherwise``."""
    if moved:
        return
    if await reports.exists(report_id):
        raise Unanswerable(otherwise, 409)
    raise Unanswerable("no such report", 404)


def _body_limit(request: web.Request) -> int:
    """Every route takes a small body, but queueing a digest, which carries the age file."""
    if request.method == "POST" and request.path == DELIVERIES_PATH:
        return MAX_QUEUE_BODY_BYTES
    return MAX_BODY_BYTES


def _month(request: web.Request) -> Month:
    """The month in the path; anything else is 404."""
    try:
        return Month.parse(request.match_info["month"])
    except PartnerDigestError:
        raise web.HTTPNotFound(
            text=json.dumps({"error": "a month is YYYY-MM"}), content_type="application/json"
        ) from None


class AuditMoved(Exception):
    """The audit entry the admin signed does not follow the current head (or the day moved)."""


NOT_RECORDED: Final = f"this request must carry its audit entry's signature ({AUDIT_HEADER})"


def _audit_signature(request: web.Request) -> bytes | None:
    """The audit entry signature sent with the request, if well formed."""
    try:
        return b64decode(request.headers.get(AUDIT_HEADER), size=SIGNATURE_SIZE)
    except CryptoError:
        return None


async def _answers_item(reports: ReportRepository, report_id: str) -> str | None:
    """A queued report's sealed answers item, in base64 (None if it has none)."""
    blob = await reports.item(report_id, ANSWERS_KIND, 0)
    return None if blob is None else b64encode(blob.data)


def _audit_entry(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "day": entry.day.isoformat(),
        "admin": entry.admin,
        "action": entry.action,
        "subject": entry.subject,
        "prev_hash": b64encode(entry.prev_hash),
        "hash": b64encode(entry.hash),
        "signature": None if entry.signature is None else b64encode(entry.signature),
    }


def _summary(row: ReportSummary) -> dict[str, Any]:
    return {
        "id": row.id,
        "day": row.submitted_on.isoformat(),
        "urgent": row.urgent,
        "status": row.status,
        "sent": row.item_count,
    }
