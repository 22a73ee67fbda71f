"""Talk to the admin API from an admin's own machine: every request signed with their key.

The private key never leaves this process; the server receives the public signature
headers (docs/crypto.md §18) and sealed data only. A refusal comes back as
:class:`ApiRefused` with the server's fixed phrase, never as a traceback.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import struct
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date
from typing import Any

import aiohttp

from bot.admin import opening
from bot.admin.redaction import Redaction, redact
from bot.adminapi.deliveries import delivery_from_fields
from bot.adminapi.gate import (
    AUDIT_HEADER,
    AUDIT_MOVED_ON,
    KEY_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIME_HEADER,
)
from bot.adminapi.protocol import (
    ALREADY_ASKED,
    ANSWER_TAKEN,
    NEXT_CHANGED,
    NOTE_TAKEN,
    NOTHING_NEW,
    queue_subject,
)
from bot.crypto.audit import HASH_SIZE, SIGNATURE_SIZE, AuditEntry, entry_hash
from bot.crypto.encoding import b64decode, b64encode
from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.reporter import seal_for_reporter
from bot.crypto.requests import NONCE_SIZE, SignedRequest
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import ItemRef, SealedBlob
from bot.partners.months import PartnerDigestError
from bot.questions import ANSWERS_KIND, NOTE_KIND, REPLY_KIND
from storage.deliveries import Delivery
from storage.records import NewFile, ReportSummary, StoredItem, StoredReport

API_TIMEOUT = aiohttp.ClientTimeout(total=60)
AUDIT_ATTEMPTS = 5
FRAME = struct.Struct(">I")
"""The length before each sealed chunk of a streamed file (as the server writes it)."""
MAX_CHUNK_FRAME = 1024 * 1024
"""No sealed chunk is near this long: a longer frame is a broken or hostile stream."""
CLAIM_ATTEMPTS = 10


class ApiRefused(Exception):
    """The server refused a request; ``reason`` is its fixed phrase, ``status`` the HTTP code."""

    def __init__(self, status: int, reason: str) -> None:
        """Keep what the server said."""
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


def signed_headers(
    key: AdminPrivateKey,
    method: str,
    target: str,
    body: bytes = b"",
    *,
    now: int | None = None,
    nonce: bytes | None = None,
) -> dict[str, str]:
    """The four headers that make one request this admin's, now, once."""
    moment = int(time.time()) if now is None else now
    fresh = secrets.token_bytes(NONCE_SIZE) if nonce is None else nonce
    request = SignedRequest(method, target, moment, fresh, body)
    return {
        KEY_HEADER: key.public_key().key_id,
        TIME_HEADER: str(moment),
        NONCE_HEADER: b64encode(fresh),
        SIGNATURE_HEADER: b64encode(key.sign_request(request)),
    }


