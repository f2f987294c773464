"""Shared pieces of the roster engine tests: two shift types, tiny problem builders, and a
cancel that lands while a given phase is solving."""

from __future__ import annotations

import threading
import time

from scheduling.roster import (
    CANCELLED,
    Cover,
    Person,
    Request,
    RosterProblem,
    RosterSolve,
    ShiftType,
    roster_solve,
)

CALL = ShiftType(id="CALL", minutes=24 * 60, rest_days_after=1, points=3)
DAY = ShiftType(id="DAY", minutes=10 * 60, points=1)


def people(n: int, **kwargs) -> tuple[Person, ...]:
    return tuple(Person(id=f"P{i}", **kwargs) for i in range(n))


def need(days: int, shift: str, count: int) -> tuple[Cover, ...]:
    return tuple(Cover(day=d, shift_type=shift, min=count, max=count) for d in range(days))


def solve(problem: RosterProblem, **kwargs):
    result = roster_solve(problem, time_limit=kwargs.pop("time_limit", 20), workers=1, **kwargs)
    assert result.status == "OPTIMAL", result.status
    return result


def shifts_of(roster, person: str) -> dict[int, str]:
    return {d: t for (p, d), t in roster.items() if p == person}


def cancel_while_solving(solve: RosterSolve, phase: str, before: list[str]) -> None:
    """Run ``solve`` on a thread and stop it as soon as a CP-SAT solve starts after the phases
    ``before`` (so during ``phase``); assert it ends within 2 s of the stop with status
    CANCELLED, no roster, and ``phase`` as the last phase it started."""
    solving = threading.Event()
    original = solve._run_solver

    def run_solver(solver, model, on_solution):
        if not solving.is_set() and [name for name, _t, _out in solve.trace] == before:
            solving.set()  # a solve of ``phase`` is starting; the cancel comes during it
        return original(solver, model, on_solution)

    solve._run_solver = run_solver
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.setdefault("result", solve.run()))
    worker.start()
    assert solving.wait(timeout=30)
    asked = time.monotonic()
    solve.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - asked < 2
    assert outcome["result"].status == CANCELLED
    assert outcome["result"].roster is None
    assert [name for name, _t, _out in solve.trace] == [*before, phase]


def large_separable_problem() -> RosterProblem:
    """Six people who share no hard rule (soft cover only) over 14 days, each with a request."""
    days = 14
    cover = tuple(
        Cover(day=d, shift_type=t, preferred=1 + d % 2, under_weight=100, over_weight=1)
        for d in range(days)
        for t in ("DAY", "CALL")
    )
    return RosterProblem(
        days=days,
        shift_types=(DAY, CALL),
        people=people(6, max_shifts={"CALL": 3}, max_consecutive_shifts=4),
        cover=cover,
        requests=tuple(Request(f"P{i}", i, None, 5, False) for i in range(6)),
    )
