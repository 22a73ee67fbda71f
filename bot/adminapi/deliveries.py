"""Queue digests for delivery and read the outbox through the admin API.

- ``POST /v1/deliveries`` (a lead, with its audit entry): queue one digest already sealed to
  the partner's age key on the lead's machine. The server checks that the partner has that
  channel, that the chain holds the digest's issue, and that the file is an age file; the
  entry's subject names the SHA-256 of the very bytes received, so the lead's signature
  holds only for the file they sent.
- ``GET /v1/deliveries`` (any admin): the outbox without files, for `amanat digest
  deliveries` and the console.
- ``POST /v1/deliveries/{id}/outcome`` (any admin, with its audit entry): chain that the admin
  saw this finished delivery's outcome; the subject is the server's row, so a signature over
  anything else does not hold.
- ``POST /v1/deliveries/{id}/retry`` (a lead, with its audit entry): queue a failed one again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.adminapi.http import Unanswerable, answer, json_object, lead_only, refusal
from bot.crypto.encoding import b64decode
from bot.crypto.errors import CryptoError
from bot.crypto.partner import MAX_PARTNER_FILE_BYTES, SealedForPartner
from bot.partners.delivery_audit import (
    DELIVER_ACTION,
    OUTCOME_ACTION,
    REDELIVER_ACTION,
    deliver_subject,
    outcome_subject,
    was_issued,
)
from bot.partners.months import Month, PartnerDigestError
from bot.settings import Partner
from storage.audit import AuditRepository
from storage.db import session_factory, unit_of_work
from storage.deliveries import (
    DELIVERY_STATUSES,
    Delivery,
    DeliveryRepository,
    NewDelivery,
    require_delivery_id,
)

DELIVERIES_PATH: Final = "/v1/deliveries"
MAX_QUEUE_BODY_BYTES: Final = MAX_PARTNER_FILE_BYTES * 4 // 3 + 64 * 1024
"""The largest body of ``POST /v1/deliveries``: the biggest file the outbox takes, in base64."""
NOT_ISSUED: Final = "this digest was never issued: issue it first (amanat digest issue)"
ID_TAKEN: Final = "a delivery with this id exists already"

Audited = Callable[
    [web.Request, str, str, Callable[[AsyncSession], Awaitable[web.Response]]],
    Awaitable[web.Response],
]


@dataclass(frozen=True)
class DeliveryRoutes:
    """The outbox routes, bound to the database, the partners and the server's clock."""

    engine: AsyncEngine
    audited: Audited
    partners: Mapping[str, Partner]
    clock: Callable[[], datetime]
    today: Callable[[], date]

    def register(self, app: web.Application) -> None:
        """Add the routes."""
        app.router.add_get(DELIVERIES_PATH, self._list)
        app.router.add_post(DELIVERIES_PATH, lead_only(self._queue))
        app.router.add_post(DELIVERIES_PATH + "/{delivery_id}/outcome", self._outcome)
        app.router.add_post(DELIVERIES_PATH + "/{delivery_id}/retry", lead_only(self._retry))

    async def _list(self, request: web.Request) -> web.Response:
        status = request.query.get("status") or None
        if status is not None and status not in DELIVERY_STATUSES:
            return refusal(f"status is one of: {', '.join(DELIVERY_STATUSES)}", 400)
        async with unit_of_work(session_factory(self.engine)) as session:
            listed = await DeliveryRepository(session).listing(status)
        return answer({"deliveries": [delivery_fields(item) for item in listed]})

    async def _queue(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        try:
            new = NewDelivery(
                id=require_delivery_id(body.get("id")),
                partner=str(body.get("partner")),
                channel=str(body.get("channel")),
                month=str(Month.parse(str(body.get("month")))),
                bundle=SealedForPartner(b64decode(body.get("bundle"), size=None)),
            )
        except (ValueError, TypeError, CryptoError, PartnerDigestError):
            return refusal(
                "id, partner, channel, month and bundle (an age file in base64) are required",
                400,
            )
        partner = self.partners.get(new.partner)
        if partner is None:
            return refusal("no such partner in the server's AMANAT_PARTNERS", 404)
        if new.channel not in partner.channels:
            return refusal("the partner has no such channel in the server's settings", 409)

        async def queue(session: AsyncSession) -> web.Response:
            entries = await AuditRepository(session).entries()
            if not was_issued(entries, new.partner, Month.parse(new.month)):
                raise Unanswerable(NOT_ISSUED, 409)
            if not await DeliveryRepository(session).add(new, self.today(), self.clock()):
                raise Unanswerable(ID_TAKEN, 409)
            return answer({"id": new.id, "status": "queued", "sha256": new.sha256})

        subject = deliver_subject(new.partner, new.month, new.channel, new.id, new.sha256)
        return await self.audited(request, DELIVER_ACTION, subject, queue)

    async def _outcome(self, request: web.Request) -> web.Response:
        delivery = await self._find(request)
        if isinstance(delivery, web.Response):
            return delivery
        subject = outcome_subject(delivery)
        if subject is None:
            return refusal("this delivery has not finished", 409)

        async def seen(session: AsyncSession) -> web.Response:
            now = await DeliveryRepository(session).get(delivery.id)
            if now is None or outcome_subject(now) != subject:
                raise Unanswerable("the delivery changed meanwhile: list again", 409)
            return answer({"id": delivery.id, "recorded": subject})

        return await self.audited(request, OUTCOME_ACTION, subject, seen)

    async def _retry(self, request: web.Request) -> web.Response:
        delivery = await self._find(request)
        if isinstance(delivery, web.Response):
            return delivery

        async def again(session: AsyncSession) -> web.Response:
            if not await DeliveryRepository(session).requeue(delivery.id, self.clock()):
                raise Unanswerable("only a failed delivery can be queued again", 409)
            return answer({"id": delivery.id, "status": "queued"})

        return await self.audited(request, REDELIVER_ACTION, delivery.id, again)

    async def _find(self, request: web.Request) -> Delivery | web.Response:
        try:
            delivery_id = require_delivery_id(request.match_info["delivery_id"])
        except ValueError:
            return refusal("no such delivery", 404)
        async with unit_of_work(session_factory(self.engine)) as session:
            delivery = await DeliveryRepository(session).get(delivery_id)
        return refusal("no such delivery", 404) if delivery is None else delivery


def delivery_fields(item: Delivery) -> dict[str, Any]:
    """One delivery as JSON: metadata only, never the file."""
    return {
        "id": item.id,
        "partner": item.partner,
        "channel": item.channel,
        "month": item.month,
        "sha256": item.sha256,
        "status": item.status,
        "attempts": item.attempts,
        "next_attempt_at": _moment(item.next_attempt_at),
        "last_error": item.last_error,
        "enqueued_on": item.enqueued_on.isoformat(),
        "delivered_at": _moment(item.delivered_at),
    }


def delivery_from_fields(data: object) -> Delivery:
    """Read one delivery back from its JSON (strict: raises ValueError, KeyError, TypeError)."""
    if not isinstance(data, dict):
        raise TypeError("a delivery is an object")
    status = str(data["status"])
    if status not in DELIVERY_STATUSES:
        raise ValueError("unknown status")
    sha = str(data["sha256"])
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError("not a SHA-256")
    return Delivery(
        id=require_delivery_id(data["id"]),
        partner=str(data["partner"]),
        channel=str(data["channel"]),
        month=str(Month.parse(str(data["month"]))),
        sha256=sha,
        status=status,
        attempts=int(data["attempts"]),
        next_attempt_at=_parsed(data["next_attempt_at"]),
        last_error=None if data["last_error"] is None else str(data["last_error"]),
        enqueued_on=date.fromisoformat(str(data["enqueued_on"])),
        delivered_at=_parsed(data["delivered_at"]),
    )


def file_hash(data: bytes) -> str:
    """The SHA-256 of a file, hex (as the outbox and the audit entry name it)."""
    return hashlib.sha256(data).hexdigest()


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parsed(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))
