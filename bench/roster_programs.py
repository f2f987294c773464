#!/usr/bin/env python
"""Residency programs on Rota's rostering engine (issue 16, item 7; not a test, prints a table).

    python bench/roster_programs.py --runs S:month,M:month,L:year --time-limit 60 --workers 2

A program is generated from a seed (pure Python, no database): residents in PGY cohorts, a
block schedule of 4-week blocks (ward, ICU, clinic, elective, night float), each rotation's
weekday work pattern, vacations, day-off requests and, for a month, burden points from earlier
months. It is mapped onto ``scheduling.roster`` exactly as docs/rostering.md ("How the residency
rules map onto the engine") documents, solved, and the roster is re-checked by
``bench/residency_check.py``, which re-counts every rule from the program and the roster and
shares no code with the model.

Shift types (docs/performance.md, "Residency programs", has the table of what each means):

- ``NF`` night float, 12 h, Monday to Saturday nights (Sunday night is WE24's), from the
  residents on the night rotation, in runs of 5-6 nights followed by at least 2 days off.
- ``CALL`` overnight in-house call Monday to Friday after the rotation's day (the 14 h from
  17:00 to 07:00 on top of the rotation's day: 24 h in house), from ward and ICU residents
  (about every fourth night for a ward resident); post-call the next day is free of shifts.
- ``WE24`` 24-h in-house weekend call, Saturday and Sunday, from ward, clinic and elective
  residents; post-call day free.
- ``BACKUP`` backup home call (not in house) for seniors (PGY2-3) on clinic or elective,
  every day, the Friday, Saturday and Sunday of a weekend to one person.

ACGME: 80 h a week averaged over 4 weeks (rolling 28 days, baseline + shifts; the post-call
day's baseline counts in full: conservative), one day in seven free averaged over 4 weeks
(4 in any 28 days, a baseline day is not free), in-house call (CALL, WE24) at most every third
night (strictly: never two in any 3 days), and the rest after call. Fairness: burden points
(CALL 2, WE24 3, BACKUP 1) within each PGY cohort over the year so far, weekend points
balanced separately.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import residency_check  # noqa: E402
from scheduling.roster import (  # noqa: E402
    Cover,
    Fairness,
    MinFreeDays,
    Person,
    Request,
    RollingMinutes,
    RosterProblem,
    RosterSolve,
    Runs,
    SameShiftDays,
    ShiftType,
    WindowCount,
)

BLOCK = 28
SIZES = {"S": 20, "M": 90, "L": 150}
# Weekday (0 = Monday) -> minutes of the rotation's day work.
PATTERNS = {
    "ward": {0: 600, 1: 600, 2: 600, 3: 600, 4: 600},
    "icu": {0: 660, 1: 660, 2: 660, 3: 660, 4: 660, 5: 660},
    "clinic": {0: 480, 1: 480, 2: 480, 3: 480, 4: 480},
    "elective": {0: 480, 1: 480, 2: 480, 3: 480, 4: 480},
    "nights": {},
}
MINUTES = {"NF": 720, "CALL": 840, "WE24": 1440, "BACKUP": 120}
POINTS = {"CALL": 2, "WE24": 3, "BACKUP": 1}
IN_HOUSE = ("CALL", "WE24")
# Which rotations feed which pool.
POOLS = {
    "NF": ("nights",),
    "CALL": ("ward", "icu"),
    "WE24": ("ward", "clinic", "elective"),
    "BACKUP": ("clinic", "elective"),
}
REQUEST_WEIGHTS = {1: 5, 2: 10, 3: 20}  # priority -> cost of breaking it


@dataclass(frozen=True)
class Resident:
    id: str
    pgy: int


@dataclass
class Program:
    """A residency program's facts for a horizon (what the shifts app would hold)."""

    name: str
    days: int
    first_weekday: int
    residents: list[Resident]
    rotation: dict[tuple[str, int], str]  # (resident, day) -> rotation
    vacation: dict[str, set[int]]
    requests: list[tuple[str, int, int]]  # (resident, day off, priority)
    need: dict[tuple[int, str], int]  # (day, shift type) -> exact number of people
    history: dict[str, int] = field(default_factory=dict)
    weekend_history: dict[str, int] = field(default_factory=dict)

    def weekday(self, day: int) -> int:
        return (self.first_weekday + day) % 7

    def baseline(self, resident: str, day: int) -> int:
        if day in self.vacation.get(resident, ()):
            return 0
        return PATTERNS[self.rotation[resident, day]].get(self.weekday(day), 0)

    def eligible(self, resident: Resident, day: int, shift: str) -> bool:
        if day in self.vacation.get(resident.id, ()):
            return False
        if shift == "BACKUP" and resident.pgy < 2:
            return False
        return self.rotation[resident.id, day] in POOLS[shift]

    def weekend_days(self) -> frozenset[int]:
        return frozenset(d for d in range(self.days) if self.weekday(d) in (5, 6))


