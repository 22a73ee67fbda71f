"""Remember a conversation in progress in volatile memory, locked with the server key.

This module owns the layout of one conversation in the volatile store
(:mod:`storage.conversations`): a small *persona* record (language, the idle conversation state,
the draft's deadline and upload ids, reports whose answer notice the person asked for, the
report they opened with its code in the last hour) kept while the person is active, a *draft*
record (the report in progress: its state, when it began, which admin key set its items are
sealed to) that dies at the draft's hard deadline, the draft's sealed items one by one, and
the ids of chat messages for /wipe.

Per update only the two small records are read and written; sealed items are added one at a
time and read only at submission, so a reporter who sent three thousand messages costs each
update what one who sent three does (``benchmarks/conversation.py``). Every value is locked
with :meth:`bot.crypto.server.ServerKeys.seal_volatile`, bound to the conversation key and its
name; keys are keyed hashes of accounts. Nothing here ever reaches durable storage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from bot.crypto.errors import CryptoError
from bot.crypto.server import ServerKeys
from bot.crypto.values import SealedBlob
from bot.intake.values import LOST_EXPIRED, LOST_RESTART, Draft
from storage.conversations import Changes, ConversationStore, Opened, Opening
from storage.records import StatRecord

log = logging.getLogger(__name__)

IDLE_KEPT: Final = timedelta(hours=48)
"""How long a person's language is kept after their last update."""
MESSAGES_KEPT: Final = timedelta(days=7)
"""How long chat message ids (no content) are kept: beyond Telegram's 48 hours of deletion,
so that /wipe can still tell the person how many messages they must delete themselves."""
UPDATES_KEPT: Final = timedelta(days=2)
"""How long an update id is remembered, against Telegram delivering it twice."""
FLOOD_WINDOW: Final = timedelta(minutes=10)
RECEIPT_KEPT: Final = timedelta(hours=48)
"""How long a receipt Telegram failed to deliver waits for the person's next message: as long
as the bot can still delete the chat, so that the code never outlives the chat's wipe."""
UNLOCKED_FOR: Final = timedelta(hours=1)
"""How long a report opened with its code stays open for writing to the team."""

_PERSONA_VERSION: Final = 1
_DRAFT_RECORD_VERSION: Final = 1
_DRAFT_ITEM: Final = "draft"


