#!/usr/bin/env python
"""Benchmark block generation on TIGHT programs with a planted valid schedule (issue 15).

    python bench/planted.py [--sizes S,M,L] [--seeds 5] [--workers 1,2]
                            [--scenarios fresh,wishes] [--limit 30]

Programs come from scheduling/planted.py: S = 20 residents, M = 78, L = 156; 13 blocks; exact
curricula, capacities as tight as the planted schedule allows (min == max on every core
rotation for M and L), vacations, conference weeks, exactly-half absences, ~3% pinned rows.
Scenarios: **fresh** (no schedule yet), **wishes** (fresh, with half of the residents ranking
wishes for 3 blocks each, all honourable by the planted schedule), **perturbed** (regenerate
against the planted schedule with 10% of its cells changed), **random** (regenerate against a
random schedule: a stress case).

Each run is its own process through the real service path (``generation_run_start`` +
``generation_run_execute``: Redis lock, fence, solve, one write transaction with the
validator inside). Uses DATABASE_URL's database and deletes what it creates; Redis database
ROTA_BENCH_REDIS_DB (default 12) so the generation locks never meet another run's. Prints one
row per run, then medians and worst cases per (size, workers, scenario) for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_FIRST_SECONDS = {"S": 2.0, "M": 5.0, "L": 10.0}


def _setup_django() -> None:
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL (a database this benchmark may write to).")
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    os.environ["REDIS_URL"] = f"{base}/{os.environ.get('ROTA_BENCH_REDIS_DB', '12')}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "residency.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def run_one(size: str, seed: int, workers: int, scenario: str, limit: int) -> dict:
    _setup_django()
    from scheduling import services
    from scheduling.models import GenerationRun
    from scheduling.planted import (
        planted_current_schedule_create,
        planted_program_create,
        planted_wishes_create,
    )
    from scheduling.validator import schedule_validate

    prefix = f"Q{size}{seed}w{workers}{scenario[0]}"
    _cleanup(prefix)
    planted = planted_program_create(
        size=size,
        seed=seed,
        prefix=prefix,
        start_year=int(os.environ.get("BENCH_START_YEAR", "2095")),
    )
    if scenario == "wishes":
        planted_wishes_create(planted=planted, seed=seed)
    elif scenario in ("perturbed", "random"):
        planted_current_schedule_create(planted=planted, seed=seed, mode=scenario)
    started = time.monotonic()
    run = services.generation_run_start(
        academic_year_id=planted.year.pk, time_limit_seconds=limit, seed=seed, workers=workers,
        enqueue=False, auto_publish=True,  # written and validated, not left as a draft
    )  # fmt: skip
    services.generation_run_execute(run_id=run.pk)
    e2e = time.monotonic() - started
    run = GenerationRun.objects.get(pk=run.pk)
    report = run.report or {}
    wishes = report.get("wishes") or {}
    result = {
        "size": size,
        "seed": seed,
        "workers": workers,
        "scenario": scenario,
        "status": run.status,
        "solver": run.solver_status,
        "first": run.first_solution_seconds,
        "wall": run.wall_seconds,
        "e2e": e2e,
        "violations": len(schedule_validate(academic_year=planted.year)),
        "changes": report.get("changes"),
        "floor": report.get("changes_at_least"),
        "spread": max((report.get("fairness_spread") or {0: 0}).values()),
        "wished": wishes.get("wished_blocks", 0),
        "first_choice": wishes.get("first", 0),
        "error": (run.error or "")[:200],
    }
    _cleanup(prefix)
    return result


def _cleanup(prefix: str) -> None:
    from residency.models import AcademicYear, Person, RotationTemplate
    from scheduling.models import GenerationRun

    years = AcademicYear.objects.filter(label__startswith=f"{prefix} ")
    GenerationRun.objects.filter(academic_year__in=years).delete()
    years.delete()  # blocks, assignments, PGY levels, wishes
    Person.objects.filter(email__endswith=f".{prefix.lower()}@example.org").delete()
    RotationTemplate.objects.filter(code__startswith=f"{prefix}-").delete()


def _fmt(value, spec=".2f"):
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--scenarios", default="fresh,wishes")
    parser.add_argument("--limit", type=int, default=30, help="solver time limit, seconds")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        size, seed, workers, scenario = args.one
        print(json.dumps(run_one(size, int(seed), int(workers), scenario, args.limit)))
        return

    header = (
        f"{'size':<4} {'w':>1} {'scenario':<9} {'seed':>4} {'status':<9} {'solver':<8} "
        f"{'first s':>7} {'wall s':>6} {'e2e s':>6} {'viol':>4} {'changed':>7} {'floor':>5} "
        f"{'spread':>6} {'1st wish':>9}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    for size in args.sizes.split(","):
        for workers in [int(w) for w in args.workers.split(",")]:
            for scenario in args.scenarios.split(","):
                for seed in range(1, args.seeds + 1):
                    out = subprocess.run(
                        [sys.executable, __file__, "--one", size, str(seed), str(workers),
                         scenario, "--limit", str(args.limit)],
                        capture_output=True, text=True, cwd=ROOT,
                    )  # fmt: skip
                    if out.returncode != 0:
                        print(
                            f"{size:<4} {workers} {scenario:<9} {seed:>4} ERROR {out.stderr[-300:]}"
                        )
                        continue
                    r = json.loads(out.stdout.strip().splitlines()[-1])
                    rows.append(r)
                    wish = f"{r['first_choice']}/{r['wished']}" if r["wished"] else "-"
                    print(
                        f"{size:<4} {workers:>1} {scenario:<9} {seed:>4} {r['status']:<9} "
                        f"{r['solver']:<8} {_fmt(r['first']):>7} {_fmt(r['wall'], '.1f'):>6} "
                        f"{_fmt(r['e2e'], '.1f'):>6} {r['violations']:>4} "
                        f"{_fmt(r['changes'], 'd'):>7} {_fmt(r['floor'], 'd'):>5} "
                        f"{r['spread']:>6} {wish:>9}",
                        flush=True,
                    )
                    if r["error"]:
                        print(f"      {r['error']}")
    _summary(rows)


def _summary(rows: list[dict]) -> None:
    print()
    header = (
        f"{'size':<4} {'w':>1} {'scenario':<9} {'runs':>4} {'ok':>3} {'first med':>9} "
        f"{'first max':>9} {'target':>6} {'e2e med':>7} {'e2e max':>7} {'viol':>4} "
        f"{'1st wish min':>12}"
    )
    print(header)
    print("-" * len(header))
    keys = sorted({(r["size"], r["workers"], r["scenario"]) for r in rows},
                  key=lambda k: ("SML".index(k[0]), k[1], k[2]))  # fmt: skip
    for size, workers, scenario in keys:
        group = [
            r for r in rows if (r["size"], r["workers"], r["scenario"]) == (size, workers, scenario)
        ]
        ok = [r for r in group if r["status"] == "succeeded"]
        firsts = [r["first"] for r in group if r["first"] is not None]
        e2e = [r["e2e"] for r in group]
        shares = [r["first_choice"] / r["wished"] for r in group if r["wished"]]
        print(
            f"{size:<4} {workers:>1} {scenario:<9} {len(group):>4} {len(ok):>3} "
            f"{_fmt(statistics.median(firsts) if firsts else None):>9} "
            f"{_fmt(max(firsts) if len(firsts) == len(group) else None):>9} "
            f"{'<' + format(TARGET_FIRST_SECONDS[size], '.0f') + ' s':>6} "
            f"{_fmt(statistics.median(e2e), '.1f'):>7} {_fmt(max(e2e), '.1f'):>7} "
            f"{sum(r['violations'] for r in group):>4} "
            f"{_fmt(min(shares) if shares else None, '.0%'):>12}"
        )


if __name__ == "__main__":
    main()
