"""The CI-sized load test: ``bench/load.py --short`` (8 clients for 10 s against gunicorn with
PostgreSQL, Redis and an rq worker) must finish with every invariant holding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_short_load_run_keeps_every_invariant():
    result = subprocess.run(
        [sys.executable, "bench/load.py", "--short"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "VERDICT: OK" in result.stdout, output
    assert " 0 lost" in result.stdout, output
