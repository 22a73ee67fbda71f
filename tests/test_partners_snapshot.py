"""Test the snapshot a month's digests are rendered from, and the audit rules that pin it."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.crypto.errors import TamperedCiphertext
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import ItemRef
from bot.partners.months import Month, PartnerDigestError
from bot.partners.rekey import rewrap_snapshots
from bot.partners.snapshot import (
    FirstIssue,
    decode_snapshot,
    digest_subject,
    drift,
    encode_snapshot,
    first_issue,
    require_pinned,
    snapshot_pin,
    snapshot_ref,
)
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head_async
from storage.records import StatRecord
from storage.snapshots import DigestSnapshotRepository

OCTOBER = Month.parse("2026-10")


def record(category: str, province: str | None = "kabul", month: str = "2026-10") -> StatRecord:
    return StatRecord(category, "foreign_military", "AF", province, month, "not_urgent", "yes")


RECORDS = [
    *[record("recruit_armed") for _ in range(4)],
    record("false_job", "herat"),
    record("false_job", None),
    record("taliban_threat", "balkh"),
]


@dataclass(frozen=True)
class Entry:
    action: str
    subject: str


def test_a_snapshot_keeps_no_arrival_order() -> None:
    shuffled = list(RECORDS)
    random.Random(7).shuffle(shuffled)
    assert encode_snapshot(OCTOBER, shuffled) == encode_snapshot(OCTOBER, RECORDS)


def test_a_snapshot_is_canonical_json_of_the_coarse_fields() -> None:
    data = encode_snapshot(OCTOBER, [record("false_job", None)])
    assert data == (
        b'{"format":1,"month":"2026-10","records":[{"category":"false_job","country":"AF",'
        b'"former_forces":"yes","month":"2026-10","party":"foreign_military","province":null,'
        b'"urgency":"not_urgent"}]}'
    )


def test_a_snapshot_reads_back_as_the_same_records() -> None:
    data = encode_snapshot(OCTOBER, RECORDS)
    assert sorted(map(repr, decode_snapshot(OCTOBER, data))) == sorted(map(repr, RECORDS))
    assert decode_snapshot(OCTOBER, encode_snapshot(OCTOBER, [])) == []


def test_a_snapshot_holds_its_own_month_only() -> None:
    with pytest.raises(PartnerDigestError, match="records of 2026-10 only"):
        encode_snapshot(OCTOBER, [record("false_job", month="2026-09")])
    with pytest.raises(PartnerDigestError, match="not in a format"):
        decode_snapshot(Month.parse("2026-09"), encode_snapshot(OCTOBER, RECORDS))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        b"[]",
        b'{"format":2,"month":"2026-10","records":[]}',
        b'{"format":1,"month":"2026-10","records":[],"k":5}',
        b'{"format":1,"month":"2026-10","records":[{"category":"x"}]}',
        b'{"format": 1, "month": "2026-10", "records": []}',  # not canonical
        b'{"format":1,"month":"2026-10","records":[{"category":"false_job","country":"AF",'
        b'"former_forces":"yes","month":"2026-10-31","party":"foreign_military","province":null,'
        b'"urgency":"not_urgent"}]}',  # a day is never a month
    ],
)
def test_anything_the_encoder_would_not_write_is_refused(data: bytes) -> None:
    with pytest.raises(PartnerDigestError) as caught:
        decode_snapshot(OCTOBER, data)
    assert "2026-10-31" not in str(caught.value)


def test_unsorted_records_are_refused() -> None:
    document = json.loads(encode_snapshot(OCTOBER, RECORDS))
    document["records"].reverse()
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    with pytest.raises(PartnerDigestError):
        decode_snapshot(OCTOBER, data)


def test_a_snapshot_sealed_for_one_month_opens_for_that_month_only(
    admin_key: AdminPrivateKey,
) -> None:
    data = encode_snapshot(OCTOBER, RECORDS)
    sealed = AdminSealer([admin_key.public_key()]).seal_for_admins(data, snapshot_ref(OCTOBER))
    assert snapshot_ref(OCTOBER) == ItemRef("digest-2026-10", "digest_snapshot", 0)
    assert open_with_admin_key(sealed, snapshot_ref(OCTOBER), admin_key) == data
    with pytest.raises(TamperedCiphertext):
        open_with_admin_key(sealed, snapshot_ref(Month.parse("2026-11")), admin_key)


def test_the_pin_is_the_start_of_the_sha256() -> None:
    assert snapshot_pin(b"") == "e3b0c44298fc1c149afbf4c8996fb924"
    assert digest_subject("geneva", OCTOBER, "ab" * 16) == f"geneva:2026-10 {'ab' * 16}"


def test_the_earliest_digest_entry_of_the_month_pins_it() -> None:
    entries = [
        Entry("show", "2026-10 abc"),
        Entry("digest", f"geneva:2026-09 {'9' * 32}"),
        Entry("digest", f"geneva:2026-10 {'1' * 32}"),
        Entry("digest", f"oslo:2026-10 {'2' * 32}"),
    ]
    assert first_issue(entries, OCTOBER) == FirstIssue("1" * 32)
    assert first_issue(entries, Month.parse("2026-09")) == FirstIssue("9" * 32)
    assert first_issue(entries, Month.parse("2026-11")) is None
    assert first_issue([Entry("digest", "geneva:2026-10")], OCTOBER) == FirstIssue(None)


def test_only_the_pinned_snapshot_passes() -> None:
    pin = "1" * 32
    require_pinned(OCTOBER, None, None)  # never issued: take the first snapshot
    require_pinned(OCTOBER, FirstIssue(pin), pin)
    with pytest.raises(PartnerDigestError, match="it was replaced"):
        require_pinned(OCTOBER, FirstIssue(pin), "2" * 32)
    with pytest.raises(PartnerDigestError, match="it was deleted"):
        require_pinned(OCTOBER, FirstIssue(pin), None)
    with pytest.raises(PartnerDigestError, match="no digest of 2026-10 in the audit log pins"):
        require_pinned(OCTOBER, None, pin)
    with pytest.raises(PartnerDigestError, match="before digests kept a snapshot"):
        require_pinned(OCTOBER, FirstIssue(None), None)


def test_drift_counts_late_and_missing_records_as_multisets() -> None:
    late = record("taliban_threat", "balkh")
    assert drift(RECORDS, RECORDS).line(OCTOBER) is None
    assert drift(RECORDS, [*RECORDS, late, late]).late == 2
    moved = drift(RECORDS, [*RECORDS[1:], late])
    assert (moved.late, moved.gone) == (1, 1)
    line = moved.line(OCTOBER)
    assert line is not None
    assert line.startswith("note: 1 record of 2026-10 arrived after 2026-10 was first issued")
    assert "1 record in the snapshot is no longer stored" in line


async def test_a_key_change_rewraps_every_snapshot_and_keeps_its_pin(tmp_path: Path) -> None:
    """An admin added later can issue an old month again; the pin in the chain still holds."""
    alice, bob, carol = (AdminPrivateKey.generate() for _ in range(3))
    url = f"sqlite+aiosqlite:///{tmp_path / 'amanat.db'}"
    await upgrade_to_head_async(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    month = Month.parse("2026-10")
    plaintext = encode_snapshot(month, [record("recruit_armed")])
    sealed = AdminSealer([alice.public_key()]).seal_for_admins(plaintext, snapshot_ref(month))
    foreign = AdminSealer([carol.public_key()]).seal_for_admins(
        encode_snapshot(Month.parse("2026-09"), []), snapshot_ref(Month.parse("2026-09"))
    )
    try:
        async with unit_of_work(sessions) as session:
            assert await DigestSnapshotRepository(session).add("2026-10", sealed)
            assert await DigestSnapshotRepository(session).add("2026-09", foreign)
        target = [alice.public_key(), bob.public_key()]
        assert await rewrap_snapshots(sessions, [alice], target, execute=False) == (1, ["2026-09"])
        async with unit_of_work(sessions) as session:
            assert await DigestSnapshotRepository(session).get("2026-10") == sealed  # dry run
        assert await rewrap_snapshots(sessions, [alice], target, execute=True) == (1, ["2026-09"])
        async with unit_of_work(sessions) as session:
            stored = await DigestSnapshotRepository(session).get("2026-10")
    finally:
        await engine.dispose()
    assert stored is not None
    opened = open_with_admin_key(stored, snapshot_ref(month), bob)
    assert snapshot_pin(opened) == snapshot_pin(plaintext)
