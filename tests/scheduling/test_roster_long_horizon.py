"""The rostering engine on long horizons (scheduling/roster/long_horizon.py): the month-by-month
first roster, the fairness sweep and evening out keep every rule and never raise the cost;
only open days make a horizon long; a cancel in any of these phases lands within 2 s with no
roster. No database: the engine is pure Python."""

from __future__ import annotations

import itertools
import time
from dataclasses import replace

import pytest

from scheduling.roster import (
    Cover,
    Fairness,
    Person,
    Request,
    RollingMinutes,
    RosterProblem,
    RosterSolve,
    WindowCount,
    roster_solve,
)
from scheduling.roster.cost import roster_cost
from scheduling.roster.long_horizon import long_horizon, problem_people, problem_window
from tests.scheduling.roster_support import CALL, DAY, cancel_while_solving, need, people, shifts_of


def seventy_days_of_call(*, fairness_weight: int, requests=()) -> RosterProblem:
    """70 days, one call a night from 4 people of one cohort, q3 and 80 h in 28 days (about 9
    calls), points fairness with P0 starting 6 points ahead: a long horizon (three steps)."""
    days = 70
    return RosterProblem(
        days=days,
        shift_types=(CALL,),
        people=tuple(Person(id=f"P{i}", cohort="PGY1") for i in range(4)),
        cover=need(days, "CALL", 1),
        requests=requests,
        rolling_minutes=(RollingMinutes(window=28, max_minutes=80 * 4 * 60),),
        window_counts=(WindowCount(shift_types=frozenset({"CALL"}), window=3, max_count=1),),
        fairness=(Fairness(name="calls", weight=fairness_weight, history={"P0": 6}),),
    )


def test_a_long_horizon_is_built_month_by_month_and_meets_every_rule():
    # 70 days, one call a night from 4 people, q3 and 80 h in 28 days (about 9 calls), a
    # weekend-points fairness with history: the month-by-month start (three steps) must give
    # a roster the whole model accepts.
    days = 70
    problem = seventy_days_of_call(fairness_weight=1)
    solver = RosterSolve(problem, time_limit=30, workers=1, seed=1)
    start = solver._window_by_window(20)
    assert start is not None
    assert sorted({d for (_p, d) in start}) == list(range(days))
    result = roster_solve(problem, time_limit=10, workers=1, hint=start)
    assert result.found
    for p in ("P0", "P1", "P2", "P3"):
        calls = sorted(shifts_of(start, p))
        assert all(b - a >= 3 for a, b in itertools.pairwise(calls))
        for s in range(days - 27):
            assert sum(1 for d in calls if s <= d < s + 28) * 24 <= 80 * 4
    # The whole model with every person-day pinned to the month-by-month roster is feasible,
    # and its objective is the cost the search recorded for that roster.
    pins = {(p.id, d): start.get((p.id, d)) for p in problem.people for d in range(days)}
    fixed = roster_solve(replace(problem, pinned=pins), time_limit=20, workers=1)
    assert fixed.status == "OPTIMAL"
    assert fixed.objective == roster_cost(problem, start)


def test_only_open_days_make_a_horizon_long():
    # The shifts app reads a month with the 27 days before and after it pinned: 85 days, of
    # which only the month's are open. That is one step's worth, not the month-by-month path.
    month = 31
    around = 27
    days = around + month + around
    outside = [d for d in range(days) if not around <= d < around + month]
    problem = replace(
        seventy_days_of_call(fairness_weight=1),
        days=days,
        cover=need(days, "CALL", 1),
        pinned={(f"P{i}", d): None for i in range(4) for d in outside},
    )
    assert not long_horizon(problem)
    assert long_horizon(replace(problem, pinned={}))
    # One person open on the first day and one on the last: the open span is the horizon.
    ends = dict(problem.pinned)
    del ends["P0", 0], ends["P1", days - 1]
    assert long_horizon(replace(problem, pinned=ends))


def test_the_fairness_sweep_keeps_every_rule_and_never_raises_the_cost():
    # The same 70 days, P0 starting 6 points ahead: the month-by-month start is built, then
    # each step decided again inside the whole roster. The swept roster must still be one the
    # whole model accepts, at the cost the search recorded, and no dearer than the start.
    days = 70
    problem = seventy_days_of_call(
        fairness_weight=2,
        requests=tuple(Request("P1", d, None, 3, False) for d in range(0, days, 5)),
    )
    solver = RosterSolve(problem, time_limit=60, workers=1, seed=1)
    solver._started = time.monotonic()
    start = solver._window_by_window(20)
    assert start is not None
    swept = solver._sweep(start, solver._elapsed() + 8)
    name, _ended, (tried, cost) = solver.trace[-1]
    assert name == "fairness sweep"
    assert tried >= 3  # every step at least once
    assert cost == roster_cost(problem, swept) <= roster_cost(problem, start)
    pins = {(p.id, d): swept.get((p.id, d)) for p in problem.people for d in range(days)}
    fixed = roster_solve(replace(problem, pinned=pins), time_limit=20, workers=1)
    assert fixed.status == "OPTIMAL"
    assert fixed.objective == roster_cost(problem, swept)


