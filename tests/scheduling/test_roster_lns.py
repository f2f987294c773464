"""The rostering engine's large-neighbourhood search (scheduling/roster/lns.py): how long a
sub-solve may run; that every sub-solve, of the whole model or of a few people alone, runs
at CP-SAT's linearization level 2 while the portfolio and the person-by-person start keep
CP-SAT's default; and that a people-over-a-window step changes only its people on its days,
prices the whole roster as the independent evaluator does, and breaks no rule; and that a
people-only neighbourhood draws people with minutes left before their maximum, and a window
centres on costs a roster can lower. No database:
the engine is pure Python."""

from __future__ import annotations

import random
import threading
import time

import pytest

from bench import shifts
from scheduling.roster import Cover, Person, RosterProblem, RosterSolve, ShiftType, people_lns
from scheduling.roster import lns as lns_module
from scheduling.roster import solve as solve_module
from scheduling.roster.cost import half_weekends, minutes_slack, roster_cost, unfillable_types
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


def solve_from_a_person_by_person_start(number: int) -> tuple[RosterProblem, RosterSolve]:
    """Benchmark instance ``number`` and a solve whose best is a person-by-person start, for
    driving its LNS steps one at a time."""
    problem = shifts.problem_from_text(instance_text(number))
    solve = RosterSolve(problem, time_limit=60, workers=2, seed=1)
    solve._started = time.monotonic()
    start = solve._person_by_person(20)
    assert start is not None
    solve._improved(roster_cost(problem, start), lambda: start)
    return problem, solve


def test_a_window_step_changes_only_its_people_on_its_days_and_prices_the_whole_roster():
    # Benchmark instance 5 (16 people, 28 days, soft cover) from a person-by-person start:
    # window steps of 6 people. Each roster a step returns must differ from the one it started
    # from only for the chosen people and within WINDOW_SPAN days, cost what the step says
    # (the whole roster's cost, the independent evaluator's objective) and break no rule.
    number = 5
    problem, solve = solve_from_a_person_by_person_start(number)
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
        assert cost == solve.best_objective == roster_cost(problem, after) <= before_cost
        if cost == before_cost:  # a sideways step: as cheap, with fewer half weekends
            assert sum(half_weekends(problem, after)) < sum(half_weekends(problem, before))
        changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
        assert changed and {pid for pid, _day in changed} <= chosen
        days = [day for _pid, day in changed]
        assert max(days) - min(days) < people_lns.WINDOW_SPAN
        assert evaluated(number, after) == (cost, [])
    assert improved >= 2  # a person-by-person start leaves plenty to gain


EARLY = ShiftType(id="E", minutes=480)
LONG = ShiftType(id="L", minutes=720)


def _slack_problem() -> RosterProblem:
    return RosterProblem(
        days=7,
        shift_types=(EARLY, LONG),
        people=(
            Person(id="full", max_minutes=1440),
            Person(id="scraps", max_minutes=1500, baseline_minutes={0: 60}),
            Person(id="over", max_minutes=400),
            Person(id="no-maximum"),
        ),
    )


def test_minutes_slack_counts_shifts_and_baseline_as_the_models_total_does():
    roster = {("full", 0): "L", ("full", 2): "L", ("scraps", 1): "E", ("scraps", 3): "L"}
    roster[("over", 4)] = "E"
    roster[("no-maximum", 5)] = "L"
    # full: 1440 - 2 x 720; scraps: 1500 - (60 + 480 + 720); over: past its maximum.
    assert minutes_slack(_slack_problem(), roster) == [0, 240, 0, 0]


@pytest.mark.parametrize("k", [2, 3, 4])
def test_a_people_neighbourhood_always_frees_the_one_person_with_minutes_left(k):
    # Only "scraps" has minutes left: half of every neighbourhood is drawn by slack, so they
    # are in each one, whatever the draw; the rest are drawn at random, k people in all.
    problem = _slack_problem()
    roster = {("full", 0): "L", ("full", 2): "L", ("scraps", 1): "E", ("scraps", 3): "L"}
    roster[("over", 4)] = "E"
    solve = RosterSolve(problem, time_limit=1, workers=1, seed=1)
    rng = random.Random(k)
    draws = [solve._choose_people(rng, k, roster) for _ in range(50)]
    assert all(len(chosen) == k and "scraps" in chosen for chosen in draws)