class AdminApiClient:
    """A signed JSON client of one server, for one admin key."""

    def __init__(
        self, base_url: str, key: AdminPrivateKey, *, clock: Callable[[], float] = time.time
    ) -> None:
        """Take the server's URL (``https://…``, no trailing slash needed) and the admin key."""
        self._base = base_url.rstrip("/")
        self._key = key
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AdminApiClient:
        """Open one connection pool for the working session."""
        self._session = aiohttp.ClientSession(timeout=API_TIMEOUT)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close it."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def audited(
        self, method: str, target: str, action: str, subject: str, payload: Any = None
    ) -> Any:
        """Send a request the audit chain must record, with this admin's signed entry.

        The entry follows the head the server names now; if another admin's entry lands
        first, the server answers 409 and the entry is signed again on the new head.
        """
        for _ in range(AUDIT_ATTEMPTS):
            signature = await self._entry_signature(action, subject)
            try:
                return await self.call(method, target, payload, audit=signature)
            except ApiRefused as refused:
                if refused.reason != AUDIT_MOVED_ON:
                    raise
        raise ApiRefused(409, "the audit log kept moving on: try again")

    async def _entry_signature(self, action: str, subject: str) -> str:
        """Sign the audit entry that follows the head the server names now."""
        head = await self.call("GET", "/v1/audit/head")
        try:
            prev = b64decode(head["hash"], size=HASH_SIZE)
            seq, day = int(head["seq"]) + 1, date.fromisoformat(head["day"])
            digest = entry_hash(prev, seq, day, self._key.public_key().key_id, action, subject)
        except (KeyError, TypeError, ValueError, CryptoError):
            raise ApiRefused(502, "the server's audit head is malformed") from None
        return b64encode(self._key.sign_audit_entry(digest))

    async def audit_entries(self) -> list[AuditEntry]:
        """The whole audit chain, page by page, to list or verify on this machine."""
        entries: list[AuditEntry] = []
        while True:
            answer = await self.call("GET", f"/v1/audit?after={entries[-1].seq if entries else 0}")
            try:
                page = [_audit_entry(item) for item in answer["entries"]]
                more = bool(answer["more"])
            except (KeyError, TypeError, ValueError, CryptoError):
                raise ApiRefused(
                    502, "the server's answer is not a page of the audit log"
                ) from None
            entries += page
            if not more or not page:
                return entries

    async def report(self, report_id: str, *, export: bool = False) -> StoredReport:
        """Fetch one sealed report, its reading signed into the audit log.

        ``export`` chains "export-report" instead of "show": the admin keeps a copy.
        """
        if export:
            target, action = f"/v1/reports/{report_id}?export=1", "export-report"
        else:
            target, action = f"/v1/reports/{report_id}", "show"
        return report_from_answer(await self.audited("GET", target, action, report_id))

    async def history(self, report_id: str) -> list[tuple[str, date, str]]:
        """The audit log's (action, day, admin) for a report's notes and answers."""
        answer = await self.call("GET", f"/v1/reports/{report_id}/history")
        try:
            return [
                (str(entry["action"]), date.fromisoformat(entry["day"]), str(entry["admin"]))
                for entry in answer["entries"]
            ]
        except (KeyError, TypeError, ValueError):
            raise ApiRefused(502, "the server's answer is not a history") from None

    async def consent_waiting(self, report_id: str) -> bool:
        """Whether the team's question to the reporter still waits for an answer."""
        answer = await self.call("GET", f"/v1/reports/{report_id}/consent")
        return bool(answer.get("waiting")) if isinstance(answer, dict) else False

    async def ask_consent(self, report_id: str) -> tuple[bool, bool]:
        """Ask the reporter about sharing the case: (asked now, reporter notified)."""
        try:
            done = await self.audited(
                "POST", f"/v1/reports/{report_id}/ask-consent", "ask-consent", report_id
            )
        except ApiRefused as refused:
            if refused.status == 409 and refused.reason == ALREADY_ASKED:
                return False, False
            raise
        return True, bool(done.get("notified"))

    async def record_route(self, report_id: str, partner: str) -> None:
        """Chain that this case goes to this partner (before the case file is written)."""
        await self.audited(
            "POST",
            f"/v1/reports/{report_id}/route",
            "route",
            f"{report_id} {partner}",
            {"partner": partner},
        )

    async def file_chunks(
        self, report_id: str, index: int, *, original: bool
    ) -> AsyncIterator[SealedBlob]:
        """Stream one attachment's sealed chunks, its fetching signed into the audit log."""
        if self._session is None:
            raise RuntimeError("use the client in an async with block")
        action = "export-original" if original else "export"
        target = f"/v1/reports/{report_id}/files/{index}" + ("?original=1" if original else "")
        for _ in range(AUDIT_ATTEMPTS):
            signature = await self._entry_signature(action, f"{report_id} {index}")
            headers = signed_headers(self._key, "GET", target, now=int(self._clock()))
            headers[AUDIT_HEADER] = signature
            async with self._session.get(self._base + target, headers=headers) as response:
                if response.status >= 400:
                    refused = _refusal(response.status, await response.json(content_type=None))
                    if refused.status == 409 and refused.reason == AUDIT_MOVED_ON:
                        continue
                    raise refused
                while True:
                    try:
                        size = FRAME.unpack(await response.content.readexactly(FRAME.size))[0]
                    except asyncio.IncompleteReadError as end:
                        if end.partial:
                            raise ApiRefused(502, "a file stream was cut short") from None
                        return
                    if size > MAX_CHUNK_FRAME:
                        raise ApiRefused(502, "a file stream holds an oversized chunk")
                    try:
                        yield SealedBlob(await response.content.readexactly(size))
                    except asyncio.IncompleteReadError:
                        raise ApiRefused(502, "a file stream was cut short") from None
        raise ApiRefused(409, "the audit log kept moving on: try again")

    async def claim_next(self) -> str | None:
        """Claim the next new report (urgent first); None when none is new.

        The server names the next one and this admin signs its claim; the server takes the
        row with ``SKIP LOCKED`` and keeps the claim only if it is still that one. If another
        admin took it meanwhile, or a more urgent one came in, ask again.
        """
        for _ in range(CLAIM_ATTEMPTS):
            found = await self.call("GET", "/v1/claimable")
            report_id = found.get("id") if isinstance(found, dict) else None
            if report_id is None:
                return None
            try:
                await self.audited(
                    "POST", "/v1/claim-next", "claim", str(report_id), {"id": str(report_id)}
                )
            except ApiRefused as refused:
                if refused.status == 409 and refused.reason == NEXT_CHANGED:
                    continue
                if refused.status == 404 and refused.reason == NOTHING_NEW:
                    return None
                raise
            return str(report_id)
        raise ApiRefused(409, "other admins kept taking the next report: try again")

    async def lead_keys(self, admins: Sequence[AdminPublicKey]) -> list[AdminPublicKey]:
        """The lead keys among this machine's own admin keys, as the server names the leads.

        A server can only narrow the set: an original is never sealed to a key this machine
        was not configured with.
        """
        answer = await self.call("GET", "/v1/whoami")
        named = answer.get("leads") if isinstance(answer, dict) else None
        if not isinstance(named, list):
            raise ApiRefused(502, "the server's answer does not name the leads")
        return [key for key in admins if key.key_id in named]

    async def redact(
        self, report_id: str, kind: str, index: int, edited: str, admins: Sequence[AdminPublicKey]
    ) -> Redaction:
        """Replace a reporter's text with ``edited``, its original kept for the leads only."""
        stored = await self.report(report_id)
        leads = await self.lead_keys(admins)
        redaction = redact(stored, self._key, kind, index, edited, admins, leads)
        original = redaction.original
        await self.audited(
            "POST",
            f"/v1/reports/{report_id}/redactions",
            "redact",
            f"{report_id} {redaction.subject}",
            {
                "kind": kind,
                "index": index,
                "redacted": b64encode(redaction.redacted.data),
                "original": None if original is None else b64encode(original.data),
                "replaces": b64encode(redaction.replaces),
            },
        )
        return redaction

    async def release(self, report_id: str) -> None:
        """Give a claimed report back to the queue."""
        await self.audited("POST", f"/v1/reports/{report_id}/release", "release", report_id)

    async def queue_metadata(
        self, status: str | None, page: int
    ) -> tuple[list[ReportSummary], bool]:
        """One page of the queue, metadata only (nothing to open, nothing to chain)."""
        answer = await self.call("GET", f"/v1/queue?page={page}" + _status_query(status))
        rows, more = _queue_rows(answer)
        return [summary for summary, _ in rows], more

    async def queue_page(
        self, status: str | None, page: int
    ) -> tuple[list[tuple[ReportSummary, StoredReport | None]], bool]:
        """One page of the queue with each report's sealed answers, signed into the audit.

        Returns each row's metadata with a stored report holding only its answers item (None
        when it has none), and whether more pages follow.
        """
        answer = await self.audited(
            "GET",
            f"/v1/queue?answers=1&page={page}" + _status_query(status),
            "queue",
            queue_subject(status, page),
        )
        return _queue_rows(answer)

    async def set_status(self, report_id: str, status: str) -> None:
        """Set a report's status, signed into the audit log."""
        await self.audited(
            "POST",
            f"/v1/reports/{report_id}/status",
            "status",
            f"{report_id} {status}",
            {"status": status},
        )

    async def add_note(self, report_id: str, seal: Callable[[int], bytes]) -> int:
        """Store a team note; ``seal(index)`` seals it, on this machine, for that index."""
        index, _ = await self._at_next_index(
            report_id,
            "note",
            NOTE_TAKEN,
            lambda index: {"index": index, "blob": b64encode(seal(index))},
        )
        return index

    async def add_reply(
        self, report_id: str, seal: Callable[[int], tuple[bytes, bytes]]
    ) -> tuple[int, bool]:
        """Store an answer: ``seal(index)`` gives the reporter's copy and the team's.

        Returns its index and whether the reporter asked to be told of answers.
        """

        def payload(index: int) -> dict[str, object]:
            for_reporter, for_admins = seal(index)
            return {
                "index": index,
                "for_reporter": b64encode(for_reporter),
                "for_admins": b64encode(for_admins),
            }

        index, done = await self._at_next_index(report_id, "reply", ANSWER_TAKEN, payload)
        return index, bool(done.get("notified"))

    async def _at_next_index(
        self,
        report_id: str,
        kind: str,
        taken: str,
        payload: Callable[[int], dict[str, object]],
    ) -> tuple[int, Any]:
        """Seal a note or an answer for the index the report's next one takes, and store it.

        The index is part of what is sealed, so if another admin's lands there first the
        server answers ``taken`` and it is sealed again for the next index.
        """
        route, plural = {"note": ("notes", "notes"), "reply": ("replies", "answers")}[kind]
        for _ in range(CLAIM_ATTEMPTS):
            index = int((await self.call("GET", f"/v1/reports/{report_id}/counts"))[kind])
            try:
                done = await self.audited(
                    "POST", f"/v1/reports/{report_id}/{route}", kind, report_id, payload(index)
                )
            except ApiRefused as refused:
                if refused.status == 409 and refused.reason == taken:
                    continue
                raise
            return index, done
        raise ApiRefused(409, f"other {plural} kept coming first: try again")

    async def write_note(self, report_id: str, text: str, admins: Sequence[AdminPublicKey]) -> int:
        """Seal a team note here, to ``admins``, and store it as the report's next note."""
        sealer, data = AdminSealer(admins), text.encode("utf-8")
        return await self.add_note(
            report_id,
            lambda index: sealer.seal_for_admins(data, ItemRef(report_id, NOTE_KIND, index)).data,
        )

    async def answer_reporter(
        self,
        report_id: str,
        text: str,
        admins: Sequence[AdminPublicKey],
        *,
        legacy_key: bool = False,
    ) -> tuple[int, bool]:
        """Answer a reporter: sealed here to their reply key and, as the team's copy, to
        ``admins``. The key the server sends is checked first against the copy sealed in the
        answers (opening.check_reporter_key); a closed report takes no answer."""
        stored = await self.report(report_id)
        opening.refuse_if_closed(stored)
        reporter_key = stored.reporter_key
        if reporter_key is None:
            raise opening.ReportUnreadable(f"report {report_id} was stored before replies existed")
        opening.check_reporter_key(stored, self._key, legacy_key=legacy_key)
        sealer, data = AdminSealer(admins), text.encode("utf-8")

        def seal(index: int) -> tuple[bytes, bytes]:
            ref = ItemRef(report_id, REPLY_KIND, index)
            return (
                seal_for_reporter(data, reporter_key, ref).data,
                sealer.seal_for_admins(data, ref).data,
            )

        return await self.add_reply(report_id, seal)

    async def deliveries(self, status: str | None = None) -> list[Delivery]:
        """The outbox (metadata, no files), or the deliveries of one status."""
        answer = await self.call("GET", "/v1/deliveries" + (f"?status={status}" if status else ""))
        try:
            return [delivery_from_fields(item) for item in answer["deliveries"]]
        except (KeyError, TypeError, ValueError, PartnerDigestError):
            raise ApiRefused(502, "the server's answer is not a list of deliveries") from None

    async def call(
        self, method: str, target: str, payload: Any = None, *, audit: str | None = None
    ) -> Any:
        """Send one signed request; return its JSON answer or raise :class:`ApiRefused`."""
        if self._session is None:
            raise RuntimeError("use the client in an async with block")
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = signed_headers(self._key, method, target, body, now=int(self._clock()))
        if audit is not None:
            headers[AUDIT_HEADER] = audit
        if payload is not None:
            headers["Content-Type"] = "application/json"
        async with self._session.request(
            method, self._base + target, data=body or None, headers=headers
        ) as response:
            answer = await response.json(content_type=None)
            if response.status >= 400:
                raise _refusal(response.status, answer)
            return answer


