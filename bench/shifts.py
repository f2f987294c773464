#!/usr/bin/env python
"""The Employee Shift Scheduling Benchmark (Curtois & Qu, instances 1-24) on Rota's rostering
engine (not a test; prints a table).

    python bench/shifts.py --benchmark ../shared/benchmarks/shift-scheduling \\
        --instances 1-10 --time-limit 60 --workers 2 --seed 1 --out var/shifts

Each instance is read from its plain-text file, mapped onto ``scheduling.roster`` (the same
engine the product uses: the benchmark's rules are the engine's generic person limits, requests
and cover), solved, written as ``staff_id,day,shift_id`` lines (day 0-based, days off omitted)
to ``<out>/InstanceN.csv`` and re-scored from that file by ``bench/shift_benchmark_evaluator``,
an independent evaluator that shares no code with the model. Best-known objectives come from
SOURCES.md beside the instances.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import shift_benchmark_evaluator as evaluator  # noqa: E402
from scheduling.roster import (  # noqa: E402
    Cover,
    Person,
    Request,
    RosterProblem,
    ShiftType,
    roster_solve,
)

# The instances live beside the checkout (CI: ../shared/benchmarks/shift-scheduling); a checkout
# elsewhere (a git worktree) points ROTA_SHIFT_BENCHMARK at them.
DEFAULT_BENCHMARK = Path(
    os.environ.get("ROTA_SHIFT_BENCHMARK")
    or ROOT.parent / "shared" / "benchmarks" / "shift-scheduling"
)


def _sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("SECTION_"):
            current = line
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return sections


def problem_from_text(text: str) -> RosterProblem:
    """Map one instance onto the engine's data (every rule is a generic engine rule)."""
    sec = _sections(text)
    days = int(sec["SECTION_HORIZON"][0])
    shift_types = []
    for line in sec["SECTION_SHIFTS"]:
        parts = line.split(",")
        follow = frozenset(s for s in parts[2].split("|") if s) if len(parts) > 2 else frozenset()
        shift_types.append(ShiftType(id=parts[0], minutes=int(parts[1]), cannot_follow=follow))
    days_off: dict[str, set[int]] = {}
    for line in sec.get("SECTION_DAYS_OFF", []):
        parts = line.split(",")
        days_off[parts[0]] = {int(d) for d in parts[1:] if d}
    people = []
    for line in sec["SECTION_STAFF"]:
        pid, max_shifts, max_min, min_min, max_cons, min_cons, min_off, max_we = line.split(",")
        limits = {}
        for item in max_shifts.split("|"):
            if item:
                t, n = item.split("=")
                limits[t] = int(n)
        people.append(
            Person(
                id=pid,
                max_shifts=limits,
                max_minutes=int(max_min),
                min_minutes=int(min_min),
                max_consecutive_shifts=int(max_cons),
                min_consecutive_shifts=int(min_cons),
                min_consecutive_days_off=int(min_off),
                max_weekends=int(max_we),
                unavailable=dict.fromkeys(sorted(days_off.get(pid, ())), "day off"),
            )
        )
    requests = []
    for section, on in (("SECTION_SHIFT_ON_REQUESTS", True), ("SECTION_SHIFT_OFF_REQUESTS", False)):
        for line in sec.get(section, []):
            pid, day, t, w = line.split(",")
            requests.append(Request(person=pid, day=int(day), shift_type=t, weight=int(w), on=on))
    cover = []
    for line in sec["SECTION_COVER"]:
        day, t, req, under, over = line.split(",")
        cover.append(
            Cover(
                day=int(day),
                shift_type=t,
                preferred=int(req),
                under_weight=int(under),
                over_weight=int(over),
            )
        )
    return RosterProblem(
        days=days,
        shift_types=tuple(shift_types),
        people=tuple(people),
        cover=tuple(cover),
        requests=tuple(requests),
        first_weekday=0,  # "All instances start on a Monday"
    )


