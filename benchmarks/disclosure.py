"""Measure how much a partner sees of a month, under each way of protecting small counts.

Run ``python benchmarks/disclosure.py`` (``--quick`` for a smoke run). It draws synthetic
months of N consenting reports (N = 15, 30, 60, 120, 250; 40 months each, fixed seeds) with
the skew a deployment sees (most reports from Afghanistan, a few provinces far ahead of the
others), and publishes each month five ways:

- ``provinces``: the digest as it was before regions (``build_digest(..., roll_up=False)``):
  suppression with complementary hiding, provinces straight under their country;
- ``regions``: the digest as issued now (Afghan provinces rolled up into eight regions, each
  level protected against its parent's published count);
- ``quarter``: the same, over three months pooled: what a quarterly digest would show;
- ``dp-eps1`` and ``dp-eps3``: differential privacy with OpenDP (the vetted library): every
  possible key of every one-way table published with discrete Laplace noise, a budget of
  epsilon = 1 (or 3) per month split evenly over seven tables, the Afghan regions a noisy
  table of their own as in the suppressed design (the province tables of different countries
  hold different reports, so together they spend one share).

For each, the share of reports whose count a partner "sees well": published exactly for
suppression, within 20 % of the truth for noise (so exactly, below 5), by kind of event, by
country, and, for the Afghan reports that named a province, by region (a province seen well
counts as its region seen too) and by province. For noise it also prints the invented cells
per month: keys with no report that show one or more. OpenDP draws its noise from the
system's secure generator, with no seed: the noise rows move by a point or two between runs.
The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import opendp.prelude as dp

from bot.partners.digest import Digest, build_digest
from bot.partners.regions import AFGHAN_REGIONS, region_of
from bot.questions import AFGHAN_PROVINCES, COUNTRIES, INCIDENTS, IRANIAN_PROVINCES
from storage.records import StatRecord

K = 5
VOLUMES = (15, 30, 60, 120, 250)
MONTHS_PER_VOLUME = 40
TABLES_SPENDING_BUDGET = 7  # kind, party, country, regions, provinces, forces, danger
REGION_IDS = [region.id for region in AFGHAN_REGIONS]

_AF_WEIGHTS = {"kabul": 10, "herat": 6, "nangarhar": 5, "balkh": 4, "kandahar": 4, "kunduz": 2}
_IR_WEIGHTS = {"tehran": 6, "khorasan_razavi": 5, "isfahan": 3}


def _weighted(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def synthetic_month(rng: random.Random, n: int) -> list[StatRecord]:
    """Draw one month of ``n`` records with a deployment's skew."""
    af = {option.id: _AF_WEIGHTS.get(option.id, 1) for option in AFGHAN_PROVINCES}
    af["unsaid"] = 3
    ir = {option.id: _IR_WEIGHTS.get(option.id, 1) for option in IRANIAN_PROVINCES}
    ir["unsaid"] = 2
    countries = {"AF": 55, "IR": 30, "PK": 5, "TR": 4, "RU": 3, "other": 3}
    kinds = {"recruit_armed": 35, "taliban_threat": 30, "false_job": 20, "exploitation": 10}
    kinds["other"] = 5
    parties = {"foreign_military": 25, "taliban": 30, "broker": 25, "armed_group": 10}
    parties["unknown"] = 10
    records = []
    for _ in range(n):
        country = _weighted(rng, countries)
        province = {"AF": af, "IR": ir}.get(country)
        where = None if province is None else _weighted(rng, province)
        records.append(
            StatRecord(
                _weighted(rng, kinds),
                _weighted(rng, parties),
                country,
                None if where == "unsaid" else where,
                "2026-10",
                _weighted(rng, {"urgent": 3, "not_urgent": 7}),
                _weighted(rng, {"yes": 6, "no": 3, "unsaid": 1}),
            )
        )
    return records


# --- what is true, and what a partner sees ---------------------------------------------------

Views = dict[str, Counter[str]]
"""Per measured table, the count of each key: "kind", "country", "region", "province"."""


def truth(records: Sequence[StatRecord]) -> Views:
    # Afghan reports that named their province: "not said" is no place a partner learns of,
    # and only the flat design has a "not said" province cell to score.
    placed = [r for r in records if r.country == "AF" and r.province is not None]
    return {
        "kind": Counter(r.category for r in records),
        "country": Counter(r.country for r in records),
        "region": Counter(region_of("AF", r.province or "unsaid") for r in placed),
        "province": Counter(r.province or "unsaid" for r in placed),
    }


def seen_by_suppression(digest: Digest) -> dict[str, dict[str, int]]:
    """The exactly published cells of each measured table."""
    seen: dict[str, dict[str, int]] = {name: {} for name in ("kind", "country", "region")}
    seen["province"] = {}
    names = {"category": "kind", "country": "country", "region": "region"}
    for table in digest.tables:
        if table.dimension == "province" and table.within != "AF":
            continue
        name = "province" if table.dimension == "province" else names.get(table.dimension)
        if name is None:
            continue
        for cell in table.cells:
            if cell.count is not None:
                seen[name][cell.key] = cell.count
    return seen


