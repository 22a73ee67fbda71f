"""Test partner digests end to end: one settled month, sealed to the partner's age key.

The partner's side is played by ``pyrage``, the binding of ``rage``: what a partner runs as
``age -d -i key.txt FILE``. Nothing here opens a digest with Amanat's own code. Every digest of
a month renders the snapshot its first issue took; a database writer who deletes or replaces
that snapshot is refused by the hash the audit chain recorded.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import re
import stat
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest
from click.testing import Result
from pydantic import ValidationError
from sqlalchemy import delete, update
from typer.testing import CliRunner

from bot.cli.common import PASSPHRASE_ENV, CliConfig, audit
from bot.cli.main import create_app
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer
from bot.partners.months import Month, settled_from
from bot.partners.snapshot import (
    PIN_HEX_DIGITS,
    digest_subject,
    encode_pinned_snapshot,
    encode_snapshot,
    snapshot_pin,
    snapshot_ref,
)
from bot.settings import Partner, Settings
from storage.audit import AuditRepository
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head
from storage.models import DigestSnapshotRow
from storage.records import AUDIT_SUBJECT_MAX, StatRecord
from storage.repositories import StatsRepository
from tests.api_support import admin_laptop, api_in_a_thread

FAST_N = 2**10
PASSPHRASE = "correct horse battery staple"
OCTOBER_SETTLED = date(2026, 11, 8)


@dataclass
class Partners:
    """A migrated database with statistics, two partners, and a CLI around them."""

    settings: Settings
    key_file: Path
    kabul: pyrage.x25519.Identity
    geneva: pyrage.x25519.Identity
    oslo: pyrage.x25519.Identity
    admin_key: AdminPrivateKey
    today: list[date]
    laptop: Settings | None = None
    """What the admin's commands read: the server's settings, or ones naming only the API."""

    def invoke(self, *args: str, key: bool = True):  # type: ignore[no-untyped-def]
        laptop = self.laptop or self.settings
        config = CliConfig(
            load_settings=lambda: laptop, scrypt_n=FAST_N, today=lambda: self.today[0]
        )
        return CliRunner().invoke(
            create_app(config),
            [*args, *(("--key", str(self.key_file)) if key else ())],
            env={PASSPHRASE_ENV: PASSPHRASE},
        )

    def add(self, records: list[StatRecord]) -> None:
        """Store a batch of records, as the intake releases them."""

        async def go() -> None:
            engine = create_engine(self.settings.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as session:
                    await StatsRepository(session).add_batch(records)
            finally:
                await engine.dispose()

        asyncio.run(go())

    def write_snapshot(self, month: str, blob: bytes | None) -> None:
        """Play a database writer: replace a month's sealed snapshot, or delete it (None)."""

        async def go() -> None:
            engine = create_engine(self.settings.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as session:
                    where = DigestSnapshotRow.month == month
                    if blob is None:
                        await session.execute(delete(DigestSnapshotRow).where(where))
                    else:
                        await session.execute(
                            update(DigestSnapshotRow).where(where).values(blob=blob)
                        )
            finally:
                await engine.dispose()

        asyncio.run(go())

    def append_audit(self, action: str, subject: str) -> None:
        """Chain an entry as an older version of the command line wrote it."""

        async def go() -> None:
            engine = create_engine(self.settings.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as session:
                    await audit(session, self.admin_key, action, subject)
            finally:
                await engine.dispose()

        asyncio.run(go())

    def issue(self, partner: str, month: str, folder: Path) -> Result:
        """Run ``amanat digest issue`` for one partner and month into ``folder``."""
        return self.invoke(  # type: ignore[no-any-return]
            "digest", "issue", "--partner", partner, "--month", month, "--to", str(folder)
        )

    def opened(self, folder: Path, partner: str, month: str) -> str:
        """Open a digest the way the partner does, with its own age identity."""
        identity = {"kabul-ngo": self.kabul, "geneva": self.geneva, "oslo": self.oslo}[partner]
        path = folder / f"amanat-digest-{partner}-{month}.zip.age"
        return unpacked(pyrage.decrypt(path.read_bytes(), [identity]))["digest.txt"].decode()

    def audit_subjects(self) -> list[tuple[str, str]]:
        async def go() -> list[tuple[str, str]]:
            engine = create_engine(self.settings.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as session:
                    entries = await AuditRepository(session).entries()
                    return [(entry.action, entry.subject) for entry in entries]
            finally:
                await engine.dispose()

        return asyncio.run(go())


def unpacked(archive: bytes) -> dict[str, bytes]:
    """The files of a digest archive, by their names inside its one folder."""
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {
            name.removeprefix("amanat-digest/"): opened.read(name) for name in opened.namelist()
        }


def record(category: str, province: str, month: str) -> StatRecord:
    return StatRecord(category, "foreign_military", "AF", province, month, "not_urgent", "yes")


@pytest.fixture(params=["database", "api"])
def partners(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    admin_key: AdminPrivateKey,
) -> Iterator[Partners]:
    """The same digests issued by a machine on the database, and by one through the API."""
    kabul, geneva = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    oslo = pyrage.x25519.Identity.generate()
    second_kabul_key = pyrage.x25519.Identity.generate()
    settings = make_settings(
        partners=(
            Partner(
                name="kabul-ngo",
                language="fa_AF",
                age_recipients=(str(kabul.to_public()), str(second_kabul_key.to_public())),
            ),
            Partner(name="geneva", language="en", age_recipients=(str(geneva.to_public()),)),
            Partner(name="oslo", language="en", age_recipients=(str(oslo.to_public()),)),
        ),
        admin_public_keys=(admin_key.public_key().to_text(),),
        lead_admin_keys=(admin_key.public_key().key_id,),  # a lead issues digests
    )
    upgrade_to_head(settings.database_url)
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(PASSPHRASE, scrypt_n=FAST_N))
    world = Partners(settings, key_file, kabul, geneva, oslo, admin_key, [OCTOBER_SETTLED])
    world.add(
        [
            *[record("recruit_armed", "kabul", "2026-10") for _ in range(9)],
            *[record("false_job", "herat", "2026-10") for _ in range(6)],
            *[record("taliban_threat", "balkh", "2026-10") for _ in range(2)],
            *[record("recruit_armed", "kabul", "2026-09") for _ in range(40)],
            *[record("recruit_armed", "kabul", "2026-11") for _ in range(30)],
        ]
    )
    if request.param == "database":
        yield world
        return
    with api_in_a_thread(settings) as (url, _):
        world.laptop = admin_laptop(settings, url, tmp_path)
        yield world
    assert not (tmp_path / "no-such-folder").exists()


def test_a_partner_opens_its_month_with_standard_age_and_nothing_else(
    partners: Partners, tmp_path: Path
) -> None:
    out = tmp_path / "outbox"
    result = partners.invoke("digest", "issue", "--partner", "geneva", "--month", "2026-10",
                             "--to", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    [path] = list(out.iterdir())
    assert path.name == "amanat-digest-geneva-2026-10.zip.age"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = path.read_bytes()
    assert sealed.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    assert b"Reports" not in sealed
    text = unpacked(pyrage.decrypt(sealed, [partners.geneva]))["digest.txt"].decode()
    assert "Reports sent in October 2026" in text
    assert "Reports counted (the reporter agreed): 17" in text  # October only
    assert "  Kabul: 9" in text
    assert "  North: *" in text  # Balkh's 2 is below k = 5 ...
    assert "  West: *" in text  # ... and Herat's 6 goes with it, or 17 - 9 - 6 would give 2
    assert "Balkh" not in text  # a hidden region lists no provinces
    assert "Herat" not in text
    assert "  Threats, searches or arrest by the Taliban: *" in text
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(sealed, [partners.kabul])  # another partner cannot read it
    [(action, subject)] = partners.audit_subjects()
    assert action == "digest"
    assert re.fullmatch(r"geneva:2026-10 [0-9a-f]{32}", subject)  # the snapshot's hash


def test_the_digest_speaks_the_partners_language(partners: Partners, tmp_path: Path) -> None:
    result = partners.invoke("digest", "issue", "--partner", "kabul-ngo", "--month", "2026-10",
                             "--to", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    [path] = list(tmp_path.glob("*.age"))
    text = unpacked(pyrage.decrypt(path.read_bytes(), [partners.kabul]))["digest.txt"].decode()
    assert "گزارش‌هایی که در \u2068میزان–عقرب ۱۴۰۵ (اکتوبر ۲۰۲۶ میلادی)\u2069 فرستاده شده‌اند" in text
    assert "۱۷" in text
    assert "17" not in text
    assert "  دعوت به جنگ در خارج یا شامل شدن به یک گروه مسلح: ۹" in text  # not «… بجنگم»
    assert "گزارش\u200cدهندگان آن\u200cها اجازهٔ شمارش داده\u200cاند" in text


def test_a_month_is_issued_only_once_settled(partners: Partners, tmp_path: Path) -> None:
    partners.today[0] = OCTOBER_SETTLED - timedelta(days=1)
    early = partners.invoke("digest", "issue", "--partner", "geneva", "--month", "2026-10",
                            "--to", str(tmp_path))  # fmt: skip
    assert early.exit_code == 1
    assert "2026-10 can be issued from 2026-11-08" in early.output
    running = partners.invoke("digest", "issue", "--partner", "geneva", "--month", "2026-11",
                              "--to", str(tmp_path))  # fmt: skip
    assert running.exit_code == 1
    assert list(tmp_path.glob("*.age")) == []
    assert partners.audit_subjects() == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--partner", "nobody", "--month", "2026-10"), "no partner named 'nobody'"),
        (("--partner", "geneva", "--month", "October"), "YYYY-MM"),
        (("--partner", "geneva", "--month", "2026-13"), "YYYY-MM"),
    ],
)
def test_bad_requests_are_refused_clearly(
    partners: Partners, tmp_path: Path, arguments: tuple[str, ...], message: str
) -> None:
    result = partners.invoke("digest", "issue", *arguments, "--to", str(tmp_path))
    assert result.exit_code == 1
    assert message in result.output
    assert list(tmp_path.glob("*.age")) == []


def test_an_existing_digest_file_is_never_overwritten(partners: Partners, tmp_path: Path) -> None:
    args = ("digest", "issue", "--partner", "geneva", "--month", "2026-10", "--to", str(tmp_path))
    assert partners.invoke(*args).exit_code == 0
    again = partners.invoke(*args)
    assert again.exit_code == 1
    assert "exists already" in again.output


def test_settling_waits_a_week_after_the_month_ends() -> None:
    assert settled_from(Month.parse("2026-10")) == date(2026, 11, 8)
    assert settled_from(Month.parse("2026-12")) == date(2027, 1, 8)
    assert settled_from(Month.parse("2028-02")) == date(2028, 3, 8)


def test_partner_settings_refuse_what_could_not_be_opened() -> None:
    good = str(pyrage.x25519.Identity.generate().to_public())
    with pytest.raises(ValidationError, match="not an age1"):
        Partner(name="x", age_recipients=("age1notakey",))
    with pytest.raises(ValidationError, match="at least one"):
        Partner(name="x", age_recipients=())
    with pytest.raises(ValidationError, match="name"):
        Partner(name="Kabul NGO", age_recipients=(good,))
    with pytest.raises(ValidationError, match="same name"):
        Settings(partners=(Partner(name="a", age_recipients=(good,)),) * 2)
    os.environ.pop("AMANAT_PARTNERS", None)


def test_preview_of_one_month_counts_what_issue_would(partners: Partners) -> None:
    signed = partners.laptop is not None  # through the API every request is signed
    result = partners.invoke("digest", "preview", "--month", "2026-09", key=signed)
    assert result.exit_code == 0, result.output
    assert "Reports sent in September 2026" in result.stdout
    assert "Reports counted (the reporter agreed): 40" in result.stdout


# --- one snapshot per month -------------------------------------------------------------------

LATE = record("taliban_threat", "balkh", "2026-10")


def test_every_partner_gets_the_first_snapshot_of_a_month_whatever_arrived_since(
    partners: Partners, tmp_path: Path
) -> None:
    first, second, again = tmp_path / "first", tmp_path / "second", tmp_path / "again"
    assert partners.issue("geneva", "2026-10", first).exit_code == 0
    partners.add([LATE])  # a batch that came in after October was first issued
    to_oslo = partners.issue("oslo", "2026-10", second)
    assert to_oslo.exit_code == 0, to_oslo.output
    geneva_text = partners.opened(first, "geneva", "2026-10")
    assert "Reports counted (the reporter agreed): 17" in geneva_text
    oslo_text = partners.opened(second, "oslo", "2026-10")
    assert oslo_text == geneva_text  # nothing to subtract
    assert "1 record of 2026-10 arrived after 2026-10 was first issued" in to_oslo.stderr
    assert "will never be published for 2026-10" in to_oslo.stderr
    once_more = partners.issue("geneva", "2026-10", again)
    assert once_more.exit_code == 0, once_more.output
    assert partners.opened(again, "geneva", "2026-10") == geneva_text
    pins = {subject.split(" ")[1] for action, subject in partners.audit_subjects()}
    assert len(pins) == 1  # three issues, one snapshot


def test_the_first_issue_reports_no_late_records(partners: Partners, tmp_path: Path) -> None:
    result = partners.issue("geneva", "2026-10", tmp_path)
    assert result.exit_code == 0, result.output
    assert "arrived after" not in result.output
    assert "snapshot taken now, at its first issue" in result.stdout


def test_months_keep_their_own_snapshots(partners: Partners, tmp_path: Path) -> None:
    assert partners.issue("geneva", "2026-10", tmp_path).exit_code == 0
    assert partners.issue("geneva", "2026-09", tmp_path).exit_code == 0
    september = partners.opened(tmp_path, "geneva", "2026-09")
    assert "Reports counted (the reporter agreed): 40" in september


def test_a_replaced_snapshot_is_refused(partners: Partners, tmp_path: Path) -> None:
    assert partners.issue("geneva", "2026-10", tmp_path / "first").exit_code == 0
    partners.add([LATE])
    # Anyone who can write the database holds the admins' public keys: a well-formed snapshot
    # of the month with the late record in it opens and reads as genuine.
    october = Month.parse("2026-10")
    forged = encode_pinned_snapshot(
        october,
        [
            *[record("recruit_armed", "kabul", "2026-10") for _ in range(9)],
            *[record("false_job", "herat", "2026-10") for _ in range(6)],
            *[record("taliban_threat", "balkh", "2026-10") for _ in range(3)],
        ],
        k=5,
    )
    sealer = AdminSealer([partners.admin_key.public_key()])
    partners.write_snapshot("2026-10", sealer.seal_for_admins(forged, snapshot_ref(october)).data)
    refused = partners.issue("oslo", "2026-10", tmp_path / "second")
    assert refused.exit_code == 1
    assert "the snapshot of 2026-10 is not the one its first digest recorded" in refused.stderr
    assert not (tmp_path / "second").exists()
    preview = partners.invoke("digest", "preview", "--month", "2026-10")
    assert preview.exit_code == 1
    assert "Reports counted" not in preview.stdout
    assert [action for action, _ in partners.audit_subjects()] == ["digest"]


def test_a_snapshot_that_does_not_open_is_refused(partners: Partners, tmp_path: Path) -> None:
    assert partners.issue("geneva", "2026-10", tmp_path / "first").exit_code == 0
    september = encode_snapshot(Month.parse("2026-09"), [])
    sealer = AdminSealer([partners.admin_key.public_key()])
    moved = sealer.seal_for_admins(september, snapshot_ref(Month.parse("2026-09")))
    partners.write_snapshot("2026-10", moved.data)  # another month's snapshot, moved here
    refused = partners.issue("oslo", "2026-10", tmp_path / "second")
    assert refused.exit_code == 1
    assert "the snapshot of 2026-10 cannot be opened" in refused.stderr
    assert not (tmp_path / "second").exists()


def test_a_deleted_snapshot_is_refused(partners: Partners, tmp_path: Path) -> None:
    assert partners.issue("geneva", "2026-10", tmp_path / "first").exit_code == 0
    partners.add([LATE])
    partners.write_snapshot("2026-10", None)
    refused = partners.issue("oslo", "2026-10", tmp_path / "second")
    assert refused.exit_code == 1
    assert "the snapshot of 2026-10 is missing" in refused.stderr
    assert not (tmp_path / "second").exists()
    preview = partners.invoke(
        "digest", "preview", "--month", "2026-10", key=partners.laptop is not None
    )
    assert preview.exit_code == 1  # the live counts are not what was issued
    assert "Reports counted" not in preview.stdout


def test_a_snapshot_no_digest_pins_is_refused(partners: Partners, tmp_path: Path) -> None:
    october = Month.parse("2026-10")
    planted = encode_snapshot(october, [record("false_job", "herat", "2026-10")] * 5)
    sealer = AdminSealer([partners.admin_key.public_key()])

    async def plant() -> None:
        engine = create_engine(partners.settings.database_url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                session.add(
                    DigestSnapshotRow(
                        month="2026-10",
                        blob=sealer.seal_for_admins(planted, snapshot_ref(october)).data,
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(plant())
    refused = partners.issue("geneva", "2026-10", tmp_path)
    assert refused.exit_code == 1
    assert "no digest of 2026-10 in the audit log pins it" in refused.stderr
    assert list(tmp_path.glob("*.age")) == []
    assert partners.audit_subjects() == []


def plant_snapshot(partners: Partners, month: Month, plaintext: bytes) -> None:
    """Store a sealed snapshot as an earlier version of the command line would have."""
    sealer = AdminSealer([partners.admin_key.public_key()])
    blob = sealer.seal_for_admins(plaintext, snapshot_ref(month)).data

    async def plant() -> None:
        engine = create_engine(partners.settings.database_url)
        try:
            async with unit_of_work(session_factory(engine)) as session:
                session.add(DigestSnapshotRow(month=str(month), blob=blob))
        finally:
            await engine.dispose()

    asyncio.run(plant())


def test_every_issue_of_a_month_hides_with_the_k_of_its_first(
    partners: Partners, tmp_path: Path
) -> None:
    """Two issues of one month that hid different cells could be subtracted: the first issue
    pins its k in the snapshot, and a later one, after k changed, renders with it."""
    assert partners.issue("geneva", "2026-10", tmp_path).exit_code == 0
    raised = {"k_anonymity": 7}  # with 7, Kabul's region (9) hides Herat's (6) and more
    partners.settings = partners.settings.model_copy(update=raised)
    if partners.laptop is not None:
        partners.laptop = partners.laptop.model_copy(update=raised)
    assert partners.issue("oslo", "2026-10", tmp_path).exit_code == 0
    first = partners.opened(tmp_path, "geneva", "2026-10")
    assert first == partners.opened(tmp_path, "oslo", "2026-10")
    assert "fewer than 5 reports" in first
    fresh = partners.invoke("digest", "preview", "--month", "2026-11")
    assert "fewer than 7 reports" in fresh.stdout  # a month not yet issued takes the new k


def test_a_month_first_issued_with_flat_provinces_keeps_them(
    partners: Partners, tmp_path: Path
) -> None:
    """A month issued before regions existed (a snapshot of format 1) is issued again with
    its provinces straight under their country: a partner holding the first digest could
    otherwise subtract a shown province from its region and recover a hidden one."""
    october = Month.parse("2026-10")
    records = [
        *[record("recruit_armed", "kabul", "2026-10") for _ in range(9)],
        *[record("false_job", "herat", "2026-10") for _ in range(6)],
        *[record("taliban_threat", "balkh", "2026-10") for _ in range(2)],
    ]
    legacy = encode_snapshot(october, records)  # format 1: records only
    plant_snapshot(partners, october, legacy)
    partners.append_audit("digest", digest_subject("geneva", october, snapshot_pin(legacy)))
    assert partners.issue("oslo", "2026-10", tmp_path).exit_code == 0
    text = partners.opened(tmp_path, "oslo", "2026-10")
    assert "By province in Afghanistan" in text
    assert "By region" not in text


def test_a_month_issued_before_snapshots_existed_is_not_issued_again(
    partners: Partners, tmp_path: Path
) -> None:
    partners.append_audit("digest", "geneva:2026-10")  # what the command wrote before 0009
    refused = partners.issue("oslo", "2026-10", tmp_path)
    assert refused.exit_code == 1
    assert "2026-10 was issued before digests kept a snapshot" in refused.stderr
    assert list(tmp_path.glob("*.age")) == []
    assert partners.issue("oslo", "2026-09", tmp_path).exit_code == 0  # other months are free


def test_the_audit_entry_pins_the_snapshot_by_its_hash(partners: Partners, tmp_path: Path) -> None:
    assert partners.issue("geneva", "2026-10", tmp_path).exit_code == 0
    records = [
        *[record("recruit_armed", "kabul", "2026-10") for _ in range(9)],
        *[record("false_job", "herat", "2026-10") for _ in range(6)],
        *[record("taliban_threat", "balkh", "2026-10") for _ in range(2)],
    ]
    expected = snapshot_pin(encode_pinned_snapshot(Month.parse("2026-10"), records, k=5))
    assert partners.audit_subjects() == [("digest", f"geneva:2026-10 {expected}")]


def test_preview_of_an_issued_month_shows_its_snapshot(partners: Partners, tmp_path: Path) -> None:
    assert partners.issue("geneva", "2026-10", tmp_path).exit_code == 0
    partners.add([LATE, LATE])
    result = partners.invoke("digest", "preview", "--month", "2026-10")
    assert result.exit_code == 0, result.output
    assert "Reports counted (the reporter agreed): 17" in result.stdout
    assert "Showing the snapshot of 2026-10 taken at its first issue" in result.stderr
    assert "2 records of 2026-10 arrived after 2026-10 was first issued" in result.stderr
    assert result.stdout == partners.opened(tmp_path, "geneva", "2026-10")  # as issued


def test_the_longest_partner_name_fits_the_audit_log() -> None:
    """A digest's audit subject names the partner, the month and the snapshot's hash."""
    longest = digest_subject("a" * 40, Month.parse("2026-10"), "0" * PIN_HEX_DIGITS)
    assert len(longest) <= AUDIT_SUBJECT_MAX


def test_a_digest_is_a_bundle_whose_tables_match_the_counts(
    partners: Partners, tmp_path: Path
) -> None:
    team = {"team_name": "Amanat Kabul team", "team_contact": "team@example.org"}
    partners.settings = partners.settings.model_copy(update=team)
    if partners.laptop is not None:
        partners.laptop = partners.laptop.model_copy(update=team)
    assert partners.issue("geneva", "2026-09", tmp_path / "september").exit_code == 0
    assert partners.issue("kabul-ngo", "2026-10", tmp_path).exit_code == 0
    [path] = list(tmp_path.glob("*.zip.age"))
    files = unpacked(pyrage.decrypt(path.read_bytes(), [partners.kabul]))
    assert set(files) == {
        "digest.html",
        "digest.txt",
        "manifest.json",
        "data-dictionary.csv",
        "tables/01-category.csv",
        "tables/02-party.csv",
        "tables/03-country.csv",
        "tables/04-region-af.csv",
        "tables/05-province-af-central.csv",
        "tables/06-former-forces.csv",
        "tables/07-urgency.csv",
        "tables/00-last-twelve-months.csv",
        "charts/01-category.png",
        "charts/02-party.png",
        "charts/03-country.png",
        "charts/04-region-af.png",
        "charts/05-province-af-central.png",
        "charts/06-former-forces.png",
        "charts/07-urgency.png",
        "charts/00-last-twelve-months.png",
    }  # no "by month" table in a one-month digest: its header names the month
    manifest = json.loads(files["manifest.json"])
    assert (manifest["period"], manifest["issued_on"]) == ("2026-10", "2026-11-08")
    assert (manifest["k"], manifest["total"], manifest["language"]) == (5, 17, "fa_AF")
    assert manifest["team"] == {"name": "Amanat Kabul team", "contact": "team@example.org"}
    for listed in manifest["files"]:
        if listed["name"] != "manifest.json":
            assert hashlib.sha256(files[listed["name"]]).hexdigest() == listed["sha256"]
    regions = files["tables/04-region-af.csv"]
    assert regions.startswith("\ufeff".encode())  # spreadsheets then read Dari right
    rows = list(csv.DictReader(io.StringIO(regions.decode("utf-8-sig"))))
    counted = {row["key"]: (row["count"], row["hidden"]) for row in rows}
    assert counted["central"] == ("9", "false")  # 9 records of Kabul in October
    assert counted["west"] == ("", "true")  # Herat's 6, hidden with Balkh's 2 (below k = 5)
    assert counted["north"] == ("", "true")
    assert counted["total"] == ("17", "false")
    assert [row["label"] for row in rows if row["key"] == "central"] == ["مرکزی"]
    central = files["tables/05-province-af-central.csv"].decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(central)))
    assert [(row["key"], row["label"], row["count"]) for row in rows] == [
        ("kabul", "کابل", "9"),
        ("total", "مجموع", "9"),
    ]
    page = files["digest.html"].decode()
    assert '<html lang="fa" dir="rtl">' in page
    assert "<script" not in page
    assert "Amanat Kabul team" in page
    assert "team@example.org" in page
    assert "میزان–عقرب ۱۴۰۵ (اکتوبر ۲۰۲۶ میلادی)" in page  # both calendars
    assert "(۸ نومبر ۲۰۲۶ میلادی)" in page
    dictionary = files["data-dictionary.csv"].decode("utf-8-sig")
    assert all(name in dictionary for name in files if name.startswith("tables/"))
    trend = files["tables/00-last-twelve-months.csv"].decode("utf-8-sig")
    months = list(csv.DictReader(io.StringIO(trend)))
    assert months[0]["month"] == "2025-11"
    assert [(row["month"], row["count"], row["issued"]) for row in months[-2:]] == [
        ("2026-09", "40", "true"),  # as September's own digest showed it
        ("2026-10", "17", "true"),
    ]
    assert {row["issued"] for row in months[:-2]} == {"false"}  # never issued: no count
    assert "گزارش‌های شمرده‌شده در هر یک از دوازده ماه گذشته" in page


def test_the_trend_reads_earlier_snapshots_and_no_earlier_records(
    partners: Partners, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the API too, each earlier month is read as its snapshot only (``records=0``):
    counting eleven months of records that the trend never shows would be work thrown away."""
    assert partners.issue("geneva", "2026-09", tmp_path / "september").exit_code == 0
    counted: list[str | None] = []
    tally = StatsRepository.tally

    async def counting(self: StatsRepository, month: str | None = None) -> Counter[StatRecord]:
        counted.append(month)
        return await tally(self, month)

    monkeypatch.setattr(StatsRepository, "tally", counting)
    assert partners.issue("kabul-ngo", "2026-10", tmp_path).exit_code == 0
    assert counted == ["2026-10"]  # October's own records, for its snapshot; no other month's
    [path] = list(tmp_path.glob("*.zip.age"))
    files = unpacked(pyrage.decrypt(path.read_bytes(), [partners.kabul]))
    trend = files["tables/00-last-twelve-months.csv"].decode("utf-8-sig")
    months = {row["month"]: row for row in csv.DictReader(io.StringIO(trend))}
    assert (months["2026-09"]["count"], months["2026-09"]["issued"]) == ("40", "true")
