"""Own admin re-keying: the next admin key set, and re-wrapping every stored item to it.

Adding, revoking or rotating an admin key changes who can open a report without touching its
content: each sealed item's data key is unwrapped with a key the admin holds and wrapped again
to the new set (:func:`bot.crypto.rewrap_for_admins`); nonce and ciphertext stay byte for
byte the same. This runs on an admin's machine, never in the bot: only a private key unwraps.

The work goes report by report, each report in its own unit of work, so a run that stops
midway leaves every report sealed either to the old set or to the new one, and running it
again finishes the job (re-wrapping an item twice is harmless). Items that none of the admin's
keys opens are counted per report and returned, never skipped silently.

Per-kind dispatch (:func:`rewrapper_for`) is the hook for item kinds whose sealed form is not
a plain sealed item (attachment stream headers, later).

This module must never log, print or keep plaintext, must never write to the bot's
configuration (the caller prints the new value), and never runs SQL itself: storage does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.binding import open_answers, stream_kind
from bot.answers import AnswersDocument, AnswersFormatError
from bot.crypto.audit import KEY_ID_PATTERN
from bot.crypto.errors import CryptoError, NotARecipient, TamperedCiphertext, UnsupportedFormat
from bot.crypto.items import rewrap_for_admins
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.sealer import AdminSealer, key_set_fingerprint
from bot.crypto.stream import rewrap_stream_header
from bot.crypto.values import ItemRef, SealedBlob
from bot.questions import ATTACHMENT_KIND, FOLLOWUP_FILE_KIND, ORIGINAL_KINDS
from storage.db import unit_of_work
from storage.records import StoredReport
from storage.repositories import ReportRepository
from storage.uploads import UploadRepository

__all__ = [
    "AfterReport",
    "DatabaseRekeyStore",
    "ItemRewrapper",
    "KeyChange",
    "KeySetError",
    "Problem",
    "RekeyStore",
    "RekeySummary",
    "Replacement",
    "ReportOutcome",
    "ReportPlan",
    "config_value",
    "outcome_of",
    "parse_key_set",
    "plan_add",
    "plan_report",
    "plan_revoke",
    "plan_rotate",
    "rekey_subject",
    "resolve_key_id",
    "rewrap_reports",
    "rewrapper_for",
]

PAGE_SIZE: Final = 200
STREAM_KINDS: Final = frozenset({ATTACHMENT_KIND, FOLLOWUP_FILE_KIND})
"""Kinds whose blob is a stream header (chunk 0 of an upload), re-wrapped through it."""

ItemRewrapper = Callable[
    [SealedBlob, ItemRef, AdminPrivateKey, Sequence[AdminPublicKey]], SealedBlob
]
"""Re-wrap one sealed value to new recipients, raising CryptoError if it cannot."""

AfterReport = Callable[["ReportOutcome"], None]
"""Called after each report's unit of work has ended (committed, or read only in a dry run)."""


class KeySetError(Exception):
    """Refuse a key change: malformed keys, or a set that would lock admins out."""


# --- the key set ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyChange:
    """The admin key set to re-wrap to, and what the admin should be told about it."""

    current: tuple[AdminPublicKey, ...]
    target: tuple[AdminPublicKey, ...]
    notes: tuple[str, ...] = ()

    @property
    def config_value(self) -> str:
        """Return the AMANAT_ADMIN_PUBLIC_KEYS value that seals new reports to the target."""
        return config_value(self.target)


def config_value(keys: Sequence[AdminPublicKey]) -> str:
    """Render keys as AMANAT_ADMIN_PUBLIC_KEYS expects them: comma separated, in order."""
    return ",".join(key.to_text() for key in keys)


def parse_key_set(texts: Sequence[str]) -> tuple[AdminPublicKey, ...]:
    """Parse the configured public keys, refusing malformed entries and duplicates."""
    keys: list[AdminPublicKey] = []
    for position, text in enumerate(texts, start=1):
        try:
            keys.append(AdminPublicKey.from_text(text))
        except CryptoError:
            raise KeySetError(
                f"entry {position} of AMANAT_ADMIN_PUBLIC_KEYS is not an Amanat admin public key"
            ) from None
    ids = [key.key_id for key in keys]
    if len(set(ids)) != len(ids):
        raise KeySetError("AMANAT_ADMIN_PUBLIC_KEYS lists the same key twice")
    return tuple(keys)


def resolve_key_id(text: str) -> str:
    """Read a key as an admin names it: a 16-hex-digit key id or a full public key line."""
    cleaned = text.strip()
    if ":" in cleaned:  # a public key line has a prefix; a key id is bare hex
        try:
            return AdminPublicKey.from_text(cleaned).key_id
        except CryptoError:
            raise KeySetError("that is not an Amanat admin public key") from None
    lowered = cleaned.lower()
    if not KEY_ID_PATTERN.fullmatch(lowered):
        raise KeySetError(
            "name the key by its key id (16 hex digits) or its public key (amanat-admin-pk-v1:…)"
        )
    return lowered


