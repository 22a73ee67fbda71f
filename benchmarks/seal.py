"""Measure sealing against PyNaCl's SealedBox, and attachment-stream memory and throughput.

Run ``python benchmarks/seal.py`` from anywhere (``--quick`` for a smoke run with tiny sizes).
It prints human-readable figures and, as its last line, one JSON object. The baseline is
measured in the same run, on the same machine, with the same iterations, so the ratio means
something; absolute numbers do not travel between machines. This script only measures: it
asserts nothing about time and never writes files.

Memory is measured in fresh child processes (``--child idle`` and ``--child stream``) that do
the same imports and set-up; each reports its own peak RSS, and the figure is the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from nacl.public import PrivateKey, SealedBox

from bot.crypto.constants import ITEM_FORMAT_VERSION, STREAM_CHUNK_SIZE
from bot.crypto.items import open_with_admin_key
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.sealer import AdminSealer, seal_stream_for_admins
from bot.crypto.stream import open_stream_with_admin_key
from bot.crypto.values import ItemRef

MIB = 1024 * 1024
REPORT_SIZE = 2048
GOAL_RATIO = 0.8
GOAL_PEAK_MB = 30.0
PIECE_SIZES = (1000, 50_000, 100_000, STREAM_CHUNK_SIZE, 7, 32_768)  # re-chunking gets exercised


def best_rate(run: Callable[[int], None], iterations: int, rounds: int) -> float:
    """Return the best operations per second over several timed rounds of `run`."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        run(iterations)
        elapsed = time.perf_counter() - start
        best = max(best, iterations / elapsed)
    return best


def bench_items(iterations: int, rounds: int, admins: int) -> tuple[float, float]:
    """Time seal+open of a 2 KB report against SealedBox encrypt+decrypt; return both rates."""
    keys = [AdminPrivateKey.generate() for _ in range(admins)]
    sealer = AdminSealer([key.public_key() for key in keys])
    ref = ItemRef("7K3M9Q2XZA", "narrative", 0)
    report = os.urandom(REPORT_SIZE)
    nacl_key = PrivateKey.generate()
    box, opener = SealedBox(nacl_key.public_key), SealedBox(nacl_key)

    def ours(count: int) -> None:
        for _ in range(count):
            if open_with_admin_key(sealer.seal_for_admins(report, ref), ref, keys[0]) != report:
                raise RuntimeError("round trip failed")

    def baseline(count: int) -> None:
        for _ in range(count):
            if opener.decrypt(box.encrypt(report)) != report:
                raise RuntimeError("round trip failed")

    warm_up = max(10, iterations // 10)
    ours(warm_up)
    baseline(warm_up)
    ops = baseline_ops = 0.0
    for _ in range(rounds):  # interleaved, so drifting CPU clocks hit both alike
        ops = max(ops, best_rate(ours, iterations, 1))
        baseline_ops = max(baseline_ops, best_rate(baseline, iterations, 1))
    return ops, baseline_ops


def attachment(total: int, block: bytes) -> Iterator[bytes]:
    """Yield `total` random-ish bytes in pieces of varying size, never holding more than one."""
    sent, turn = 0, 0
    while sent < total:
        size = min(PIECE_SIZES[turn % len(PIECE_SIZES)], total - sent)
        offset = (turn * 7919) % (len(block) - size + 1)
        yield block[offset : offset + size]
        sent += size
        turn += 1


def run_child(mode: str, megabytes: int) -> None:
    """Do one measured job in this fresh process and print its figures as JSON."""
    key = AdminPrivateKey.generate()
    sealer = AdminSealer([key.public_key()])
    ref = ItemRef("7K3M9Q2XZA", "video", 0)
    block = os.urandom(2 * max(PIECE_SIZES))
    total = megabytes * MIB
    seconds = 0.0
    if mode in ("seal", "open"):
        start = time.perf_counter()
        sealed = seal_stream_for_admins(sealer, ref, attachment(total, block))
        header = next(sealed)
        if mode == "seal":
            produced = sum(len(chunk.data) for chunk in sealed)
            expected = total + 16 * max(1, -(-total // STREAM_CHUNK_SIZE))
        else:  # seal and open pipelined: what an admin export of a fresh stream costs
            opened = open_stream_with_admin_key(header, sealed, ref, key)
            produced = sum(len(part) for part in opened)
            expected = total
        seconds = time.perf_counter() - start
        if produced != expected:
            raise RuntimeError("stream size mismatch")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_kb": peak_kb, "seconds": seconds}))


def child(mode: str, megabytes: int) -> dict[str, float]:
    """Run one measurement in a fresh interpreter and return what it reported."""
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--mb", str(megabytes)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    """Run every measurement, print figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--child", choices=("idle", "seal", "open"), help=argparse.SUPPRESS)
    parser.add_argument("--mb", type=int, default=200, help="attachment size in MiB")
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args.mb)
        return

    # Many short interleaved rounds, best of each: a shared virtual machine's noise comes in
    # bursts, and the best round of each side is the closest either gets to its true cost.
    iterations, rounds = (50, 2) if args.quick else (500, 20)
    megabytes = 2 if args.quick else args.mb

    ops, baseline_ops = bench_items(iterations, rounds, admins=1)
    ratio = ops / baseline_ops
    print(f"2 KB report, seal + open, 1 admin ({iterations} iterations, best of {rounds}):")
    print(f"  Amanat, sealed items v{ITEM_FORMAT_VERSION}          {ops:9.0f} ops/s")
    print(f"  PyNaCl SealedBox baseline          {baseline_ops:9.0f} ops/s")
    print(f"  ratio                              {ratio:9.2f}   (goal >= {GOAL_RATIO})")
    ops_3, _ = bench_items(max(10, iterations // 4), 2, admins=3)
    print(f"  Amanat with 3 admins               {ops_3:9.0f} ops/s   (for information)")

    idle = child("idle", megabytes)
    sealed = child("seal", megabytes)
    opened = child("open", megabytes)
    peak_mb = max(0.0, (sealed["peak_kb"] - idle["peak_kb"]) / 1024)
    open_peak_mb = max(0.0, (opened["peak_kb"] - idle["peak_kb"]) / 1024)
    seal_rate = megabytes / sealed["seconds"]
    open_rate = megabytes / opened["seconds"]
    print(f"{megabytes} MiB attachment stream, {STREAM_CHUNK_SIZE // 1024} KiB chunks:")
    print(f"  idle child peak RSS                {idle['peak_kb'] / 1024:9.1f} MiB")
    print(f"  seal: peak RSS above idle          {peak_mb:9.1f} MiB   (goal < {GOAL_PEAK_MB})")
    print(f"  seal: throughput                   {seal_rate:9.1f} MiB/s")
    print(f"  seal + open pipelined: peak above  {open_peak_mb:9.1f} MiB")
    print(f"  seal + open pipelined: throughput  {open_rate:9.1f} MiB/s")
    figures = {
        "ops_per_s": round(ops, 1),
        "baseline_ops_per_s": round(baseline_ops, 1),
        "ratio": round(ratio, 3),
        "ops_per_s_3_admins": round(ops_3, 1),
        "stream_mb": megabytes,
        "stream_peak_mb": round(peak_mb, 2),
        "stream_mb_per_s": round(seal_rate, 1),
        "stream_open_peak_mb": round(open_peak_mb, 2),
        "stream_open_mb_per_s": round(open_rate, 1),
        "ratio_goal_met": ratio >= GOAL_RATIO,
        "memory_goal_met": peak_mb < GOAL_PEAK_MB,
        "quick": args.quick,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
