"""Run a benchmark script's quick mode the way a developer would, and read its last line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def run_quick(script: str) -> dict[str, Any]:
    """Run ``benchmarks/<script> --quick``; return the JSON object it must print last.

    Nothing about time is asserted: a benchmark only measures. The caller checks the figures
    it names are there.
    """
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) > 1, "human-readable figures come before the JSON line"
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures
