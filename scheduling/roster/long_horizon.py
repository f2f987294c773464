"""A long horizon (a residency year): its first roster month by month, then its fairness.

CP-SAT rarely finds a first roster for a year-long model with hard cover in time (a year for
150 residents found none in 120 s), so days are decided ``WINDOW_DAYS`` at a time, each step a
sub-problem of the same engine (``problem_window``). Then the year's fairness: the sweep
decides each month again inside the whole roster, and evening out frees a cohort's most and
least burdened people for the whole year (``problem_people``). docs/rostering.md, "Search",
phase 0, says why each exists and what it did on the L year.

``LongHorizonSearch`` holds these phases as methods of ``RosterSolve`` (which inherits it):
they share its clock, cancellation, solvers and best roster.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import replace

from ortools.sat.python import cp_model

from scheduling.roster.cost import cohort_points, roster_cost
from scheduling.roster.model import BuildStopped, RosterModel
from scheduling.roster.problem import Roster, RosterProblem

WINDOW_SHARE = 0.9  # of the remaining time, at most, for a month-by-month first roster
WINDOW_DAYS = 28  # days decided per step of the month-by-month first roster
# A month-by-month step stops at its first roster once this fraction of its time share has
# passed (0: at its first roster; the fairness sweep after it does the balancing).
STEP_SETTLE = 0.0
SWEEP = True  # after a month-by-month roster, the fairness sweep instead of the whole model
SWEEP_STEP = 3.0  # seconds per step of the fairness sweep, at most
SWEEP_SHIFT = 14  # days the sweep's odd rounds move the step boundaries by
# The fairness sweep gets this fraction of the time after the month-by-month roster, evening
# out each cohort's extremes (``_even_out``) the rest: on the L year 0.25 gave a spread of 2 and
# 0.5 of 3 (seed 3), with no sweep the spread was 1 but requests and cover cost more.
SWEEP_SHARE = 0.25
EVEN_OUT_OTHERS = 2
EVEN_OUT_STEP = 2.0  # seconds per re-solve of evening out, at most
EVEN_OUT_PATIENCE = 20  # re-solves in a row that lower nothing end evening out


class LongHorizonSearch:
    """The long-horizon phases of ``RosterSolve`` (see the module's docstring)."""

    # -- a first roster, month by month ------------------------------------------------------
    def _window_by_window(self, budget: float) -> Roster | None:
        """A starting roster for a long horizon: days are decided ``WINDOW_DAYS`` at a time,
        each step a sub-problem of the same engine (``problem_window``) over the new days plus
        enough earlier days to see every window rule, those earlier days pinned to what was
        decided; fairness counts the earlier points as history. Every rule of the whole
        problem is then met (each rolling window lies inside some step); None if a step finds
        nothing in its share of ``budget`` (a dead end: the whole model goes on)."""
        p = self.problem
        ends = time.monotonic() + budget
        back = lookback(p)
        roster: Roster = {}
        steps = [(lo, min(p.days, lo + WINDOW_DAYS)) for lo in range(0, p.days, WINDOW_DAYS)]
        merged: set[int] = set()  # steps that are two steps decided together
        k = 0
        while k < len(steps):
            lo, hi = steps[k]
            left = ends - time.monotonic()
            if self._stop.is_set() or left <= 0:
                return None
            sub = problem_window(p, max(0, lo - back), hi, roster, decided=lo, ahead=back)
            try:
                model = RosterModel(sub, stopped=self._stop.is_set)
            except BuildStopped:
                return None  # cancelled: run() reports CANCELLED
            limit = max(1.0, left * (hi - lo) / (p.days - lo))
            solver = self._new_solver(limit, self.workers, self.seed + k)
            # A step is done at its first roster (``STEP_SETTLE``): the fairness sweep after it
            # balances the year with every month in view, which a step cannot (letting steps
            # run a third of their share gave a year's spread of 16 and a first roster at 88 s).
            step_started = time.monotonic()

            def enough(_o, _b, _v, solver=solver, started=step_started, limit=limit) -> None:
                if time.monotonic() - started > limit * STEP_SETTLE:
                    solver.stop_search()

            status = self._run_solver(solver, model.model, enough)
            if status == cp_model.UNKNOWN and ends - time.monotonic() > limit:
                # Out of time, not a dead end: once more with what is left for two steps.
                limit = max(limit, 0.5 * (ends - time.monotonic()))
                solver = self._new_solver(limit, self.workers, self.seed + 31 * k)
                status = self._run_solver(solver, model.model, lambda o, b, v: None)
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                if k == 0 or k in merged or k - 1 in merged:
                    return None
                # A dead end: what the previous step decided leaves no roster for these days.
                # Decide the two steps again together (once).
                steps[k - 1 : k + 1] = [(steps[k - 1][0], hi)]
                k -= 1
                merged.add(k)
                roster = {key: t for key, t in roster.items() if key[1] < steps[k][0]}
                continue
            offset = max(0, lo - back)
            for (pid, day), t in model.roster(solver.boolean_value).items():
                if day + offset >= lo:
                    roster[pid, day + offset] = t
            k += 1
        return roster

    # -- the year's fairness, month by month again -----------------------------------------
    def _sweep(self, roster: Roster, until: float) -> Roster:
        """Improve a month-by-month roster until ``until`` (seconds since the start): each
        step's days are decided again inside the whole roster (``problem_window(settled=True)``:
        the days around them pinned, every other day's points as fairness history), so a month
        early in the year now sees the months after it. Each step's objective is the whole
        roster's less a constant; a step's roster replaces the days only if the whole roster's
        cost (``roster_cost``) does not go up. Steps in turn, round after round, until a
        round lowers the cost no more."""
        p = self.problem
        back = lookback(p)

        def steps_of(round_: int) -> list[tuple[int, int]]:
            # Odd rounds move the step boundaries by SWEEP_SHIFT days, so shifts can also
            # move across the first pass's month boundaries.
            first = (round_ % 2) * SWEEP_SHIFT or WINDOW_DAYS
            cuts = [0, *range(first, p.days, WINDOW_DAYS), p.days]
            return list(itertools.pairwise(cuts))

        cost = roster_cost(p, roster)
        k = tried = round_ = 0
        steps, j = steps_of(0), 0
        round_cost = cost
        while not self._stop.is_set() and until - self._elapsed() > 1.0:
            if j == len(steps):
                if cost >= round_cost:
                    break  # converged: no step of the last round lowered the cost
                round_cost, round_ = cost, round_ + 1
                steps, j = steps_of(round_), 0
            lo, hi = steps[j]
            j += 1
            k += 1
            offset = max(0, lo - back)
            sub = problem_window(p, offset, hi, roster, decided=lo, ahead=back, settled=True)
            try:
                model = RosterModel(sub, stopped=self._stop.is_set)
            except BuildStopped:
                break
            model.hint({(pid, d - offset): t for (pid, d), t in roster.items() if offset <= d})
            left = until - self._elapsed()
            limit = max(1.0, min(left, left / (len(steps) - j + 1), SWEEP_STEP))
            solver = self._new_solver(limit, self.workers, self.seed + 101 * k)
            status = self._run_solver(solver, model.model, lambda o, b, v: None)
            tried += 1
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                continue
            new = {key: t for key, t in roster.items() if not lo <= key[1] < hi}
            for (pid, day), t in model.roster(solver.boolean_value).items():
                if lo <= day + offset < hi:
                    new[pid, day + offset] = t
            new_cost = roster_cost(p, new)
            # Equal cost is taken too: a different roster of the same cost (people moved
            # without changing the extremes) can let a later step lower them.
            if new_cost <= cost:
                roster, cost = new, new_cost
                self._improved(cost, lambda r=roster: r)
        self.trace.append(("fairness sweep", self._elapsed(), (tried, cost)))
        return roster

    # -- the year's fairness, a cohort's extremes over the whole horizon ----------------------
    def _even_out(self, roster: Roster, until: float) -> Roster:
        """Improve a whole roster's fairness until ``until`` (seconds since the start): take
        the cohort and fairness rule that cost the most, free its most and least burdened
        person (ties drawn at random) and ``EVEN_OUT_OTHERS`` cohort mates for the whole
        horizon, everyone else fixed (``problem_people``), and re-solve them; the new roster
        is taken if the whole roster's cost does not go up. The sweep cannot do this: a
        month's step frees everyone for a month, and a resident ahead in points is often ahead
        because of months the step cannot touch."""
        p = self.problem
        rng = random.Random(self.seed)
        cost = roster_cost(p, roster)
        tried = since_lowered = 0
        while not self._stop.is_set() and until - self._elapsed() > 0.5:
            if since_lowered >= EVEN_OUT_PATIENCE:
                break  # converged, as far as random choices of the extremes can tell
            chosen = _extremes(p, roster, rng)
            if chosen is None:
                break  # every cohort is level
            sub = problem_people(p, chosen, roster)
            try:
                model = RosterModel(sub, stopped=self._stop.is_set)
            except BuildStopped:
                break
            model.hint({key: t for key, t in roster.items() if key[0] in chosen})
            limit = max(0.5, min(EVEN_OUT_STEP, until - self._elapsed()))
            solver = self._new_solver(limit, self.workers, self.seed + 211 * tried)
            status = self._run_solver(solver, model.model, lambda o, b, v: None)
            tried += 1
            since_lowered += 1
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                continue
            new = {key: t for key, t in roster.items() if key[0] not in chosen}
            new.update(model.roster(solver.boolean_value))
            new_cost = roster_cost(p, new)
            if new_cost < cost:
                since_lowered = 0
            # Equal cost is taken too: other extremes may then be freed together.
            if new_cost <= cost:
                roster, cost = new, new_cost
                self._improved(cost, lambda r=roster: r)
        self.trace.append(("even out", self._elapsed(), (tried, cost)))
        return roster


def long_horizon(problem: RosterProblem) -> bool:
    """More than two steps of open days: days on which someone is not pinned. A month with
    the 27 days before and after it pinned (what the shifts app reads) is short; building it
    month by month would only make its first roster wait for empty steps."""
    open_days = [
        day
        for day in range(problem.days)
        if any((person.id, day) not in problem.pinned for person in problem.people)
    ]
    return bool(open_days) and open_days[-1] - open_days[0] + 1 > 2 * WINDOW_DAYS


def lookback(problem: RosterProblem) -> int:
    """Days before a step of the month-by-month roster that its rules can see."""
    spans = [r.window for r in problem.rolling_minutes + problem.min_free_days]
    spans += [r.window for r in problem.window_counts]
    spans += [(r.max_length or r.min_length) + r.rest_after + 1 for r in problem.runs]
    for person in problem.people:
        spans.append((person.max_consecutive_shifts or 0) + 1)
        spans.append(person.min_consecutive_shifts + 1)
        spans.append(person.min_consecutive_days_off + 1)
    spans += [max(t.rest_days_after for t in problem.shift_types) + 1, 7]
    return max(spans) - 1


def problem_window(
    problem: RosterProblem,
    lo: int,
    hi: int,
    before: Roster,
    *,
    decided: int,
    ahead: int = 0,
    settled: bool = False,
) -> RosterProblem:
    """The sub-problem of days ``lo``..``hi - 1`` (renumbered from 0), with every person-day
    before ``decided`` pinned to ``before`` (the roster of the days already decided), then
    ``ahead`` days with no shift for anyone and no cover (so the window rules see the work
    already fixed after ``hi``: a rotation's baseline days; without them a step could leave
    the next one no free day in a four-week window), and
    horizon totals (per-type maxima, minutes, weekends, fairness points) reduced by what the
    days before ``lo`` already used. Minimum totals are only required of the last window.

    ``settled``: ``before`` is a whole roster and the window is decided again inside it (the
    year's fairness sweep): the ``ahead`` days are pinned to ``before`` too, totals are reduced
    by what every day outside the window used, and fairness counts the points of every day
    outside ``lo``..``hi - 1`` as history, so the window's objective is the whole roster's,
    less a constant."""
    types = {t.id: t for t in problem.shift_types}
    last = hi == problem.days
    end = min(problem.days, hi + ahead)

    def inside(mapping: dict) -> dict:
        return {k - lo: v for k, v in mapping.items() if lo <= k < end}

    earlier_of: dict[str, list[tuple[int, str]]] = {}
    worked_of: dict[str, set[int]] = {}
    for (pid, d), t in before.items():
        worked_of.setdefault(pid, set()).add(d)
        if d < lo or (settled and d >= end):
            earlier_of.setdefault(pid, []).append((d, t))
    people = []
    for person in problem.people:
        earlier = earlier_of.get(person.id, [])
        used_minutes = sum(types[t].minutes for _d, t in earlier) + sum(
            m for d, m in person.baseline_minutes.items() if d < lo or (settled and d >= end)
        )
        max_shifts = {
            t: max(0, n - sum(1 for _d, s in earlier if s == t))
            for t, n in person.max_shifts.items()
        }
        max_weekends = person.max_weekends
        if max_weekends is not None:
            worked_outside = {d for d, _t in earlier}
            worked_inside = {d for d in worked_of.get(person.id, ()) if lo <= d < end}
            # A weekend counts once if either day is worked. One cut by an edge of the window
            # has its inside day pinned (the days before ``decided`` and the ``ahead`` days):
            # if only its outside day is worked, the sub-problem would not count it at all.
            gone = sum(
                1
                for days in problem.weekends()
                if any(d in worked_outside for d in days)
                and not any(d in worked_inside for d in days)
            )
            max_weekends = max(0, max_weekends - gone)
        people.append(
            replace(
                person,
                max_shifts=max_shifts,
                max_minutes=None
                if person.max_minutes is None
                else max(0, person.max_minutes - used_minutes),
                min_minutes=max(0, person.min_minutes - used_minutes) if last or settled else 0,
                max_weekends=max_weekends,
                unavailable=inside(person.unavailable),
                ineligible={
                    (d - lo, t): why for (d, t), why in person.ineligible.items() if lo <= d < end
                },
                baseline_minutes=inside(person.baseline_minutes),
            )
        )
    pinned = {(pid, d - lo): t for (pid, d), t in problem.pinned.items() if lo <= d < hi}
    for person in problem.people:
        for d in range(lo, min(hi, decided)):
            pinned[person.id, d - lo] = before.get((person.id, d))
        for d in range(hi, end):
            pinned[person.id, d - lo] = before.get((person.id, d)) if settled else None
    fairness = []
    for rule in problem.fairness:
        points = rule.points or {t.id: t.points for t in problem.shift_types}
        history = dict(rule.history)
        for (pid, d), t in before.items():
            if (d < lo or (settled and d >= hi)) and (rule.days is None or d in rule.days):
                history[pid] = history.get(pid, 0) + points.get(t, 0)
        if settled:  # the pinned ahead days count as history, not as the window's
            days = frozenset(d - lo for d in range(lo, hi) if rule.days is None or d in rule.days)
        elif rule.days is None:
            days = None
        else:
            days = frozenset(d - lo for d in rule.days if lo <= d < hi)
        fairness.append(replace(rule, history=history, days=days))
    return replace(
        problem,
        days=end - lo,
        first_weekday=(problem.first_weekday + lo) % 7,
        people=tuple(people),
        cover=tuple(replace(c, day=c.day - lo) for c in problem.cover if lo <= c.day < hi),
        requests=tuple(replace(r, day=r.day - lo) for r in problem.requests if lo <= r.day < hi),
        pinned=pinned,
        current={(pid, d - lo): t for (pid, d), t in problem.current.items() if lo <= d < hi},
        same_shift_days=tuple(
            replace(
                rule,
                groups=tuple(
                    tuple(d - lo for d in g if lo <= d < hi)
                    for g in rule.groups
                    if sum(1 for d in g if lo <= d < hi) > 1
                ),
            )
            for rule in problem.same_shift_days
        ),
        fairness=tuple(fairness),
    )


def _extremes(problem: RosterProblem, roster: Roster, rng: random.Random) -> set[str] | None:
    """The most and least burdened person (ties drawn at random) of the cohort and fairness
    rule that cost the most, and ``EVEN_OUT_OTHERS`` cohort mates drawn at random; None if
    every cohort is level under every rule."""
    worst = None
    for rule in problem.fairness:
        for members in cohort_points(problem, rule, roster).values():
            spread = max(members.values()) - min(members.values())
            # A random tie-break, so a cohort that cannot be levelled further does not take
            # every turn.
            key = (rule.weight * spread, rng.random())
            if spread > 0 and (worst is None or key > worst[0]):
                worst = (key, members)
    if worst is None:
        return None
    _key, members = worst
    top, bottom = max(members.values()), min(members.values())
    chosen = {
        rng.choice([m for m, points in members.items() if points == top]),
        rng.choice([m for m, points in members.items() if points == bottom]),
    }
    rest = [m for m in members if m not in chosen]
    chosen.update(rng.sample(rest, min(EVEN_OUT_OTHERS, len(rest))))
    return chosen


def problem_people(problem: RosterProblem, chosen: set[str], roster: Roster) -> RosterProblem:
    """The sub-problem of the ``chosen`` people over the whole horizon, everyone else fixed to
    ``roster``: cover is reduced by what the others hold, their requests, pins and current
    roster leave with them, and fairness compares the chosen among themselves. The whole
    roster's cost is not this problem's objective plus a constant (a cohort's extremes may lie
    outside the chosen), so a caller re-prices what it gets (``roster_cost``)."""
    held: dict[tuple[int, str], int] = {}
    for (pid, d), t in roster.items():
        if pid not in chosen:
            held[d, t] = held.get((d, t), 0) + 1

    def less(value: int | None, c) -> int | None:
        return None if value is None else max(0, value - held.get((c.day, c.shift_type), 0))

    return replace(
        problem,
        people=tuple(person for person in problem.people if person.id in chosen),
        cover=tuple(
            replace(c, min=less(c.min, c), max=less(c.max, c), preferred=less(c.preferred, c))
            for c in problem.cover
        ),
        requests=tuple(r for r in problem.requests if r.person in chosen),
        pinned={key: t for key, t in problem.pinned.items() if key[0] in chosen},
        current={key: t for key, t in problem.current.items() if key[0] in chosen},
    )
