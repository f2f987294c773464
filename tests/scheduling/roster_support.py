"""Shared pieces of the roster engine tests: two shift types and tiny problem builders."""

from __future__ import annotations

from scheduling.roster import Cover, Person, RosterProblem, ShiftType, roster_solve

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
