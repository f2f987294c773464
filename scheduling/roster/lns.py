"""Our own large-neighbourhood search, phase 2 of ``RosterSolve`` (docs/rostering.md, "Search").

A neighbourhood frees some (person, day) cells and fixes every other cell to the current
roster (the best until a perturbation moves it, ``PERTURB_AFTER``) in a copy of the whole
model, with the objective capped below the current's, so any solution of a sub-solve is a
complete, better roster (or, with ``WHOLE_WEEKENDS``, one as cheap with fewer half weekends).
``NeighbourhoodSearch`` holds it as methods of ``RosterSolve`` (which inherits it): they share
its clock, cancellation, solvers and best. The people-only LNS (people_lns.py) uses this
module's sub-solve settings, weekends and whole weekends tie-break, and offers its rosters
through ``_take``.
"""

from __future__ import annotations

import random
import threading
import time

from ortools.sat.python import cp_model

from scheduling.roster.cost import (
    half_weekends,
    roster_cost,
    shift_counts,
    unfillable_types,
    weekends_limited,
    whole_weekends,
)
from scheduling.roster.model import RosterModel
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
# Between rosters of the same cost, every LNS sub-solve (people-only and whole-model) prefers
# (its objective is the cost, then the number of weekends worked on one day only:
# ``prefer_whole_weekends``) and the search takes (``_take_sideways``) the one with fewer half
# weekends, counted for people whose weekends are limited. On instances 8, 13 and 15 the people
# can barely work the weekend days the cover asks for even if every weekend they work is whole
# (8: 133 wanted, 134 at most; 13: 482 and 500; 15: 248 and 268); rosters spent 15-43 of those
# days on half weekends, and the cover left short was on weekend days. The cost does not see
# that waste until a shift is moved into the freed day, so nothing drew the search away from
# it. At 60 s on one machine, medians of every run of round 10 (docs/performance.md): 8 1456
# against 1539, 15 4752 against 4906, 13 the same (3024 against 3018).
# False: the cost alone (for comparison).
WHOLE_WEEKENDS = True
# Where someone's weekends are limited, a neighbourhood kind frees some people on every weekend
# day and the Friday and Monday around it (``weekend_days``), the rest of their days fixed: in
# the whole-model LNS one kind more among the others ("weekends"), in the people-only LNS a
# quarter of the draws (``people_lns.WEEKENDS_MIX``, "people-weekends", as many people as a
# window frees).
# With everyone at their maximum of weekends and the weekend cover barely workable (whole
# weekends, above), a weekend day short is filled only by moving whole weekends between people,
# which a few people's whole horizon or a window of days rarely frees together. At 60 s on one
# machine, runs interleaved with the engine without it (docs/performance.md, round 11): 8 median
# 1439 of six seeds against 1534, 15 4959 against 5076 and 13 2947, 2938 against 3594, 2949.
# Tried: the kind drawn twice as often (8: 1451, 1743, 1427); half its people drawn by minutes
# slack, as in the people-only LNS (8: 1443, 1464, 1429, 1445); half of its neighbourhoods
# everyone on two weekends drawn at random (8: 1441, 1348, 1429, 1445; 5: 1243, 1233, 1163
# against 1246, 1237, 1239: inside the spread). False: without these kinds.
WEEKENDS_KIND = True
# The whole-model LNS improves a *current* roster, which is the best until it stalls: once no
# sub-solve has lowered it for PERTURB_AFTER of the time limit (at least 1 s), the next
# sub-solve perturbs it (a neighbourhood twice the kind's size, at least PERTURB_CHANGE of the
# shifts the current has in the cells it frees dropped, the cost allowed to rise by up to
# PERTURB_WORSE of it), and its result becomes the current even if it costs more. The best is
# kept apart, and it is what the solve returns. Instances 5, 6 and 8 stalled within 20 s in
# rosters that every window and weekend neighbourhood proved locally optimal (5 and 8 one
# weekend shortfall from the best known). At 60 s, one machine, every run of round 13
# (docs/rostering.md, "Perturbations"): 5 reached 1146-1156 in 4 of 8 runs (1234-1240
# otherwise, as without), 6 1956-1957 in 3 of 5 (2040-2048 without), 8 1326-1342 in 4 of 7
# (without: one run in eleven below 1426). Tried: 2.5% of the time (5 out on every seed, 8 worse).
# Not in the people-only LNS: 13, still improving when its time runs out, did worse with it
# (2747, 2691 against 2201-2852), 15 no better. 0: no perturbation (for comparison).
# Most perturbation sub-solves find no roster in their time (round 14: the change rule makes
# the hint infeasible); smaller ones that always succeed, a retry at once, one kind only, or
# from the best ended the runs the same or worse. Up to 5% dearer: 5 out on every seed, 8 worse.
PERTURB_AFTER = 0.05
PERTURB_FLOOR = 1.0  # seconds: PERTURB_AFTER's least, for short solves
PERTURB_WORSE = 0.02
PERTURB_CHANGE = 0.25


