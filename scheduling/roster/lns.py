"""Our own large-neighbourhood search, phase 2 of ``RosterSolve`` (docs/rostering.md, "Search").

A neighbourhood frees some (person, day) cells and fixes every other cell to the best roster in
a copy of the whole model, with the objective capped below the best, so any solution of a
sub-solve is a complete, better roster (or, with ``WHOLE_WEEKENDS``, one as cheap with fewer
half weekends). ``NeighbourhoodSearch`` holds it as methods of
``RosterSolve`` (which inherits it): they share its clock, cancellation, solvers and best.
"""

from __future__ import annotations

import heapq
import random
import threading
import time

from ortools.sat.python import cp_model

from scheduling.roster.cost import (
    half_weekends,
    minutes_slack,
    roster_cost,
    shift_counts,
    unfillable_types,
    weekends_limited,
    whole_weekends,
)
from scheduling.roster.long_horizon import lookback, problem_people, problem_window
from scheduling.roster.model import BuildStopped, RosterModel
from scheduling.roster.problem import Roster, RosterProblem

# The LNS ends once it has not improved for this fraction of the time limit (at least 2 s; a
# quarter before the escalation below, which needs the time to pay off),
# or by ``LNS_SHARE`` of it (solve.py) at the latest.
LNS_STALL = 0.5
LNS_LIMIT = 0.5  # seconds per LNS sub-solve, at first
# While no thread has improved the best for LNS_QUIET of the time limit, a sub-solve gets twice
# as long, up to LNS_ESCALATIONS doublings (2 s): on instance 5 the sub-solves of 0.5 s stalled
# one cover unit (100) above the best known, where sub-solves of 2 s went on to within 0.1%;
# short ones first keep the many quick improvements of the start.
LNS_QUIET = 0.1
LNS_ESCALATIONS = 2
# CP-SAT's linearization level 2 in every LNS sub-solve (the default is 1): the sub-models'
# cover and per-person limits give a much tighter LP, so sub-solves prove or improve where they
# timed out. At 60 s, seed 1: instance 8 1351 against 1630, 10 4649 against 5003, 13 3971
# against 4953, 12 4465 against 4995 (docs/performance.md, round 6). Tried and not kept: level 2
# in the portfolio phases (instances 5 and 6 no better).
SUB_SOLVE_LINEARIZATION = 2
PEOPLE_LNS_START = 3  # people freed at first by a neighbourhood of the people-only LNS
# The people-only LNS frees, half of the time, more people (8 at first, growing like the
# people above) over a window of WINDOW_SPAN days around a costly day instead of a few for the
# whole horizon: cover is per day and these instances' costs are mostly cover shortfall, which
# people on the same days can trade. At 60 s, 3 seeds (docs/performance.md, round 7): instance
# 13 from +189% to +96% of the best known, 12 from +10.3% to +3.6%. Tried: windows only (13
# better, 3037-3471 at 30 s against 3603-3809; 15 worse, 5561-5769 against 4966-5040); 14-day
# windows (13: 4398 against 3662 at 30 s); choosing the kind by the cost each removed per second.
WINDOW_MIX = 0.5
WINDOW_SPAN = 7
WINDOW_PEOPLE_START = 8
# Half of the people a people-only neighbourhood frees are drawn weighted by the minutes they
# could still work before their maximum total (``minutes_slack``), the rest at random. Where
# the people together can barely work the minutes the cover asks for (instance 13: 941,160
# asked, 939,000 at most), every shift short is capacity left unused in scraps no one shift
# fits, and only people with such scraps, freed together, can pool them into one more shift.
# At 60 s, seeds 1-2 (docs/rostering.md, "People with minutes left"; docs/performance.md,
# round 9): 13 2336 and 2072 against 2948 and 2438; 15 4552 and 4652 against 4737 and 4639.
# Tried: three quarters (13 2352, 2316).
SLACK_MIX = 0.5
# Between rosters of the same cost, every LNS sub-solve (people-only and whole-model) prefers
# (its objective is the cost, then the number of weekends worked on one day only:
# ``_prefer_whole_weekends``) and the search takes (``_take_sideways``) the one with fewer half
# weekends, counted for people whose weekends are limited. On instances 8, 13 and 15 the people
# can barely work the weekend days the cover asks for even if every weekend they work is whole
# (8: 133 wanted, 134 at most; 13: 482 and 500; 15: 248 and 268); rosters spent 15-43 of those
# days on half weekends, and the cover left short was on weekend days. The cost does not see
# that waste until a shift is moved into the freed day, so nothing drew the search away from
# it. At 60 s on one machine, medians of every run of round 10 (docs/performance.md): 8 1456
# against 1539, 15 4752 against 4906, 13 the same (3024 against 3018).
# False: the cost alone (for comparison).
WHOLE_WEEKENDS = True


