"""The rostering engine's large-neighbourhood search (scheduling/roster/lns.py): how long a
sub-solve may run, and that every sub-solve, of the whole model or of a few people alone, runs
at CP-SAT's linearization level 2 while the portfolio and the person-by-person start keep
CP-SAT's default. No database: the engine is pure Python."""

from __future__ import annotations

import pytest

from bench import shifts
from scheduling.roster import RosterSolve
from scheduling.roster import lns as lns_module
from scheduling.roster import solve as solve_module
from tests.scheduling.roster_support import large_separable_problem
from tests.scheduling.test_roster_benchmark import instance_text


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
    solve = RosterSolve(large_separable_problem(), time_limit=3, workers=2, seed=1)
    seen = _levels_by_phase(solve)
    start = seen[()]
    assert start and {level for _workers, level in start} == {1}  # one person alone: default
    lns = seen[("person by person",)]
    assert lns and set(lns) == {(1, 2)}
