"""Test the hash-chained audit log: appends on both backends, and every kind of tampering."""

from __future__ import annotations

import dataclasses
from datetime import date

from bot.crypto.audit import GENESIS, AuditEntry, entry_hash, verify


def chain(count: int) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    previous = GENESIS
    for seq in range(1, count + 1):
        fields = (date(2026, 11, 25), "a1b2c3d4e5f60718", "show", f"REPORT{seq:04d}")
        digest = entry_hash(previous, seq, *fields)
        entries.append(AuditEntry(seq, *fields, previous, digest))
        previous = digest
    return entries


def test_an_intact_chain_verifies_and_names_its_head() -> None:
    entries = chain(5)
    verdict = verify(entries)
    assert verdict.problem is None
    assert verdict.entries == 5
    assert verdict.head == entries[-1].hash
    assert verify([]).problem is None


def test_an_edit_is_caught() -> None:
    entries = chain(5)
    entries[2] = dataclasses.replace(entries[2], subject="OTHERREPRT")
    assert verify(entries).problem == "entry 3 was changed"


def test_a_deletion_is_caught() -> None:
    entries = chain(5)
    del entries[1]
    assert verify(entries).problem == "entry 2 is missing or out of order"


def test_a_reordering_is_caught() -> None:
    entries = chain(5)
    entries[1], entries[2] = entries[2], entries[1]
    assert verify(entries).problem is not None


def test_a_renumbered_chain_with_a_gap_closed_is_caught() -> None:
    entries = chain(5)
    del entries[1]
    renumbered = [dataclasses.replace(e, seq=i) for i, e in enumerate(entries, start=1)]
    assert verify(renumbered).problem is not None