def test_evening_out_levels_a_cohort_over_the_whole_horizon():
    # 70 nights of call, 6 people of one cohort, everything given to three of them in turn (a
    # legal roster: q3, 80 h in 28 days): a spread of 72 points. Evening out frees the most
    # and least burdened with two cohort mates at a time for the whole horizon; the result
    # must meet every rule (the whole model accepts it pinned), cost no more, and level the
    # cohort to one call's points (70 calls x 3 points = 210 over 6 people: 33 or 36 each).
    days = 70
    problem = RosterProblem(
        days=days,
        shift_types=(CALL,),
        people=tuple(Person(id=f"P{i}", cohort="PGY1") for i in range(6)),
        cover=need(days, "CALL", 1),
        rolling_minutes=(RollingMinutes(window=28, max_minutes=80 * 4 * 60),),
        window_counts=(WindowCount(shift_types=frozenset({"CALL"}), window=3, max_count=1),),
        fairness=(Fairness(name="calls", weight=2),),
    )
    unfair = {(f"P{d % 3}", d): "CALL" for d in range(days)}
    solver = RosterSolve(problem, time_limit=60, workers=1, seed=1)
    solver._started = time.monotonic()
    levelled = solver._even_out(unfair, solver._elapsed() + 20)
    points = [3 * len(shifts_of(levelled, f"P{i}")) for i in range(6)]
    assert max(points) - min(points) <= 3, points
    name, _ended, (tried, cost) = solver.trace[-1]
    assert name == "even out" and tried >= 2
    assert cost == roster_cost(problem, levelled) < roster_cost(problem, unfair)
    pins = {(p.id, d): levelled.get((p.id, d)) for p in problem.people for d in range(days)}
    fixed = roster_solve(replace(problem, pinned=pins), time_limit=20, workers=1)
    assert fixed.status == "OPTIMAL"
    assert fixed.objective == cost


def test_a_sub_problem_of_some_people_keeps_what_the_others_hold():
    problem = RosterProblem(
        days=3,
        shift_types=(CALL, DAY),
        people=people(3),
        cover=(
            Cover(day=0, shift_type="CALL", min=1, max=1),
            Cover(day=1, shift_type="DAY", min=2, max=3),
            Cover(day=2, shift_type="DAY", preferred=2, under_weight=5, over_weight=1),
        ),
        requests=(Request("P0", 0, None, 3, False), Request("P2", 1, None, 3, False)),
        pinned={("P2", 2): None},
    )
    roster = {("P0", 0): "CALL", ("P1", 1): "DAY", ("P2", 1): "DAY", ("P2", 2): "DAY"}
    sub = problem_people(problem, {"P0", "P1"}, roster)
    assert [p.id for p in sub.people] == ["P0", "P1"]
    assert [(c.min, c.max, c.preferred) for c in sub.cover] == [
        (1, 1, None),
        (1, 2, None),
        (0, None, 1),
    ]
    assert sub.requests == (Request("P0", 0, None, 3, False),)
    assert sub.pinned == {}


def test_a_weekend_cut_by_the_window_edge_counts_once_whichever_day_was_worked():
    # 14 days from a Monday: weekends are days 5-6 and 12-13. P0 may work one weekend and asks
    # (weight 10) to work Saturday 12. The window is days 6-13, its Sunday 6 already decided.
    problem = RosterProblem(
        days=14,
        shift_types=(DAY,),
        people=(Person(id="P0", max_weekends=1),),
        requests=(Request("P0", 12, None, 10, True),),
    )
    # Saturday 5 worked, Sunday 6 off: that weekend is used up, so Saturday 12 cannot be had.
    sub = problem_window(problem, 6, 14, {("P0", 5): "DAY"}, decided=7, settled=True)
    assert sub.people[0].max_weekends == 0
    result = roster_solve(sub, time_limit=10, workers=1)
    assert result.status == "OPTIMAL" and result.roster == {} and result.objective == 10
    # Both days worked: the window sees Sunday 6 (pinned), which counts that weekend itself.
    worked = {("P0", 5): "DAY", ("P0", 6): "DAY"}
    sub = problem_window(problem, 6, 14, worked, decided=7, settled=True)
    assert sub.people[0].max_weekends == 1
    result = roster_solve(sub, time_limit=10, workers=1)
    assert result.status == "OPTIMAL" and result.roster == {("P0", 0): "DAY"}
    # Neither worked: one weekend is left for Saturday 12.
    result = roster_solve(
        problem_window(problem, 6, 14, {}, decided=7, settled=True), time_limit=10, workers=1
    )
    assert result.roster == {("P0", 6): "DAY"} and result.objective == 0


@pytest.mark.parametrize(
    ("phase", "before"),
    [
        ("month by month", []),
        ("fairness sweep", ["month by month"]),
        ("even out", ["month by month", "fairness sweep"]),
    ],
)
def test_a_cancel_in_any_long_horizon_phase_lands_within_two_seconds(phase, before):
    # 140 days of one call a night from 6 people, P0 starting 9 points ahead. The cancel comes
    # while a solve of ``phase`` runs (the phases ``before`` it are done): the solve stops
    # within 2 s with no roster, and no later phase starts.
    days = 140
    problem = RosterProblem(
        days=days,
        shift_types=(CALL,),
        people=tuple(Person(id=f"P{i}", cohort="PGY1") for i in range(6)),
        cover=need(days, "CALL", 1),
        window_counts=(WindowCount(shift_types=frozenset({"CALL"}), window=3, max_count=1),),
        fairness=(Fairness(name="calls", weight=1, history={"P0": 9}),),
    )
    solve = RosterSolve(problem, time_limit=60, workers=1, seed=1)
    cancel_while_solving(solve, phase, before)
