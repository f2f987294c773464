"""An independent evaluator for the Employee Shift Scheduling Benchmark (Curtois & Qu).

It re-reads an instance file and a roster file (``staff_id,day,shift_id`` lines, day 0-based,
days off omitted) and re-implements the benchmark's hard rules and objective. It deliberately
shares no code with the model (scheduling/roster) or with the reader in bench/shifts.py, so a
bug in either cannot hide here.

Hard rules (each broken one is a violation naming staff and days):
  one shift per day; fixed days off; a shift listed as "cannot follow" S is not worked the day
  after S; maximum shifts per type; minimum and maximum total minutes; maximum consecutive
  shifts; minimum consecutive shifts and minimum consecutive days off (runs touching the first
  or last day are exempt); maximum weekends (Saturday + Sunday, day 0 being a Monday; a
  weekend counts if either day is worked).
Objective: each unmet shift-on request costs its weight, each met shift-off request its
weight; each cover line costs under-weight x missing people + over-weight x extra people.

    python bench/shift_benchmark_evaluator.py InstanceN.txt InstanceN.csv
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instance:
    horizon: int = 0
    lengths: dict = field(default_factory=dict)  # shift -> minutes
    forbidden_next: dict = field(default_factory=dict)  # shift -> set of shifts not next day
    staff: dict = field(default_factory=dict)  # id -> dict of limits
    days_off: dict = field(default_factory=dict)  # id -> set of days
    on_requests: list = field(default_factory=list)  # (staff, day, shift, weight)
    off_requests: list = field(default_factory=list)
    cover: list = field(default_factory=list)  # (day, shift, requirement, under, over)


@dataclass
class Report:
    objective: int
    violations: list
    penalties: dict


def read_instance(text: str) -> Instance:
    inst = Instance()
    section = ""
    for raw in text.replace("\r", "").split("\n"):
        line = raw.strip()
        if line == "" or line[0] == "#":
            continue
        if line.startswith("SECTION_"):
            section = line[len("SECTION_") :]
            continue
        cells = line.split(",")
        if section == "HORIZON":
            inst.horizon = int(cells[0])
        elif section == "SHIFTS":
            inst.lengths[cells[0]] = int(cells[1])
            rest = cells[2] if len(cells) > 2 else ""
            inst.forbidden_next[cells[0]] = {c for c in rest.split("|") if c != ""}
        elif section == "STAFF":
            caps = {}
            for item in cells[1].split("|"):
                if "=" in item:
                    name, value = item.split("=")
                    caps[name] = int(value)
            inst.staff[cells[0]] = {
                "max_per_shift": caps,
                "max_minutes": int(cells[2]),
                "min_minutes": int(cells[3]),
                "max_run": int(cells[4]),
                "min_run": int(cells[5]),
                "min_off_run": int(cells[6]),
                "max_weekends": int(cells[7]),
            }
        elif section == "DAYS_OFF":
            inst.days_off[cells[0]] = {int(c) for c in cells[1:] if c != ""}
        elif section == "SHIFT_ON_REQUESTS":
            inst.on_requests.append((cells[0], int(cells[1]), cells[2], int(cells[3])))
        elif section == "SHIFT_OFF_REQUESTS":
            inst.off_requests.append((cells[0], int(cells[1]), cells[2], int(cells[3])))
        elif section == "COVER":
            inst.cover.append(
                (int(cells[0]), cells[1], int(cells[2]), int(cells[3]), int(cells[4]))
            )
    return inst


def read_roster(text: str) -> list[tuple[str, int, str]]:
    rows = []
    for raw in text.replace("\r", "").split("\n"):
        if raw.strip() == "":
            continue
        staff, day, shift = (c.strip() for c in raw.split(","))
        rows.append((staff, int(day), shift))
    return rows


def _runs(flags: list[bool], value: bool) -> list[tuple[int, int]]:
    """(first day, length) of every maximal run of ``value`` in ``flags``."""
    runs = []
    start = None
    for day, flag in enumerate([*flags, not value]):
        if flag == value and start is None:
            start = day
        elif flag != value and start is not None:
            runs.append((start, day - start))
            start = None
    return runs


def evaluate(inst: Instance, rows: list[tuple[str, int, str]]) -> Report:
    violations: list[str] = []
    n = inst.horizon
    plan: dict[str, list] = {s: [None] * n for s in inst.staff}
    for staff, day, shift in rows:
        if staff not in inst.staff:
            violations.append(f"unknown staff {staff}")
            continue
        if not 0 <= day < n:
            violations.append(f"{staff}: day {day} outside the horizon")
            continue
        if shift not in inst.lengths:
            violations.append(f"{staff}: unknown shift {shift} on day {day}")
            continue
        if plan[staff][day] is not None:
            violations.append(f"{staff}: two shifts on day {day}")
            continue
        plan[staff][day] = shift

    for staff, rules in inst.staff.items():
        days = plan[staff]
        worked = [s is not None for s in days]
        for day in sorted(inst.days_off.get(staff, ())):
            if 0 <= day < n and worked[day]:
                violations.append(f"{staff}: works on day off {day}")
        for day in range(n - 1):
            today, tomorrow = days[day], days[day + 1]
            if today is not None and tomorrow in inst.forbidden_next.get(today, set()):
                violations.append(f"{staff}: {tomorrow} on day {day + 1} after {today}")
        for shift in inst.lengths:
            count = sum(1 for s in days if s == shift)
            cap = rules["max_per_shift"].get(shift)
            if cap is not None and count > cap:
                violations.append(f"{staff}: {count} shifts {shift} > {cap}")
        minutes = sum(inst.lengths[s] for s in days if s is not None)
        if minutes > rules["max_minutes"]:
            violations.append(f"{staff}: {minutes} minutes > {rules['max_minutes']}")
        if minutes < rules["min_minutes"]:
            violations.append(f"{staff}: {minutes} minutes < {rules['min_minutes']}")
        for start, length in _runs(worked, True):
            if length > rules["max_run"]:
                violations.append(f"{staff}: {length} shifts in a row from day {start}")
            touches_edge = start == 0 or start + length == n
            if length < rules["min_run"] and not touches_edge:
                violations.append(f"{staff}: only {length} shifts in a row from day {start}")
        for start, length in _runs(worked, False):
            touches_edge = start == 0 or start + length == n
            if length < rules["min_off_run"] and not touches_edge:
                violations.append(f"{staff}: only {length} days off in a row from day {start}")
        weekends = 0
        for saturday in range(5, n, 7):
            sunday = saturday + 1
            if worked[saturday] or (sunday < n and worked[sunday]):
                weekends += 1
        if weekends > rules["max_weekends"]:
            violations.append(f"{staff}: {weekends} weekends > {rules['max_weekends']}")

    penalties = {"on_requests": 0, "off_requests": 0, "cover_under": 0, "cover_over": 0}
    for staff, day, shift, weight in inst.on_requests:
        if plan.get(staff, [None] * n)[day] != shift:
            penalties["on_requests"] += weight
    for staff, day, shift, weight in inst.off_requests:
        if plan.get(staff, [None] * n)[day] == shift:
            penalties["off_requests"] += weight
    for day, shift, requirement, under, over in inst.cover:
        count = sum(1 for staff in plan if plan[staff][day] == shift)
        if count < requirement:
            penalties["cover_under"] += under * (requirement - count)
        elif count > requirement:
            penalties["cover_over"] += over * (count - requirement)
    return Report(objective=sum(penalties.values()), violations=violations, penalties=penalties)


def evaluate_files(instance_path: Path, roster_path: Path) -> Report:
    inst = read_instance(Path(instance_path).read_text())
    return evaluate(inst, read_roster(Path(roster_path).read_text()))


def main(argv: list[str]) -> int:
    report = evaluate_files(Path(argv[0]), Path(argv[1]))
    for message in report.violations:
        print("VIOLATION", message)
    print("objective", report.objective, report.penalties)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