def _refusal(status: int, answer: object) -> ApiRefused:
    """The server's refusal, with its fixed phrase."""
    reason = answer.get("error") if isinstance(answer, dict) else None
    return ApiRefused(status, str(reason or "refused"))


def report_from_answer(data: object) -> StoredReport:
    """Read a ``GET /v1/reports/{id}`` answer back into the stored report it describes.

    Strict: a malformed answer is refused whole, so nothing half-read is ever opened.
    """
    try:
        if not isinstance(data, dict):
            raise TypeError
        reporter = data["reporter_key"]
        return StoredReport(
            id=str(data["id"]),
            format_version=int(data["format"]),
            submitted_on=date.fromisoformat(data["day"]),
            urgent=bool(data["urgent"]),
            status=str(data["status"]),
            items=tuple(
                StoredItem(
                    str(item["kind"]), int(item["index"]), SealedBlob(b64decode(item["blob"]))
                )
                for item in data["items"]
            ),
            reporter_key=None if reporter is None else b64decode(reporter, size=32),
            files=tuple(NewFile(int(f["index"]), str(f["upload"])) for f in data["files"]),
        )
    except (KeyError, TypeError, ValueError, CryptoError):
        raise ApiRefused(502, "the server's answer is not a report") from None


def _item(data: dict[str, object]) -> StoredItem:
    """One sealed item of an answer (its errors are the caller's to refuse)."""
    index = data["index"]
    if not isinstance(index, int):
        raise TypeError
    return StoredItem(str(data["kind"]), index, SealedBlob(b64decode(data["blob"])))