def flood_window(now: datetime) -> int:
    """Number the ten-minute window ``now`` falls in."""
    return int(now.timestamp() // FLOOD_WINDOW.total_seconds())


def _window_end(window: int, now: datetime) -> datetime:
    """When a flood window's counter may be forgotten."""
    return datetime.fromtimestamp((window + 1) * FLOOD_WINDOW.total_seconds(), tz=now.tzinfo)


@dataclass(frozen=True)
class Upload:
    """A file of the draft: the question it answers and the random id its chunks are under."""

    question: str
    upload_id: str


@dataclass
class Remembered:
    """What is known of one conversation at the start of an update."""

    draft: Draft = field(default_factory=Draft)
    started: datetime | None = None
    """When the report in progress began: its hard lifetime runs from here."""
    keys: str | None = None
    """Fingerprint of the admin key set the draft's items are sealed to."""
    uploads: dict[int, Upload] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    """Reports whose answer notice this person asked for: /wipe stops them."""
    lost: str | None = None
    """LOST_RESTART or LOST_EXPIRED when a report in progress may have been lost."""
    discarded: tuple[str, ...] = ()
    """Uploads of a draft discarded on load (expired, or sealed to revoked keys)."""
    unlocked: tuple[str, datetime] | None = None
    """The report this person opened with its code, and until when they may write to it."""
    receipt: tuple[str, datetime] | None = None
    """A receipt code Telegram failed to deliver, and until when it waits to be shown."""

    def undelivered_receipt(self, now: datetime) -> str | None:
        """Return the code of a report stored but never acknowledged, while it still waits."""
        if self.receipt is None or self.receipt[1] <= now:
            return None
        return self.receipt[0]

    def unlocked_report(self, now: datetime) -> str | None:
        """Return the report opened with the code, while it is still open."""
        if self.unlocked is None or self.unlocked[1] <= now:
            return None
        return self.unlocked[0]


def item_name(kind: str, index: int) -> str:
    """Name a sealed item in the store: its kind and index."""
    return f"{kind}:{index}"


def parse_item_name(name: str) -> tuple[str, int] | None:
    """Read back an item name; None for the draft record and anything else."""
    kind, separator, index = name.rpartition(":")
    if not separator or not index.isdigit():
        return None
    return kind, int(index)


class ConversationMemory:
    """Read and write conversations in the volatile store, locked with the server key."""

    def __init__(self, store: ConversationStore, keys: ServerKeys, draft_ttl: timedelta) -> None:
        """Take the store, the server keys and the drafts' hard lifetime."""
        if draft_ttl <= timedelta(0):
            raise ValueError("draft_ttl must be positive")
        self._store = store
        self._keys = keys
        self._ttl = draft_ttl

    @property
    def store(self) -> ConversationStore:
        """The volatile store underneath (the purge job sweeps it and takes statistics)."""
        return self._store

    def key(self, transport: str, user_id: int) -> str:
        """Return the opaque key of an account's conversation (a keyed hash, memory only)."""
        return self._keys.conversation_key(transport, user_id)

    def _lock(self, key: str, name: str, data: bytes) -> bytes:
        return self._keys.seal_volatile(data, f"{key}/{name}")

    def _open(self, key: str, name: str, blob: bytes) -> bytes:
        return self._keys.open_volatile(blob, f"{key}/{name}")

    async def open(
        self, key: str, transport: str, update_id: int | None, now: datetime, *, count: bool
    ) -> Opened:
        """Claim the update against a second delivery, count it, read its two records.

        One round trip to the store. ``count=False`` leaves the flood window alone (a wipe
        always works).
        """
        window = flood_window(now)
        return await self._store.open_update(
            key,
            Opening(
                item=_DRAFT_ITEM,
                update_key=None
                if update_id is None
                else self._keys.update_key(transport, update_id),
                update_expires_at=now + UPDATES_KEPT,
                window=window if count else None,
                window_ends=_window_end(window, now),
            ),
        )

    async def count_code_try(self, key: str, now: datetime) -> int:
        """Count a typed receipt code in the person's ten-minute window (against guessing)."""
        window = flood_window(now)
        ends = _window_end(window, now)
        return await self._store.count_update(f"{key}/codes", window, expires_at=ends)

    async def load(self, key: str, now: datetime, key_set: str) -> Remembered:
        """Read what is remembered, outside an update (tests and tools)."""
        state = await self._store.load_state(key)
        record = await self._store.get_item(key, _DRAFT_ITEM)
        return await self.remembered(key, Opened(True, None, state, record), now, key_set)

    def locale_in(self, key: str, opened: Opened) -> str | None:
        """Return the language remembered in records just opened, if any."""
        persona = self._read(key, "persona", opened.state)
        locale = persona.get("locale") if persona is not None else None
        return locale if isinstance(locale, str) else None

    async def remembered(self, key: str, opened: Opened, now: datetime, key_set: str) -> Remembered:
        """Read the opened records; discard a draft past its deadline or sealed to old keys.

        ``key_set`` is the fingerprint of the admin keys configured now: items sealed under
        another set (an admin was revoked, and the workers restarted) are never submitted.
        """
        persona = self._read(key, "persona", opened.state)
        record = self._read(key, _DRAFT_ITEM, opened.item)
        remembered = Remembered()
        if persona is not None:
            remembered = _with_persona(remembered, persona)
        uploads = _uploads(persona) if persona is not None else {}
        gone = tuple(upload.upload_id for upload in uploads.values())
        if record is not None:
            started = datetime.fromisoformat(str(record["started"]))
            if started + self._ttl <= now or record.get("keys") != key_set:
                lost = LOST_EXPIRED if started + self._ttl <= now else LOST_RESTART
                await self._store.drop_items(key)
                return replace(
                    remembered,
                    draft=Draft(locale=remembered.draft.locale),
                    lost=lost,
                    discarded=gone,
                )
            return replace(
                remembered,
                draft=Draft.from_json(json.dumps(record["draft"]).encode()),
                started=started,
                keys=str(record["keys"]),
                uploads=uploads,
            )
        if persona is not None and persona.get("deadline") is not None:
            # A report was in progress and its record is gone: its lifetime ran out.
            return replace(remembered, lost=LOST_EXPIRED, discarded=gone)
        if persona is None and now - await self._store.started_at() < self._ttl:
            return replace(remembered, lost=LOST_RESTART)
        return remembered

    def _read(self, key: str, name: str, blob: bytes | None) -> dict[str, object] | None:
        """Open and parse one record; an unreadable one counts as absent (and is logged)."""
        if blob is None:
            return None
        try:
            data = json.loads(self._open(key, name, blob))
        except (CryptoError, ValueError) as exc:
            log.warning("an unreadable %s record was discarded (%s)", name, type(exc).__name__)
            return None
        version = _PERSONA_VERSION if name == "persona" else _DRAFT_RECORD_VERSION
        if not isinstance(data, dict) or data.get("v") != version:
            return None
        return data

    async def save(
        self,
        key: str,
        remembered: Remembered,
        now: datetime,
        *,
        dropped: Iterable[tuple[str, int]] = (),
        new_items: Mapping[tuple[str, int], SealedBlob] | None = None,
        message_ids: Iterable[int] = (),
    ) -> None:
        """Write the persona and, while a report is in progress, the draft record, with the
        items the update sealed or dropped and the chat message ids it noted: one write.

        Outside a report every item goes; a sealed item is locked once and never rewritten.
        """
        draft = remembered.draft
        deadline = self.deadline(remembered)
        opened = remembered.unlocked if remembered.unlocked_report(now) else None
        waiting = remembered.receipt if remembered.undelivered_receipt(now) else None
        persona: dict[str, object] = {
            "v": _PERSONA_VERSION,
            "locale": draft.locale,
            "idle": None if draft.in_report else json.loads(draft.to_json()),
            "deadline": deadline.isoformat() if deadline is not None else None,
            "notices": list(remembered.notices),
            "unlocked": None if opened is None else [opened[0], opened[1].isoformat()],
            "receipt": None if waiting is None else [waiting[0], waiting[1].isoformat()],
            # Upload ids live here, not with the draft: when the draft dies at its deadline,
            # the next update still knows which uploads to delete at once.
            "uploads": [
                [index, upload.question, upload.upload_id]
                for index, upload in sorted(remembered.uploads.items())
            ]
            if draft.in_report
            else [],
        }
        messages = self._locked_messages(key, list(message_ids), now)
        changes = Changes(
            state=self._lock(key, "persona", _dump(persona)),
            state_expires_at=now + IDLE_KEPT,
            drop_items=None,
            messages=messages,
            messages_expire_at=now + MESSAGES_KEPT,
        )
        if draft.in_report and deadline is not None:
            record = {
                "v": _DRAFT_RECORD_VERSION,
                "draft": json.loads(draft.to_json()),
                "started": remembered.started.isoformat() if remembered.started else None,
                "keys": remembered.keys,
            }
            put = {_DRAFT_ITEM: self._lock(key, _DRAFT_ITEM, _dump(record))}
            for (kind, index), blob in (new_items or {}).items():
                name = item_name(kind, index)
                put[name] = self._lock(key, name, blob.data)
            changes = replace(
                changes,
                drop_items=tuple(item_name(kind, index) for kind, index in dropped),
                put_items=put,
                items_expire_at=deadline,
            )
        await self._store.write(key, changes)

    async def keep_receipt(self, key: str, code: str, now: datetime) -> None:
        """Hold a receipt Telegram failed to deliver, for the person's next message.

        Only the persona record changes; it is read and written whole, in the person's turn
        (their updates are handled one at a time).
        """
        persona = self._read(key, "persona", await self._store.load_state(key))
        record: dict[str, object] = dict(persona) if persona else {"v": _PERSONA_VERSION}
        record["receipt"] = [code, (now + RECEIPT_KEPT).isoformat()]
        blob = self._lock(key, "persona", _dump(record))
        await self._store.save_state(key, blob, expires_at=now + IDLE_KEPT)

    def deadline(self, remembered: Remembered) -> datetime | None:
        """Return when the report in progress dies (its start plus the lifetime), if any."""
        if not remembered.draft.in_report or remembered.started is None:
            return None
        return remembered.started + self._ttl

    async def sealed_items(self, key: str) -> dict[tuple[str, int], SealedBlob]:
        """Return every sealed item of the draft (read once, at submission)."""
        found: dict[tuple[str, int], SealedBlob] = {}
        for name, blob in (await self._store.items(key)).items():
            parsed = parse_item_name(name)
            if parsed is not None:
                found[parsed] = SealedBlob(self._open(key, name, blob))
        return found

    async def remember_messages(self, key: str, ids: list[int], now: datetime) -> None:
        """Note chat message ids (both sides), and when, so /wipe can delete them.

        The time says which ones Telegram still lets a bot delete (48 hours), so /wipe can
        tell the person plainly what it could not.
        """
        locked = self._locked_messages(key, ids, now)
        await self._store.add_messages(key, locked, expires_at=now + MESSAGES_KEPT)

    def _locked_messages(self, key: str, ids: list[int], now: datetime) -> tuple[bytes, ...]:
        at = int(now.timestamp())
        return tuple(
            self._lock(key, "message", f"{message_id}:{at}".encode()) for message_id in ids
        )

    async def take_messages(self, key: str) -> list[tuple[int, datetime]]:
        """Return and forget the message ids with when each was noted; skip unreadable ones."""
        taken: list[tuple[int, datetime]] = []
        for blob in await self._store.take_messages(key):
            try:
                message_id, _, at = self._open(key, "message", blob).decode().partition(":")
                taken.append((int(message_id), datetime.fromtimestamp(int(at), tz=UTC)))
            except (CryptoError, ValueError):
                log.warning("an unreadable message id was skipped")
        return taken

    async def forget(self, key: str, now: datetime) -> None:
        """Forget the conversation, but not the message ids /wipe still needs."""
        messages = await self._store.take_messages(key)
        await self._store.forget(key)
        if messages:
            # Put them back as they were (still locked): /forget is not /wipe.
            await self._store.add_messages(key, messages, expires_at=now + MESSAGES_KEPT)

    async def locale_of(self, key: str) -> str | None:
        """Return the remembered language, if any (for answers outside a step)."""
        persona = self._read(key, "persona", await self._store.load_state(key))
        locale = persona.get("locale") if persona is not None else None
        return locale if isinstance(locale, str) else None

    async def queue_stat(self, record: StatRecord) -> None:
        """Hold one statistics record until a batch may be written; count the submission."""
        data = _dump(
            {
                "category": record.category,
                "party": record.party,
                "country": record.country,
                "province": record.province,
                "month": record.month,
                "urgency": record.urgency,
                "former_forces": record.former_forces,
            }
        )
        await self._store.queue_stat(self._keys.seal_volatile(data, "stat"))

    async def count_submission(self) -> None:
        """Count a submitted report, with or without statistics: the cover of the next batch."""
        await self._store.count_submission()

    async def take_stats(self, min_submissions: int) -> list[StatRecord]:
        """Release the held records once ``min_submissions`` reports went by."""
        records: list[StatRecord] = []
        for blob in await self._store.take_stats(min_submissions):
            try:
                data = json.loads(self._keys.open_volatile(blob, "stat"))
                records.append(StatRecord(**data))
            except (CryptoError, ValueError, TypeError) as exc:
                log.warning("a held statistics record was unreadable (%s)", type(exc).__name__)
        return records


def _with_persona(remembered: Remembered, persona: Mapping[str, object]) -> Remembered:
    """Fill in what the persona record holds: language, idle state, notices."""
    idle = persona.get("idle")
    locale = persona.get("locale")
    draft = (
        Draft.from_json(json.dumps(idle).encode())
        if isinstance(idle, dict)
        else Draft(locale=locale if isinstance(locale, str) else None)
    )
    if draft.locale is None and isinstance(locale, str):
        draft = replace(draft, locale=locale)
    notices = persona.get("notices")
    listed = tuple(str(n) for n in notices) if isinstance(notices, list) else ()
    opened = persona.get("unlocked")
    unlocked = None
    if isinstance(opened, list) and len(opened) == 2:
        unlocked = (str(opened[0]), datetime.fromisoformat(str(opened[1])))
    kept = persona.get("receipt")
    receipt = None
    if isinstance(kept, list) and len(kept) == 2:
        receipt = (str(kept[0]), datetime.fromisoformat(str(kept[1])))
    return replace(remembered, draft=draft, notices=listed, unlocked=unlocked, receipt=receipt)


def _uploads(record: Mapping[str, object]) -> dict[int, Upload]:
    """Read the uploads a persona record lists."""
    listed = record.get("uploads")
    if not isinstance(listed, list):
        return {}
    return {int(index): Upload(str(question), str(upload)) for index, question, upload in listed}


def _dump(data: Mapping[str, object]) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()