def _counts(n: int) -> dict[str, int]:
    """People per night/day for a program of ``n`` residents."""
    return {
        "NF": max(1, n // 30),
        "CALL": max(1, n // 10),
        "WE24": max(1, n // 20),
        "BACKUP": max(1, n // 40),
    }


def program_generate(size: str, *, horizon: str = "month", seed: int = 1) -> Program:
    """A program of ``size`` (S, M, L) for one 4-week block ("month") or 13 ("year")."""
    n = SIZES[size]
    rng = random.Random(f"{size}-{horizon}-{seed}")
    blocks = 1 if horizon == "month" else 13
    days = blocks * BLOCK
    first_weekday = 0  # blocks start on a Monday
    residents = [Resident(id=f"R{k:03d}", pgy=1 + k % 3) for k in range(n)]
    counts = _counts(n)
    # Rotations per block: the night team is twice the nightly need (each does about half the
    # nights in runs), ICU ~15%, ward enough for the call need, the rest clinic and elective.
    per_block = {"nights": 2 * counts["NF"], "icu": max(2, round(0.15 * n))}
    per_block["ward"] = max(4, round(0.35 * n))
    per_block["clinic"] = (n - sum(per_block.values())) // 2
    per_block["elective"] = n - sum(per_block.values())
    order = [r.id for r in residents]
    rng.shuffle(order)
    rotation: dict[tuple[str, int], str] = {}
    plan = [name for name, k in per_block.items() for _ in range(k)]
    for b in range(blocks):
        # Rotate the list each block so everyone passes through every rotation over a year.
        shift = (b * max(1, n // 13) + rng.randrange(3)) % n
        for idx, rid in enumerate(order):
            rot = plan[(idx + shift) % n]
            for d in range(b * BLOCK, (b + 1) * BLOCK):
                rotation[rid, d] = rot
    vacation: dict[str, set[int]] = {}
    for r in residents:
        # One week of vacation a year (a month: a quarter of residents), never on nights/ICU.
        if horizon == "month" and rng.random() > 0.25:
            continue
        for _ in range(1 if horizon == "month" else 3):
            start = rng.randrange(0, days - 7) // 7 * 7
            if rotation[r.id, start] in ("nights", "icu"):
                continue
            vacation.setdefault(r.id, set()).update(range(start, start + 7))
    requests = []
    for r in residents:
        for _ in range(2 * blocks):
            requests.append((r.id, rng.randrange(days), rng.choice((1, 1, 2, 3))))
    need: dict[tuple[int, str], int] = {}
    for d in range(days):
        wd = (first_weekday + d) % 7
        if wd != 6:  # Monday to Saturday nights (Sunday night: the weekend call)
            need[d, "NF"] = counts["NF"]
        if wd < 5:
            need[d, "CALL"] = counts["CALL"]
        else:
            need[d, "WE24"] = counts["WE24"]
        need[d, "BACKUP"] = counts["BACKUP"]
    history: dict[str, int] = {}
    weekend_history: dict[str, int] = {}
    if horizon == "month":
        # Earlier months of the year: a few points apart within each cohort.
        for r in residents:
            history[r.id] = 30 + rng.randrange(0, 9)
            weekend_history[r.id] = 10 + rng.randrange(0, 5)
    return Program(
        name=f"{size}-{horizon}",
        days=days,
        first_weekday=first_weekday,
        residents=residents,
        rotation=rotation,
        vacation=vacation,
        requests=requests,
        need=need,
        history=history,
        weekend_history=weekend_history,
    )


def program_problem(program: Program) -> RosterProblem:
    """The documented mapping (docs/rostering.md) of a program onto the engine's data."""
    types = (
        ShiftType(id="NF", minutes=MINUTES["NF"]),
        ShiftType(id="CALL", minutes=MINUTES["CALL"], rest_days_after=1, points=POINTS["CALL"]),
        ShiftType(id="WE24", minutes=MINUTES["WE24"], rest_days_after=1, points=POINTS["WE24"]),
        ShiftType(id="BACKUP", minutes=MINUTES["BACKUP"], points=POINTS["BACKUP"]),
    )
    people = []
    for r in program.residents:
        ineligible = {}
        for d in range(program.days):
            if d in program.vacation.get(r.id, ()):
                continue  # unavailable, below
            for t in MINUTES:
                if (d, t) not in program.need:
                    ineligible[d, t] = "not needed"  # no cover row: nobody works it
                elif not program.eligible(r, d, t):
                    ineligible[d, t] = f"on {program.rotation[r.id, d]}"
        baseline = {d: m for d in range(program.days) if (m := program.baseline(r.id, d)) > 0}
        people.append(
            Person(
                id=r.id,
                unavailable=dict.fromkeys(sorted(program.vacation.get(r.id, ())), "vacation"),
                ineligible=ineligible,
                baseline_minutes=baseline,
                cohort=f"PGY{r.pgy}",
            )
        )
    cover = tuple(
        Cover(day=d, shift_type=t, min=k, max=k) for (d, t), k in sorted(program.need.items())
    )
    requests = tuple(
        Request(person=rid, day=day, shift_type=None, weight=REQUEST_WEIGHTS[prio], on=False)
        for rid, day, prio in program.requests
    )
    fridays = [d for d in range(program.days) if program.weekday(d) == 4]
    groups = tuple(tuple(range(f, f + 3)) for f in fridays if f + 2 < program.days)
    weekend = program.weekend_days()
    return RosterProblem(
        days=program.days,
        shift_types=types,
        people=tuple(people),
        cover=cover,
        requests=requests,
        first_weekday=program.first_weekday,
        rolling_minutes=(RollingMinutes(window=28, max_minutes=80 * 4 * 60),),
        min_free_days=(MinFreeDays(window=28, min_free=4),),
        window_counts=(WindowCount(shift_types=frozenset(IN_HOUSE), window=3, max_count=1),),
        runs=(Runs(shift_types=frozenset({"NF"}), min_length=5, max_length=6, rest_after=2),),
        same_shift_days=(SameShiftDays(shift_type="BACKUP", groups=groups),),
        fairness=(
            Fairness(name="burden", weight=20, history=program.history),
            Fairness(name="weekend", weight=10, days=weekend, history=program.weekend_history),
        ),
    )


def run(size: str, horizon: str, *, time_limit: float, workers: int, seed: int) -> dict:
    program = program_generate(size, horizon=horizon, seed=seed)
    started = time.monotonic()
    problem = program_problem(program)
    mapped = time.monotonic() - started
    first: list[float] = []

    def progress(p) -> None:
        if not first:
            first.append(p.wall_seconds)

    solve = RosterSolve(
        problem, time_limit=time_limit, workers=workers, seed=seed, on_progress=progress
    )
    result = solve.run()
    row = {
        "program": program.name,
        "residents": len(program.residents),
        "days": program.days,
        "status": result.status,
        "first": result.first_solution_seconds,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "time": result.wall_seconds,
        "map": mapped,
        "violations": None,
        "spread": None,
        "trace": solve.trace,
    }
    if result.roster is not None:
        report = residency_check.check(program, result.roster)
        row["violations"] = len(report.violations)
        row["violation_examples"] = report.violations[:5]
        row["spread"] = report.spread
        row["weekend_spread"] = report.weekend_spread
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="S:month,M:month,L:year")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"# time limit {args.time_limit:g} s, {args.workers} workers, seed {args.seed}")
    header = (
        f"{'program':>8} {'res':>4} {'days':>4} {'status':>9} {'first s':>7} {'objective':>9} "
        f"{'bound':>9} {'gap %':>6} {'time s':>6} {'viol':>4} {'spread (max per cohort)':>24}"
    )
    print(header)
    print("-" * len(header), flush=True)
    for spec in args.runs.split(","):
        size, horizon = spec.split(":")
        row = run(size, horizon, time_limit=args.time_limit, workers=args.workers, seed=args.seed)
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        spread = "-"
        if row["spread"] is not None:
            spread = f"{max(row['spread'].values())} (we {max(row['weekend_spread'].values())})"
        print(
            f"{row['program']:>8} {row['residents']:>4} {row['days']:>4} {row['status']:>9} "
            f"{fmt(row['first'], '7.1f')} {fmt(row['objective'], '9.0f')} "
            f"{fmt(row['bound'], '9.0f')} "
            f"{fmt(None if row['gap'] is None else 100 * row['gap'], '6.2f')} "
            f"{row['time']:6.1f} {fmt(row['violations'], '>4')} {spread:>24}",
            flush=True,
        )
        for v in row.get("violation_examples", []):
            print(f"    violation: {v}")
        phases = ", ".join(
            f"{name} until {t:.1f} s ({'-' if out is None else out})"
            for name, t, out in row["trace"]
        )
        print(f"    model built in {row['map']:.1f} s (data) ; search: {phases}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
