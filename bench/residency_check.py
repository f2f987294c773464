"""An independent check of a residency roster (bench/roster_programs.py): re-counts every rule
from the program's facts and the roster alone. It shares no code with the engine's model
(scheduling/roster/model.py) nor with the mapping onto it (``program_problem``): it reads the
program (rotations, vacations, needs) and the roster ((resident, day) -> shift type) and counts.

Rules: cover exact per (day, type); eligibility (rotation pool, PGY for backup, vacation);
80 h in any 28 consecutive days (rotation day work + shifts); at least 4 free days (no work at
all) in any 28; in-house call (CALL, WE24) never twice in 3 consecutive days (q3); no shift the
day after in-house call (rest); night-float runs of 5-6 nights then 2 free days (runs touching
the horizon's edges exempt from the minimum); backup call Friday-Sunday to one person.
Fairness: burden points (history + shifts) spread within each PGY cohort, all days and
weekends separately.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

# Restated here on purpose (not imported from the generator's mapping): what the program means.
SHIFT_MINUTES = {"NF": 12 * 60, "CALL": 14 * 60, "WE24": 24 * 60, "BACKUP": 2 * 60}
BURDEN = {"CALL": 2, "WE24": 3, "BACKUP": 1}
WINDOW = 28
MAX_WINDOW_MINUTES = 80 * 60 * 4
MIN_FREE = 4


@dataclass
class Report:
    violations: list[str]
    spread: dict[str, int]  # cohort -> max - min burden points (history included)
    weekend_spread: dict[str, int]


def check(program, roster: dict[tuple[str, int], str]) -> Report:
    days = program.days
    ids = {r.id: r for r in program.residents}
    bad: list[str] = []
    shift = defaultdict(dict)  # resident -> day -> type
    count = defaultdict(int)
    for (rid, day), t in roster.items():
        if rid not in ids or not 0 <= day < days or t not in SHIFT_MINUTES:
            bad.append(f"unknown row {rid},{day},{t}")
            continue
        shift[rid][day] = t
        count[day, t] += 1
    for (day, t), k in program.need.items():
        if count[day, t] != k:
            bad.append(f"cover {t} day {day}: {count[day, t]} of {k}")
    for (day, t), k in count.items():
        if (day, t) not in program.need:
            bad.append(f"cover {t} day {day}: {k} where none is needed")
    for r in program.residents:
        mine = shift[r.id]
        away = program.vacation.get(r.id, set())
        rot = [program.rotation[r.id, d] for d in range(days)]
        for d, t in mine.items():
            if d in away:
                bad.append(f"{r.id} works {t} on day {d} during vacation")
            pool = {
                "NF": rot[d] == "nights",
                "CALL": rot[d] in ("ward", "icu"),
                "WE24": rot[d] in ("ward", "clinic", "elective"),
                "BACKUP": rot[d] in ("clinic", "elective") and r.pgy >= 2,
            }[t]
            if not pool:
                bad.append(f"{r.id} not eligible for {t} on day {d} (on {rot[d]}, PGY{r.pgy})")
        minutes = []
        for d in range(days):
            day_work = 0 if d in away else _pattern(rot[d], (program.first_weekday + d) % 7)
            minutes.append(day_work + SHIFT_MINUTES.get(mine.get(d), 0))
        for s in range(max(1, days - WINDOW + 1)):
            total = sum(minutes[s : s + WINDOW])
            if total > MAX_WINDOW_MINUTES:
                bad.append(f"{r.id} works {total / 60:.1f} h in days {s}-{s + WINDOW - 1}")
            free = sum(1 for m in minutes[s : s + WINDOW] if m == 0)
            if free < min(MIN_FREE, len(minutes[s : s + WINDOW])):
                bad.append(f"{r.id} has {free} free days in days {s}-{s + WINDOW - 1}")
        calls = sorted(d for d, t in mine.items() if t in ("CALL", "WE24"))
        for a, b in itertools.pairwise(calls):
            if b - a < 3:
                bad.append(f"{r.id} in-house call on days {a} and {b} (more often than q3)")
        for d in calls:
            if d + 1 in mine:
                bad.append(f"{r.id} works {mine[d + 1]} on day {d + 1}, post-call")
        nights = sorted(d for d, t in mine.items() if t == "NF")
        for start, end in _runs(nights):
            length = end - start + 1
            if length > 6:
                bad.append(f"{r.id} night-float run of {length} from day {start}")
            if length < 5 and start > 0 and end < days - 1:
                bad.append(f"{r.id} night-float run of {length} from day {start}")
            for d in range(end + 1, min(end + 3, days)):
                if d in mine:
                    bad.append(f"{r.id} works day {d} within 2 days after nights")
        for d in range(days):
            if (program.first_weekday + d) % 7 == 4 and d + 2 < days:
                on = [mine.get(d + k) == "BACKUP" for k in range(3)]
                if any(on) and not all(on):
                    bad.append(f"{r.id} backup weekend from day {d} not Friday-Sunday")
    weekend = {d for d in range(days) if (program.first_weekday + d) % 7 in (5, 6)}
    spread, weekend_spread = {}, {}
    for pgy in sorted({r.pgy for r in program.residents}):
        members = [r.id for r in program.residents if r.pgy == pgy]
        totals, we = [], []
        for rid in members:
            pts = [(d, BURDEN.get(t, 0)) for d, t in shift[rid].items()]
            totals.append(program.history.get(rid, 0) + sum(p for _d, p in pts))
            we.append(program.weekend_history.get(rid, 0) + sum(p for d, p in pts if d in weekend))
        spread[f"PGY{pgy}"] = max(totals) - min(totals)
        weekend_spread[f"PGY{pgy}"] = max(we) - min(we)
    return Report(violations=bad, spread=spread, weekend_spread=weekend_spread)


def _pattern(rotation: str, weekday: int) -> int:
    """Minutes of day work of a rotation on a weekday (restated from the program's design)."""
    if rotation == "icu":
        return 660 if weekday < 6 else 0
    if rotation == "ward":
        return 600 if weekday < 5 else 0
    if rotation in ("clinic", "elective"):
        return 480 if weekday < 5 else 0
    return 0  # nights: the shifts are the work


def _runs(days: list[int]) -> list[tuple[int, int]]:
    runs = []
    for d in days:
        if runs and runs[-1][1] == d - 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs
