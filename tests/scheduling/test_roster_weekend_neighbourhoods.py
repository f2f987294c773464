"""The LNS neighbourhoods that free people's weekends (scheduling/roster/lns.py,
``WEEKENDS_KIND``): the whole-model "weekends" kind and the people-only "people-weekends" step.
They exist where someone's weekends are limited; they free only the chosen people, only on
weekend days and the Friday and Monday around them, and what they offer is priced as a whole
roster. No database: the engine is pure Python."""

from __future__ import annotations

import random
import time
from dataclasses import replace

from bench import shifts
from scheduling.roster import Person, RosterProblem, RosterSolve
from scheduling.roster.cost import roster_cost
from scheduling.roster.lns import weekend_days, weekends_limited_anyone
from tests.scheduling.roster_support import DAY, large_separable_problem
from tests.scheduling.test_roster_benchmark import evaluated, instance_text
from tests.scheduling.test_roster_lns import solve_from_a_person_by_person_start


def test_weekend_days_are_saturdays_and_sundays_with_the_friday_before_and_monday_after():
    # Day 0 a Monday, 14 days: weekends 5-6 and 12-13; day 14 (a Monday) is past the end.
    assert weekend_days(RosterProblem(days=14, shift_types=(DAY,), people=())) == {
        4,
        5,
        6,
        7,
        11,
        12,
        13,
    }
    # Day 0 a Sunday: its weekend is cut to that day, with Monday after and no Friday before.
    sunday_first = RosterProblem(days=8, shift_types=(DAY,), people=(), first_weekday=6)
    assert weekend_days(sunday_first) == {0, 1, 5, 6, 7}


def test_the_kinds_exist_only_where_someone_has_a_weekend_maximum_below_the_horizons():
    two_weekends = RosterProblem(
        days=14, shift_types=(DAY,), people=(Person("A", max_weekends=2), Person("B"))
    )
    assert not weekends_limited_anyone(two_weekends)
    one = replace(two_weekends, people=(Person("A", max_weekends=1), Person("B")))
    assert weekends_limited_anyone(one)


def test_a_weekends_neighbourhood_frees_the_chosen_people_on_weekend_days_only():
    problem = shifts.problem_from_text(instance_text(8))  # 30 people, 28 days
    solve = RosterSolve(problem, time_limit=60, workers=1, seed=1)
    around = weekend_days(problem)
    for seed in range(5):
        free = solve._neighbourhood(random.Random(seed), "weekends", 0.2, {})
        cells = {(i, d) for i in range(len(problem.people)) for d in range(28) if free(i, d)}
        chosen = {i for i, _d in cells}
        assert len(chosen) == round(0.2 * 30)
        assert cells == {(i, d) for i in chosen for d in around}


def test_a_weekends_step_changes_only_its_people_around_weekends_and_prices_the_roster():
    # Benchmark instance 5 (16 people, 28 days, soft cover, weekends limited) from a
    # person-by-person start: weekend steps of 6 people. Each roster a step returns must differ
    # from the one it started from only for the chosen people on weekend days (and the Friday
    # and Monday around them), cost what the step says (the whole roster's cost, the
    # independent evaluator's objective) and break no rule.
    number = 5
    problem, solve = solve_from_a_person_by_person_start(number)
    assert weekends_limited_anyone(problem)
    rng = random.Random(5)
    people = [person.id for person in problem.people]
    around = weekend_days(problem)
    improved = 0
    for _ in range(8):
        before, before_cost = solve.best, solve.best_objective
        chosen = set(rng.sample(people, 6))
        _status, cost = solve._weekends_step(before, chosen, 2.0, rng)
        if cost is None:
            continue
        after = solve.best
        assert cost == roster_cost(problem, after) == solve.best_objective <= before_cost
        changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
        assert changed and {pid for pid, _day in changed} <= chosen
        assert {day for _pid, day in changed} <= around
        assert evaluated(number, after) == (cost, [])
        improved += cost < before_cost
    assert improved >= 2  # a person-by-person start leaves plenty to gain


def test_the_people_lns_draws_weekend_steps_only_where_weekends_are_limited():
    # Instance 5's weekends are limited: some of the people-only LNS's draws are weekend
    # steps. The large separable problem has no weekend maximum: none are.
    _problem, solve = solve_from_a_person_by_person_start(5)
    solve._people_lns(until=solve._elapsed() + 4)
    assert solve.lns_stats.get("people-weekends")
    assert solve.lns_stats.get("people-window") and solve.lns_stats.get("people-own")

    unlimited = large_separable_problem()
    assert not weekends_limited_anyone(unlimited)
    solve = RosterSolve(unlimited, time_limit=60, workers=1, seed=1)
    solve._started = time.monotonic()
    start = solve._person_by_person(20)
    solve._improved(roster_cost(unlimited, start), lambda: start)
    solve._people_lns(until=solve._elapsed() + 2)
    assert "people-weekends" not in solve.lns_stats
    assert solve.lns_stats.get("people-own")
