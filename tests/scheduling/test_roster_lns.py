"""The rostering engine's large-neighbourhood search (scheduling/roster/lns.py): how long a
sub-solve may run; that every sub-solve, of the whole model or of a few people alone, runs
at CP-SAT's linearization level 2 while the portfolio and the person-by-person start keep
CP-SAT's default; and that a people-over-a-window step changes only its people on its days,
prices the whole roster as the independent evaluator does, and breaks no rule. No database:
the engine is pure Python."""

from __future__ import annotations

import random
import time

import pytest

from bench import shifts
from scheduling.roster import RosterSolve
from scheduling.roster import lns as lns_module
from scheduling.roster import solve as solve_module
from scheduling.roster.cost import roster_cost
from tests.scheduling.roster_support import large_separable_problem
from tests.scheduling.test_roster_benchmark import evaluated, instance_text


@pytest.mark.parametrize(
    ("quiet", "limit"),
    [(0.0, 0.5), (5.9, 0.5), (6.0, 1.0), (11.9, 1.0), (12.0, 2.0), (59.0, 2.0)],
)
def test_a_sub_solve_gets_twice_as_long_per_tenth_of_the_time_without_improvement(quiet, limit):
    # 60 s limit: 0.5 s at first, 1 s after 6 s without improvement, 2 s after 12 s, no more.
    assert lns_module.sub_solve_limit(quiet, 60) == limit


def _levels_by_phase(solve: RosterSolve) -> dict[tuple[str, ...], list[tuple[int, int]]]:
    """Run ``solve``; per the phases finished when it started, each CP-SAT solve's (workers,
    linearization level)."""
    seen: dict[tuple[str, ...], list[tuple[int, int]]] = {}
    original = solve._run_solver

    def run_solver(solver, model, on_solution):
        done = tuple(name for name, _t, _out in solve.trace)
        prm = solver.parameters
        seen.setdefault(done, []).append((prm.num_workers, prm.linearization_level))
        return original(solver, model, on_solution)

    solve._run_solver = run_solver
    result = solve.run()
    assert result.found
    return seen


def test_whole_model_lns_sub_solves_run_at_linearization_level_2():
    # Benchmark instance 4 is not proved within the 1 s portfolio, so the LNS runs.
    problem = shifts.problem_from_text(instance_text(4))
    seen = _levels_by_phase(RosterSolve(problem, time_limit=4, workers=2, seed=1))
    assert seen[()] == [(2, 1)]  # the portfolio: CP-SAT's default level
    lns = seen[("portfolio",)]
    assert lns and set(lns) == {(1, 2)}


def test_people_lns_sub_solves_run_at_linearization_level_2(monkeypatch):
    monkeypatch.setattr(solve_module, "PERSON_FIRST_CELLS", 0)
    # Seconds to spare: a slow machine running CI's two passes at once is 3-4x slower.
    solve = RosterSolve(large_separable_problem(), time_limit=8, workers=2, seed=1)
    seen = _levels_by_phase(solve)
    start = seen[()]
    assert start and {level for _workers, level in start} == {1}  # one person alone: default
    lns = seen[("person by person",)]
    assert lns and set(lns) == {(1, 2)}
    # Both kinds of people neighbourhood ran: whole horizon and a window of days.
    assert solve.lns_stats.get("people-own") and solve.lns_stats.get("people-window")


def test_a_window_step_changes_only_its_people_on_its_days_and_prices_the_whole_roster():
    # Benchmark instance 5 (16 people, 28 days, soft cover) from a person-by-person start:
    # window steps of 6 people. Each roster a step returns must differ from the one it started
    # from only for the chosen people and within WINDOW_SPAN days, cost what the step says
    # (the whole roster's cost, the independent evaluator's objective) and break no rule.
    number = 5
    problem = shifts.problem_from_text(instance_text(number))
    solve = RosterSolve(problem, time_limit=60, workers=2, seed=1)
    solve._started = time.monotonic()
    start = solve._person_by_person(20)
    assert start is not None
    solve._improved(roster_cost(problem, start), lambda: start)
    rng = random.Random(5)
    people = [person.id for person in problem.people]
    improved = 0
    for _ in range(8):
        before, before_cost = solve.best, solve.best_objective
        chosen = set(rng.sample(people, 6))
        _status, cost = solve._window_step(before, chosen, 2.0, rng)
        if cost is None:
            continue
        improved += 1
        after = solve.best
        assert cost == solve.best_objective == roster_cost(problem, after) < before_cost
        changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
        assert changed and {pid for pid, _day in changed} <= chosen
        days = [day for _pid, day in changed]
        assert max(days) - min(days) < lns_module.WINDOW_SPAN
        assert evaluated(number, after) == (cost, [])
    assert improved >= 2  # a person-by-person start leaves plenty to gain