def share_seen(true: Views, seen: Mapping[str, Mapping[str, int]], near: bool) -> dict[str, float]:
    """The share of reports, per measured table, whose cell a partner sees well."""

    def good(name: str, key: str) -> bool:
        if key not in seen[name]:
            return False
        actual, shown = true[name][key], seen[name][key]
        return abs(shown - actual) <= 0.2 * actual if near else shown == actual

    def placed(region: str) -> bool:
        """Provinces seen well place their reports in their region too."""
        members = [p for p in true["province"] if region_of("AF", p) == region]
        return good("region", region) or all(good("province", p) for p in members)

    shares = {}
    for name, counts in true.items():
        total = sum(counts.values())
        well = sum(
            n for key, n in counts.items() if (placed(key) if name == "region" else good(name, key))
        )
        shares[name] = well / total if total else 1.0
    return shares


# --- differential privacy -------------------------------------------------------------------


def laplace(epsilon: float) -> Callable[[list[int]], list[int]]:
    """OpenDP's discrete Laplace mechanism over a vector of counts, spending ``epsilon``
    for a change of one report (L1 sensitivity 1 under adding or removing a report)."""
    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    measurement = dp.m.make_laplace(*space, scale=1.0 / epsilon)
    assert abs(measurement.map(1) - epsilon) < 1e-9
    return measurement  # type: ignore[no-any-return]


def seen_by_noise(
    true: Views, noise: Callable[[list[int]], list[int]]
) -> tuple[dict[str, dict[str, int]], int]:
    """Every possible key published with noise; also count the invented cells."""
    keys = {
        "kind": [o.id for o in INCIDENTS],
        "country": [o.id for o in COUNTRIES],
        "region": REGION_IDS,  # a noisy table of its own, as the suppressed design has
        "province": [o.id for o in AFGHAN_PROVINCES],
    }
    seen: dict[str, dict[str, int]] = {}
    invented = 0
    for name, names in keys.items():
        noisy = noise([true[name][key] for key in names])
        seen[name] = {key: max(0, value) for key, value in zip(names, noisy, strict=True)}
        invented += sum(1 for key in names if true[name][key] == 0 and seen[name][key] > 0)
    return seen, invented


# --- the run --------------------------------------------------------------------------------


def measure(volumes: Sequence[int], months: int) -> dict[str, dict[str, dict[str, float]]]:
    results: dict[str, dict[str, dict[str, float]]] = {}
    noises = {"dp-eps1": laplace(1 / TABLES_SPENDING_BUDGET)}
    noises["dp-eps3"] = laplace(3 / TABLES_SPENDING_BUDGET)
    for n in volumes:
        rng = random.Random(n)
        sums: dict[str, Counter[str]] = {}
        for _ in range(months):
            month = synthetic_month(rng, n)
            quarter = month + synthetic_month(rng, n) + synthetic_month(rng, n)
            true = truth(month)
            ways = {
                "provinces": share_seen(
                    true, seen_by_suppression(build_digest(month, K, roll_up=False)), False
                ),
                "regions": share_seen(true, seen_by_suppression(build_digest(month, K)), False),
                "quarter": share_seen(
                    truth(quarter), seen_by_suppression(build_digest(quarter, K)), False
                ),
            }
            for name, noise in noises.items():
                seen, invented = seen_by_noise(true, noise)
                ways[name] = {**share_seen(true, seen, True), "invented": float(invented)}
            for way, shares in ways.items():
                sums.setdefault(way, Counter()).update(shares)
        for way, total in sums.items():
            results.setdefault(way, {})[str(n)] = {
                name: round(value / months, 3) for name, value in total.items()
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two volumes, five months each")
    args = parser.parse_args()
    volumes, months = ((15, 60), 5) if args.quick else (VOLUMES, MONTHS_PER_VOLUME)
    results = measure(volumes, months)
    print(f"Share of reports a partner sees well (k = {K}; {months} synthetic months per N)")
    print(
        f"{'way':<10} {'N':>4} {'kind':>6} {'country':>8} {'region':>7} {'province':>9}  invented"
    )
    for way, by_volume in results.items():
        for n, shares in by_volume.items():
            invented = f"{shares['invented']:>9.1f}" if "invented" in shares else ""
            print(
                f"{way:<10} {n:>4} {shares['kind']:>6.0%} {shares['country']:>8.0%} "
                f"{shares['region']:>7.0%} {shares['province']:>9.0%} {invented}"
            )
    baseline = results["provinces"]
    gain = {n: round(results["regions"][n]["region"] - baseline[n]["region"], 3) for n in baseline}
    print("regions minus provinces, share of Afghan reports placed in their region:", gain)
    print(json.dumps({"k": K, "months": months, "results": results, "region_gain": gain}))


if __name__ == "__main__":
    main()
