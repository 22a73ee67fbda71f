"""Test re-keying: the key-set arithmetic, one report in memory, and whole runs on real databases.

The storage half runs on SQLite (a migrated file in tmp_path) and PostgreSQL (a scratch
database on 127.0.0.1:5432, skipped only when no server answers), like ``test_storage.py``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin.rekey import (
    DatabaseRekeyStore,
    ItemRewrapper,
    KeySetError,
    Problem,
    ReportOutcome,
    config_value,
    parse_key_set,
    plan_add,
    plan_report,
    plan_revoke,
    plan_rotate,
    resolve_key_id,
    rewrap_reports,
)
from bot.answers import AnswersDocument, encode_answers
from bot.crypto.errors import NotARecipient, TamperedCiphertext
from bot.crypto.items import open_with_admin_key, rewrap_for_admins
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.sealer import AdminSealer, seal_stream_for_admins
from bot.crypto.stream import open_stream_with_admin_key
from bot.crypto.values import ItemRef, SealedBlob
from bot.questions import ATTACHMENT_KIND
from storage.db import unit_of_work
from storage.records import NewFile, NewItem, NewReport, StoredItem, StoredReport
from storage.repositories import ReportRepository
from storage.uploads import UploadRepository

NONCE, TAG = 12, 16
Sessions = async_sessionmaker[AsyncSession]


def pub(*keys: AdminPrivateKey) -> tuple[AdminPublicKey, ...]:
    return tuple(key.public_key() for key in keys)


def plaintext(report_id: str, kind: str, index: int) -> bytes:
    return f"CANARY {report_id} {kind} {index} داستان".encode()


def content(blob: SealedBlob, size: int) -> bytes:
    """The nonce and ciphertext of a sealed item whose plaintext has ``size`` bytes."""
    return blob.data[-(NONCE + size + TAG) :]


ITEMS = (("answers", 0), ("narrative", 0), ("narrative", 1))


def new_report(report_id: str, recipients: Sequence[AdminPublicKey]) -> NewReport:
    sealer = AdminSealer(recipients)
    return NewReport(
        id=report_id,
        submitted_on=date(2026, 11, 25),
        urgent=False,
        receipt_hash=secrets.token_bytes(32),
        items=[
            NewItem(
                kind,
                index,
                sealer.seal_for_admins(
                    plaintext(report_id, kind, index), ItemRef(report_id, kind, index)
                ),
            )
            for kind, index in ITEMS
        ],
    )


def stored(report: NewReport) -> StoredReport:
    return StoredReport(
        id=report.id,
        format_version=1,
        submitted_on=report.submitted_on,
        urgent=report.urgent,
        status="new",
        items=tuple(StoredItem(item.kind, item.index, item.blob) for item in report.items),
    )


def opens(report: StoredReport, key: AdminPrivateKey) -> bool:
    """Tell whether the key opens every item (True) or none (False); anything else fails."""
    results = []
    for item in report.items:
        ref = ItemRef(report.id, item.kind, item.index)
        try:
            assert open_with_admin_key(item.blob, ref, key) == plaintext(
                ref.report_id, ref.kind, ref.index
            )
            results.append(True)
        except NotARecipient:
            results.append(False)
    assert len(set(results)) == 1, f"{report.id}: the key opens some items only"
    return results[0]


# --- the key set ---------------------------------------------------------------------------


def test_the_configured_set_is_parsed_strictly(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    texts = [key.to_text() for key in pub(alice, bob)]
    assert parse_key_set(texts) == pub(alice, bob)
    with pytest.raises(KeySetError, match="entry 2 of") as caught:
        parse_key_set([texts[0], "amanat-admin-pk-v1:SECRETLOOKINGGARBAGE"])
    assert "GARBAGE" not in str(caught.value)
    with pytest.raises(KeySetError, match="same key twice"):
        parse_key_set([texts[0], texts[0]])
    assert config_value(pub(alice, bob)) == ",".join(texts)


def test_a_key_is_named_by_its_id_in_any_case_or_by_its_public_key(
    alice: AdminPrivateKey,
) -> None:
    public = alice.public_key()
    assert resolve_key_id(public.key_id.upper()) == public.key_id
    assert resolve_key_id(f"  {public.to_text()} ") == public.key_id
    for bad in ("abc", public.key_id + "0", "amanat-admin-pk-v1:nope", "zz" * 8):
        with pytest.raises(KeySetError):
            resolve_key_id(bad)


def test_adding_appends_and_adding_twice_is_a_catch_up(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    change = plan_add(pub(alice, bob), carol.public_key(), holder=alice.public_key())
    assert change.target == pub(alice, bob, carol)
    assert change.notes == ()
    again = plan_add(pub(alice, bob, carol), carol.public_key(), holder=alice.public_key())
    assert again.target == pub(alice, bob, carol)
    assert "already in AMANAT_ADMIN_PUBLIC_KEYS" in again.notes[0]


def test_a_change_that_locks_out_the_admin_running_it_is_refused(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    with pytest.raises(KeySetError, match=f"your key {carol.public_key().key_id} is not in"):
        plan_add(pub(alice), bob.public_key(), holder=carol.public_key())


def test_revoking_removes_the_key_named_by_id_or_public_key(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    current = pub(alice, bob, carol)
    by_id = plan_revoke(current, bob.public_key().key_id, holder=alice.public_key())
    by_text = plan_revoke(current, bob.public_key().to_text(), holder=alice.public_key())
    assert by_id.target == by_text.target == pub(alice, carol)
    unknown = plan_revoke(pub(alice, carol), bob.public_key().key_id, holder=alice.public_key())
    assert unknown.target == pub(alice, carol)
    assert "not in AMANAT_ADMIN_PUBLIC_KEYS" in unknown.notes[0]


def test_revoking_refuses_the_key_in_use_and_the_last_key(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    with pytest.raises(KeySetError, match="the key you are using"):
        plan_revoke(pub(alice, bob), alice.public_key().key_id, holder=alice.public_key())
    with pytest.raises(KeySetError, match="last admin key"):
        plan_revoke(pub(bob), bob.public_key().key_id, holder=alice.public_key())


def test_rotating_replaces_the_old_key_in_place(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    fresh = AdminPrivateKey.generate().public_key()
    change = plan_rotate(pub(alice, bob, carol), bob.public_key(), fresh)
    assert change.target == (alice.public_key(), fresh, carol.public_key())
    both = plan_rotate((*pub(alice, bob), fresh), bob.public_key(), fresh)
    assert both.target == (alice.public_key(), fresh)
    finished = plan_rotate((alice.public_key(), fresh), bob.public_key(), fresh)
    assert finished.target == (alice.public_key(), fresh)
    assert "finishes an earlier rotation" in finished.notes[0]
    with pytest.raises(KeySetError, match="neither your key"):
        plan_rotate(pub(alice), bob.public_key(), fresh)
    with pytest.raises(KeySetError, match="the new key is the old key"):
        plan_rotate(pub(alice), alice.public_key(), alice.public_key())


# --- one report in memory ------------------------------------------------------------------


def apply(report: StoredReport, replacements: dict[tuple[str, int], SealedBlob]) -> StoredReport:
    items = tuple(
        StoredItem(item.kind, item.index, replacements.get((item.kind, item.index), item.blob))
        for item in report.items
    )
    return StoredReport(report.id, report.format_version, report.submitted_on, False, "new", items)


def test_a_report_is_rewrapped_without_touching_content(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    before = stored(new_report("7K3M9Q2X1A", pub(alice, bob)))
    plan = plan_report(before, [alice], pub(alice, carol))
    assert plan.problems == ()
    assert len(plan.replacements) == len(ITEMS)
    for replacement in plan.replacements:
        size = len(plaintext(before.id, replacement.kind, replacement.index))
        assert content(replacement.new, size) == content(replacement.old, size)
        assert replacement.new.data[:2] == replacement.old.data[:2]  # version, 2 recipients
        assert replacement.new.data != replacement.old.data  # fresh wrapped keys
        assert "CANARY" not in repr(replacement)
    after = apply(before, {(r.kind, r.index): r.new for r in plan.replacements})
    assert opens(after, alice)
    assert opens(after, carol)
    assert not opens(after, bob)


def test_items_no_key_opens_are_counted_and_altered_ones_are_not_repaired(
    alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    report = stored(new_report("8H2N4P6R0B", pub(alice, bob)))
    foreign = AdminSealer(pub(carol)).seal_for_admins(
        plaintext(report.id, "narrative", 2), ItemRef(report.id, "narrative", 2)
    )
    answers = report.items[0].blob.data
    altered = SealedBlob(answers[:-1] + bytes([answers[-1] ^ 1]))
    items = (
        StoredItem("answers", 0, altered),
        *report.items[1:],
        StoredItem("narrative", 2, foreign),
    )
    mixed = StoredReport(report.id, 1, report.submitted_on, False, "new", items)
    # Bob's key would open the altered item's data key too: it must still not be rewritten.
    plan = plan_report(mixed, [alice, bob], pub(alice))
    assert plan.problems == ((Problem.NOT_A_RECIPIENT, 1), (Problem.ALTERED, 1))
    assert [(r.kind, r.index) for r in plan.replacements] == [("narrative", 0), ("narrative", 1)]


def test_each_key_is_tried_so_a_resumed_rotation_opens_both_halves(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    done = stored(new_report("0000000001", pub(bob)))
    todo = stored(new_report("0000000002", pub(alice)))
    for report in (done, todo):
        plan = plan_report(report, [alice, bob], pub(bob))
        assert plan.problems == ()
        assert opens(apply(report, {(r.kind, r.index): r.new for r in plan.replacements}), bob)


def test_the_rewrapper_is_chosen_per_item_kind(
    alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    report = stored(new_report("0000000003", pub(alice)))
    asked: list[str] = []

    def choose(kind: str) -> ItemRewrapper:
        asked.append(kind)
        if kind == "answers":
            return rewrap_for_admins

        def refuse(
            blob: SealedBlob,
            ref: ItemRef,
            key: AdminPrivateKey,
            keys: Sequence[AdminPublicKey],
        ) -> SealedBlob:
            raise TamperedCiphertext()

        return refuse

    plan = plan_report(report, [alice], pub(bob), choose=choose)
    assert asked == [kind for kind, _ in ITEMS]
    assert [(r.kind, r.index) for r in plan.replacements] == [("answers", 0)]
    assert plan.problems == ((Problem.ALTERED, 2),)


# --- storage, on both backends -------------------------------------------------------------


async def store(sessions: Sessions, *reports: NewReport) -> None:
    async with unit_of_work(sessions) as session:
        for report in reports:
            await ReportRepository(session).add(report)


async def load(sessions: Sessions, report_id: str) -> StoredReport:
    async with unit_of_work(sessions) as session:
        report = await ReportRepository(session).get(report_id)
    assert report is not None
    return report


async def load_all(sessions: Sessions, ids: Sequence[str]) -> list[StoredReport]:
    return [await load(sessions, report_id) for report_id in ids]


IDS = ("0A00000001", "0A00000002", "0A00000003", "0A00000004", "0A00000005")


async def test_report_ids_come_in_pages_in_id_order(sessions: Sessions) -> None:
    key = AdminPrivateKey.generate()
    await store(sessions, *(new_report(report_id, pub(key)) for report_id in reversed(IDS)))
    async with unit_of_work(sessions) as session:
        reports = ReportRepository(session)
        assert await reports.ids_after(limit=2) == list(IDS[:2])
        assert await reports.ids_after(IDS[1], limit=2) == list(IDS[2:4])
        assert await reports.ids_after(IDS[3], limit=2) == [IDS[4]]
        assert await reports.ids_after(IDS[4]) == []
        with pytest.raises(ValueError, match="limit"):
            await reports.ids_after(limit=0)


async def test_an_item_blob_is_replaced_only_if_it_still_holds_the_expected_one(
    sessions: Sessions,
) -> None:
    key = AdminPrivateKey.generate()
    report = new_report(IDS[0], pub(key))
    await store(sessions, report)
    old = report.items[1].blob
    new = SealedBlob(b"\x01" + secrets.token_bytes(40))
    async with unit_of_work(sessions) as session:
        reports = ReportRepository(session)
        stale = SealedBlob(secrets.token_bytes(40))
        assert not await reports.replace_item_blob(IDS[0], "narrative", 0, new, expected=stale)
        assert not await reports.replace_item_blob(IDS[0], "narrative", 9, new, expected=old)
        assert await reports.replace_item_blob(IDS[0], "narrative", 0, new, expected=old)
        with pytest.raises(TypeError):
            await reports.replace_item_blob(IDS[0], "narrative", 0, new.data, expected=new)  # type: ignore[arg-type]
    after = await load(sessions, IDS[0])
    assert [item.blob for item in after.items] == [
        report.items[0].blob,
        new,
        report.items[2].blob,
    ]


async def test_adding_a_key_lets_it_open_everything_and_the_old_key_still_does(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    await store(sessions, *(new_report(report_id, pub(alice)) for report_id in IDS))
    summary = await rewrap_reports(
        DatabaseRekeyStore(sessions), [alice], pub(alice, bob), execute=True, page_size=2
    )
    assert (summary.reports, summary.rewrapped, summary.problem_reports) == (5, 15, ())
    for report in await load_all(sessions, IDS):
        assert opens(report, alice)
        assert opens(report, bob)


async def test_a_dry_run_counts_and_changes_nothing(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    await store(
        sessions,
        new_report(IDS[0], pub(alice)),
        new_report(IDS[1], pub(carol)),
    )
    before = await load_all(sessions, IDS[:2])
    summary = await rewrap_reports(
        DatabaseRekeyStore(sessions), [alice], pub(alice, bob), execute=False
    )
    assert (summary.reports, summary.rewrapped, summary.unopened) == (2, 3, 3)
    assert summary.problem_reports == (ReportOutcome(IDS[1], 0, ((Problem.NOT_A_RECIPIENT, 3),)),)
    assert await load_all(sessions, IDS[:2]) == before


class Interrupted(Exception):
    """Stands for a crash or a Ctrl-C between two reports."""


async def test_an_interrupted_rotation_leaves_each_report_whole_and_a_rerun_finishes(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    await store(sessions, *(new_report(report_id, pub(alice, bob)) for report_id in IDS))
    new_alice = AdminPrivateKey.generate()
    target = pub(new_alice, bob)
    seen: list[str] = []

    def crash_after_two(outcome: ReportOutcome) -> None:
        seen.append(outcome.report_id)
        if len(seen) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        await rewrap_reports(
            DatabaseRekeyStore(sessions),
            [alice],
            target,
            execute=True,
            after_report=crash_after_two,
            page_size=2,
        )
    reports = await load_all(sessions, IDS)
    assert [opens(r, new_alice) for r in reports] == [True, True, False, False, False]
    assert [opens(r, alice) for r in reports] == [False, False, True, True, True]
    assert all(opens(r, bob) for r in reports)
    # The re-run holds both of the admin's keys: the old one for what is left, the new one
    # for what was done.
    summary = await rewrap_reports(
        DatabaseRekeyStore(sessions), [alice, new_alice], target, execute=True
    )
    assert (summary.reports, summary.rewrapped, summary.unopened) == (5, 15, 0)
    for report in await load_all(sessions, IDS):
        assert opens(report, new_alice)
        assert opens(report, bob)
        assert not opens(report, alice)


async def test_the_run_reports_every_item_it_could_not_rewrap_and_does_the_rest(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey, carol: AdminPrivateKey
) -> None:
    await store(sessions, new_report(IDS[0], pub(alice, carol)), new_report(IDS[1], pub(carol)))
    summary = await rewrap_reports(
        DatabaseRekeyStore(sessions), [alice], pub(alice, bob), execute=True
    )
    assert summary.rewrapped == 3
    assert summary.problem_reports == (ReportOutcome(IDS[1], 0, ((Problem.NOT_A_RECIPIENT, 3),)),)
    first, second = await load_all(sessions, IDS[:2])
    assert opens(first, bob)
    assert not opens(first, carol)
    assert opens(second, carol)
    assert not opens(second, bob)


async def test_attachment_stream_headers_are_rewrapped_and_chunks_untouched(
    sessions: Sessions, alice: AdminPrivateKey, bob: AdminPrivateKey
) -> None:
    """A format-2 report: its file is bound to the draft id its sealed answers name."""
    draft, upload = "d1" * 16, "u1" * 16
    sealer = AdminSealer(pub(alice))
    document = AnswersDocument("en", "2026-11", {}, draft_id=draft, reporter_key=bytes(32))
    answers = sealer.seal_for_admins(encode_answers(document), ItemRef("STREAM0001", "answers", 0))
    report = NewReport(
        id="STREAM0001",
        submitted_on=date(2026, 11, 25),
        urgent=False,
        receipt_hash=secrets.token_bytes(32),
        items=[NewItem("answers", 0, answers)],
        format_version=2,
        reporter_key=bytes(32),
        files=[NewFile(0, upload)],
    )
    data = secrets.token_bytes(150_000)
    ref = ItemRef(draft, ATTACHMENT_KIND, 0)
    sealed = list(seal_stream_for_admins(sealer, ref, [data]))
    async with unit_of_work(sessions) as session:
        for seq, blob in enumerate(sealed):
            await UploadRepository(session).add_chunk(upload, seq, blob, date(2026, 11, 26))
    await store(sessions, report)

    await rewrap_reports(DatabaseRekeyStore(sessions), (alice,), pub(alice, bob), execute=True)
    await rewrap_reports(DatabaseRekeyStore(sessions), (alice,), pub(bob), execute=True)

    async with unit_of_work(sessions) as session:
        chunks = [blob async for blob in UploadRepository(session).chunks(upload)]
    assert chunks[1:] == sealed[1:], "content chunks are never rewritten"
    assert b"".join(open_stream_with_admin_key(chunks[0], chunks[1:], ref, bob)) == data
    with pytest.raises(NotARecipient):
        open_stream_with_admin_key(chunks[0], chunks[1:], ref, alice)