def sub_solve_limit(quiet: float, time_limit: float) -> float:
    """Seconds for one whole-model LNS sub-solve after ``quiet`` seconds without improvement:
    ``LNS_LIMIT``, doubled per ``LNS_QUIET`` of ``time_limit``, at most ``LNS_ESCALATIONS``
    times."""
    doublings = min(LNS_ESCALATIONS, int(quiet / (LNS_QUIET * time_limit)))
    return LNS_LIMIT * 2**doublings


class NeighbourhoodSearch:
    """The large-neighbourhood search of ``RosterSolve`` (see the module's docstring)."""

    # -- large-neighbourhood search ----------------------------------------------------------
    def _lns(self, built: RosterModel, *, until: float) -> bool:
        """Improve ``self.best`` until the time is up, with one LNS thread per worker (each
        sub-solve single-threaded); True if the best reached the proven bound.

        A neighbourhood frees some (person, day) cells and fixes every other cell to the best
        roster, in a copy of the whole model (so every rule and the objective are exactly the
        same), with the objective capped below the best: any solution is a complete, better
        roster (or as cheap with fewer half weekends, ``WHOLE_WEEKENDS``), whichever thread
        finds it. It ends early once no thread has improved the best
        for ``LNS_STALL`` of the time limit (at least 2 s)."""
        self._last_improved = self._elapsed()
        threads = [
            threading.Thread(target=self._lns_worker, args=(built, self.seed * 7919 + k, until))
            for k in range(self.workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return self.best_objective is not None and self.best_objective <= self.bound + 1e-6

    def _costs(self, best: Roster, *, fixable: bool = False) -> tuple[list[int], list[int]]:
        """Per day and per person, the soft cost ``best`` pays there (cover and requests):
        where the roster is bad, so the neighbourhoods that look there find improvements.
        ``fixable`` leaves out the shortfall of types no roster can fill more of
        (``unfillable_types``): no neighbourhood can lower it, only move it to other days."""
        p = self.problem
        day_cost = [0] * p.days
        person_cost = [0] * len(p.people)
        counts = shift_counts(best)
        unfillable = unfillable_types(p, best) if fixable else set()
        for c in p.cover:
            if c.preferred is None:
                continue
            k = counts.get((c.day, c.shift_type), 0)
            if k < c.preferred and c.shift_type in unfillable:
                continue
            if k < c.preferred:
                day_cost[c.day] += (c.preferred - k) * c.under_weight
            else:
                day_cost[c.day] += (k - c.preferred) * c.over_weight
        for r in p.requests:
            got = best.get((r.person, r.day))
            worked = got is not None if r.shift_type is None else got == r.shift_type
            if worked != r.on:
                person_cost[self._index[r.person]] += r.weight
                day_cost[r.day] += r.weight
        return day_cost, person_cost

    def _neighbourhood(self, rng: random.Random, kind: str, size: float, best: Roster):
        """Cells (person index, day) -> free? for one neighbourhood of ``kind`` and ``size``
        (a fraction of the whole roster, roughly). "hot" kinds centre on where the best
        roster pays: a day window around a costly day (weighted by its cost), or people whose
        requests are broken (weighted) together with random others to trade with."""
        p = self.problem
        n, days = len(p.people), p.days
        if kind in ("hot-days", "hot-people"):
            day_cost, person_cost = self._costs(best)
        if kind == "people":
            k = max(2, min(n, round(size * n)))
            chosen = set(rng.sample(range(n), k))
            return lambda i, d: i in chosen
        if kind == "hot-people":
            k = max(2, min(n, round(size * n)))
            chosen = set()
            if sum(person_cost):
                chosen.add(rng.choices(range(n), weights=person_cost)[0])
            chosen.update(rng.sample(range(n), k))
            while len(chosen) > k:
                chosen.pop()
            return lambda i, d: i in chosen
        if kind == "days":
            span = max(2, min(days, round(size * days)))
            start = rng.randrange(0, days - span + 1)
            return lambda i, d: start <= d < start + span
        if kind == "hot-days":
            span = max(2, min(days, round(size * days)))
            centre = rng.choices(range(days), weights=[c + 1 for c in day_cost])[0]
            start = min(max(0, centre - rng.randrange(span)), days - span)
            return lambda i, d: start <= d < start + span
        # A block: half the people over a window twice as long as "days" would free.
        k = max(2, n // 2)
        chosen = set(rng.sample(range(n), k))
        span = max(3, min(days, round(2 * size * days)))
        start = rng.randrange(0, days - span + 1)
        return lambda i, d: i in chosen and start <= d < start + span

    def _lns_worker(self, built: RosterModel, seed: int, until: float) -> None:
        rng = random.Random(seed)
        p = self.problem
        people = [person.id for person in p.people]
        x_items = list(built.x.items())
        n_variables = len(built.model.proto.variables)
        # Per kind, the fraction freed; it grows while sub-solves finish (proved) within their
        # time and shrinks when they run out of time, so each stays a fast, complete search.
        sizes = {"people": 0.15, "days": 0.2, "block": 0.2, "hot-days": 0.2, "hot-people": 0.15}
        kinds = list(sizes)
        stall = max(2.0, LNS_STALL * self.time_limit)
        while not self._stop.is_set() and self._elapsed() < until - 0.1:
            if self._elapsed() - self._last_improved > stall:
                return  # stalled: the hinted portfolio does better from here
            with self._lock:
                best, best_objective = self.best, self.best_objective
            if best_objective <= self.bound + 1e-6:
                return
            kind = rng.choice(kinds)
            free = self._neighbourhood(rng, kind, sizes[kind], best)
            sub = built.model.clone()
            sub.clear_hints()
            variables = sub.proto.variables
            for (i, d, t), v in x_items:
                val = 1 if best.get((people[i], d)) == t else 0
                if free(i, d):
                    sub.add_hint(v, val)
                else:
                    domain = variables[v.index].domain
                    domain[0] = val
                    domain[1] = val
            objective = sub.proto.objective
            objective.domain.clear()
            cap = round(best_objective - objective.offset) - 1
            halves = []
            if WHOLE_WEEKENDS:
                cap, halves = _prefer_whole_weekends(sub, built.work, p, best, cap)
            objective.domain.extend([-(1 << 60), cap])
            quiet = self._elapsed() - self._last_improved
            limit = min(until - self._elapsed(), sub_solve_limit(quiet, self.time_limit))
            solver = self._new_solver(limit, 1, rng.randrange(1 << 30))
            solver.parameters.linearization_level = SUB_SOLVE_LINEARIZATION
            started = time.monotonic()
            status = self._run_solver(solver, sub, lambda o, b, v: None)
            took = time.monotonic() - started
            cost = None
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                # The cost without the half weekends' tie-break; the values of the whole
                # model's variables only (the half weekend ones come after them).
                cost = round(
                    (solver.objective_value - sum(solver.value(h) for h in halves))
                    / (len(halves) + 1)
                )
                roster = built.roster(solver.boolean_value)
                self._improved(
                    cost,
                    lambda roster=roster: roster,
                    lambda s=solver: list(s.response_proto.solution)[:n_variables],
                )
                self._take_sideways(cost, roster)
            self._count(kind, improved=cost is not None and cost < best_objective)
            if status in (cp_model.OPTIMAL, cp_model.INFEASIBLE) and took < 0.5 * limit:
                sizes[kind] = min(1.0, sizes[kind] * 1.15)
            elif status in (cp_model.UNKNOWN, cp_model.FEASIBLE) and took >= 0.9 * limit:
                sizes[kind] = max(0.02, sizes[kind] / 1.15)

    def _count(self, kind: str, *, improved: bool) -> None:
        """One more sub-solve of ``kind`` in ``lns_stats`` (and in "kind+" if it improved);
        under the lock, as the worker threads would otherwise lose each other's counts."""
        with self._lock:
            self.lns_stats[kind] = self.lns_stats.get(kind, 0) + 1
            if improved:
                self.lns_stats[kind + "+"] = self.lns_stats.get(kind + "+", 0) + 1

    # -- people at a time, each neighbourhood a model of its own --------------------------------
    def _people_lns(self, *, until: float) -> None:
        """Improve ``self.best`` until ``until`` for a problem too large to build whole: one
        thread per worker, each freeing a few people at a time for the whole horizon
        (``_people_step``) or more people over a window of days (``_window_step``), in a model
        of just them. Slower to improve than the whole-model LNS where that
        can be built (tried: worse on benchmark instances 5-10), but it scales with the people
        freed, not with the problem."""
        threads = [
            threading.Thread(target=self._people_lns_worker, args=(self.seed * 104729 + k, until))
            for k in range(self.workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _people_lns_worker(self, seed: int, until: float) -> None:
        rng = random.Random(seed)
        people = [person.id for person in self.problem.people]
        sizes = {"people-own": PEOPLE_LNS_START, "people-window": WINDOW_PEOPLE_START}
        while not self._stop.is_set() and self._elapsed() < until - 0.1:
            with self._lock:
                best, best_objective = self.best, self.best_objective
            kind = "people-window" if rng.random() < WINDOW_MIX else "people-own"
            chosen = self._choose_people(rng, min(len(people), sizes[kind]), best)
            limit = min(until - self._elapsed(), LNS_LIMIT)
            started = time.monotonic()
            step = self._people_step if kind == "people-own" else self._window_step
            status, cost = step(best, chosen, limit, rng)
            took = time.monotonic() - started
            self._count(kind, improved=cost is not None and cost < best_objective)
            # Grow while sub-solves finish (proved) quickly, shrink when they run out of time.
            if status in (cp_model.OPTIMAL, cp_model.INFEASIBLE) and took < 0.5 * limit:
                sizes[kind] = min(len(people), sizes[kind] + 1)
            elif status in (cp_model.UNKNOWN, cp_model.FEASIBLE) and took >= 0.9 * limit:
                sizes[kind] = max(2, sizes[kind] - 1)

    def _choose_people(self, rng: random.Random, k: int, best: Roster) -> set[str]:
        """``k`` people for a people-only neighbourhood: ``SLACK_MIX`` of them drawn weighted
        by their minutes slack in ``best`` (as many as have any), the rest at random."""
        people = [person.id for person in self.problem.people]
        slack = minutes_slack(self.problem, best)
        # Weighted sampling without replacement (Efraimidis and Spirakis: each keyed by
        # random ** (1 / weight), the largest keys win) in one pass; redrawing until distinct
        # could loop for long when one person's slack dwarfs everyone else's.
        keyed = [
            (rng.random() ** (1 / s), pid) for pid, s in zip(people, slack, strict=True) if s > 0
        ]
        chosen = {pid for _key, pid in heapq.nlargest(round(SLACK_MIX * k), keyed)}
        rest = [pid for pid in people if pid not in chosen]
        chosen.update(rng.sample(rest, k - len(chosen)))
        return chosen

    def _people_step(
        self, best: Roster, chosen: set[str], limit: float, rng
    ) -> tuple[int, int | None]:
        """Re-solve the ``chosen`` people for the whole horizon in a model of their own
        (``problem_people``: everyone else fixed, cover reduced by what they hold), capped
        below what they cost now; the whole roster is re-priced before it is taken.
        (status, the new roster's cost or None)."""
        mine = {key: t for key, t in best.items() if key[0] in chosen}
        status, found = self._solve_below(
            problem_people(self.problem, chosen, best), mine, limit, rng
        )
        if found is None:
            return status, None
        new = {key: t for key, t in best.items() if key[0] not in chosen}
        new.update(found)
        return status, self._take(new)

    def _window_step(
        self, best: Roster, chosen: set[str], limit: float, rng
    ) -> tuple[int, int | None]:
        """Re-solve the ``chosen`` people over a window of ``WINDOW_SPAN`` days around a
        costly day, in a model of their own: everyone else fixed (``problem_people``), their
        days outside the window pinned (``problem_window(settled=True)``, which keeps the days
        its rules look back and ahead), capped below what they cost now."""
        p = self.problem
        # Windows centre on costs they can lower (instance 15: 3,600 of a roster's 4,552 is
        # night shortfall no roster avoids, every night worker at their maximum of nights).
        # Seeds 1-3 at 60 s: 4551, 4532 and 4536 against 4552, 4652 and 4836 without; later
        # runs of the same engine spread as widely (docs/rostering.md), so the gain is unproven.
        day_cost, _person_cost = self._costs(best, fixable=True)
        span = min(p.days, WINDOW_SPAN)
        centre = rng.choices(range(p.days), weights=[c + 1 for c in day_cost])[0]
        lo = min(max(0, centre - rng.randrange(span)), p.days - span)
        hi = lo + span
        back = lookback(p)
        offset = max(0, lo - back)
        mine = {key: t for key, t in best.items() if key[0] in chosen}
        sub_problem = problem_window(
            problem_people(p, chosen, best), offset, hi, mine, decided=lo, ahead=back, settled=True
        )
        end = offset + sub_problem.days
        mine_here = {(pid, d - offset): t for (pid, d), t in mine.items() if offset <= d < end}
        status, found = self._solve_below(sub_problem, mine_here, limit, rng)
        if found is None:
            return status, None
        new = {(pid, d): t for (pid, d), t in best.items() if pid not in chosen or not lo <= d < hi}
        for (pid, d), t in found.items():
            if lo <= d + offset < hi:
                new[pid, d + offset] = t
        return status, self._take(new)

    def _solve_below(
        self, sub_problem: RosterProblem, mine: Roster, limit: float, rng
    ) -> tuple[int, Roster | None]:
        """Solve ``sub_problem`` (a few people's, in a model of its own) hinted with ``mine``,
        their roster in it now, capped below what that costs; (status, their new roster or
        None)."""
        try:
            model = RosterModel(sub_problem, stopped=self._stop.is_set)
        except BuildStopped:
            return cp_model.UNKNOWN, None  # cancelled: run() reports CANCELLED
        model.hint(mine)
        objective = model.model.proto.objective
        cap = round(roster_cost(sub_problem, mine) - objective.offset) - 1
        if WHOLE_WEEKENDS:
            cap, _halves = _prefer_whole_weekends(model.model, model.work, sub_problem, mine, cap)
        objective.domain.clear()
        objective.domain.extend([-(1 << 60), cap])
        solver = self._new_solver(limit, 1, rng.randrange(1 << 30))
        solver.parameters.linearization_level = SUB_SOLVE_LINEARIZATION
        status = self._run_solver(solver, model.model, lambda o, b, v: None)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return status, None
        return status, model.roster(solver.boolean_value)

    def _take(self, new: Roster) -> int:
        """Price the whole roster ``new`` and offer it as the best; its cost."""
        cost = roster_cost(self.problem, new)
        self._improved(cost, lambda: new)
        self._take_sideways(cost, new)
        return cost

    def _take_sideways(self, cost: int, new: Roster) -> None:
        """``new`` replaces the best if it costs the same with fewer half weekends
        (``WHOLE_WEEKENDS``): not an improvement, so no progress report and no reset of the
        stall."""
        if not WHOLE_WEEKENDS:
            return
        # Compare and swap under the lock that guards the best: otherwise another thread could
        # take a cheaper roster between this comparison and the swap, and this one, of the old
        # cost, would replace it under the cheaper objective (a lost improvement, and a best
        # whose objective is not its cost).
        with self._lock:
            if (
                cost == self.best_objective
                and self.best is not new
                and sum(half_weekends(self.problem, new))
                < sum(half_weekends(self.problem, self.best))
            ):
                self.best = new
                self.best_values = None


def _prefer_whole_weekends(
    m: cp_model.CpModel, work: dict, problem: RosterProblem, now: Roster, cap: int
) -> tuple[int, list[cp_model.IntVar]]:
    """Make ``m``'s objective (a model of ``problem`` or a copy of one; ``work``: its (person
    index, day) -> worked variable) its cost first, then the number of half weekends
    (``half_weekends``). Returns the cap that admits exactly the rosters cheaper than ``now``
    (``cap``: the cap on the cost alone) or as cheap with fewer half weekends, and the half
    weekend variables (the cost of a solution is its objective less their sum, divided by
    their count plus one)."""
    halves = []
    weekends = whole_weekends(problem)
    for i, person in enumerate(problem.people):
        if not weekends_limited(person, len(weekends)):
            continue
        for days in weekends:
            saturday, sunday = (
                v if isinstance(v, int) else m.get_bool_var_from_proto_index(v.index)
                for v in (work[i, d] for d in days)
            )
            if isinstance(saturday, int) and isinstance(sunday, int):
                continue  # cannot work either day
            half = m.new_bool_var(f"half_weekend_{i}_{days[0]}")
            m.add(half >= saturday - sunday)
            m.add(half >= sunday - saturday)
            halves.append(half)
    if not halves:
        return cap, []
    # One cost unit outweighs every half weekend together: the order is strict.
    weight = len(halves) + 1
    objective = m.proto.objective
    scaled = [c * weight for c in objective.coeffs]
    objective.coeffs.clear()
    objective.coeffs.extend(scaled)
    objective.offset *= weight
    for half in halves:
        objective.vars.append(half.index)
        objective.coeffs.append(1)
    return (cap + 1) * weight + sum(half_weekends(problem, now)) - 1, halves