def best_known(benchmark: Path) -> dict[int, int]:
    """Best-known solutions from SOURCES.md's table (| InstanceN | lower | upper |)."""
    path = benchmark / "SOURCES.md"
    found = {}
    if path.exists():
        for m in re.finditer(r"^\| Instance(\d+) \| (\d+) \| (\d+) \|", path.read_text(), re.M):
            found[int(m.group(1))] = int(m.group(3))
    return found


def parse_instances(spec: str) -> list[int]:
    """'1-10', '1,3,5-7' -> sorted instance numbers."""
    numbers: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-", 1)
            numbers.update(range(int(lo), int(hi) + 1))
        else:
            numbers.add(int(part))
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError(f"bad instance list: {spec!r}")
    return sorted(numbers)


def roster_lines(roster: dict[tuple[str, int], str]) -> list[str]:
    return [
        f"{pid},{day},{t}"
        for (pid, day), t in sorted(roster.items(), key=lambda kv: (kv[0][1], kv[0][0]))
    ]


def _cpu_seconds() -> float:
    """CPU time of this process (all solver threads): on a shared machine it shows how much of
    the ``workers`` x wall time the solve actually got."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_instance(
    benchmark: Path,
    number: int,
    *,
    time_limit: float,
    workers: int,
    seed: int,
    out: Path,
    lns: bool = True,
) -> dict:
    path = benchmark / f"Instance{number}.txt"
    text = path.read_text()
    problem = problem_from_text(text)
    started = time.monotonic()
    cpu_started = _cpu_seconds()
    result = roster_solve(problem, time_limit=time_limit, workers=workers, seed=seed, lns=lns)
    wall = time.monotonic() - started
    cpu = _cpu_seconds() - cpu_started
    row = {
        "instance": number,
        "staff": len(problem.people),
        "days": problem.days,
        "status": result.status,
        "objective": result.objective,
        "bound": result.bound,
        "time": wall,
        "first": result.first_solution_seconds,
        "cpu": cpu,
        "eval": None,
        "hard": None,
    }
    if result.roster is not None:
        out.mkdir(parents=True, exist_ok=True)
        csv = out / f"Instance{number}.csv"
        csv.write_text("\n".join(roster_lines(result.roster)) + "\n")
        report = evaluator.evaluate_files(path, csv)
        row["eval"] = report.objective
        row["hard"] = len(report.violations)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark", type=Path, default=DEFAULT_BENCHMARK)
    parser.add_argument("--instances", type=parse_instances, default=parse_instances("1-10"))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "shifts")
    parser.add_argument(
        "--no-lns", action="store_true", help="CP-SAT's portfolio alone for the whole time"
    )
    args = parser.parse_args(argv)
    known = best_known(args.benchmark)
    header = (
        f"{'instance':>8} {'staff':>5} {'days':>4} {'status':>9} {'objective':>9} "
        f"{'evaluator':>9} {'best':>6} {'gap %':>7} {'hard':>4} {'first s':>7} {'time s':>7} "
        f"{'cpu s':>7}"
    )
    print(
        f"# time limit {args.time_limit:g} s, {args.workers} workers, seed {args.seed}, "
        f"{'portfolio only' if args.no_lns else 'portfolio + LNS'}",
        flush=True,
    )
    print(header)
    print("-" * len(header), flush=True)
    for number in args.instances:
        row = run_instance(
            args.benchmark,
            number,
            time_limit=args.time_limit,
            workers=args.workers,
            seed=args.seed,
            out=args.out,
            lns=not args.no_lns,
        )
        best = known.get(number)
        obj = row["objective"]
        gap = f"{100.0 * (obj - best) / best:7.2f}" if obj is not None and best else f"{'-':>7}"
        print(
            f"{number:>8} {row['staff']:>5} {row['days']:>4} {row['status']:>9} "
            f"{'-' if obj is None else round(obj):>9} "
            f"{'-' if row['eval'] is None else row['eval']:>9} {best or '-':>6} {gap} "
            f"{'-' if row['hard'] is None else row['hard']:>4} "
            f"{'-' if row['first'] is None else format(row['first'], '7.1f'):>7} "
            f"{row['time']:7.1f} {row['cpu']:7.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
