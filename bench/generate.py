#!/usr/bin/env python
"""Benchmark schedule generation on synthetic programs (not a test; prints a table).

    python bench/generate.py [--sizes S,M,L] [--seeds 5]
                             [--scenarios fresh,perturbed,unchanged] [--limit 30] [--workers 2]

Each (size, scenario, seed) runs in its own process (a clean peak-memory figure) through the
real service path: a GenerationRun executed in-process (Redis lock, fence, solve, its draft
stored), then published (``generation_run_publish``: one transaction, version checks, the diff
write, validation). Scenarios: "fresh" generates a year with no schedule; "perturbed"
generates it, adds new vacations for a tenth of the residents and measures the regeneration
(the everyday case: stability matters); "unchanged" generates it and regenerates with no input
change (nothing may be written); "random" (a stress case, not in the default) regenerates
against a random current schedule, far from any valid one.

Write figures per run: rows kept (untouched), changed, added, removed; "untouched" is kept as a
share of the rows that existed before; "publish s" is the end-to-end time of the publish call.

Without DATABASE_URL it uses a separate database ``rota_bench`` on the embedded PostgreSQL (your
development data is never touched); with DATABASE_URL it uses that database and deletes what
it created. Results and the machine they ran on belong in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup_django() -> None:
    if not os.environ.get("DATABASE_URL"):
        import psycopg

        from residency import embedded

        url = embedded.postgres_database_url()
        base = url.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname='rota_bench'").fetchone():
                conn.execute('CREATE DATABASE "rota_bench"')
        os.environ["DATABASE_URL"] = f"{base}/rota_bench"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "residency.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def run_one(size: str, seed: int, scenario: str, limit: int, workers: int) -> dict:
    """One measurement, in this process."""
    _setup_django()
    from collections import Counter, defaultdict

    from django.core.management import call_command

    from residency.models import AcademicYear, Assignment, Person, ResidentYear, RotationTemplate
    from scheduling import execute, services
    from scheduling.models import GenerationRun
    from scheduling.search import ScheduleSolve
    from scheduling.synthetic import (
        synthetic_absences_add,
        synthetic_previous_schedule_create,
        synthetic_program_create,
    )
    from scheduling.validator import schedule_validate

    call_command("migrate", verbosity=0)
    prefix = f"B{size}{seed}{scenario[0]}"
    _cleanup(prefix)
    year = synthetic_program_create(size=size, seed=seed, prefix=prefix, start_year=2090)
    if scenario in ("perturbed", "unchanged"):
        first = services.generation_run_start(
            academic_year_id=year.pk, time_limit_seconds=limit, seed=seed, workers=workers,
            auto_publish=True, enqueue=False,
        )  # fmt: skip
        services.generation_run_execute(run_id=first.pk)
        if scenario == "perturbed":
            synthetic_absences_add(academic_year=year, seed=seed)
    elif scenario == "random":
        synthetic_previous_schedule_create(academic_year=year, seed=seed)

    trace: list = []

    class Traced(ScheduleSolve):  # records every improving solution (time, objective, bound)
        def __init__(self, *args, on_solution=None, **kwargs):
            def record(progress):
                trace.append(progress)
                if on_solution:
                    on_solution(progress)

            super().__init__(*args, on_solution=record, **kwargs)

    execute.ScheduleSolve = Traced  # after the unmeasured first run of "perturbed"
    before = _schedule(year)
    started = time.monotonic()
    run = services.generation_run_start(
        academic_year_id=year.pk, time_limit_seconds=limit, seed=seed, workers=workers,
        enqueue=False,
    )  # fmt: skip
    services.generation_run_execute(run_id=run.pk)
    end_to_end = time.monotonic() - started
    publish_seconds = None
    if GenerationRun.objects.get(pk=run.pk).status == GenerationRun.Status.READY:
        started = time.monotonic()
        services.generation_run_publish(run_id=run.pk)
        publish_seconds = time.monotonic() - started
    run = GenerationRun.objects.get(pk=run.pk)

    def gap_at(seconds: float) -> float | None:
        """The gap at ``seconds``: the final one if the solve had ended by then, else the one
        of the last solution found by then (its bound as of that solution: conservative)."""
        if run.wall_seconds is not None and run.wall_seconds <= seconds:
            return run.gap
        seen = [p for p in trace if p.wall_seconds <= seconds]
        return seen[-1].gap if seen else None

    violations = schedule_validate(academic_year=year)
    heavy = Counter(
        Assignment.objects.filter(block__academic_year=year, rotation__heavy=True).values_list(
            "person_id", flat=True
        )
    )
    cohorts = defaultdict(list)
    for person_id, level in ResidentYear.objects.filter(academic_year=year).values_list(
        "person_id", "pgy_level"
    ):
        cohorts[level].append(heavy[person_id])
    spread = max((max(v) - min(v) for v in cohorts.values()), default=0)
    result = {
        "size": size,
        "scenario": scenario,
        "seed": seed,
        "status": run.status,
        "solver": run.solver_status,
        "first": run.first_solution_seconds,
        "wall": run.wall_seconds,
        "gap": run.gap,
        "gap10": gap_at(10),
        "gap30": gap_at(30),
        "violations": len(violations),
        "spread": spread,
        "e2e": end_to_end,
        "written": run.assignments_written,
        "kept": run.rows_kept,
        "rows_changed": run.rows_changed,
        "added": run.rows_added,
        "removed": run.rows_removed,
        "untouched": run.rows_kept / len(before) if before and run.rows_kept is not None else None,
        "publish": publish_seconds,
        "changed": sum(1 for key, rot in _schedule(year).items() if before.get(key) != rot)
        if before
        else None,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "error": (run.error or "")[:200],
    }
    _cleanup(prefix)
    del AcademicYear, Person, RotationTemplate
    return result


def _schedule(year) -> dict:
    from residency.models import Assignment

    return {
        (p, b): r
        for p, b, r in Assignment.objects.filter(block__academic_year=year).values_list(
            "person_id", "block_id", "rotation_id"
        )
    }


def _cleanup(prefix: str) -> None:
    from residency.models import AcademicYear, Person, RotationTemplate
    from scheduling.models import GenerationRun

    years = AcademicYear.objects.filter(label__startswith=f"{prefix} ")
    GenerationRun.objects.filter(academic_year__in=years).delete()
    years.delete()  # blocks, assignments, PGY levels
    Person.objects.filter(email__endswith=f".{prefix.lower()}@example.org").delete()
    RotationTemplate.objects.filter(code__startswith=f"{prefix}-").delete()


def _fmt(value, spec=".1f", none="-"):
    return none if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--scenarios", default="fresh,perturbed,unchanged")
    parser.add_argument("--limit", type=int, default=30, help="solver time limit, seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--one", nargs=3, metavar=("SIZE", "SEED", "SCENARIO"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.one:
        size, seed, scenario = args.one
        print(json.dumps(run_one(size, int(seed), scenario, args.limit, args.workers)))
        return

    header = (
        f"{'size':<4} {'scenario':<10} {'seed':>4} {'status':<9} {'solver':<9} {'first s':>7} "
        f"{'gap@10s':>8} {'gap@30s':>8} {'final':>7} {'wall s':>6} {'e2e s':>6} {'viol':>4} "
        f"{'spread':>6} {'kept':>5} {'chg':>4} {'add':>4} {'rem':>4} {'written':>7} "
        f"{'untouched':>9} {'publish s':>9} {'peak MB':>7}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes.split(","):
        for scenario in args.scenarios.split(","):
            for seed in range(1, args.seeds + 1):
                out = subprocess.run(
                    [sys.executable, __file__, "--one", size, str(seed), scenario,
                     "--limit", str(args.limit), "--workers", str(args.workers)],
                    capture_output=True, text=True, cwd=ROOT,
                )  # fmt: skip
                if out.returncode != 0:
                    print(f"{size:<4} {scenario:<10} {seed:>4} ERROR {out.stderr[-300:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"{r['size']:<4} {r['scenario']:<10} {r['seed']:>4} {r['status']:<9} "
                    f"{r['solver']:<9} {_fmt(r['first'], '.2f'):>7} {_fmt(r['gap10'], '.2%'):>8} "
                    f"{_fmt(r['gap30'], '.2%'):>8} {_fmt(r['gap'], '.2%'):>7} "
                    f"{_fmt(r['wall']):>6} {_fmt(r['e2e']):>6} {r['violations']:>4} "
                    f"{r['spread']:>6} {_fmt(r['kept'], 'd'):>5} {_fmt(r['rows_changed'], 'd'):>4} "
                    f"{_fmt(r['added'], 'd'):>4} {_fmt(r['removed'], 'd'):>4} "
                    f"{r['written'] or 0:>7} {_fmt(r['untouched'], '.1%'):>9} "
                    f"{_fmt(r['publish'], '.3f'):>9} {r['peak_mb']:>7.0f}",
                    flush=True,
                )
                if r["error"]:
                    print(f"      {r['error']}")


if __name__ == "__main__":
    main()
