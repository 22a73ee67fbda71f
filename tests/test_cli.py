"""Test the ``amanat`` command line with Typer's CliRunner on a real, migrated SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.keyfile import AdminPrivateKey, AdminPublicKey
from bot.crypto.sealer import AdminSealer
from bot.crypto.values import ItemRef, SealedBlob
from bot.devtools.devkeys import dev_passphrase_path, ensure_dev_keys, read_dev_passphrase
from bot.settings import Settings
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head
from storage.records import NewFile, NewItem, NewReport, StatRecord
from storage.replies import ReplyNoticeRepository
from storage.repositories import ReportRepository, StatsRepository
from storage.uploads import UploadRepository

FAST_N = 2**10
TEST_PASSPHRASE = "correct horse battery staple"
CANARY_CONTACT = "CANARY-contact-+98-912-000-1111"
CANARY_STORY_1 = "CANARY-story-one: they came at night"
CANARY_STORY_2 = "CANARY-story-two: داستان دوم"
CANARIES = (CANARY_CONTACT, CANARY_STORY_1, CANARY_STORY_2)
REPORT_A = "7K3M9Q2X1A"
REPORT_B = "8H2N4P6R0B"


@dataclass
class World:
    """A migrated database, the settings pointing at it and a CLI built around them."""

    settings: Settings
    key_file: Path
    runner: CliRunner
    config: CliConfig

    def invoke(self, *args: str, input: str | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return self.runner.invoke(
            create_app(self.config),
            list(args),
            input=input,
            env={PASSPHRASE_ENV: None, **(env or {})},
        )

    def run(self, work: Callable[..., object]) -> object:
        async def go() -> object:
            engine = create_engine(self.settings.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as session:
                    return await work(session)  # type: ignore[misc]
            finally:
                await engine.dispose()

        return asyncio.run(go())


@pytest.fixture
def world(
    tmp_path: Path, make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> World:
    settings = make_settings()
    upgrade_to_head(settings.database_url)
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(TEST_PASSPHRASE, scrypt_n=FAST_N))
    config = CliConfig(load_settings=lambda: settings, scrypt_n=FAST_N)
    return World(settings, key_file, CliRunner(), config)


def answers_document(**answers: object) -> bytes:
    document = {"v": 1, "locale": "fa_AF", "month": "2026-11", "answers": answers}
    return json.dumps(document, ensure_ascii=False).encode()


def sealed_report(
    report_id: str,
    sealer: AdminSealer,
    *,
    urgent: bool = False,
    submitted_on: date = date(2026, 11, 25),
    misplace_story: bool = False,
    **answers: object,
) -> NewReport:
    """Seal a report as the bot does; ``misplace_story`` stores an item under the wrong index."""
    answers = answers or {
        "danger_now": "yes" if urgent else "no",
        "incident": "recruit_armed",
        "country": "AF",
        "province": "kabul",
        "offered": ["money", "papers"],
        "consent_statistics": "yes",
    }

    def seal(text: str | bytes, kind: str, index: int) -> SealedBlob:
        data = text.encode() if isinstance(text, str) else text
        return sealer.seal_for_admins(data, ItemRef(report_id, kind, index))

    story_2_index = 0 if misplace_story else 1
    items = [
        NewItem("answers", 0, seal(answers_document(**answers), "answers", 0)),
        NewItem("recruiter_contact", 0, seal(CANARY_CONTACT, "recruiter_contact", 0)),
        NewItem("narrative", 0, seal(CANARY_STORY_1, "narrative", 0)),
        NewItem("narrative", 1, seal(CANARY_STORY_2, "narrative", story_2_index)),
    ]
    return NewReport(
        id=report_id,
        submitted_on=submitted_on,
        urgent=urgent,
        receipt_hash=os.urandom(32),
        items=items,
    )


def store(world: World, *reports: NewReport) -> None:
    async def add(session) -> None:  # type: ignore[no-untyped-def]
        for report in reports:
            await ReportRepository(session).add(report)

    world.run(add)


def assert_no_canary(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text


# --- keys init -----------------------------------------------------------------------------


def test_keys_init_writes_a_0600_key_that_reloads_and_prints_only_the_public_key(
    world: World, tmp_path: Path
) -> None:
    out = tmp_path / "fresh" / "admin.key"
    passphrase = "a long enough passphrase"
    result = world.invoke("keys", "init", "--out", str(out), input=f"{passphrase}\n{passphrase}\n")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    key = AdminPrivateKey.from_file_bytes(out.read_bytes(), passphrase)
    public = key.public_key().to_text()
    assert public in result.stdout
    assert f"AMANAT_ADMIN_PUBLIC_KEYS={public}" in result.stdout
    assert passphrase not in result.output
    assert json.loads(out.read_bytes())["ciphertext"] not in result.output
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def test_keys_init_refuses_to_overwrite_without_force(world: World, tmp_path: Path) -> None:
    out = tmp_path / "admin.key"
    before = out.read_bytes()
    passphrase = "another long passphrase"
    refused = world.invoke("keys", "init", "--out", str(out), input=f"{passphrase}\n{passphrase}\n")
    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert out.read_bytes() == before
    forced = world.invoke(
        "keys", "init", "--out", str(out), "--force", input=f"{passphrase}\n{passphrase}\n"
    )
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() != before
    AdminPrivateKey.from_file_bytes(out.read_bytes(), passphrase)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_keys_init_refuses_a_short_passphrase_and_says_why(world: World, tmp_path: Path) -> None:
    out = tmp_path / "short.key"
    result = world.invoke("keys", "init", "--out", str(out), input="short pass\nshort pass\n")
    assert result.exit_code == 1
    assert "shorter than 12 characters" in result.output
    assert not out.exists()


def test_keys_init_needs_the_same_passphrase_twice(world: World, tmp_path: Path) -> None:
    out = tmp_path / "mismatch.key"
    result = world.invoke(
        "keys", "init", "--out", str(out), input="first long passphrase\nsecond long passphrase\n"
    )
    assert result.exit_code != 0
    assert not out.exists()


# --- admin show ----------------------------------------------------------------------------


def test_admin_show_decrypts_every_item_with_labels(
    world: World, admin_key: AdminPrivateKey
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()]), urgent=True))
    result = world.invoke(
        "admin",
        "show",
        REPORT_A.lower(),
        "--key",
        str(world.key_file),
        input=f"{TEST_PASSPHRASE}\n",
    )
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Report id: {REPORT_A}" in out
    assert "URGENT" in out
    assert "Submitted: 25 November 2026" in out
    assert "Status: New" in out
    assert "Language of the reporter: دری" in out
    assert "What happened: Asked to fight abroad or join an armed group" in out
    assert "Country: Afghanistan" in out
    assert "Province: Kabul" in out
    assert "Offered or demanded: Money, Papers or residency" in out
    assert "Agrees to be counted: Yes" in out
    assert CANARY_CONTACT in out
    assert out.index(CANARY_STORY_1) < out.index(CANARY_STORY_2)
    assert TEST_PASSPHRASE not in result.output


def test_admin_show_in_dari(world: World, admin_key: AdminPrivateKey) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    result = world.invoke(
        "admin",
        "show",
        REPORT_A,
        "--key",
        str(world.key_file),
        "--lang",
        "fa_AF",
        input=f"{TEST_PASSPHRASE}\n",
    )
    assert result.exit_code == 0, result.output
    assert "۴ قوس ۱۴۰۵" in result.stdout  # 25 November 2026
    assert "کابل" in result.stdout
    assert "Afghanistan" not in result.stdout


def test_admin_show_reads_the_passphrase_from_the_environment(
    world: World, admin_key: AdminPrivateKey
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    result = world.invoke(
        "admin",
        "show",
        REPORT_A,
        "--key",
        str(world.key_file),
        env={PASSPHRASE_ENV: TEST_PASSPHRASE},
    )
    assert result.exit_code == 0, result.output
    assert CANARY_STORY_1 in result.stdout
    assert "Passphrase" not in result.output


def test_a_wrong_passphrase_exits_1_without_any_plaintext(
    world: World, admin_key: AdminPrivateKey
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    result = world.invoke(
        "admin", "show", REPORT_A, "--key", str(world.key_file), input="not the passphrase\n"
    )
    assert result.exit_code == 1
    assert "wrong passphrase" in result.output
    assert_no_canary(result.output)
    assert "Kabul" not in result.output


@pytest.mark.parametrize(
    ("report_id", "message"),
    [("8H2N4P6R0B", "no report with id 8H2N4P6R0B"), ("not-an-id", "not a report id")],
)
def test_an_unknown_or_malformed_id_exits_1(
    world: World, admin_key: AdminPrivateKey, report_id: str, message: str
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    result = world.invoke(
        "admin", "show", report_id, "--key", str(world.key_file), input=f"{TEST_PASSPHRASE}\n"
    )
    assert result.exit_code == 1
    assert message in result.output
    assert_no_canary(result.output)


def test_a_misplaced_item_fails_the_whole_report_and_shows_nothing(
    world: World, admin_key: AdminPrivateKey
) -> None:
    sealer = AdminSealer([admin_key.public_key()])
    store(world, sealed_report(REPORT_A, sealer, misplace_story=True))
    result = world.invoke(
        "admin", "show", REPORT_A, "--key", str(world.key_file), input=f"{TEST_PASSPHRASE}\n"
    )
    assert result.exit_code == 1
    assert "narrative #1" in result.output
    assert "ALTERED" in result.output
    assert_no_canary(result.output)
    assert "Asked to fight" not in result.output


def test_a_report_sealed_to_another_admin_is_refused(world: World) -> None:
    other = AdminPrivateKey.generate()
    store(world, sealed_report(REPORT_A, AdminSealer([other.public_key()])))
    result = world.invoke(
        "admin", "show", REPORT_A, "--key", str(world.key_file), input=f"{TEST_PASSPHRASE}\n"
    )
    assert result.exit_code == 1
    assert "not sealed to this key" in result.output


def test_reporter_text_cannot_drive_the_admin_terminal(
    world: World, admin_key: AdminPrivateKey
) -> None:
    sealer = AdminSealer([admin_key.public_key()])
    report = sealed_report(REPORT_A, sealer)
    hostile = "evil\x1b[2J\x1b]0;title\x07 \u202egnp.exe"
    items = [
        *[i for i in report.items if i.kind != "narrative"],
        NewItem(
            "narrative",
            0,
            sealer.seal_for_admins(hostile.encode(), ItemRef(REPORT_A, "narrative", 0)),
        ),
    ]
    store(world, NewReport(REPORT_A, report.submitted_on, False, report.receipt_hash, items))
    result = world.invoke(
        "admin", "show", REPORT_A, "--key", str(world.key_file), input=f"{TEST_PASSPHRASE}\n"
    )
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "evil<U+001B>[2J<U+001B>]0;title<U+0007> <U+202E>gnp.exe" in result.stdout


def test_the_development_key_is_the_default_and_its_passphrase_file_is_named(
    world: World, make_settings: Callable[..., Settings]
) -> None:
    bare = make_settings(admin_public_keys=(), server_secret=None)
    dev = ensure_dev_keys(bare, scrypt_n=FAST_N)
    dev_key_public = dev.admin_public_keys[0]
    sealer = AdminSealer([AdminPublicKey.from_text(dev_key_public)])
    store(world, sealed_report(REPORT_A, sealer))
    passphrase = read_dev_passphrase(dev_passphrase_path(dev))
    cli = World(dev, world.key_file, world.runner, CliConfig(load_settings=lambda: dev))
    result = cli.invoke("admin", "show", REPORT_A, input=f"{passphrase}\n")
    assert result.exit_code == 0, result.output
    assert f"development passphrase is in {dev_passphrase_path(dev)}" in result.output
    assert CANARY_STORY_1 in result.stdout
    assert passphrase not in result.output


# --- admin queue ---------------------------------------------------------------------------


def test_admin_queue_lists_urgent_first_with_decrypted_fields(
    world: World, admin_key: AdminPrivateKey
) -> None:
    sealer = AdminSealer([admin_key.public_key()])
    store(
        world,
        sealed_report(REPORT_A, sealer, submitted_on=date(2026, 11, 26)),
        sealed_report(REPORT_B, sealer, urgent=True, submitted_on=date(2026, 11, 20)),
    )
    result = world.invoke(
        "admin", "queue", "--key", str(world.key_file), input=f"{TEST_PASSPHRASE}\n"
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if REPORT_A in line or REPORT_B in line]
    assert REPORT_B in lines[0]
    assert lines[0].startswith("URGENT")
    assert "20 November 2026" in lines[0]
    assert "Asked to fight abroad or join an armed group" in lines[1]
    assert "Afghanistan / Kabul" in lines[1]
    assert " 3 " in lines[1]  # the contact and two story messages; not the answers document
    assert "Messages and files" in result.stdout  # the column says what it counts
    assert not lines[1].startswith("URGENT")
    assert_no_canary(result.output)
    noted = world.invoke(
        "admin", "note", REPORT_A, "--key", str(world.key_file),
        input=f"{TEST_PASSPHRASE}\ncalled back\n",
    )  # fmt: skip
    assert noted.exit_code == 0, noted.output
    again = world.invoke(
        "admin", "queue", "--key", str(world.key_file), input=f"{TEST_PASSPHRASE}\n"
    )
    [line] = [line for line in again.stdout.splitlines() if REPORT_A in line]
    assert " 3 " in line  # the team's note does not count as something the reporter sent


def test_admin_queue_without_decrypting_needs_no_passphrase(
    world: World, admin_key: AdminPrivateKey
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    result = world.invoke("admin", "queue", "--no-decrypt")
    assert result.exit_code == 0, result.output
    assert REPORT_A in result.stdout
    assert "25 November 2026" in result.stdout
    assert "Passphrase" not in result.output
    assert "Asked to fight" not in result.stdout


def test_admin_queue_filters_by_status(world: World, admin_key: AdminPrivateKey) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    closed = world.invoke("admin", "queue", "--no-decrypt", "--status", "closed")
    assert closed.exit_code == 0, closed.output
    assert REPORT_A not in closed.stdout
    assert "No reports." in closed.stdout
    new = world.invoke("admin", "queue", "--no-decrypt", "--status", "new")
    assert REPORT_A in new.stdout


def test_admin_queue_marks_an_altered_report_and_exits_1(
    world: World, admin_key: AdminPrivateKey
) -> None:
    sealer = AdminSealer([admin_key.public_key()])
    good = sealed_report(REPORT_A, sealer)
    swapped = sealed_report(REPORT_B, sealer)
    # REPORT_B's answers replaced by REPORT_A's: valid ciphertext, wrong row.
    items = [good.items[0], *swapped.items[1:]]
    store(world, good, NewReport(REPORT_B, swapped.submitted_on, False, os.urandom(32), items))
    result = world.invoke(
        "admin", "queue", "--key", str(world.key_file), input=f"{TEST_PASSPHRASE}\n"
    )
    assert result.exit_code == 1, result.output
    row_b = next(line for line in result.stdout.splitlines() if REPORT_B in line)
    assert "ALTERED" in row_b
    row_a = next(line for line in result.stdout.splitlines() if REPORT_A in line)
    assert "Kabul" in row_a


def test_admin_queue_in_pashto_uses_pashto_digits_and_calendar(
    world: World, admin_key: AdminPrivateKey
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    result = world.invoke(
        "admin", "queue", "--key", str(world.key_file), "--lang", "ps", input=f"{TEST_PASSPHRASE}\n"
    )
    assert result.exit_code == 0, result.output
    assert "۴ لیندۍ (قوس) ۱۴۰۵" in result.stdout


# --- digest preview ------------------------------------------------------------------------


def add_stats(world: World, records: list[StatRecord]) -> None:
    async def add(session) -> None:  # type: ignore[no-untyped-def]
        await StatsRepository(session).add_batch(records)

    world.run(add)


def stat_record(
    category: str, country: str, province: str | None, month: str = "2026-11"
) -> StatRecord:
    return StatRecord(category, "foreign_military", country, province, month, "not_urgent", "yes")


def test_digest_preview_hides_small_cells_with_their_complements(world: World) -> None:
    add_stats(
        world,
        [
            *[stat_record("recruit_armed", "AF", "kabul") for _ in range(12)],
            *[stat_record("false_job", "IR", "tehran") for _ in range(2)],
            *[stat_record("taliban_threat", "AF", "herat", "2026-10") for _ in range(6)],
            *[stat_record("other", "PK", None, "2026-10") for _ in range(7)],
        ],
    )
    result = world.invoke("digest", "preview")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Reports counted (the reporter agreed): 27" in out
    assert "  Approached to fight abroad or join an armed group: 12" in out
    assert "  A job offer abroad that looked false: *" in out
    assert "  Threats, searches or arrest by the Taliban: *" in out
    assert "  Iran: *" in out
    assert "  Kabul: 12" in out
    assert "fewer than 5 reports" in out


def test_digest_preview_refuses_a_k_below_the_configured_one(world: World) -> None:
    result = world.invoke("digest", "preview", "--k", "3")
    assert result.exit_code == 1
    assert "at least 5" in result.output
    stricter = world.invoke("digest", "preview", "--k", "8")
    assert stricter.exit_code == 0, stricter.output
    assert "Fewer than 8 reports" in stricter.stdout


# --- purge ---------------------------------------------------------------------------------


def test_purge_counts_by_default_and_deletes_only_with_execute(
    world: World, admin_key: AdminPrivateKey
) -> None:
    today = datetime.now(UTC).date()
    past, future = today - timedelta(days=1), today + timedelta(days=1)
    claimed = "c1" * 16
    store(
        world,
        dataclasses.replace(
            sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])),
            files=[NewFile(0, claimed)],
        ),
    )

    async def seed(session) -> None:  # type: ignore[no-untyped-def]
        uploads = UploadRepository(session)
        await uploads.add_chunk("a1" * 16, 0, SealedBlob(b"abandoned"), past)
        await uploads.add_chunk("a1" * 16, 1, SealedBlob(b"abandoned"), past)
        await uploads.add_chunk("f1" * 16, 0, SealedBlob(b"in a draft still"), future)
        await uploads.add_chunk(claimed, 0, SealedBlob(b"a report's file"), past)
        await ReplyNoticeRepository(session).add(REPORT_A, b"locked", past)

    world.run(seed)
    for _ in range(2):
        dry = world.invoke("purge")
        assert dry.exit_code == 0, dry.output
        assert "would delete 2 chunks of files no report claimed and 1 expired" in dry.stdout
    key = ("--key", str(world.key_file))
    done = world.invoke("purge", "--execute", *key, input=f"{TEST_PASSPHRASE}\n")
    assert done.exit_code == 0, done.output
    assert "deleted 2 chunks of files no report claimed and 1 expired" in done.stdout
    assert "would delete 0 chunks" in world.invoke("purge").stdout

    async def remaining(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        uploads = UploadRepository(session)
        return await uploads.total_chunks("f1" * 16), await uploads.total_chunks(claimed)

    assert world.run(remaining) == (1, 1)
    listed = world.invoke("audit", "list")
    assert listed.exit_code == 0, listed.output
    [line] = listed.stdout.splitlines()  # the dry runs changed nothing, so they are not logged
    assert admin_key.public_key().key_id in line
    assert "purge" in line
    assert "2 chunks, 1 notices" in line


def test_a_decrypted_queue_page_is_logged_and_a_bare_one_is_not(
    world: World, admin_key: AdminPrivateKey
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    bare = world.invoke("admin", "queue", "--no-decrypt")
    assert bare.exit_code == 0, bare.output
    assert "No admin actions logged yet." in world.invoke("audit", "list").stdout
    opened = world.invoke(
        "admin", "queue", "--status", "new", "--key", str(world.key_file),
        input=f"{TEST_PASSPHRASE}\n",
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output
    listed = world.invoke("audit", "list").stdout
    assert admin_key.public_key().key_id in listed
    assert "queue" in listed
    assert "new 0+1" in listed


def test_marking_a_report_changes_its_status_and_is_logged(
    world: World, admin_key: AdminPrivateKey
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    key = ("--key", str(world.key_file))
    done = world.invoke(
        "admin", "mark", REPORT_A.lower(), "closed", *key, input=f"{TEST_PASSPHRASE}\n"
    )
    assert done.exit_code == 0, done.output
    assert f"Report {REPORT_A} is now closed." in done.stdout
    closed = world.invoke("admin", "queue", "--no-decrypt", "--status", "closed")
    assert REPORT_A in closed.stdout
    assert REPORT_A not in world.invoke("admin", "queue", "--no-decrypt", "--status", "new").stdout
    missing = world.invoke("admin", "mark", REPORT_B, "claimed", *key, input=f"{TEST_PASSPHRASE}\n")
    assert missing.exit_code == 1
    assert f"no report {REPORT_B}" in missing.output
    bad = world.invoke("admin", "mark", REPORT_A, "finished", *key)
    assert bad.exit_code == 2  # Typer names the allowed values
    listed = world.invoke("audit", "list").stdout
    assert f"status   {REPORT_A} closed" in listed


def test_claim_takes_the_urgent_report_first_and_shows_it(
    world: World, admin_key: AdminPrivateKey
) -> None:
    sealer = AdminSealer([admin_key.public_key()])
    store(world, sealed_report(REPORT_A, sealer, submitted_on=date(2026, 11, 1)))
    store(world, sealed_report(REPORT_B, sealer, urgent=True))
    key = ("--key", str(world.key_file))
    first = world.invoke("admin", "claim", *key, input=f"{TEST_PASSPHRASE}\n")
    assert first.exit_code == 0, first.output
    assert REPORT_B in first.stdout
    assert CANARY_STORY_1 in first.stdout  # shown, decrypted on this machine
    second = world.invoke("admin", "claim", *key, input=f"{TEST_PASSPHRASE}\n")
    assert REPORT_A in second.stdout
    none_left = world.invoke("admin", "claim", *key, input=f"{TEST_PASSPHRASE}\n")
    assert "No new reports" in none_left.stdout
    listed = world.invoke("audit", "list").stdout
    assert f"claim    {REPORT_B}" in listed
    assert f"claim    {REPORT_A}" in listed
    given_back = world.invoke("admin", "release", REPORT_A, *key, input=f"{TEST_PASSPHRASE}\n")
    assert given_back.exit_code == 0, given_back.output
    assert f"Report {REPORT_A} is back in the queue as new." in given_back.stdout
    again = world.invoke("admin", "release", REPORT_A, *key, input=f"{TEST_PASSPHRASE}\n")
    assert again.exit_code == 1
    assert "only a claimed report can be given back" in again.output
    assert REPORT_A in world.invoke("admin", "claim", *key, input=f"{TEST_PASSPHRASE}\n").stdout
    assert f"release  {REPORT_A}" in world.invoke("audit", "list").stdout


def test_team_notes_are_sealed_shown_to_admins_and_logged(
    world: World, admin_key: AdminPrivateKey
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    key = ("--key", str(world.key_file))
    note = "CANARY-note: called the partner, waiting"
    note_file = world.key_file.parent / "note.txt"
    note_file.write_text(note + "\n", encoding="utf-8")
    added = world.invoke(
        "admin", "note", REPORT_A, "--from-file", str(note_file), *key,
        input=f"{TEST_PASSPHRASE}\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert f"Note 1 added to report {REPORT_A}" in added.stdout
    assert note not in added.stdout

    async def stored_note(session) -> bytes:  # type: ignore[no-untyped-def]
        report = await ReportRepository(session).get(REPORT_A)
        return next(i.blob.data for i in report.items if i.kind == "note")

    assert note.encode() not in world.run(stored_note)  # sealed, like every item
    shown = world.invoke("admin", "show", REPORT_A, "--lang", "ps", *key,
                         input=f"{TEST_PASSPHRASE}\n")  # fmt: skip
    assert "د ټیم یادښتونه (راپور ورکوونکی یې هېڅکله نه ویني):" in shown.stdout
    assert note in shown.stdout
    key_id = admin_key.public_key().key_id
    isolated = f"\u2068{key_id}\u2069"  # values stand apart from right-to-left text
    assert f"د ټیم د هغه غړي لیکنه چې کیلي یې {isolated} ده" in shown.stdout  # from the chain
    too_long = world.invoke(
        "admin", "note", REPORT_A, *key, input=f"{TEST_PASSPHRASE}\n" + "x" * 3501
    )
    assert too_long.exit_code == 1
    assert "a note has 1 to" in too_long.output
    typed = world.invoke("admin", "note", REPORT_A, *key, input=f"{TEST_PASSPHRASE}\nby hand\n")
    assert typed.exit_code == 0, typed.output
    assert f"Note 2 added to report {REPORT_A}" in typed.stdout
    assert f"note     {REPORT_A}" in world.invoke("audit", "list").stdout


def test_a_closed_report_takes_no_note_or_answer_until_reopened(
    world: World, admin_key: AdminPrivateKey
) -> None:
    store(world, sealed_report(REPORT_A, AdminSealer([admin_key.public_key()])))
    key = ("--key", str(world.key_file))
    closed = world.invoke("admin", "mark", REPORT_A, "closed", *key, input=f"{TEST_PASSPHRASE}\n")
    assert closed.exit_code == 0, closed.output
    for command in ("note", "reply"):
        refused = world.invoke(
            "admin", command, REPORT_A, *key, input=f"{TEST_PASSPHRASE}\nanything\n"
        )
        assert refused.exit_code == 1, command
        assert f"report {REPORT_A} is closed: reopen it first with" in refused.output
    world.invoke("admin", "mark", REPORT_A, "claimed", *key, input=f"{TEST_PASSPHRASE}\n")
    reopened = world.invoke("admin", "note", REPORT_A, *key, input=f"{TEST_PASSPHRASE}\nback\n")
    assert reopened.exit_code == 0, reopened.output


# --- configuration, database, catalogs -----------------------------------------------------


def test_db_upgrade_creates_the_schema(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(database_url=f"sqlite:///{tmp_path / 'new.db'}")
    app = create_app(CliConfig(load_settings=lambda: settings))
    runner = CliRunner()
    missing = runner.invoke(app, ["admin", "queue", "--no-decrypt"])
    assert missing.exit_code == 1
    assert "no database at" in missing.output
    assert not (tmp_path / "new.db").exists()
    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    queue = runner.invoke(app, ["admin", "queue", "--no-decrypt"])
    assert queue.exit_code == 0, queue.output
    assert "No reports." in queue.stdout


def test_invalid_settings_are_reported_without_their_values() -> None:
    secret = "SECRETVALUE-not-base64!"

    def load() -> Settings:
        return Settings(_env_file=None, server_secret=secret)  # type: ignore[call-arg]

    result = CliRunner().invoke(create_app(CliConfig(load_settings=load)), ["purge"])
    assert result.exit_code == 2
    assert "error: AMANAT_SERVER_SECRET: must be base64" in result.output
    assert secret not in result.output


def test_i18n_compile_writes_the_catalogs(tmp_path: Path, locales_dir: Path) -> None:
    copy = Path(shutil.copytree(locales_dir, tmp_path / "locales"))
    for mo in copy.glob("*/LC_MESSAGES/*.mo"):
        mo.unlink()
    result = CliRunner().invoke(create_app(), ["i18n", "compile", str(copy)])
    assert result.exit_code == 0, result.output
    assert (copy / "fa_AF" / "LC_MESSAGES" / "messages.mo").is_file()
    assert (copy / "ps" / "LC_MESSAGES" / "messages.mo").is_file()


def test_run_starts_the_simulator_with_development_keys_and_a_quiet_httpx(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(admin_public_keys=(), server_secret=None)
    root, httpx = logging.getLogger(), logging.getLogger("httpx")
    levels = (root.level, httpx.level)
    try:
        result = CliRunner().invoke(
            create_app(CliConfig(load_settings=lambda: settings)),
            ["run", "--simulator"],  # stdin is a pipe here, not a terminal
            input="/start\n/quit\n",
        )
        assert httpx.getEffectiveLevel() >= logging.WARNING
    finally:
        root.setLevel(levels[0])
        httpx.setLevel(levels[1])
    assert result.exit_code == 0, result.output
    assert "Please choose your language." in result.output
    assert (settings.data_dir / "dev-admin.key").is_file()
    assert "/bot" not in result.output  # no request URL, which would carry the token


def test_admin_actions_are_chained_and_an_edit_is_caught(
    world: World, admin_key: AdminPrivateKey
) -> None:
    sealer = AdminSealer([admin_key.public_key()])
    store(world, sealed_report(REPORT_A, sealer))
    for _ in range(2):
        shown = world.invoke(
            "admin", "show", REPORT_A, "--key", str(world.key_file), input=f"{TEST_PASSPHRASE}\n"
        )
        assert shown.exit_code == 0, shown.output
    verified = world.invoke("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "2 entries, chain intact." in verified.stdout
    assert "Signed: 2 of 2" in verified.stdout  # by the admin key, checked against the setting
    head = next(line for line in verified.stdout.splitlines() if line.startswith("Head: "))
    assert world.invoke("audit", "verify", "--expect-head", head[6:]).exit_code == 0

    async def tamper(session) -> None:  # type: ignore[no-untyped-def]
        await session.execute(text("UPDATE audit_log SET subject = 'OTHER' WHERE seq = 1"))

    world.run(tamper)
    broken = world.invoke("audit", "verify")
    assert broken.exit_code == 1
    assert "the audit log does not verify: entry 1 was changed" in broken.output
    # More attacks, each with every hash recomputed: tests/test_cli_audit.py.
