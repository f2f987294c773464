"""What a generated schedule means to the coordinator (docs/scheduling.md, "Run figures").

CP-SAT's objective is a weighted sum and its bound is weak on these models, so a "gap" alarms
for nothing. The run reports instead: that every rule holds (the validator passed), how many
person-blocks of the current schedule change and how many had to (absence, pin, eligibility:
a true lower bound), the fairness spreads per group and cohort, and per resident which wishes
were honoured.
"""

from __future__ import annotations

from collections import defaultdict

from scheduling.problem import Problem
from scheduling.solver import SolveResult


def result_report(*, problem: Problem, result: SolveResult) -> dict:
    p = problem
    given = {(pid, bid): rot for pid, bid, rot, _ in result.assignments or []}
    for (pid, bid), fixed in p.fixed.items():
        given.setdefault((pid, bid), fixed.rotation_id)
    heavy_ids = {r.id for r in p.rotations.values() if r.heavy}
    people: dict[int, dict] = defaultdict(
        lambda: {"wished_blocks": 0, "first": 0, "any": 0, "vacations": 0, "vacations_kept": 0}
    )
    for (pid, bid), ranked in sorted(p.wishes.items()):
        row = people[pid]
        row["wished_blocks"] += 1
        got = given.get((pid, bid))
        ranks = [rank for rank, rot in ranked if rot == got]
        if ranks:
            row["any"] += 1
            row["first"] += ranks[0] == min(rank for rank, _ in ranked)
    for pid, bid in sorted(p.vacation_requests):
        row = people[pid]
        row["vacations"] += 1
        row["vacations_kept"] += given.get((pid, bid)) not in heavy_ids
    rows = [
        {"person_id": pid, "person": p.person_name(pid), **row}
        for pid, row in sorted(people.items(), key=lambda item: p.person_name(item[0]))
    ]
    # The blocks holiday fairness groups count (those with a program holiday), so the
    # coordinator can see which blocks "holiday" meant.
    holiday_blocks = sorted(
        {p.block_numbers[bid] for g in p.fairness_groups if g.block_ids for bid in g.block_ids}
    )
    return {
        "holiday_blocks": holiday_blocks,
        "changes": result.changes,
        "changes_at_least": result.changes_at_least,
        "fairness_spread": result.group_spreads,
        "wishes": {
            "wished_blocks": sum(r["wished_blocks"] for r in rows),
            "first": sum(r["first"] for r in rows),
            "any": sum(r["any"] for r in rows),
            "vacations": sum(r["vacations"] for r in rows),
            "vacations_kept": sum(r["vacations_kept"] for r in rows),
            "people": rows,
        },
    }


def report_summary(report: dict) -> str:
    """One line for the run's message: every figure in the coordinator's terms."""
    parts = ["all rules met"]
    if report.get("changes") is not None:
        parts.append(
            f"{report['changes']} person-block(s) changed from the current schedule "
            f"(at least {report['changes_at_least']} had to)"
        )
    spreads = report.get("fairness_spread") or {}
    if spreads:
        parts.append(f"largest fairness spread {max(spreads.values())} block(s) within a cohort")
    wishes = report.get("wishes") or {}
    if wishes.get("wished_blocks"):
        parts.append(
            f"first choice honoured in {wishes['first']} of {wishes['wished_blocks']} wished "
            f"block(s), some choice in {wishes['any']}"
        )
    if wishes.get("vacations"):
        parts.append(
            f"{wishes['vacations_kept']} of {wishes['vacations']} requested vacation block(s) "
            "kept free of heavy rotations"
        )
    return "; ".join(parts)