def weekends_limited_anyone(problem: RosterProblem) -> bool:
    """Whether anyone's weekends are limited (``weekends_limited``): where a weekends
    neighbourhood can help."""
    weekends = len(whole_weekends(problem))
    return any(weekends_limited(person, weekends) for person in problem.people)


def weekend_days(problem: RosterProblem) -> set[int]:
    """Every Saturday and Sunday of the horizon with the Friday before and the Monday after:
    what a person's weekends can be changed within (their runs and days off around them)."""
    return {
        d
        for days in problem.weekends()
        for d in range(days[0] - 1, days[-1] + 2)
        if 0 <= d < problem.days
    }


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

        A neighbourhood frees some (person, day) cells and fixes every other cell to the
        current roster (the best until a perturbation moves it, ``PERTURB_AFTER``), in a copy
        of the whole model (so every rule and the objective are exactly the same), with the
        objective capped below the current's: any solution is a complete, better roster (or as
        cheap with fewer half weekends, ``WHOLE_WEEKENDS``), whichever thread finds it; the
        best takes it if it is better than the best. It ends early once no thread has improved
        the best for ``LNS_STALL`` of the time limit (at least 2 s)."""
        self._last_improved = self._elapsed()
        self._current_reset()
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
        requests are broken (weighted) together with random others to trade with. "weekends"
        frees some people on every weekend and the days around it (``WEEKENDS_KIND``)."""
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
        if kind == "weekends":
            k = max(2, min(n, round(size * n)))
            chosen = set(rng.sample(range(n), k))
            around = weekend_days(p)
            return lambda i, d: i in chosen and d in around
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
        if WEEKENDS_KIND and weekends_limited_anyone(p):
            sizes["weekends"] = 0.2
        kinds = list(sizes)
        stall = max(2.0, LNS_STALL * self.time_limit)
        while not self._stop.is_set() and self._elapsed() < until - 0.1:
            if self._elapsed() - self._last_improved > stall:
                return  # stalled: the hinted portfolio does better from here
            if self.best_objective <= self.bound + 1e-6:
                return
            best, best_objective, perturb = self._current_base()
            kind = rng.choice(kinds)
            free = self._neighbourhood(rng, kind, sizes[kind] * (2 if perturb else 1), best)
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
            if perturb:
                held = [
                    v for (i, d, t), v in x_items if free(i, d) and best.get((people[i], d)) == t
                ]
                cap = perturbed_cap(sub, held, cap, best_objective)
            elif WHOLE_WEEKENDS:
                cap, halves = prefer_whole_weekends(sub, built.work, p, best, cap)
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
                self._current_offer(cost, roster, perturbed=perturb)
            self._count(
                "perturb" if perturb else kind, improved=cost is not None and cost < best_objective
            )
            if perturb:
                continue  # a perturbation says nothing about the kind's size
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
                if self._current[0] is self.best:
                    self._current = (new, cost, self._current[2])
                self.best = new
                self.best_values = None

    # -- the current roster (PERTURB_AFTER) --------------------------------------------------
    def _current_reset(self) -> None:
        """Start the current roster at the best (``_lns``, before its threads read it)."""
        with self._lock:
            self._current = (self.best, self.best_objective, self._elapsed())

    def _current_base(self) -> tuple[Roster, float, bool]:
        """The roster the next sub-solve starts from, its cost, and whether that sub-solve
        perturbs it. Under the lock, so one thread perturbs a stalled current, not each."""
        with self._lock:
            if self._current[0] is None:  # a worker driven without ``_lns`` (tests)
                self._current = (self.best, self.best_objective, self._elapsed())
            roster, cost, since = self._current
            perturb = bool(PERTURB_AFTER) and (
                self._elapsed() - since > max(PERTURB_FLOOR, PERTURB_AFTER * self.time_limit)
            )
            if perturb:
                self._current = (roster, cost, self._elapsed())
            return roster, cost, perturb

    def _current_offer(self, cost: float, roster: Roster, *, perturbed: bool) -> None:
        """``roster`` becomes the current if it is cheaper, or if it is a perturbation's."""
        # Compare and swap under the lock: otherwise a thread that found the current dearer
        # than its roster could replace a cheaper current another thread set meanwhile (the
        # search would go on from the dearer one, and the cheaper one's descent be lost).
        with self._lock:
            if perturbed or cost < self._current[1]:
                self._current = (roster, cost, self._elapsed())


def perturbed_cap(m: cp_model.CpModel, held: list, cap: int, cost: float) -> int:
    """Make ``m`` a perturbation of the roster it was fixed around, which costs ``cost``: of
    ``held`` (the variables of the shifts that roster has in the cells the neighbourhood frees)
    at least ``PERTURB_CHANGE`` are dropped. Returns the objective's cap for it: ``cap`` (the
    cap one below ``cost``) raised by one and by ``PERTURB_WORSE`` of ``cost``."""
    if held:
        m.add(sum(held) <= len(held) - max(1, round(PERTURB_CHANGE * len(held))))
    return cap + 1 + max(1, round(PERTURB_WORSE * cost))


def prefer_whole_weekends(
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
