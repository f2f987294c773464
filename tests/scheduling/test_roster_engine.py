"""The rostering engine (scheduling/roster) on tiny problems: each residency hook binds and is
respected, cancellation ends a solve promptly with nothing returned, and an infeasible setup is
explained naming people and days. No database: the engine is pure Python."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import replace

from scheduling.roster import (
    CANCELLED,
    Cover,
    Fairness,
    MinFreeDays,
    Person,
    Request,
    RollingMinutes,
    RosterProblem,
    RosterSolve,
    Runs,
    SameShiftDays,
    ShiftType,
    WindowCount,
    roster_explain,
    roster_solve,
)
from scheduling.roster.cost import roster_cost
from tests.scheduling.roster_support import CALL, DAY, need, people, shifts_of, solve


def test_cover_and_rest_after_call():
    # One call a night for 6 nights, 3 people, post-call day off: each person's calls are at
    # least two days apart.
    problem = RosterProblem(days=6, shift_types=(CALL,), people=people(3), cover=need(6, "CALL", 1))
    result = solve(problem)
    for d in range(6):
        assert sum(1 for (_p, day) in result.roster if day == d) == 1
    for p in ("P0", "P1", "P2"):
        days = sorted(shifts_of(result.roster, p))
        assert all(b - a >= 2 for a, b in itertools.pairwise(days))


def test_rest_after_makes_two_people_infeasible_for_daily_call_with_a_vacation():
    problem = RosterProblem(
        days=4,
        shift_types=(CALL,),
        people=(Person(id="Dr A"), Person(id="Dr B", unavailable={1: "vacation", 2: "vacation"})),
        cover=need(4, "CALL", 1),
    )
    assert roster_solve(problem, time_limit=10, workers=1).status == "INFEASIBLE"


def test_every_third_night_window_count():
    # q3 at most: 3 people, 9 nights, one call a night -> exactly every third night each.
    rule = WindowCount(shift_types=frozenset({"CALL"}), window=3, max_count=1)
    call = ShiftType(id="CALL", minutes=16 * 60)
    problem = RosterProblem(
        days=9,
        shift_types=(call,),
        people=people(3),
        cover=need(9, "CALL", 1),
        window_counts=(rule,),
    )
    result = solve(problem)
    for p in ("P0", "P1", "P2"):
        days = sorted(shifts_of(result.roster, p))
        assert [b - a for a, b in itertools.pairwise(days)] == [3, 3]
    # With four-night windows the same cover is impossible for 3 people.
    strict = WindowCount(shift_types=frozenset({"CALL"}), window=4, max_count=1)
    assert (
        roster_solve(
            RosterProblem(
                days=9,
                shift_types=(call,),
                people=people(3),
                cover=need(9, "CALL", 1),
                window_counts=(strict,),
            ),
            time_limit=10,
            workers=1,
        ).status
        == "INFEASIBLE"
    )


def test_rolling_minutes_counts_baseline_hours():
    # 80 h in any 7 days (a scaled-down ACGME window): P0 already works 60 h on a rotation in
    # days 0-6, so at most 2 of the 10-h DAY shifts there; P1 takes the rest.
    rule = RollingMinutes(window=7, max_minutes=80 * 60)
    p0 = Person(id="P0", baseline_minutes=dict.fromkeys(range(5), 12 * 60))
    p1 = Person(id="P1")
    requests = tuple(Request("P0", d, "DAY", 10, on=True) for d in range(7))
    problem = RosterProblem(
        days=7,
        shift_types=(DAY,),
        people=(p0, p1),
        cover=need(7, "DAY", 1),
        requests=requests,
        rolling_minutes=(rule,),
    )
    result = solve(problem)
    assert len(shifts_of(result.roster, "P0")) == 2
    assert result.objective == 5 * 10


def test_min_free_days_in_window():
    # One free day in every 4 (scaled down "one day in seven"): with on-requests every day,
    # each person still gets at least one day off in every 4 consecutive days.
    rule = MinFreeDays(window=4, min_free=1)
    requests = tuple(Request("P0", d, "DAY", 1, on=True) for d in range(8))
    problem = RosterProblem(
        days=8, shift_types=(DAY,), people=people(1), requests=requests, min_free_days=(rule,)
    )
    result = solve(problem)
    worked = shifts_of(result.roster, "P0")
    for start in range(5):
        assert any(d not in worked for d in range(start, start + 4))
    assert result.objective == 2  # days 3 and 7 (or equivalent) off


def test_pinned_assignment_and_stability():
    current = {("P0", d): "DAY" for d in range(4)}
    problem = RosterProblem(
        days=4,
        shift_types=(DAY,),
        people=people(2),
        cover=need(4, "DAY", 1),
        pinned={("P1", 2): "DAY"},
        current=current,
        stability_weight=5,
    )
    result = solve(problem)
    assert result.roster[("P1", 2)] == "DAY"
    # Only day 2 changes (P0 -> P1): two person-days differ from the current roster.
    assert result.objective == 2 * 5
    assert shifts_of(result.roster, "P0") == {0: "DAY", 1: "DAY", 3: "DAY"}


def test_fairness_spreads_points_within_cohorts_counting_history():
    # 6 calls of 3 points in a cohort of 3; P0 already has 6 points from earlier months.
    # Totals are 6 + 3a, 3b, 3c with a + b + c = 6: a spread of 0 would need 3(b - a) = 6
    # and b = c, i.e. a = 2/3, impossible; the best spread is 3 (e.g. a=1, b=2, c=3 -> 9, 6, 9
    # is 3; a=0, b=3, c=3 -> 6, 9, 9 is 3).
    call = ShiftType(id="CALL", minutes=60, points=3)
    problem = RosterProblem(
        days=6,
        shift_types=(call,),
        people=tuple(Person(id=f"P{i}", cohort="PGY-2") for i in range(3)),
        cover=need(6, "CALL", 1),
        fairness=(Fairness(name="call", weight=1, history={"P0": 6}),),
    )
    result = solve(problem)
    totals = [
        3 * len(shifts_of(result.roster, p)) + (6 if p == "P0" else 0) for p in ("P0", "P1", "P2")
    ]
    assert max(totals) - min(totals) == 3
    assert result.objective == 3


def test_progress_reports_improving_objectives():
    seen = []
    problem = RosterProblem(
        days=14,
        shift_types=(DAY,),
        people=people(4, max_consecutive_shifts=3, min_consecutive_days_off=2),
        cover=tuple(
            Cover(day=d, shift_type="DAY", preferred=3, under_weight=10, over_weight=1)
            for d in range(14)
        ),
    )
    result = roster_solve(problem, time_limit=20, workers=1, on_progress=seen.append)
    assert result.found and seen
    assert [s.objective for s in seen] == sorted((s.objective for s in seen), reverse=True)
    assert seen[-1].objective == result.objective


def _hard_problem() -> RosterProblem:
    """Big enough that no solve ends on its own within seconds."""
    days = 56
    types = (
        ShiftType(id="E", minutes=480),
        ShiftType(id="L", minutes=480, cannot_follow=frozenset({"E"})),
        ShiftType(id="N", minutes=600, cannot_follow=frozenset({"E", "L"})),
    )
    staff = people(
        40,
        max_consecutive_shifts=5,
        min_consecutive_shifts=2,
        min_consecutive_days_off=2,
        max_weekends=4,
        max_minutes=40 * 480,
        min_minutes=30 * 480,
    )
    requests = tuple(
        Request(
            f"P{i}", (i * 7 + k * 3) % days, types[(i + k) % 3].id, 1 + (i + k) % 3, on=k % 2 == 0
        )
        for i in range(40)
        for k in range(10)
    )
    cover = tuple(
        Cover(
            day=d, shift_type=t.id, preferred=5 + (d * 3 + j) % 4, under_weight=100, over_weight=1
        )
        for d in range(days)
        for j, t in enumerate(types)
    )
    return RosterProblem(days=days, shift_types=types, people=staff, cover=cover, requests=requests)


def test_stop_callback_cancels_within_two_seconds_and_returns_nothing():
    problem = _hard_problem()
    cancel_at: list[float] = []
    progress = threading.Event()

    def on_progress(_p) -> None:
        progress.set()

    def should_stop() -> bool:
        # Ask to stop once a roster exists (the solve is then deep in its search).
        if progress.is_set() and not cancel_at:
            cancel_at.append(time.monotonic())
        return bool(cancel_at)

    result = roster_solve(
        problem, time_limit=120, workers=2, on_progress=on_progress, should_stop=should_stop
    )
    ended = time.monotonic()
    assert cancel_at, "the solve ended before it was asked to stop"
    assert ended - cancel_at[0] < 2.0
    assert result.status == CANCELLED
    assert result.roster is None and result.objective is None


def test_stop_from_another_thread():
    solve_ = RosterSolve(_hard_problem(), time_limit=120, workers=2)
    results = []
    worker = threading.Thread(target=lambda: results.append(solve_.run()))
    worker.start()
    # Let it get past model building into the search: wait (bounded) for a first roster.
    deadline = time.monotonic() + 60
    while solve_.best is None and time.monotonic() < deadline:
        worker.join(timeout=0.05)
    assert solve_.best is not None
    stopped_at = time.monotonic()
    solve_.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - stopped_at < 2.0
    assert results[0].status == CANCELLED and results[0].roster is None


def test_explain_names_who_is_away_when_nobody_can_take_a_day():
    icu = ShiftType(id="ICU night", minutes=720, rest_days_after=1)
    problem = RosterProblem(
        days=5,
        shift_types=(icu,),
        people=(
            Person(id="Dr A", unavailable={3: "vacation", 4: "vacation"}),
            Person(id="Dr B", unavailable={3: "conference"}),
            Person(id="Dr C", shift_types=frozenset({"clinic"})),
            Person(id="Dr D"),
        ),
        cover=need(5, "ICU night", 1),
        pinned={("Dr D", 2): "ICU night"},
    )
    labels = {d: f"{24 + d - 2} Dec" for d in range(5)}
    messages = roster_explain(problem, day_label=labels.__getitem__)
    assert messages == [
        "Nobody eligible for ICU night on 25 Dec: Dr A (vacation), Dr B (conference), "
        "Dr C (not eligible for ICU night), Dr D (resting after ICU night on 24 Dec)."
    ]
    assert roster_solve(problem, time_limit=10, workers=1).status == "INFEASIBLE"


def test_explain_counts_and_minimum_hours():
    problem = RosterProblem(
        days=3,
        shift_types=(DAY,),
        people=(
            Person(id="Dr A", min_minutes=3 * 600, unavailable={0: "sick"}),
            Person(id="Dr B", ineligible={(1, "DAY"): "on ICU"}),
        ),
        cover=(Cover(day=1, shift_type="DAY", min=2),),
    )
    assert roster_explain(problem) == [
        "DAY on day 1 needs 2 people but only 1 can work it (Dr A): Dr B (on ICU).",
        "Dr A must work at least 1800 minutes but can work at most 1200 on the days available.",
    ]


def test_explain_is_empty_for_a_feasible_problem():
    problem = RosterProblem(days=3, shift_types=(DAY,), people=people(2), cover=need(3, "DAY", 1))
    assert roster_explain(problem) == []


def test_cancel_requested_from_the_start_returns_nothing_promptly():
    started = time.monotonic()
    result = roster_solve(_hard_problem(), time_limit=120, workers=2, should_stop=lambda: True)
    assert time.monotonic() - started < 2.0
    assert result.status == CANCELLED and result.roster is None


def test_pins_that_force_a_too_short_run_are_infeasible_not_an_error():
    # Day 2 pinned, days 1 and 3 unavailable: a one-day run inside the horizon, min run 2.
    person = Person(id="Dr A", min_consecutive_shifts=2, unavailable={1: "leave", 3: "leave"})
    problem = RosterProblem(
        days=5, shift_types=(DAY,), people=(person,), pinned={("Dr A", 2): "DAY"}
    )
    assert roster_solve(problem, time_limit=10, workers=1).status == "INFEASIBLE"
    # The same pin at the edge of the horizon is allowed (runs touching it are exempt).
    edge = RosterProblem(
        days=5,
        shift_types=(DAY,),
        people=(Person(id="Dr A", min_consecutive_shifts=2, unavailable={3: "leave"}),),
        pinned={("Dr A", 4): "DAY"},
    )
    assert roster_solve(edge, time_limit=10, workers=1).status == "OPTIMAL"


def test_weekend_call_paired_friday_to_sunday():
    # Two weekends (days 4-6 and 11-13 from a Monday), one weekend call a day, paired: each
    # weekend goes to one person; P0 is away on Sunday 13, so P1 takes the second weekend.
    wcall = ShiftType(id="WCALL", minutes=24 * 60)
    weekends = ((4, 5, 6), (11, 12, 13))
    problem = RosterProblem(
        days=14,
        shift_types=(wcall,),
        people=(Person(id="P0", unavailable={13: "away"}), Person(id="P1")),
        cover=tuple(Cover(day=d, shift_type="WCALL", min=1, max=1) for g in weekends for d in g),
        # Unpaired, P1 would take Friday 4 (asked for) and P0 Saturday-Sunday: cost 0.
        requests=(Request("P1", 4, "WCALL", 1, on=True), Request("P1", 5, "WCALL", 5, on=False)),
        same_shift_days=(SameShiftDays(shift_type="WCALL", groups=weekends),),
    )
    result = solve(problem)
    assert shifts_of(result.roster, "P0") == dict.fromkeys((4, 5, 6), "WCALL")
    assert shifts_of(result.roster, "P1") == dict.fromkeys((11, 12, 13), "WCALL")
    assert result.objective == 1  # P1's Friday request, unmet because weekends are paired


def test_a_shift_reaching_past_midnight_makes_the_next_day_worked_for_free_days():
    # An overnight shift touches two calendar days (as the duty-hour engine counts them): with
    # 4 free days needed in 7 and shifts wanted on days 0, 2 and 4, all three day shifts fit
    # (3 worked days) but only one night (two nights on those days make 4 worked days).
    night = ShiftType(id="N", minutes=12 * 60, busy_days_after=1)
    day = ShiftType(id="D", minutes=8 * 60)
    for shift, most in ((night, 1), (day, 3)):
        problem = RosterProblem(
            days=7,
            shift_types=(shift,),
            people=people(1),
            requests=tuple(Request("P0", d, shift.id, 1, True) for d in (0, 2, 4)),
            min_free_days=(MinFreeDays(window=7, min_free=4),),
        )
        result = solve(problem)
        worked = sorted(d for (_p, d) in result.roster)
        assert len(worked) == most, (shift.id, worked)


def test_shift_minutes_spread_a_shift_over_days_and_cancel_baseline_hours():
    # Day 1 carries 10 h of rotation hours. A shift on day 0 whose rest cancels them adds
    # nothing to day 1, so two shifts fit in a 20 h two-day window; counted on its own day
    # only, the same shifts make 30 h and only one fits.
    t = ShiftType(id="T", minutes=600)
    for spread, most in (({}, 1), ({(0, "T"): ((0, 600), (1, -600))}, 2)):
        person = Person(id="P0", baseline_minutes={1: 600}, shift_minutes=spread)
        problem = RosterProblem(
            days=2,
            shift_types=(t,),
            people=(person,),
            requests=tuple(Request("P0", d, "T", 1, True) for d in (0, 1)),
            rolling_minutes=(RollingMinutes(window=2, max_minutes=1200),),
        )
        result = solve(problem)
        assert len(result.roster) == most, spread


def test_night_float_runs_of_three_to_four_then_two_days_off():
    nf = ShiftType(id="NF", minutes=12 * 60)
    problem = RosterProblem(
        days=16,
        shift_types=(nf,),
        people=people(3),
        cover=need(16, "NF", 1),
        runs=(Runs(shift_types=frozenset({"NF"}), min_length=3, max_length=4, rest_after=2),),
    )
    result = solve(problem)
    for p in ("P0", "P1", "P2"):
        nights = sorted(shifts_of(result.roster, p))
        runs = []
        for d in nights:
            if runs and runs[-1][1] == d - 1:
                runs[-1][1] = d
            else:
                runs.append([d, d])
        for start, end in runs:
            assert end - start + 1 <= 4
            if start > 0 and end < 15:
                assert end - start + 1 >= 3
            assert not any(end < d <= end + 2 for d in nights)


def test_runs_too_short_for_the_cover_are_infeasible():
    # Two people, a night each for 6 nights, runs of at least 4 then 2 days off: impossible.
    nf = ShiftType(id="NF", minutes=12 * 60)
    problem = RosterProblem(
        days=8,
        shift_types=(nf,),
        people=people(2),
        cover=tuple(Cover(day=d, shift_type="NF", min=1, max=1) for d in range(1, 7)),
        runs=(Runs(shift_types=frozenset({"NF"}), min_length=4, max_length=4, rest_after=2),),
        pinned={("P0", 0): None, ("P1", 0): None, ("P0", 7): None, ("P1", 7): None},
    )
    assert roster_solve(problem, time_limit=10, workers=1).status == "INFEASIBLE"


def test_request_fairness_shares_the_misses_within_a_cohort():
    # One call a day for two days, two people of one cohort, both asking for both days off:
    # two requests must be missed. A's weigh 5, B's 6, so the cheapest roster puts both calls
    # on A (10 lost, all by A); sharing the misses costs 11 but leaves nobody losing more than 6.
    t = ShiftType(id="C", minutes=600)
    requests = tuple(
        Request(pid, d, None, weight, False)
        for pid, weight in (("P0", 5), ("P1", 6))
        for d in (0, 1)
    )
    base = RosterProblem(
        days=2,
        shift_types=(t,),
        people=people(2, cohort="PGY-1"),
        cover=need(2, "C", 1),
        requests=requests,
    )
    unfair = solve(base)
    assert sorted(shifts_of(unfair.roster, "P0")) == [0, 1]
    assert unfair.objective == roster_cost(base, unfair.roster) == 10

    fair_problem = replace(base, request_fairness_weight=2)
    fair = solve(fair_problem)
    assert len(shifts_of(fair.roster, "P0")) == len(shifts_of(fair.roster, "P1")) == 1
    # 11 requests' weight missed + 2 x the most any one person lost (6).
    assert fair.objective == roster_cost(fair_problem, fair.roster) == 11 + 2 * 6


def test_the_objective_is_the_cost_of_every_roster_whatever_the_cover_cell():
    # Cover cells of every encoding (docs/rostering.md, "Model"): nobody can work it, a
    # preferred cover of 0, a preferred cover as large as the people able to work it (so no
    # excess is possible: no variable of its own) and one in between (under and over
    # variables). Every roster of three people over two days, pinned, must solve to an
    # objective equal to its cost.
    early, late = ShiftType("E", 480), ShiftType("L", 480)
    staff = (Person("A"), Person("B"), Person("C", shift_types=frozenset({"E"})))
    cover = (
        Cover(0, "E", preferred=2, under_weight=100, over_weight=1),  # 3 able: in between
        Cover(0, "L", preferred=0, under_weight=100, over_weight=7),  # none wanted
        Cover(1, "E", preferred=3, under_weight=30, over_weight=1),  # as many as are able
        Cover(1, "L", preferred=5, under_weight=11, over_weight=1),  # more than are able
    )
    base = RosterProblem(days=2, shift_types=(early, late), people=staff, cover=cover)
    choices = {"A": (None, "E", "L"), "B": (None, "E", "L"), "C": (None, "E")}
    costs = set()
    for days in itertools.product(*(itertools.product(choices[p.id], repeat=2) for p in staff)):
        pinned = {(p.id, d): days[i][d] for i, p in enumerate(staff) for d in range(2)}
        roster = {key: t for key, t in pinned.items() if t is not None}
        result = solve(replace(base, pinned=pinned))
        assert result.roster == roster
        assert result.objective == roster_cost(base, roster)
        costs.add(result.objective)
    assert len(costs) > 10  # the rosters differ in cost: the check above compares something