def _position(keys: Sequence[AdminPublicKey], key_id: str) -> int | None:
    """Return where the key with this id sits in the set, if it does."""
    return next((i for i, key in enumerate(keys) if key.key_id == key_id), None)


def _check_target(target: tuple[AdminPublicKey, ...], holder: AdminPublicKey) -> None:
    """Refuse an empty or oversized set, and one the admin running the change is not in."""
    if not target:
        raise KeySetError("refusing to remove the last admin key: nothing could be opened")
    try:
        AdminSealer(target)  # the sealer's own limits: count and duplicates
    except CryptoError as exc:
        raise KeySetError(str(exc)) from None
    if _position(target, holder.key_id) is None:
        raise KeySetError(
            f"your key {holder.key_id} is not in AMANAT_ADMIN_PUBLIC_KEYS: re-wrapping would "
            "lock you out; add your key to the setting first, or let an admin in the set do it"
        )


def plan_add(
    current: Sequence[AdminPublicKey], new: AdminPublicKey, *, holder: AdminPublicKey
) -> KeyChange:
    """Add a key to the set; a key already there just re-wraps to the set (a catch-up run)."""
    now = tuple(current)
    notes: tuple[str, ...] = ()
    if _position(now, new.key_id) is None:
        target = (*now, new)
    else:
        target = now
        notes = (
            f"key {new.key_id} is already in AMANAT_ADMIN_PUBLIC_KEYS: every item is re-wrapped "
            "to that set (this catches reports sealed before the server had the key)",
        )
    _check_target(target, holder)
    return KeyChange(now, target, notes)


def plan_revoke(
    current: Sequence[AdminPublicKey], revoked: str, *, holder: AdminPublicKey
) -> KeyChange:
    """Remove a key from the set; refuse the last key and the key doing the re-wrapping."""
    now = tuple(current)
    revoked_id = resolve_key_id(revoked)
    if revoked_id == holder.key_id:
        raise KeySetError(
            "refusing to revoke the key you are using: another admin must revoke it "
            "(or replace your key with `amanat keys rotate`)"
        )
    target = tuple(key for key in now if key.key_id != revoked_id)
    notes: tuple[str, ...] = ()
    if len(target) == len(now):
        notes = (
            f"key {revoked_id} is not in AMANAT_ADMIN_PUBLIC_KEYS: every item is re-wrapped to "
            "that set, which removes the key from any item that still lists it",
        )
    _check_target(target, holder)
    return KeyChange(now, target, notes)


def plan_rotate(
    current: Sequence[AdminPublicKey], old: AdminPublicKey, new: AdminPublicKey
) -> KeyChange:
    """Replace an admin's old key by their new one, in place, keeping the others' order."""
    now = tuple(current)
    if old.key_id == new.key_id:
        raise KeySetError("the new key is the old key")
    old_at, new_at = _position(now, old.key_id), _position(now, new.key_id)
    notes: tuple[str, ...] = ()
    if old_at is not None and new_at is None:
        target = (*now[:old_at], new, *now[old_at + 1 :])
    elif old_at is not None:
        target = tuple(key for key in now if key.key_id != old.key_id)
    elif new_at is not None:
        target = now
        notes = (
            f"the old key {old.key_id} is no longer in AMANAT_ADMIN_PUBLIC_KEYS: every item is "
            "re-wrapped to that set (this finishes an earlier rotation)",
        )
    else:
        raise KeySetError(
            f"neither your key {old.key_id} nor the new key {new.key_id} is in "
            "AMANAT_ADMIN_PUBLIC_KEYS: check the setting"
        )
    _check_target(target, new)
    return KeyChange(now, target, notes)


# --- one report ----------------------------------------------------------------------------


class Problem(StrEnum):
    """Why an item was not re-wrapped; the value is what an admin reads."""

    NOT_A_RECIPIENT = "not sealed to your key"
    ALTERED = "ALTERED: failed authentication"
    UNSUPPORTED = "in a format version this program does not read"
    UNREADABLE = "cannot be opened"
    CHANGED = "changed by someone else meanwhile (run again)"
    NO_LEAD = "a redacted original, and no lead key is in the new set (AMANAT_LEAD_ADMIN_KEYS)"


@dataclass(frozen=True, repr=False)
class Replacement:
    """One item's new sealed blob, and the blob it must still hold to be replaced."""

    kind: str
    index: int
    old: SealedBlob
    new: SealedBlob

    def __repr__(self) -> str:
        """Name the item only: blobs in a log help nobody."""
        return f"Replacement({self.kind!r}, {self.index})"


