"""Admit an admin API request only if an admin's own machine signed it, just now, once.

The server holds no admin secret: it checks each request's Ed25519 signature (docs/crypto.md
§18) against the signing key in the admin's configured public key line, so a copy of the
server's configuration or database cannot act as an admin. A request is refused, with one
fixed phrase and nothing from the request in the log, when its headers are missing, its key
is unknown or has no signing key, its time is more than five minutes from the server's, its
signature does not hold, a lead revoked its key, or its nonce was seen before. Nonces are
remembered in the volatile store (memory or Redis) for as long as their time is accepted; a
request timed before that memory began is refused too, so a restart cannot reopen the window
for a replay.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Final

from bot.crypto.audit import KEY_ID_PATTERN
from bot.crypto.encoding import b64decode
from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import AdminPublicKey
from bot.crypto.requests import NONCE_SIZE, SIGNATURE_SIZE, SignedRequest, signature_holds

log = logging.getLogger(__name__)

KEY_HEADER: Final = "Amanat-Key"
TIME_HEADER: Final = "Amanat-Time"
NONCE_HEADER: Final = "Amanat-Nonce"
SIGNATURE_HEADER: Final = "Amanat-Signature"
AUDIT_HEADER: Final = "Amanat-Audit-Signature"
"""The admin's signature of the audit entry that records this request (docs/crypto.md §14)."""
AUDIT_MOVED_ON: Final = "the audit log moved on: fetch its head and sign again"
"""The 409 phrase after which an admin's machine signs the entry again on the new head."""
FRESH_FOR: Final = timedelta(minutes=5)
"""How far a request's time may be from the server's, either way."""


class Role(StrEnum):
    """What an admin may do: a reviewer works reports; a lead also manages admins and digests."""

    REVIEWER = "reviewer"
    LEAD = "lead"


@dataclass(frozen=True)
class Admin:
    """The admin a request was admitted for."""

    key_id: str
    role: Role


class Refused(Exception):
    """The request is not admitted; ``reason`` is a fixed phrase, safe to log and to answer."""

    def __init__(self, reason: str, status: int = 401) -> None:
        """Keep the phrase and the HTTP status to answer with."""
        super().__init__(reason)
        self.reason = reason
        self.status = status


Claim = Callable[[str, datetime], Awaitable[bool]]
"""Remember a name until a moment; True only the first time (the store's ``first_delivery``)."""


class Gate:
    """Check one request's signature, freshness and nonce against the configured admins."""

    def __init__(
        self,
        admins: Mapping[str, AdminPublicKey],
        leads: frozenset[str],
        claim: Claim,
        memory_began: Callable[[], Awaitable[datetime]],
        clock: Callable[[], datetime],
        revoked: Callable[[str], Awaitable[bool]],
    ) -> None:
        """Take the admins by key id, the leads, the nonce store, the clock and the list of
        keys a lead locked out."""
        self._admins = dict(admins)
        self._leads = leads
        self._claim = claim
        self._memory_began = memory_began
        self._clock = clock
        self._revoked = revoked

    def signing_key(self, key_id: str) -> bytes:
        """The Ed25519 key that checks this admitted admin's signatures."""
        signing = self._admins[key_id].signing
        if signing is None:  # admit() lets no such admin in
            raise KeyError(key_id)
        return signing

    def today(self) -> date:
        """The server's day (UTC), the one audit entries carry."""
        return self._clock().astimezone(UTC).date()

    def knows(self, key_id: str) -> bool:
        """Tell whether this key id is a configured admin's."""
        return key_id in self._admins

    def role_of(self, key_id: str) -> Role:
        """A lead if listed as one, else a reviewer."""
        return Role.LEAD if key_id in self._leads else Role.REVIEWER

    async def admit(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> Admin:
        """Return the admin who signed this request, or raise :class:`Refused`."""
        key_id, moment, nonce, signature = _read_headers(headers)
        public = self._admins.get(key_id)
        if public is None or public.signing is None:
            raise _refuse("unknown admin key, or a key line without its signing key (v1)")
        now = self._clock()
        sent = datetime.fromtimestamp(moment, tz=now.tzinfo)
        if abs(now - sent) > FRESH_FOR:
            raise _refuse("request time is more than five minutes off: check the clock")
        try:
            request = SignedRequest(method, target, moment, nonce, body)
        except CryptoError:
            raise _refuse("request line cannot be signed", 400) from None
        if not signature_holds(public.signing, signature, request):
            raise _refuse("signature does not hold")
        if await self._revoked(key_id):
            raise _refuse("this admin key was revoked by a lead")
        if sent < await self._memory_began() - timedelta(seconds=1):
            raise _refuse("request was signed before the server started: send it again")
        if not await self._claim(f"admin-nonce:{key_id}:{nonce.hex()}", now + 2 * FRESH_FOR):
            raise _refuse("request was already used (a replay)")
        return Admin(key_id, self.role_of(key_id))


def _read_headers(headers: Mapping[str, str]) -> tuple[str, int, bytes, bytes]:
    """Parse the four signature headers strictly; any flaw is one refusal."""
    try:
        key_id = headers[KEY_HEADER]
        moment = int(headers[TIME_HEADER], 10)
        nonce = b64decode(headers[NONCE_HEADER], size=NONCE_SIZE)
        signature = b64decode(headers[SIGNATURE_HEADER], size=SIGNATURE_SIZE)
    except (KeyError, ValueError, CryptoError):
        raise _refuse("missing or malformed signature headers") from None
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise _refuse("missing or malformed signature headers")
    if not 0 < moment < 2**40:
        raise _refuse("missing or malformed signature headers")
    return key_id, moment, nonce, signature


def _refuse(reason: str, status: int = 401) -> Refused:
    """Log the refusal by its fixed phrase only: nothing from the request reaches the log."""
    log.warning("admin API request refused: %s", reason)
    return Refused(reason, status)
