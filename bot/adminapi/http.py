"""What every admin API route shares: JSON answers, refusals, the admitted admin, paths.

Answers are never cached or sniffed; a refusal is a fixed phrase, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeGuard

from aiohttp import web

from bot.adminapi.gate import Admin, Role
from bot.adminapi.protocol import could_be_report_id
from bot.crypto.encoding import b64encode
from storage.records import StoredReport

log = logging.getLogger(__name__)

ADMIN: Final = web.RequestKey("admin", Admin)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer(data: Any, status: int = 200) -> web.Response:
    """A JSON answer that no cache or browser keeps or sniffs."""
    return web.Response(
        text=json.dumps(data, ensure_ascii=False),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


def refusal(reason: str, status: int) -> web.Response:
    """The fixed phrase of a refusal, as JSON."""
    return answer({"error": reason}, status)


def lead_only(handler: Handler) -> Handler:
    """Refuse a route to reviewers: only a lead may do this."""

    async def checked(request: web.Request) -> web.StreamResponse:
        if admitted(request).role is not Role.LEAD:
            log.warning("admin API request refused: a reviewer asked for a lead's route")
            return refusal("only a lead may do this", 403)
        return await handler(request)

    return checked


def admitted(request: web.Request) -> Admin:
    """The admin the gate admitted this request for."""
    try:
        admin: Admin = request[ADMIN]
    except KeyError:
        raise RuntimeError("a route ran without the gate") from None
    return admin


class Unanswerable(Exception):
    """Refuse a request from inside its transaction, which then keeps nothing."""

    def __init__(self, reason: str, status: int) -> None:
        """A fixed phrase and the HTTP status."""
        super().__init__(reason)
        self.reason = reason
        self.status = status


def is_index(value: object) -> TypeGuard[int]:
    """A JSON number usable as an item index: a whole number from 0 (true and false are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def report_id_in(request: web.Request) -> str:
    """The report id in the path; anything that cannot be one reads as no such report."""
    report_id = request.match_info["report_id"]
    if not could_be_report_id(report_id):
        raise web.HTTPNotFound(
            text=json.dumps({"error": "no such report"}), content_type="application/json"
        )
    return report_id


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; anything else is 400."""
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "the body is a JSON object"}), content_type="application/json"
        )
    return body


def sealed_report(report: StoredReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "format": report.format_version,
        "day": report.submitted_on.isoformat(),
        "urgent": report.urgent,
        "status": report.status,
        "reporter_key": None if report.reporter_key is None else b64encode(report.reporter_key),
        "items": [
            {"kind": item.kind, "index": item.index, "blob": b64encode(item.blob.data)}
            for item in report.items
        ],
        "files": [{"index": file.index, "upload": file.upload_id} for file in report.files],
    }
