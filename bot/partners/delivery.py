"""Send what the outbox holds: each due digest by its channel, one try at a time, once.

A try is claimed and committed (``sending``, the try counted, a lease until which no one else
takes it) before anything is sent, and its outcome is committed after. So:

- two workers never send the same try: the claim is a compare-and-set (:mod:`storage.deliveries`),
  and the job runs on one worker at a time anyway (``storage.db.job_lock``);
- a failure waits ``first_wait · 2^(try−1)``, at most ``cap``, then is tried again; after
  ``attempts`` tries the delivery has failed and waits for a lead (`amanat digest deliveries`);
- a worker that stops between the send and the mark leaves a ``sending`` row whose lease lapses:
  the next run sends it again under the same delivery id (e-mail Message-ID, webhook
  ``Amanat-Delivery``, Telegram caption), which is how a receiver drops the duplicate. That
  window, seconds wide, is the one place "exactly once" is "at least once, recognisably";
- before each try the row and the very bytes about to go are held against the lead's signed
  ``deliver-digest`` entry (:func:`bot.partners.delivery_audit.vouches_for`): a row or file
  that someone with write access to the database changed, or added, fails at once without
  being sent;
- a try whose outcome could not be recorded because another worker took the delivery over
  (its claim lapsed meanwhile) counts as skipped, never as sent or failed by this one.

Nothing here logs a partner, a delivery id or a receiver's words: only channels, counts and
the fixed kinds of failure (:data:`storage.deliveries.DELIVERY_ERRORS`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.partners.delivery_audit import Queued, queued_by_leads, vouches_for
from storage.audit import AuditRepository
from storage.db import unit_of_work
from storage.deliveries import SENDING, Claimed, Delivery, DeliveryRepository

log = logging.getLogger(__name__)

BATCH: Final = 20
"""Deliveries one run looks at; the rest wait for the next run (a minute later)."""
LEASE: Final = timedelta(minutes=15)
"""How long a claimed try is this worker's: well beyond every channel's own timeout."""
TAMPERED: Final = "error"
"""The kind a delivery is failed with when its row or file is not what a lead's signed entry
queued. The log names it "tampered"; the outbox's check constraint (migration 0013) and the
console's labels know no such kind yet, so the row says "error" until they do."""
PERMANENT: Final = frozenset({"not-configured", "too-large"})
"""Failures no later try can mend: the delivery fails at once."""
DELIVERY_HEADER: Final = "Amanat-Delivery"
"""The header that carries the delivery id, in e-mails and webhook requests alike."""


def new_delivery_id() -> str:
    """A random delivery id (128 bits, hex): what receivers drop duplicates by."""
    return secrets.token_hex(16)


class DeliveryFailed(Exception):
    """A try did not deliver; ``kind`` is one of the fixed kinds, never a receiver's words.

    ``retry_after`` is how long the receiver asked us to wait (Telegram's flood control), if
    it said: the next try waits at least that long.
    """

    def __init__(self, kind: str, *, retry_after: timedelta | None = None) -> None:
        """Keep the kind, and the wait asked for."""
        super().__init__(kind)
        self.kind = kind
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """Whether trying again is pointless."""
        return self.kind in PERMANENT


Sender = Callable[[Claimed], Awaitable[None]]
"""Send one claimed try by one channel; raise :class:`DeliveryFailed` when it did not go."""


@dataclass(frozen=True)
class Backoff:
    """How often, and how far apart, a delivery is tried."""

    attempts: int
    first_wait: timedelta
    cap: timedelta

    def wait_after(self, attempt: int) -> timedelta:
        """The wait after failed try number ``attempt`` (1 is the first): doubling, capped."""
        doubled: timedelta = self.first_wait * (2 ** min(max(attempt - 1, 0), 30))
        return min(doubled, self.cap)


@dataclass(frozen=True)
class Ran:
    """What one run did (counts only)."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    """Deliveries another worker moved first."""


@dataclass(frozen=True)
class Outbox:
    """The delivery job's work, bound to the database, the senders and the clock."""

    sessions: async_sessionmaker[AsyncSession]
    senders: Mapping[str, Sender]
    backoff: Backoff
    clock: Callable[[], datetime]
    leads: Mapping[str, bytes]
    """The leads' audit signing keys by key id: whose ``deliver-digest`` entries count."""

    async def run(self) -> Ran:
        """Try every due delivery once (up to :data:`BATCH`), in the order they fell due."""
        now = self.clock()
        async with unit_of_work(self.sessions) as session:
            due = await DeliveryRepository(session).due(now, BATCH)
            entries = await AuditRepository(session).entries() if due else []
        queued = queued_by_leads(entries, self.leads)
        counts = {"delivered": 0, "retrying": 0, "failed": 0, "skipped": 0}
        for seen in due:
            counts[await self._one(seen, queued)] += 1
        ran = Ran(**counts)
        if ran.failed:
            log.warning("%d digest deliveries failed for good: a lead must look", ran.failed)
        return ran

    async def _one(self, seen: Delivery, queued: Mapping[str, Queued]) -> str:
        """Claim, send and settle one delivery; return what became of it."""
        now = self.clock()
        if seen.attempts >= self.backoff.attempts:  # a lapsed claim on the last try
            kind = "interrupted" if seen.status == SENDING else (seen.last_error or "error")
            async with unit_of_work(self.sessions) as session:
                gave_up = await DeliveryRepository(session).give_up(seen, kind)
            return "failed" if gave_up else "skipped"
        async with unit_of_work(self.sessions) as session:
            claimed = await DeliveryRepository(session).claim(seen, now, now + LEASE)
        if claimed is None:
            return "skipped"
        if not vouches_for(queued, claimed):
            log.warning("a queued digest is not what a lead's signed entry queued: tampered")
            return await self._failed(claimed, DeliveryFailed(TAMPERED), permanent=True)
        sender = self.senders.get(claimed.channel)
        try:
            if sender is None:
                raise DeliveryFailed("not-configured")
            await sender(claimed)
        except DeliveryFailed as failed:
            return await self._failed(claimed, failed)
        except Exception as exc:  # a sender's bug must not leave the claim to lapse silently
            log.error("a digest sender raised %s", type(exc).__name__)
            return await self._failed(claimed, DeliveryFailed("error"))
        async with unit_of_work(self.sessions) as session:
            settled = await DeliveryRepository(session).delivered(claimed, self.clock())
        if not settled:
            log.warning("a digest try by %s was taken over by another worker", claimed.channel)
            return "skipped"
        log.info("a digest went out by %s (try %d)", claimed.channel, claimed.attempt)
        return "delivered"

    async def _failed(
        self, claimed: Claimed, failed: DeliveryFailed, *, permanent: bool = False
    ) -> str:
        """Record a failed try: again later, or failed for good."""
        last = permanent or failed.permanent or claimed.attempt >= self.backoff.attempts
        async with unit_of_work(self.sessions) as session:
            outbox = DeliveryRepository(session)
            if last:
                settled = await outbox.fail(claimed, failed.kind)
            else:
                wait = self.backoff.wait_after(claimed.attempt)
                if failed.retry_after is not None:
                    wait = max(wait, failed.retry_after)
                settled = await outbox.retry(claimed, failed.kind, self.clock() + wait)
        if not settled:
            log.warning("a digest try by %s was taken over by another worker", claimed.channel)
            return "skipped"
        log.warning(
            "a digest delivery by %s failed (%s), try %d of %d%s",
            claimed.channel,
            failed.kind,
            claimed.attempt,
            self.backoff.attempts,
            ": no more tries" if last else "",
        )
        return "failed" if last else "retrying"
