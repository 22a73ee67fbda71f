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
  with the chain, and the listing says so; so does a row no lead's entry queued, a row whose
  partner, channel or month is not the one the entry names, or a stored file whose hash is
  not the one the lead signed;
- before each try the delivery job holds the file it is about to send against the same
  entry (:func:`vouches_for`), so a file swapped in the database is never sent.

An entry counts only if its fields hash to its hash, its signature over that hash holds
under the key of the admin it names, and that admin is a lead (AMANAT_LEAD_ADMIN_KEYS): a
database writer can add rows to the audit table, but not sign them.

Pure: it reads audit entries and delivery rows, and writes subjects.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bot.crypto.audit import AuditEntry, entry_hash, entry_signature_holds
from bot.crypto.errors import CryptoError
from bot.crypto.keyfile import AdminPublicKey
from bot.partners.months import Month
from bot.partners.snapshot import DIGEST_ACTION
from bot.settings import Settings
from storage.deliveries import DELIVERED, FAILED, Claimed, Delivery

DELIVER_ACTION: Final = "deliver-digest"
"""A lead queued a digest for delivery (signed when queued)."""
OUTCOME_ACTION: Final = "delivery-outcome"
"""An admin saw the server report a delivery's outcome (signed when listed)."""
REDELIVER_ACTION: Final = "redeliver-digest"
"""A lead queued a failed delivery again."""
HASH_HEX_DIGITS: Final = 32
"""How much of the file's SHA-256 (hex) the entry names: 128 bits."""

_DELIVER: Final = re.compile(
    r"(?P<partner>[a-z0-9][a-z0-9-]{0,39}):(?P<month>[0-9]{4}-[0-9]{2}) "
    r"(?P<channel>[a-z]+) (?P<id>[0-9a-f]{32}) (?P<hash>[0-9a-f]{32})"
)


def deliver_subject(partner: str, month: str, channel: str, delivery_id: str, sha256: str) -> str:
    """``partner:month channel id hash``: what the lead signs when queueing."""
    return f"{partner}:{month} {channel} {delivery_id} {sha256[:HASH_HEX_DIGITS]}"


@dataclass(frozen=True)
class Queued:
    """What a lead's signed ``deliver-digest`` entry says of one delivery."""

    lead: str
    partner: str
    month: str
    channel: str
    hash: str
    """The first :data:`HASH_HEX_DIGITS` hex digits of the file's SHA-256."""

    def names(self, partner: str, channel: str, month: str) -> bool:
        """Whether a row's partner, channel and month are the ones this entry names."""
        return (self.partner, self.channel, self.month) == (partner, channel, month)

    def hash_of(self, sha256: str) -> bool:
        """Whether a file's SHA-256 (hex) is the one this entry names."""
        return hmac.compare_digest(sha256[:HASH_HEX_DIGITS], self.hash)


def lead_signing_keys(settings: Settings) -> dict[str, bytes]:
    """The audit signing key of every lead (current or former key lines), by key id.

    A malformed line is skipped here: the server refuses to start with one, and the command
    line names it elsewhere. A lead listed only as a v1 line has no signing key, so nothing
    it queued can be vouched for.
    """
    keys: dict[str, bytes] = {}
    for text in (*settings.admin_public_keys, *settings.former_admin_public_keys):
        try:
            key = AdminPublicKey.from_text(text)
        except CryptoError:
            continue
        if key.signing is not None and key.key_id in settings.lead_admin_keys:
            keys.setdefault(key.key_id, key.signing)
    return keys


def is_signed_by(entry: AuditEntry, keys: Mapping[str, bytes]) -> bool:
    """Whether the entry's fields give its hash and its signature holds under ``keys``."""
    key = keys.get(entry.admin)
    if key is None or entry.signature is None:
        return False
    recomputed = entry_hash(
        entry.prev_hash, entry.seq, entry.day, entry.admin, entry.action, entry.subject
    )
    return hmac.compare_digest(recomputed, entry.hash) and entry_signature_holds(
        key, entry.signature, entry.hash
    )


def queued_by_leads(entries: Iterable[AuditEntry], leads: Mapping[str, bytes]) -> dict[str, Queued]:
    """Each delivery id a lead's signed ``deliver-digest`` entry queued, with what it names.

    ``leads`` maps the leads' key ids to their signing keys (:func:`lead_signing_keys`);
    an entry by anyone else, or whose signature does not hold, queued nothing.
    """
    queued: dict[str, Queued] = {}
    for entry in entries:
        if entry.action != DELIVER_ACTION:
            continue
        matched = _DELIVER.fullmatch(entry.subject)
        if matched is None or matched["id"] in queued or not is_signed_by(entry, leads):
            continue
        queued[matched["id"]] = Queued(
            entry.admin, matched["partner"], matched["month"], matched["channel"], matched["hash"]
        )
    return queued


def vouches_for(queued: Mapping[str, Queued], claimed: Claimed) -> bool:
    """Whether a lead's signed entry queued exactly this try's delivery: its partner,
    channel, month and the very bytes about to be sent."""
    entry = queued.get(claimed.id)
    return (
        entry is not None
        and entry.names(claimed.partner, claimed.channel, claimed.month)
        and entry.hash_of(hashlib.sha256(claimed.bundle.data).hexdigest())
    )


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
    """The key id of the lead whose signed entry queued it; None: none did (a forged row)."""
    names_match: bool
    """Whether its partner, channel and month are the ones the lead's entry names."""
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
        elif not self.names_match:
            found.append(
                "its partner, channel or month is not the one the lead's audit entry names"
            )
        elif not self.hash_matches:
            found.append("its file is not the one the lead's audit entry names")
        now = outcome_subject(self.delivery)
        if self.recorded is not None and self.recorded != now:
            found.append("it changed after its outcome was recorded in the audit log")
        return found


def check(
    deliveries: Sequence[Delivery],
    entries: Sequence[AuditEntry],
    leads: Mapping[str, bytes],
    file_hashes: dict[str, str | None] | None = None,
) -> list[Checked]:
    """Hold each delivery against the chain: only an entry a lead signed (``leads``: their
    signing keys by key id) vouches for one.

    ``file_hashes`` maps delivery ids to the SHA-256 of the file stored now, computed on this
    machine from the bytes (directly on the database); without it, the row's own hash is
    taken (through the API, the server's word).
    """
    queued = queued_by_leads(entries, leads)
    recorded: dict[str, str] = {}
    for entry in entries:
        if entry.action == OUTCOME_ACTION:
            recorded[entry.subject.partition(" ")[0]] = entry.subject
        elif entry.action == REDELIVER_ACTION:
            recorded.pop(entry.subject, None)  # queued again: a new outcome will come
    checked = []
    for delivery in deliveries:
        signed = queued.get(delivery.id)
        if file_hashes is not None and delivery.id in file_hashes:
            stored = file_hashes[delivery.id]
        else:
            stored = delivery.sha256
        # Once delivered the file is gone: the row's hash is all that is left to compare.
        actual = stored if stored is not None else delivery.sha256
        checked.append(
            Checked(
                delivery,
                None if signed is None else signed.lead,
                signed is not None
                and signed.names(delivery.partner, delivery.channel, delivery.month),
                signed is not None and signed.hash_of(actual),
                recorded.get(delivery.id),
            )
        )
    return checked
