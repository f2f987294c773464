"""``bench/edits.py`` still runs against the real edit endpoint and its bench-only unconditional
twin (bench/urls_bench.py copies the endpoint's path, so a change there must not break it), and
the versioned endpoint loses nothing even in a one-second run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_edits_bench_runs_and_the_versioned_endpoint_loses_nothing():
    result = subprocess.run(
        [sys.executable, "bench/edits.py", "--seconds", "1", "--clients", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = re.findall(r"^\| (versioned|unconditional) \| (distinct|hot) \| 2 \|.*\| (\d+) \|$",
                      result.stdout, re.M)  # fmt: skip
    assert len(rows) == 4, result.stdout
    assert all(lost == "0" for mode, _shape, lost in rows if mode == "versioned")