def _status_query(status: str | None) -> str:
    return f"&status={status}" if status else ""


def _queue_rows(answer: object) -> tuple[list[tuple[ReportSummary, StoredReport | None]], bool]:
    """Read a queue page: each row's metadata, with its sealed answers when sent."""
    try:
        if not isinstance(answer, dict):
            raise TypeError
        rows = []
        for row in answer["reports"]:
            summary = ReportSummary(
                id=str(row["id"]),
                submitted_on=date.fromisoformat(row["day"]),
                urgent=bool(row["urgent"]),
                status=str(row["status"]),
                item_count=int(row["sent"]),
            )
            sealed = row.get("answers")
            rows.append((summary, None if sealed is None else _answers_only(summary, sealed)))
        return rows, bool(answer["more"])
    except (KeyError, TypeError, ValueError, CryptoError):
        raise ApiRefused(502, "the server's answer is not a queue page") from None


def _answers_only(summary: ReportSummary, sealed: str) -> StoredReport:
    """A queue row as a stored report holding its sealed answers item alone."""
    return StoredReport(
        id=summary.id,
        format_version=0,
        submitted_on=summary.submitted_on,
        urgent=summary.urgent,
        status=summary.status,
        items=(StoredItem(ANSWERS_KIND, 0, SealedBlob(b64decode(sealed))),),
    )


def _audit_entry(item: Any) -> AuditEntry:
    """One entry as the server sent it; anything malformed raises for the caller to refuse."""
    signature = item["signature"]
    return AuditEntry(
        seq=int(item["seq"]),
        day=date.fromisoformat(item["day"]),
        admin=str(item["admin"]),
        action=str(item["action"]),
        subject=str(item["subject"]),
        prev_hash=b64decode(item["prev_hash"], size=HASH_SIZE),
        hash=b64decode(item["hash"], size=HASH_SIZE),
        signature=None if signature is None else b64decode(signature, size=SIGNATURE_SIZE),
    )
