"""Test partner digests end to end: one settled month, sealed to the partner's age key.

The partner's side is played by ``pyrage``, the binding of ``rage``: what a partner runs as
``age -d -i key.txt FILE``. Nothing here opens a digest with Amanat's own code.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.keyfile import AdminPrivateKey
from bot.partners.months import Month, settled_from
from bot.settings import Partner, Settings
from storage.audit import AuditRepository
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head
from storage.records import StatRecord
from storage.repositories import StatsRepository

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
    today: list[date]

    def invoke(self, *args: str, key: bool = True):  # type: ignore[no-untyped-def]
        config = CliConfig(
            load_settings=lambda: self.settings, scrypt_n=FAST_N, today=lambda: self.today[0]
        )
        return CliRunner().invoke(
            create_app(config),
            [*args, *(("--key", str(self.key_file)) if key else ())],
            env={PASSPHRASE_ENV: PASSPHRASE},
        )

    def add(self, records: list[StatRecord]) -> None:
        async def go() -> None:
            engine = create_engine(self.settings.database_url)
            try:
                async with unit_of_work(session_factory(engine)) as session:
                    for record in records:
                        await StatsRepository(session).add(record)
            finally:
                await engine.dispose()

        asyncio.run(go())

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


def record(category: str, province: str, month: str) -> StatRecord:
    return StatRecord(category, "foreign_military", "AF", province, month, "not_urgent", "yes")


@pytest.fixture
def partners(
    tmp_path: Path, make_settings: Callable[..., Settings], admin_key: AdminPrivateKey
) -> Partners:
    kabul, geneva = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    second_kabul_key = pyrage.x25519.Identity.generate()
    settings = make_settings(
        partners=(
            Partner(
                name="kabul-ngo",
                language="fa_AF",
                age_recipients=(str(kabul.to_public()), str(second_kabul_key.to_public())),
            ),
            Partner(name="geneva", language="en", age_recipients=(str(geneva.to_public()),)),
        )
    )
    upgrade_to_head(settings.database_url)
    key_file = tmp_path / "admin.key"
    key_file.write_bytes(admin_key.to_file_bytes(PASSPHRASE, scrypt_n=FAST_N))
    world = Partners(settings, key_file, kabul, geneva, [OCTOBER_SETTLED])
    world.add(
        [
            *[record("recruit_armed", "kabul", "2026-10") for _ in range(9)],
            *[record("false_job", "herat", "2026-10") for _ in range(6)],
            *[record("taliban_threat", "balkh", "2026-10") for _ in range(2)],
            *[record("recruit_armed", "kabul", "2026-09") for _ in range(40)],
            *[record("recruit_armed", "kabul", "2026-11") for _ in range(30)],
        ]
    )
    return world


def test_a_partner_opens_its_month_with_standard_age_and_nothing_else(
    partners: Partners, tmp_path: Path
) -> None:
    out = tmp_path / "outbox"
    result = partners.invoke("digest", "issue", "--partner", "geneva", "--month", "2026-10",
                             "--to", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    [path] = list(out.iterdir())
    assert path.name == "amanat-digest-geneva-2026-10.txt.age"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = path.read_bytes()
    assert sealed.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    assert b"Reports" not in sealed
    text = pyrage.decrypt(sealed, [partners.geneva]).decode()
    assert "Reports started in October 2026" in text
    assert "Reports counted (the reporter agreed): 17" in text  # October only
    assert "  Kabul: 9" in text
    assert "  Balkh: *" in text  # 2 is below k = 5 ...
    assert "  Herat: *" in text  # ... and 6 goes with it, or 17 - 9 - 6 would give Balkh's 2
    assert "  Threats, searches or arrest by the Taliban: *" in text
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(sealed, [partners.kabul])  # another partner cannot read it
    assert ("digest", "geneva:2026-10") in partners.audit_subjects()


def test_the_digest_speaks_the_partners_language(partners: Partners, tmp_path: Path) -> None:
    result = partners.invoke("digest", "issue", "--partner", "kabul-ngo", "--month", "2026-10",
                             "--to", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.output
    [path] = list(tmp_path.glob("*.age"))
    text = pyrage.decrypt(path.read_bytes(), [partners.kabul]).decode()
    assert "گزارش‌هایی که در \u2068میزان–عقرب ۱۴۰۵\u2069 شروع شده‌اند" in text
    assert "۱۷" in text
    assert "17" not in text


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


def test_settling_waits_a_week_or_the_draft_lifetime() -> None:
    october = Month.parse("2026-10")
    assert settled_from(october, timedelta(hours=24)) == date(2026, 11, 8)
    assert settled_from(october, timedelta(days=7)) == date(2026, 11, 9)
    assert settled_from(Month.parse("2026-12"), timedelta(hours=24)) == date(2027, 1, 8)


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
    result = partners.invoke("digest", "preview", "--month", "2026-09", key=False)
    assert result.exit_code == 0, result.output
    assert "Reports started in September 2026" in result.stdout
    assert "Reports counted (the reporter agreed): 40" in result.stdout
