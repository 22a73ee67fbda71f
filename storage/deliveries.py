"""Keep the outbox of digests on their way to partners; all its SQL lives here.

A delivery moves ``queued`` → ``sending`` → ``delivered``, or back to ``queued`` with a later
``next_attempt_at`` after a failed try, or to ``failed`` after the last one. Every move is a
compare-and-set on the delivery's status and number of tries, so two workers (or a worker
whose claim lapsed and the one that took it over) can never both send the same try, nor
overwrite each other's outcome. Rows hold the age file only the partner opens, never a
receiver's error text: a failure is kept as one of :data:`DELIVERY_ERRORS`.

Like every repository it takes the caller's session and never commits: a claim must be
committed before its send begins (the caller's unit of work), so that a crash mid-send leaves
a row that says so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto.partner import SealedForPartner
from storage.models import (
    DELIVERY_CHANNELS,
    DELIVERY_ERRORS,
    DELIVERY_STATUSES,
    DigestDeliveryRow,
)

__all__ = [
    "DELIVERY_CHANNELS",
    "DELIVERY_ERRORS",
    "DELIVERY_STATUSES",
    "Claimed",
    "Delivery",
    "DeliveryRepository",
    "NewDelivery",
]

QUEUED: Final = "queued"
SENDING: Final = "sending"
DELIVERED: Final = "delivered"
FAILED: Final = "failed"

_DELIVERY_ID: Final = re.compile(r"[0-9a-f]{32}")
_PARTNER: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_MONTH: Final = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def require_delivery_id(value: object) -> str:
    """Accept a delivery id (32 lower-case hex digits); the value is never quoted back."""
    if not isinstance(value, str) or not _DELIVERY_ID.fullmatch(value):
        raise ValueError("a delivery id is 32 hex digits")
    return value


def _utc(moment: datetime) -> datetime:
    """Compare and store every time in UTC (SQLite keeps none of the zone: it is always UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _stored(moment: datetime) -> datetime:
    """UTC with its zone. PostgreSQL reads a time without a zone in the connection's own
    zone; SQLite writes the UTC wall clock either way, so both compare alike."""
    return _utc(moment)


@dataclass(frozen=True)
class NewDelivery:
    """A digest to queue: which delivery, to whom, how, which month, and the sealed file."""

    id: str
    partner: str
    channel: str
    month: str
    bundle: SealedForPartner

    def __post_init__(self) -> None:
        """Fail where the value was made, not inside the transaction."""
        require_delivery_id(self.id)
        if not _PARTNER.fullmatch(self.partner):
            raise ValueError("a partner's name is lower-case letters, digits and dashes")
        if self.channel not in DELIVERY_CHANNELS:
            raise ValueError(f"a channel is one of: {', '.join(DELIVERY_CHANNELS)}")
        if not _MONTH.fullmatch(self.month):
            raise ValueError("a month is YYYY-MM")
        if not isinstance(self.bundle, SealedForPartner):
            raise TypeError("the outbox accepts only a file sealed for the partner")

    @property
    def sha256(self) -> str:
        """The file's SHA-256 in hex, as the lead's audit entry names it."""
        return hashlib.sha256(self.bundle.data).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """How one delivery stands, without its file: what listings show."""

    id: str
    partner: str
    channel: str
    month: str
    sha256: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    enqueued_on: date
    delivered_at: datetime | None


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker holds for one try: number ``attempt``, with its file."""

    id: str
    partner: str
    channel: str
    month: str
    attempt: int
    bundle: SealedForPartner


def _delivery(row: DigestDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        partner=row.partner,
        channel=row.channel,
        month=row.month,
        sha256=row.sha256,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=None if row.next_attempt_at is None else _utc(row.next_attempt_at),
        last_error=row.last_error,
        enqueued_on=row.enqueued_on,
        delivered_at=None if row.delivered_at is None else _utc(row.delivered_at),
    )


class DeliveryRepository:
    """The outbox: queue, claim one try at a time, record how it went, list."""

    def __init__(self, session: AsyncSession) -> None:
        """Work inside the caller's session and transaction."""
        self._session = session

    async def add(self, new: NewDelivery, day: date, due: datetime) -> bool:
        """Queue a delivery, due at ``due``; False, changing nothing, if its id is taken."""
        if await self._session.get(DigestDeliveryRow, new.id) is not None:
            return False
        self._session.add(
            DigestDeliveryRow(
                id=new.id,
                partner=new.partner,
                channel=new.channel,
                month=new.month,
                bundle=new.bundle.data,
                sha256=new.sha256,
                status=QUEUED,
                attempts=0,
                next_attempt_at=_stored(due),
                last_error=None,
                enqueued_on=day,
                delivered_at=None,
            )
        )
        await self._session.flush()
        return True

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        """Deliveries whose try is due: queued ones, and claims that lapsed (a dead worker)."""
        rows = await self._session.scalars(
            select(DigestDeliveryRow)
            .where(
                DigestDeliveryRow.status.in_((QUEUED, SENDING)),
                DigestDeliveryRow.next_attempt_at <= _stored(now),
            )
            .order_by(DigestDeliveryRow.next_attempt_at, DigestDeliveryRow.id)
            .limit(limit)
        )
        return [_delivery(row) for row in rows]

    async def claim(self, seen: Delivery, now: datetime, until: datetime) -> Claimed | None:
        """Take one try of a due delivery, as it was ``seen``: None if anyone moved it since.

        The try is counted and the row marked ``sending`` until ``until`` before anything is
        sent, so that a second worker skips it, and a crash mid-send shows as a lapsed claim.
        """
        result = await self._session.execute(
            update(DigestDeliveryRow)
            .where(
                DigestDeliveryRow.id == seen.id,
                DigestDeliveryRow.status == seen.status,
                DigestDeliveryRow.attempts == seen.attempts,
                DigestDeliveryRow.status.in_((QUEUED, SENDING)),
                DigestDeliveryRow.next_attempt_at <= _stored(now),
            )
            .values(status=SENDING, attempts=seen.attempts + 1, next_attempt_at=_stored(until))
        )
        if int(result.rowcount or 0) != 1:  # type: ignore[attr-defined]
            return None
        bundle = await self._session.scalar(
            select(DigestDeliveryRow.bundle).where(DigestDeliveryRow.id == seen.id)
        )
        return Claimed(
            seen.id,
            seen.partner,
            seen.channel,
            seen.month,
            seen.attempts + 1,
            SealedForPartner(bytes(bundle or b"")),
        )

    async def delivered(self, claimed: Claimed, at: datetime) -> bool:
        """Record that this try went out; the file is dropped (the partner has it now)."""
        return await self._settle(
            claimed,
            status=DELIVERED,
            next_attempt_at=None,
            last_error=None,
            delivered_at=_stored(at),
            bundle=b"",
        )

    async def retry(self, claimed: Claimed, error: str, at: datetime) -> bool:
        """Record a failed try; the next is due ``at``."""
        return await self._settle(
            claimed, status=QUEUED, next_attempt_at=_stored(at), last_error=_error(error)
        )

    async def fail(self, claimed: Claimed, error: str) -> bool:
        """Record the last failed try: the delivery has failed and waits for a lead."""
        return await self._settle(
            claimed, status=FAILED, next_attempt_at=None, last_error=_error(error)
        )

    async def give_up(self, seen: Delivery, error: str) -> bool:
        """Fail a due delivery without trying it again (its tries are used up)."""
        result = await self._session.execute(
            update(DigestDeliveryRow)
            .where(
                DigestDeliveryRow.id == seen.id,
                DigestDeliveryRow.status == seen.status,
                DigestDeliveryRow.attempts == seen.attempts,
            )
            .values(status=FAILED, next_attempt_at=None, last_error=_error(error))
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def requeue(self, delivery_id: str, due: datetime) -> bool:
        """Queue a failed delivery again with fresh tries (a lead's decision); False if it
        has not failed."""
        result = await self._session.execute(
            update(DigestDeliveryRow)
            .where(
                DigestDeliveryRow.id == require_delivery_id(delivery_id),
                DigestDeliveryRow.status == FAILED,
            )
            .values(status=QUEUED, attempts=0, next_attempt_at=_stored(due))
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def get(self, delivery_id: str) -> Delivery | None:
        """One delivery, without its file."""
        row = await self._session.get(DigestDeliveryRow, require_delivery_id(delivery_id))
        return None if row is None else _delivery(row)

    async def file_hash(self, delivery_id: str) -> str | None:
        """The SHA-256 of the file stored now (hex; None once delivered or unknown).

        Computed from the bytes, not read from the row: a lead's machine on the database
        compares it with the hash its audit entry signed.
        """
        bundle = await self._session.scalar(
            select(DigestDeliveryRow.bundle).where(
                DigestDeliveryRow.id == require_delivery_id(delivery_id)
            )
        )
        return hashlib.sha256(bundle).hexdigest() if bundle else None

    async def listing(self, status: str | None = None) -> list[Delivery]:
        """Every delivery (or those of one status), newest first, without their files."""
        query = select(DigestDeliveryRow).order_by(
            DigestDeliveryRow.enqueued_on.desc(), DigestDeliveryRow.month.desc()
        )
        if status is not None:
            if status not in DELIVERY_STATUSES:
                raise ValueError(f"a status is one of: {', '.join(DELIVERY_STATUSES)}")
            query = query.where(DigestDeliveryRow.status == status)
        rows = await self._session.scalars(query)
        return [_delivery(row) for row in rows]

    async def _settle(self, claimed: Claimed, **values: object) -> bool:
        """Move a try this worker holds to its outcome; False if the claim was taken over."""
        result = await self._session.execute(
            update(DigestDeliveryRow)
            .where(
                DigestDeliveryRow.id == claimed.id,
                DigestDeliveryRow.status == SENDING,
                DigestDeliveryRow.attempts == claimed.attempt,
            )
            .values(**values)
        )
        return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


def _error(kind: str) -> str:
    """Accept only a known kind of failure: a receiver's words never reach the database."""
    if kind not in DELIVERY_ERRORS:
        raise ValueError(f"an error kind is one of: {', '.join(DELIVERY_ERRORS)}")
    return kind