def test_one_person_with_far_more_slack_than_the_rest_does_not_stall_the_draw():
    # "idle" has a billion minutes to spare, the other three one each: drawing by weight until
    # two distinct people came up would take about a billion draws. The draw must finish (on
    # a thread, joined with a timeout), hold "idle" and one of the others, and k people in all.
    problem = RosterProblem(
        days=7,
        shift_types=(EARLY,),
        people=(
            Person(id="idle", max_minutes=10**9),
            *(Person(id=f"P{i}", max_minutes=481) for i in range(3)),
        ),
    )
    roster = {(f"P{i}", 0): "E" for i in range(3)}
    solve = RosterSolve(problem, time_limit=1, workers=1, seed=1)
    draws: list[set[str]] = []
    drawing = threading.Thread(
        target=lambda: draws.extend(
            solve._choose_people(random.Random(n), 4, roster) for n in range(20)
        )
    )
    drawing.start()
    drawing.join(timeout=10)
    assert not drawing.is_alive(), "the slack draw did not finish"
    assert len(draws) == 20
    assert all(chosen == {"idle", "P0", "P1", "P2"} for chosen in draws)
    halves = [solve._choose_people(random.Random(n), 2, roster) for n in range(20)]
    assert all(len(chosen) == 2 and "idle" in chosen for chosen in halves)


def test_without_slack_a_people_neighbourhood_is_drawn_at_random():
    problem = _slack_problem()
    solve = RosterSolve(problem, time_limit=1, workers=1, seed=1)
    rng = random.Random(1)
    everyone_full = {("full", 0): "L", ("full", 2): "L", ("scraps", 1): "L", ("scraps", 3): "L"}
    everyone_full[("over", 4)] = "E"
    draws = [solve._choose_people(rng, 2, everyone_full) for _ in range(200)]
    assert all(len(chosen) == 2 for chosen in draws)
    assert set().union(*draws) == {"full", "scraps", "over", "no-maximum"}


NIGHT = ShiftType(id="N", minutes=600)


def _nights_problem(*, maximum_for_c: int | None = 0, first_nights: int = 2) -> RosterProblem:
    c_limits = {"N": maximum_for_c} if maximum_for_c is not None else {}
    wanted = {(0, "N"): first_nights}
    return RosterProblem(
        days=3,
        shift_types=(NIGHT, EARLY),
        people=(
            Person(id="A", max_shifts={"N": 1}),
            Person(id="B", max_shifts={"N": 1}),
            Person(id="C", max_shifts=c_limits),
        ),
        # Two people wanted every night (or ``first_nights`` on day 0) and one early shift a
        # day; the people can work two nights in all.
        cover=tuple(
            Cover(
                day=d,
                shift_type=t,
                preferred=wanted.get((d, t), n),
                under_weight=100,
                over_weight=1,
            )
            for d in range(3)
            for t, n in (("N", 2), ("E", 1))
        ),
    )


def test_a_type_is_unfillable_when_everyone_works_their_maximum_and_no_day_has_too_many():
    nights = {("A", 0): "N", ("B", 1): "N", ("C", 2): "E"}
    assert unfillable_types(_nights_problem(), nights) == {"N"}
    # One night short of B's maximum, or C with no maximum for nights: more are possible.
    assert unfillable_types(_nights_problem(), {("A", 0): "N"}) == set()
    assert unfillable_types(_nights_problem(maximum_for_c=None), nights) == set()
    # Nobody has a maximum for E, so it is never unfillable.
    assert "E" not in unfillable_types(_nights_problem(), nights)
    # Both nights on day 0, which wants one: a night can move from there to a short day.
    crowded = {("A", 0): "N", ("B", 0): "N", ("C", 2): "E"}
    assert unfillable_types(_nights_problem(first_nights=1), crowded) == set()
    assert unfillable_types(_nights_problem(first_nights=2), crowded) == {"N"}


def test_the_costs_a_window_centres_on_leave_out_shortfall_no_roster_can_lower():
    problem = _nights_problem()
    solve = RosterSolve(problem, time_limit=1, workers=1, seed=1)
    # Nights at capacity: days 0 and 1 one short (100 each), day 2 two short; E short on day 0.
    nights = {("A", 0): "N", ("B", 1): "N", ("C", 1): "E", ("C", 2): "E"}
    assert solve._costs(nights)[0] == [200, 100, 200]
    assert solve._costs(nights, fixable=True)[0] == [100, 0, 0]
    # With a night too many on a day, the type's shortfall can move there: it counts again.
    crowded = {("A", 0): "N", ("B", 0): "N", ("C", 1): "E", ("C", 2): "E"}
    crowded_solve = RosterSolve(_nights_problem(first_nights=1), time_limit=1, workers=1, seed=1)
    assert crowded_solve._costs(crowded, fixable=True)[0] == [101, 200, 200]
