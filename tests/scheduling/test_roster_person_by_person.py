"""The rostering engine's person-by-person start (scheduling/roster/solve.py): for a problem
whose people share no hard rule, each person is solved alone against the cover the people before
them left; a large such problem starts that way and is then improved a few people at a time in
models of their own, without the whole model (a cancel in either phase lands within 2 s). No
database: the engine is pure Python."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from ortools.sat.python import cp_model

from scheduling.roster import (
    Cover,
    RosterProblem,
    RosterSolve,
    roster_solve,
)
from scheduling.roster import solve as solve_module
from scheduling.roster.cost import roster_cost
from scheduling.roster.solve import separable
from tests.scheduling.roster_support import (
    DAY,
    cancel_while_solving,
    large_separable_problem,
    need,
    people,
    shifts_of,
)


def test_person_by_person_first_roster_fills_soft_cover_greedily():
    # Cover soft only (no hard rule links people): each person solved alone against what the
    # people before left. 3 people, at most 4 DAY shifts each, 2 wanted on each of 7 days.
    cover = tuple(
        Cover(day=d, shift_type="DAY", preferred=2, under_weight=10, over_weight=10)
        for d in range(7)
    )
    problem = RosterProblem(
        days=7, shift_types=(DAY,), people=people(3, max_shifts={"DAY": 4}), cover=cover
    )
    assert separable(problem)
    roster = RosterSolve(problem, time_limit=60, workers=1)._person_by_person(30)
    assert roster is not None
    # P0 and P1 each find 4 still-wanted places; P2 at least the 3 days left with a need
    # (greedy: not necessarily the best split). Nobody is ever put where nobody is wanted.
    assert [len(shifts_of(roster, p)) for p in ("P0", "P1")] == [4, 4]
    assert len(shifts_of(roster, "P2")) >= 3
    counts = [sum(1 for (_p, d) in roster if d == day) for day in range(7)]
    assert max(counts) <= 2
    hard = RosterProblem(days=7, shift_types=(DAY,), people=people(3), cover=need(7, "DAY", 1))
    assert not separable(hard)


def test_a_large_separable_problem_starts_person_by_person(monkeypatch):
    # Above PERSON_FIRST_CELLS the first roster is built person by person and a few people at
    # a time are then improved in models of their own, without the whole model. The threshold
    # is lowered so a small problem takes this path: the roster must meet every rule (the
    # whole model accepts it pinned, at the cost the search recorded).
    monkeypatch.setattr(solve_module, "PERSON_FIRST_CELLS", 0)
    problem = large_separable_problem()
    # Seconds to spare: a slow machine running CI's two passes at once is 3-4x slower.
    solver = RosterSolve(problem, time_limit=8, workers=2, seed=3)
    result = solver.run()
    assert [name for name, _t, _out in solver.trace] == ["person by person", "people LNS"]
    _name, _ended, first_found = solver.trace[0]
    assert first_found and result.found
    assert solver.lns_stats["people-own"] > 0  # it ran sub-solves
    assert result.objective == roster_cost(problem, result.roster)
    pins = {(p.id, d): result.roster.get((p.id, d)) for p in problem.people for d in range(14)}
    # The whole model's portfolio alone (the lowered threshold would send it down this path).
    fixed = roster_solve(replace(problem, pinned=pins), time_limit=20, workers=1, lns=False)
    assert fixed.status == "OPTIMAL"
    assert fixed.objective == result.objective


@pytest.mark.parametrize(("whole_model_cells", "status"), [(10_000, "found"), (0, "UNKNOWN")])
def test_a_failed_person_by_person_start_falls_back_to_the_whole_model(
    monkeypatch, whole_model_cells, status
):
    # If the start places nobody in time, a problem small enough for the whole model still gets
    # its portfolio (which finds a roster here); above WHOLE_MODEL_CELLS nothing else can.
    monkeypatch.setattr(solve_module, "PERSON_FIRST_CELLS", 0)
    monkeypatch.setattr(solve_module, "WHOLE_MODEL_CELLS", whole_model_cells)
    monkeypatch.setattr(RosterSolve, "_person_by_person", lambda self, budget: None)
    problem = large_separable_problem()
    # Seconds to spare: a slow machine running CI's two passes at once is 3-4x slower.
    solver = RosterSolve(problem, time_limit=6, workers=2, seed=3)
    result = solver.run()
    assert solver.trace[0] == ("person by person", solver.trace[0][1], False)
    if status == "found":
        assert [name for name, _t, _out in solver.trace[1:2]] == ["portfolio"]
        assert result.found
        assert result.objective == roster_cost(problem, result.roster)
    else:
        assert len(solver.trace) == 1
        assert result.status == "UNKNOWN" and not result.found


@pytest.mark.parametrize(
    ("phase", "before"),
    [("person by person", []), ("people LNS", ["person by person"])],
)
def test_a_cancel_in_either_phase_of_the_people_path_lands_within_two_seconds(
    monkeypatch, phase, before
):
    # The cancel comes while a solve of ``phase`` runs (the phases ``before`` it are done): the
    # solve stops within 2 s with no roster, and no later phase starts.
    monkeypatch.setattr(solve_module, "PERSON_FIRST_CELLS", 0)
    solve = RosterSolve(large_separable_problem(), time_limit=60, workers=2, seed=1)
    cancel_while_solving(solve, phase, before)


class _ProvingSolver:
    """Stands in for a CP-SAT solver that finds a roster (``rosters`` times) and then goes on
    proving it until stopped (or ``proof`` seconds pass): what a one-person solve often does."""

    def __init__(self, *, rosters: int, proof: float) -> None:
        self.rosters, self.proof = rosters, proof
        self.stopped = threading.Event()

    def solve(self, _model, callback) -> int:
        for _ in range(self.rosters):
            callback.on_solution_callback()
        self.stopped.wait(self.proof)
        return cp_model.FEASIBLE if self.rosters else cp_model.UNKNOWN

    def stop_search(self) -> None:
        self.stopped.set()


class _Callback:
    def __init__(self, on_solution) -> None:
        self.on_solution = on_solution

    def on_solution_callback(self) -> None:
        self.on_solution(0, 0, None)


def test_a_person_solve_that_has_a_roster_stops_once_settled_even_while_it_proves(monkeypatch):
    # The person-by-person start stops a person's solve at the settle time if it has a roster,
    # rather than letting it prove for the rest of its share (instance 13: a roster at 0.05 s,
    # 0.7 s in all). Without a roster, the settle time alone stops nothing.
    monkeypatch.setattr(solve_module, "_Callback", _Callback)
    solve = RosterSolve(large_separable_problem(), time_limit=60, workers=1, seed=1)
    found = _ProvingSolver(rosters=1, proof=30)
    assert solve._run_settling(found, None, 0.05) == cp_model.FEASIBLE
    assert found.stopped.is_set()  # by the settle time: its proof would have taken 30 s
    nothing = _ProvingSolver(rosters=0, proof=0.5)
    assert solve._run_settling(nothing, None, 0.05) == cp_model.UNKNOWN
    # Its own 0.5 s ran out: this wait has to time out, as nothing may stop a solve that has
    # no roster yet.
    assert not nothing.stopped.is_set()
