"""Measure a digest over a million statistics records, on SQLite and on PostgreSQL.

Run ``python benchmarks/digest.py`` (``--quick`` for a smoke run with 2,000 records;
``--records N`` for another size). Each backend gets a fresh database filled with N records
spread over the questionnaire's answers and 24 months (a SQLite file in a temporary folder; a
scratch PostgreSQL database on 127.0.0.1:5432, dropped at the end, or skipped with the reason
when no server answers). Then fresh child processes each do one thing and report their own
time and peak RSS:

- ``idle``: the same imports, the database opened and one row read;
- ``digest``: what ``amanat digest preview`` does now: the database counts the records by
  each field on its own (``StatsRepository.margins``, a few GROUP BY queries), then the
  digest is built, rendered as text and packed as a partner's bundle
  (``bot.partners.bundle``), charts included, with a twelve-month trend;
- ``charts``: the same digest (untimed), then only the bundle's charts drawn
  (``bundle_charts``: Vega-Lite to PNG by vl-convert), timed on their own in a fresh process
  as ``amanat digest issue`` draws them: vl-convert's start is part of it;
- ``baseline``: the same digest from every record loaded one by one (``StatsRepository.all``,
  what digests did before).

The figures are the digest's seconds and peak RSS, and its ratio to the baseline's. The last
line is one JSON object with ``sqlite_s``, ``postgres_s``, ``sqlite_peak_mb`` and
``postgres_peak_mb`` (the goal: under 5 s and 200 MB each, at a million records), and
``sqlite_charts_s`` / ``postgres_charts_s``: the charts of one bundle (no goal).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import asyncpg  # type: ignore[import-untyped]

from bot.i18n.translations import Translations
from bot.partners.bundle import Team, build_bundle, bundle_charts
from bot.partners.digest import Digest, build_digest, digest_of_margins, render_digest
from bot.partners.months import Month
from bot.partners.trend import TrendPoint, months_before
from bot.questions import AFGHAN_PROVINCES, COUNTRIES, INCIDENTS, IRANIAN_PROVINCES, PARTIES
from bot.settings import PACKAGE_LOCALES_DIR
from storage.db import create_engine, session_factory, unit_of_work
from storage.migrate import upgrade_to_head_async
from storage.repositories import StatsRepository

PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ISSUED = Month(2026, 10)
GOAL_SECONDS = 5.0
GOAL_PEAK_MB = 200.0
BATCH = 50_000
MONTHS = [f"{2025 + (m // 12)}-{m % 12 + 1:02d}" for m in range(24)]
FIELDS = ("id", "category", "party", "country", "province", "month", "urgency", "former_forces")


def _rows(count: int, seed: int) -> list[tuple[Any, ...]]:
    """Records spread over the questionnaire's answers, under fresh random ids."""
    rng = random.Random(seed)
    incidents = [o.id for o in INCIDENTS]
    parties = [o.id for o in PARTIES]
    countries = [o.id for o in COUNTRIES]
    provinces = {"AF": [o.id for o in AFGHAN_PROVINCES], "IR": [o.id for o in IRANIAN_PROVINCES]}
    rows: list[tuple[Any, ...]] = []
    for _ in range(count):
        country = rng.choice(countries)
        province = rng.choice(provinces[country]) if country in provinces else None
        rows.append(
            (
                secrets.token_hex(16),
                rng.choice(incidents),
                rng.choice(parties),
                country,
                province,
                rng.choice(MONTHS),
                rng.choice(("urgent", "not_urgent", "unsaid")),
                rng.choice(("yes", "no", "unsaid")),
            )
        )
    return rows


def _fill_sqlite(path: Path, records: int) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    asyncio.run(upgrade_to_head_async(url))
    with sqlite3.connect(path) as db:
        marks = ", ".join("?" * len(FIELDS))
        for start in range(0, records, BATCH):
            rows = _rows(min(BATCH, records - start), start)
            db.executemany(f"INSERT INTO stat_records ({', '.join(FIELDS)}) VALUES ({marks})", rows)
    return url


