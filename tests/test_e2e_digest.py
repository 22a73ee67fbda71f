"""From reports sent through Telegram to the tables a partner decrypts: the counts match.

Reporters file through the real ``Application`` against the fake Bot API; the bot's own
purge job releases their statistics in a batch; a lead issues the month with the command
line; the partner opens the archive with its age key, as ``age -d`` would, and every shown
number of every CSV table is the count of the records the database holds.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyrage  # type: ignore[import-untyped]
from typer.testing import CliRunner

from bot.cli.common import PASSPHRASE_ENV, CliConfig
from bot.cli.main import create_app
from bot.crypto.keyfile import AdminPrivateKey
from bot.partners.months import Month, settled_from
from bot.partners.regions import region_of
from bot.settings import Partner, Settings
from storage.db import session_factory, unit_of_work
from storage.records import StatRecord
from storage.repositories import StatsRepository
from tests.botapi_driver import running_amanat
from tests.test_canaries import reporter, start_report, submit
from tests.test_partners_issue import FAST_N, PASSPHRASE, unpacked

REPORTS = 6  # above the batch of 5 that releases statistics, and above k = 5


def expected_counts(records: list[StatRecord], name: str) -> Counter[str]:
    """What a table file should count, from the records themselves."""
    dimension = name.split("/")[1].split(".")[0].split("-", 1)[1]
    afghan = [r for r in records if r.country == "AF"]
    if dimension == "region-af":
        return Counter(region_of("AF", r.province or "unsaid") for r in afghan)
    if dimension.startswith("province-af-"):
        region = dimension.removeprefix("province-af-").replace("-", "_")
        return Counter(
            r.province or "unsaid"
            for r in afghan
            if region_of("AF", r.province or "unsaid") == region
        )
    field = {"category": "category", "party": "party", "country": "country"}.get(dimension)
    field = field or dimension.replace("-", "_")
    return Counter(str(getattr(r, field)) for r in records)


async def test_reports_sent_through_telegram_reach_a_partner_as_matching_tables(
    make_settings: Callable[..., Settings], admin_key: AdminPrivateKey, tmp_path: Path
) -> None:
    identity = pyrage.x25519.Identity.generate()
    lead = admin_key.public_key()
    partner = Partner(name="geneva", language="en", age_recipients=(str(identity.to_public()),))
    settings_of: dict[str, Settings] = {}

    def remembered(**overrides: object) -> Settings:
        settings_of["server"] = make_settings(**overrides)
        return settings_of["server"]

    async with running_amanat(
        remembered, partners=(partner,), lead_admin_keys=(lead.key_id,)
    ) as bot:
        for _ in range(REPORTS):
            user = reporter(bot)
            await start_report(bot, user)
            await submit(bot, user)
        jobs = bot.driver.application.job_queue
        assert jobs is not None
        [purge] = jobs.get_jobs_by_name("purge")
        await purge.run(bot.driver.application)  # the batch of statistics goes to the table
        async with unit_of_work(session_factory(bot.engine)) as session:
            records = await StatsRepository(session).all()
    assert len(records) == REPORTS
    [month_sent] = {record.month for record in records}
    month = Month.parse(month_sent)

    key_file = tmp_path / "lead.key"
    key_file.write_bytes(admin_key.to_file_bytes(PASSPHRASE, scrypt_n=FAST_N))
    settled: date = settled_from(month)
    config = CliConfig(
        load_settings=lambda: settings_of["server"], scrypt_n=FAST_N, today=lambda: settled
    )
    out = tmp_path / "outbox"
    issued = await asyncio.to_thread(  # the command line runs its own event loop
        CliRunner().invoke,
        create_app(config),
        [
            "digest",
            "issue",
            "--partner",
            "geneva",
            "--month",
            month_sent,
            "--to",
            str(out),
            "--key",
            str(key_file),
        ],
        env={PASSPHRASE_ENV: PASSPHRASE},
    )
    assert issued.exit_code == 0, issued.output

    [sealed] = list(out.glob("*.zip.age"))
    files = unpacked(pyrage.decrypt(sealed.read_bytes(), [identity]))
    tables = sorted(name for name in files if name.startswith("tables/") and "-last-" not in name)
    assert "tables/01-category.csv" in tables
    for name in tables:
        rows = list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))
        *cells, total = rows
        truth = expected_counts(records, name)
        assert total["key"] == "total"
        assert int(total["count"]) == sum(truth.values()), name
        assert {row["key"] for row in cells} == set(truth), name
        for row in cells:
            if row["hidden"] == "false":
                assert int(row["count"]) == truth[row["key"]], (name, row)
            else:
                assert row["count"] == "", (name, row)
    text = files["digest.txt"].decode()
    assert f"Reports counted (the reporter agreed): {REPORTS}" in text
