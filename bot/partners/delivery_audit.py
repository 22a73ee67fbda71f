"""How digest deliveries enter the signed audit chain, and what the chain says about them.

The chain is signed by admins, and the server holds no admin key, so the server cannot chain
what it did. Instead (docs/operations.md, "Delivering digests"):

- a lead queues a delivery with a signed ``deliver-digest`` entry naming the partner, month,
  channel, delivery id and the SHA-256 of the very file queued; the server stores the file
  and that entry in one transaction, or neither;
- the server keeps each delivery's outcome in the outbox row (status, tries, kind of failure,
  when delivered): its own word, which a database writer could change;
- whenever an admin lists deliveries (`amanat digest deliveries`), their machine chains a
  signed ``delivery-outcome`` entry for each finished delivery the chain does not yet hold:
  "the server reported this outcome, and I saw it". From then on, a rewritten row disagrees
  with the chain, and the listing says so; so does a row no lead's entry queued, or a stored
  file whose hash is not the one the lead signed.

Pure: it reads audit entries and delivery rows, and writes subjects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from bot.crypto.audit import AuditEntry
from bot.partners.months import Month
from bot.partners.snapshot import DIGEST_ACTION
from storage.deliveries import DELIVERED, FAILED, Delivery

DELIVER_ACTION: Final = "deliver-digest"
"""A lead queued a digest for delivery (signed when queued)."""
OUTCOME_ACTION: Final = "delivery-outcome"
"""An admin saw the server report a delivery's outcome (signed when listed)."""
REDELIVER_ACTION: Final = "redeliver-digest"
"""A lead queued a failed delivery again."""
DELIVERY_ACTIONS: Final = (DELIVER_ACTION, OUTCOME_ACTION, REDELIVER_ACTION)
HASH_HEX_DIGITS: Final = 32
"""How much of the file's SHA-256 (hex) the entry names: 128 bits."""

_DELIVER: Final = re.compile(
    r"(?P<partner>[a-z0-9][a-z0-9-]{0,39}):(?P<month>[0-9]{4}-[0-9]{2}) "
    r"(?P<channel>[a-z]+) (?P<id>[0-9a-f]{32}) (?P<hash>[0-9a-f]{32})"
)


def deliver_subject(partner: str, month: str, channel: str, delivery_id: str, sha256: str) -> str:
    """``partner:month channel id hash``: what the lead signs when queueing."""
    return f"{partner}:{month} {channel} {delivery_id} {sha256[:HASH_HEX_DIGITS]}"


def outcome_subject(delivery: Delivery) -> str | None:
    """``id delivered YYYY-MM-DD`` or ``id failed KIND``; None while it is not finished."""
    if delivery.status == DELIVERED and delivery.delivered_at is not None:
        return f"{delivery.id} delivered {delivery.delivered_at.date().isoformat()}"
    if delivery.status == FAILED:
        return f"{delivery.id} failed {delivery.last_error or 'error'}"
    return None


def was_issued(entries: Iterable[AuditEntry], partner: str, month: Month) -> bool:
    """Whether the chain holds a digest of this month issued to this partner.

    Only an issued digest may be queued: the outbox carries nothing the chain did not see
    being made.
    """
    wanted = f"{partner}:{month}"
    return any(
        entry.action == DIGEST_ACTION and entry.subject.partition(" ")[0] == wanted
        for entry in entries
    )


@dataclass(frozen=True)
class Checked:
    """One delivery as the chain vouches for it."""

    delivery: Delivery
    queued_by: str | None
    """The key id of the lead whose entry queued it; None: no entry did (a forged row)."""
    hash_matches: bool
    """Whether the file's hash (as read, or as the server says) is the one the lead signed."""
    recorded: str | None
    """The outcome the chain holds (``delivered …``/``failed …``), if any."""

    @property
    def needs_recording(self) -> bool:
        """A finished delivery whose outcome the chain does not hold yet."""
        return self.recorded is None and outcome_subject(self.delivery) is not None

    @property
    def problems(self) -> list[str]:
        """What does not fit, in words for the admin (no content: ids and kinds)."""
        found = []
        if self.queued_by is None:
            found.append("no lead's audit entry queued it")
        elif not self.hash_matches:
            found.append("its file is not the one the lead's audit entry names")
        now = outcome_subject(self.delivery)
        if self.recorded is not None and self.recorded != now:
            found.append("it changed after its outcome was recorded in the audit log")
        return found


def check(
    deliveries: Sequence[Delivery],
    entries: Sequence[AuditEntry],
    file_hashes: dict[str, str | None] | None = None,
) -> list[Checked]:
    """Hold each delivery against the chain.

    ``file_hashes`` maps delivery ids to the SHA-256 of the file stored now, computed on this
    machine from the bytes (directly on the database); without it, the row's own hash is
    taken (through the API, the server's word).
    """
    queued: dict[str, tuple[str, str]] = {}
    recorded: dict[str, str] = {}
    for entry in entries:
        if entry.action == DELIVER_ACTION:
            matched = _DELIVER.fullmatch(entry.subject)
            if matched is not None:
                queued.setdefault(matched["id"], (entry.admin, matched["hash"]))
        elif entry.action == OUTCOME_ACTION:
            recorded[entry.subject.partition(" ")[0]] = entry.subject
        elif entry.action == REDELIVER_ACTION:
            recorded.pop(entry.subject, None)  # queued again: a new outcome will come
    checked = []
    for delivery in deliveries:
        lead, signed_hash = queued.get(delivery.id, (None, ""))
        if file_hashes is not None and delivery.id in file_hashes:
            stored = file_hashes[delivery.id]
        else:
            stored = delivery.sha256
        # Once delivered the file is gone: the row's hash is all that is left to compare.
        actual = stored if stored is not None else delivery.sha256
        matches = lead is not None and actual[:HASH_HEX_DIGITS] == signed_hash
        checked.append(Checked(delivery, lead, matches, recorded.get(delivery.id)))
    return checked