@dataclass(frozen=True)
class ReportPlan:
    """What re-wrapping one report comes to: new blobs, and the items that could not be."""

    report_id: str
    replacements: tuple[Replacement, ...]
    problems: tuple[tuple[Problem, int], ...]


def rewrapper_for(kind: str) -> ItemRewrapper:
    """Choose how to re-wrap an item of this kind: the hook for kinds with another layout.

    Report items are plain sealed items (docs/crypto.md §4); an attachment stream is
    re-wrapped through its header (chunk 0), its chunks stay as they are.
    """
    if kind in STREAM_KINDS:
        return rewrap_stream_header
    return rewrap_for_admins


def _classify(exc: CryptoError) -> Problem:
    """Name why an item did not open, without anything of its content."""
    if isinstance(exc, NotARecipient):
        return Problem.NOT_A_RECIPIENT
    if isinstance(exc, TamperedCiphertext):
        return Problem.ALTERED
    if isinstance(exc, UnsupportedFormat):
        return Problem.UNSUPPORTED
    return Problem.UNREADABLE


def rewrap_item(
    rewrap: ItemRewrapper,
    blob: SealedBlob,
    ref: ItemRef,
    keys: Sequence[AdminPrivateKey],
    target: Sequence[AdminPublicKey],
) -> SealedBlob | Problem:
    """Re-wrap with the first key that is a recipient; any other failure stops at once.

    An item that fails authentication is reported, not repaired through another key: a
    rewrite would erase the evidence that someone altered it.
    """
    problem = Problem.NOT_A_RECIPIENT
    for key in keys:
        try:
            return rewrap(blob, ref, key, target)
        except NotARecipient:
            continue
        except CryptoError as exc:
            problem = _classify(exc)
            break
    return problem


def plan_report(
    report: StoredReport,
    keys: Sequence[AdminPrivateKey],
    target: Sequence[AdminPublicKey],
    *,
    choose: Callable[[str], ItemRewrapper] = rewrapper_for,
    stream_headers: Sequence[tuple[int, SealedBlob]] = (),
    lead_ids: frozenset[str] = frozenset(),
) -> ReportPlan:
    """Re-wrap every item (and attachment stream header) of a report in memory, trying each
    of the admin's keys in turn.

    The original of a redacted item goes to the leads of ``target`` only (``lead_ids``), so
    a change of keys never lets reviewers open what the team hid from them.
    """
    if not keys:
        raise ValueError("re-wrapping needs at least one admin private key")
    replacements: list[Replacement] = []
    problems: Counter[Problem] = Counter()
    sealed = [(item.kind, item.index, item.blob) for item in report.items]
    sealed += [(stream_kind(report, index), index, header) for index, header in stream_headers]
    document = _answers(report, keys)
    leads = tuple(key for key in target if key.key_id in lead_ids)
    for kind, index, blob in sealed:
        ref = document.item_ref(report.id, kind, index)
        wrap_to = leads if kind in ORIGINAL_KINDS else target
        if not wrap_to:
            problems[Problem.NO_LEAD] += 1
            continue
        result = rewrap_item(choose(kind), blob, ref, keys, wrap_to)
        if isinstance(result, Problem):
            problems[result] += 1
        else:
            replacements.append(Replacement(kind, index, blob, result))
    return ReportPlan(report.id, tuple(replacements), _sorted_counts(problems))


def _answers(report: StoredReport, keys: Sequence[AdminPrivateKey]) -> AnswersDocument:
    """Open the report's answers with the first key that can, to learn each item's binding.

    A report whose answers open with none of the keys gets format 1's bindings (the report
    id); its other items then fail like the answers did and are counted as problems.
    """
    for key in keys:
        try:
            return open_answers(report, key)
        except (CryptoError, AnswersFormatError):
            continue
    return AnswersDocument(locale=None, month=None, answers={}, version=1)


def _sorted_counts(problems: Counter[Problem]) -> tuple[tuple[Problem, int], ...]:
    """Return problem counts in the enum's order, so output is stable."""
    return tuple((problem, problems[problem]) for problem in Problem if problems[problem])


# --- every report --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportOutcome:
    """How one report fared: items re-wrapped (or that would be, in a dry run), and problems."""

    report_id: str
    rewrapped: int
    problems: tuple[tuple[Problem, int], ...]

    @property
    def unopened(self) -> int:
        """Count the items left as they were."""
        return sum(count for _, count in self.problems)


@dataclass(frozen=True)
class RekeySummary:
    """What a whole run did; ``problem_reports`` lists every report with an item left over."""

    reports: int
    rewrapped: int
    problem_reports: tuple[ReportOutcome, ...]

    @property
    def unopened(self) -> int:
        """Count the items that were not re-wrapped, in every report."""
        return sum(outcome.unopened for outcome in self.problem_reports)


Sessions = async_sessionmaker[AsyncSession]