async def _fill_postgres(name: str, records: int) -> str:
    admin = await asyncpg.connect(PG_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    await upgrade_to_head_async(url)
    db = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        for start in range(0, records, BATCH):
            rows = _rows(min(BATCH, records - start), start)
            await db.copy_records_to_table("stat_records", records=rows, columns=FIELDS)
        await db.execute("ANALYZE stat_records")
    finally:
        await db.close()
    return url


async def _drop_postgres(name: str) -> None:
    admin = await asyncpg.connect(PG_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _trend(digest: Digest) -> list[TrendPoint]:
    """The last twelve months as the digest's own month table counts them (a stand-in for
    each month's snapshot, which this benchmark does not take)."""
    counts = {
        cell.key: cell.count
        for table in digest.tables
        if table.dimension == "month"
        for cell in table.cells
    }
    months = [*months_before(ISSUED), ISSUED]
    return [TrendPoint(m, counts.get(str(m)), str(m) in counts) for m in months]


async def _job(mode: str, url: str) -> float:
    """Do one child's job on the database at ``url``; return its seconds."""
    translations = Translations.load(PACKAGE_LOCALES_DIR)
    engine = create_engine(url)
    start = time.perf_counter()
    try:
        async with unit_of_work(session_factory(engine)) as session:
            stats = StatsRepository(session)
            if mode == "idle":
                await stats.tally("1999-01")
                return time.perf_counter() - start
            if mode in ("digest", "charts"):
                digest = digest_of_margins(await stats.margins(), 5)
            else:
                digest = build_digest(await stats.all(), 5)
        if mode == "charts":
            start = time.perf_counter()
            bundle_charts(digest, ISSUED, "fa_AF", translations, _trend(digest))
            return time.perf_counter() - start
        render_digest(digest, "fa_AF", translations)
        build_bundle(
            digest,
            ISSUED,
            "fa_AF",
            translations,
            issued_on=date(2026, 11, 8),
            team=Team("Amanat"),
            trend=_trend(digest),
        )
    finally:
        await engine.dispose()
    return time.perf_counter() - start


def run_child(mode: str, url: str) -> None:
    """One measured job in this fresh process; print its figures as JSON."""
    seconds = asyncio.run(_job(mode, url))
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))


def child(mode: str, url: str) -> dict[str, float]:
    """Run one job in a fresh interpreter and return what it reported."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--url", url],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def measure(backend: str, url: str) -> dict[str, float]:
    """The four jobs on one filled database."""
    idle, digest, baseline = child("idle", url), child("digest", url), child("baseline", url)
    charts = child("charts", url)
    ratio = digest["seconds"] / baseline["seconds"] if baseline["seconds"] else 0.0
    print(f"{backend}:")
    print(f"  idle child peak RSS                {idle['peak_mb']:8.1f} MiB")
    print(f"  digest (margins): time             {digest['seconds']:8.2f} s")
    print(f"  digest (margins): peak RSS         {digest['peak_mb']:8.1f} MiB")
    print(f"  charts of one bundle (own child)   {charts['seconds']:8.2f} s")
    print(f"  baseline (every record): time      {baseline['seconds']:8.2f} s")
    print(f"  baseline (every record): peak RSS  {baseline['peak_mb']:8.1f} MiB")
    print(f"  time ratio to the baseline         {ratio:8.3f}")
    return {
        "s": round(digest["seconds"], 3),
        "peak_mb": round(digest["peak_mb"], 1),
        "idle_peak_mb": round(idle["peak_mb"], 1),
        "baseline_s": round(baseline["seconds"], 3),
        "baseline_peak_mb": round(baseline["peak_mb"], 1),
        "ratio": round(ratio, 4),
        "charts_s": round(charts["seconds"], 3),
        "charts_peak_mb": round(charts["peak_mb"], 1),
    }


def main() -> None:
    """Fill each backend once, measure each job in its own process, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 records: a smoke run")
    parser.add_argument("--records", type=int, default=1_000_000, help="how many records")
    parser.add_argument(
        "--child", choices=("idle", "digest", "charts", "baseline"), help=argparse.SUPPRESS
    )
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args.url)
        return
    records = 2_000 if args.quick else args.records
    figures: dict[str, Any] = {"records": records, "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="amanat-bench-") as folder:
        url = _fill_sqlite(Path(folder) / "amanat.db", records)
        for name, value in measure("SQLite", url).items():
            figures[f"sqlite_{name}"] = value
    scratch = f"amanat_bench_{int(time.time())}_{secrets.token_hex(4)}"
    try:
        url = asyncio.run(_fill_postgres(scratch, records))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL: skipped, no server answers at 127.0.0.1:5432 ({type(exc).__name__})")
        figures.update(postgres_s=None, postgres_peak_mb=None)
    else:
        try:
            for name, value in measure("PostgreSQL", url).items():
                figures[f"postgres_{name}"] = value
        finally:
            asyncio.run(_drop_postgres(scratch))
    met = [
        figures.get(f"{backend}_s") is not None
        and figures[f"{backend}_s"] < GOAL_SECONDS
        and figures[f"{backend}_peak_mb"] < GOAL_PEAK_MB
        for backend in ("sqlite", "postgres")
    ]
    figures["goal_met"] = all(met) if not args.quick else None
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