Planner = Callable[[StoredReport, Sequence[tuple[int, SealedBlob]]], ReportPlan]
"""Re-wrap one report in memory from its items and its files' stream headers."""


class RekeyStore(Protocol):
    """Where the reports to re-wrap live: the database, or the admin API (bot.adminapi)."""

    async def report_ids(self, after: str | None, limit: int) -> list[str]:
        """The next ``limit`` report ids after ``after``, in id order."""
        ...

    async def rekey_one(
        self, report_id: str, planner: Planner, *, execute: bool
    ) -> ReportOutcome | None:
        """Plan one report with ``planner`` and, with ``execute``, write each replacement
        only where the old blob is still stored; None if the report is gone."""
        ...


def outcome_of(plan: ReportPlan, done: int, changed: int) -> ReportOutcome:
    """How one report fared once written: replacements that landed, and what was left."""
    problems = Counter(dict(plan.problems))
    if changed:
        problems[Problem.CHANGED] += changed
    return ReportOutcome(plan.report_id, done, _sorted_counts(problems))


@dataclass(frozen=True)
class DatabaseRekeyStore:
    """Re-wrap on the database itself, each report in its own unit of work."""

    sessions: Sessions

    async def report_ids(self, after: str | None, limit: int) -> list[str]:
        """The next page of report ids."""
        async with unit_of_work(self.sessions) as session:
            return await ReportRepository(session).ids_after(after, limit=limit)

    async def rekey_one(
        self, report_id: str, planner: Planner, *, execute: bool
    ) -> ReportOutcome | None:
        """Read, plan and write one report in one unit of work."""
        async with unit_of_work(self.sessions) as session:
            reports = ReportRepository(session)
            stored = await reports.get(report_id)
            if stored is None:
                return None
            uploads = UploadRepository(session)
            upload_of = {file.index: file.upload_id for file in stored.files}
            headers = [
                (index, header)
                for index, upload_id in upload_of.items()
                if (header := await uploads.header(upload_id)) is not None
            ]
            plan = planner(stored, headers)
            if not execute:
                return ReportOutcome(plan.report_id, len(plan.replacements), plan.problems)
            done, changed = 0, 0
            for replacement in plan.replacements:
                if replacement.kind in STREAM_KINDS:
                    replaced = await uploads.replace_header(
                        upload_of[replacement.index], replacement.new, expected=replacement.old
                    )
                else:
                    replaced = await reports.replace_item_blob(
                        stored.id,
                        replacement.kind,
                        replacement.index,
                        replacement.new,
                        expected=replacement.old,
                    )
                if replaced:
                    done += 1
                else:
                    changed += 1
        return outcome_of(plan, done, changed)


def rekey_subject(key_ids: Sequence[str]) -> str:
    """What a ``rekey`` audit entry names: how many keys the new set has, and its fingerprint."""
    return f"{len(key_ids)}:{key_set_fingerprint(key_ids)}"


async def rewrap_reports(
    store: RekeyStore,
    keys: Sequence[AdminPrivateKey],
    target: Sequence[AdminPublicKey],
    *,
    execute: bool,
    after_report: AfterReport | None = None,
    choose: Callable[[str], ItemRewrapper] = rewrapper_for,
    page_size: int = PAGE_SIZE,
    lead_ids: frozenset[str] = frozenset(),
) -> RekeySummary:
    """Re-wrap every stored report's items to ``target``, one report at a time.

    ``keys`` are the admin's private keys, tried in order for each item (a rotation that is
    resumed holds two). Without ``execute`` nothing is written: the same work is done in
    memory and counted. ``after_report`` runs after each report is done; it is the progress
    hook, and the seam through which tests interrupt a run. Originals of redacted items go
    to the keys of ``target`` named in ``lead_ids`` only.
    """
    keys = tuple(keys)
    target = tuple(target)
    if not keys:
        raise ValueError("re-wrapping needs at least one admin private key")
    if not target:
        raise ValueError("re-wrapping needs at least one admin public key")

    def planner(stored: StoredReport, headers: Sequence[tuple[int, SealedBlob]]) -> ReportPlan:
        return plan_report(
            stored, keys, target, choose=choose, stream_headers=headers, lead_ids=lead_ids
        )

    reports = rewrapped = 0
    problem_reports: list[ReportOutcome] = []
    after: str | None = None
    while True:
        page = await store.report_ids(after, page_size)
        if not page:
            break
        for report_id in page:
            outcome = await store.rekey_one(report_id, planner, execute=execute)
            if outcome is None:
                continue
            reports += 1
            rewrapped += outcome.rewrapped
            if outcome.problems:
                problem_reports.append(outcome)
            if after_report is not None:
                after_report(outcome)
        after = page[-1]
    return RekeySummary(reports, rewrapped, tuple(problem_reports))
