"""Solving a RosterProblem: time limit, workers, seed, progress and cancellation.

``roster_solve`` builds the model once and runs CP-SAT on it. Cancellation: a watcher thread
polls ``should_stop`` (and ``RosterSolve.stop()``) every 0.1 s and calls ``stop_search``; CP-SAT
returns within a fraction of a second, and a stopped solve returns status ``CANCELLED`` and no
roster, so nothing of a cancelled run can be written by mistake.

Search (docs/rostering.md, "Search"): with ``lns=False`` CP-SAT's own portfolio on the whole
model for the whole time. With ``lns=True`` (the default): for a long horizon with hard cover,
a first roster month by month and a fairness sweep (each month decided again inside the
whole year); then the portfolio for a short share (a first roster; small
problems are proved optimal here; person by person when people share no hard rule and the
portfolio found nothing), then our own large-neighbourhood search (free some people, or a
window of days, partly chosen where the best roster pays its costs; fix the rest to the best
roster; re-solve with the objective capped below the best) for as long as it improves, then
the portfolio again started from the best roster (a full hint) for the rest of the time.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from scheduling.roster.model import BuildStopped, RosterModel
from scheduling.roster.problem import Roster, RosterProblem

CANCELLED = "CANCELLED"
PORTFOLIO_SHARE = 0.1  # phase 1 (portfolio) gets this fraction of the time limit (>= 1 s)
LNS_SHARE = 0.85  # phase 2 (own LNS) ends by this fraction of the time limit ...
# ... or earlier, once it has not improved for this fraction of the time limit (at least 2 s).
LNS_STALL = 0.25
LNS_LIMIT = 0.5  # seconds per LNS sub-solve
GREEDY_SHARE = 0.5  # of the remaining time, at most, for a person-by-person first roster
WINDOW_SHARE = 0.9  # of the remaining time, at most, for a month-by-month first roster
WINDOW_DAYS = 28  # days decided per step of the month-by-month first roster
# A month-by-month step stops at its first roster once this fraction of its time share has
# passed (0: at its first roster; the fairness sweep after it does the balancing).
STEP_SETTLE = 0.0
SWEEP = True  # after a month-by-month roster, the fairness sweep instead of the whole model
SWEEP_STEP = 3.0  # seconds per step of the fairness sweep, at most
SWEEP_SHIFT = 14  # days the sweep's odd rounds move the step boundaries by


@dataclass(frozen=True)
class RosterProgress:
    objective: float
    bound: float
    wall_seconds: float
    solutions: int


@dataclass
class RosterResult:
    status: str  # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, MODEL_INVALID, CANCELLED
    roster: Roster | None = None
    objective: float | None = None
    bound: float | None = None
    wall_seconds: float = 0.0
    first_solution_seconds: float | None = None
    solutions: int = 0

    @property
    def found(self) -> bool:
        return self.roster is not None

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None:
            return None
        return abs(self.objective - self.bound) / max(1.0, abs(self.objective))


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, on_solution: Callable[[float, float, Callable], None]) -> None:
        super().__init__()
        self._on_solution = on_solution

    def on_solution_callback(self) -> None:
        self._on_solution(self.objective_value, self.best_objective_bound, self.boolean_value)


class RosterSolve:
    """One solve; ``stop()`` may be called from any thread."""

    def __init__(
        self,
        problem: RosterProblem,
        *,
        time_limit: float,
        workers: int = 2,
        seed: int = 0,
        on_progress: Callable[[RosterProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        hint: Roster | None = None,
        lns: bool = True,
    ) -> None:
        self.problem = problem
        self.time_limit = float(time_limit)
        self.workers = max(1, int(workers))
        self.seed = int(seed)
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.hint = hint
        self.lns = lns
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._solvers: set[cp_model.CpSolver] = set()
        self._started = 0.0
        self.solutions = 0
        self.first_solution_seconds: float | None = None
        self.best: Roster | None = None
        self.best_objective: float | None = None
        self.bound: float = float("-inf")
        self._index = {person.id: i for i, person in enumerate(problem.people)}
        # LNS sub-solves per neighbourhood kind, and how many improved ("kind+").
        self.lns_stats: dict[str, int] = {}
        self._last_improved = 0.0
        # (phase, seconds since the start when it ended, outcome): what the time went to.
        self.trace: list[tuple[str, float, object]] = []

    # -- cancellation -----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for solver in self._solvers:
                solver.stop_search()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _watch(self, done: threading.Event) -> None:
        while not done.wait(0.1):
            if self.should_stop is not None and self.should_stop():
                self.stop()
                return

    # -- solving ----------------------------------------------------------------------------
    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _remaining(self) -> float:
        return self.time_limit - self._elapsed()

    def _new_solver(self, limit: float, workers: int, seed: int) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        prm = solver.parameters
        prm.max_time_in_seconds = max(0.01, limit)
        prm.num_workers = workers
        prm.random_seed = seed
        return solver

    def _run_solver(self, solver, model, on_solution) -> int:
        with self._lock:
            if self._stop.is_set():
                return cp_model.UNKNOWN
            self._solvers.add(solver)
        try:
            return solver.solve(model, _Callback(on_solution))
        finally:
            with self._lock:
                self._solvers.discard(solver)

    def _improved(
        self,
        objective: float,
        roster_of: Callable[[], Roster],
        values_of: Callable[[], list[int]] | None = None,
    ) -> None:
        with self._lock:
            if self.best_objective is not None and objective >= self.best_objective:
                return
            self.best_objective = objective
            self.best = roster_of()
            # Every variable's value (to hint a later portfolio phase); None when the roster
            # came from a callback mid-search.
            self.best_values = values_of() if values_of is not None else None
            self.solutions += 1
            self._last_improved = self._elapsed()
        if self.first_solution_seconds is None:
            self.first_solution_seconds = self._elapsed()
        if self.on_progress is not None:
            self.on_progress(RosterProgress(objective, self.bound, self._elapsed(), self.solutions))

    def run(self) -> RosterResult:
        self._started = time.monotonic()
        done = threading.Event()
        watcher = threading.Thread(target=self._watch, args=(done,), daemon=True)
        watcher.start()
        try:
            status = self._search()
        finally:
            done.set()
            watcher.join(timeout=1)
        wall = self._elapsed()
        if self._stop.is_set():
            return RosterResult(status=CANCELLED, wall_seconds=wall, solutions=self.solutions)
        result = RosterResult(
            status=status,
            wall_seconds=wall,
            first_solution_seconds=self.first_solution_seconds,
            solutions=self.solutions,
        )
        if self.best is not None:
            result.roster = self.best
            result.objective = self.best_objective
            result.bound = self.bound if self.bound != float("-inf") else None
        return result

    def _portfolio(self, built: RosterModel, model: cp_model.CpModel, limit: float, seed: int):
        """CP-SAT's own portfolio on the whole model for ``limit`` seconds."""
        solver = self._new_solver(min(limit, self._remaining()), self.workers, seed)

        def on_solution(objective: float, bound: float, value: Callable) -> None:
            self.bound = max(self.bound, bound)
            self._improved(objective, lambda: built.roster(value))

        status = self._run_solver(solver, model, on_solution)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            self.bound = max(self.bound, solver.best_objective_bound)
            self._improved(
                solver.objective_value,
                lambda: built.roster(solver.boolean_value),
                lambda: list(solver.response_proto.solution),
            )
        return status

    def _search(self) -> str:
        if (
            self.lns
            and not self.hint
            and long_horizon(self.problem)
            and not separable(self.problem)
        ):
            # A year with hard cover: the whole model rarely yields a first roster in time
            # (a year for 150 residents found none in 120 s); build it month by month, each
            # month seeing the month before as fixed history, then improve the whole (built
            # after it: the first roster should not wait for the year-long model).
            start = self._window_by_window(WINDOW_SHARE * self._remaining())
            self.trace.append(("month by month", self._elapsed(), start is not None))
            if start is not None:
                # Met every rule by construction (each rolling window lies inside a step);
                # its cost is counted here, as a full solve of a year-long model to price it
                # could take longer than the time left.
                self._improved(roster_cost(self.problem, start), lambda: start)
                if SWEEP:
                    # The year-long model's portfolio improved nothing in the time left (a
                    # year for 150 residents: 29 s to build and solve it); the sweep keeps
                    # each step's model small and aims at the year's fairness. The whole
                    # model only gets what a converged sweep leaves (it can prove optimality).
                    self._sweep(start, self.time_limit - 0.5)
                    if self._remaining() < 2.0:
                        return "FEASIBLE"
        try:
            built = RosterModel(self.problem, stopped=self._stop.is_set)
        except BuildStopped:
            return "UNKNOWN"
        self.built = built
        self.best_values = None
        if self.hint:
            built.hint(self.hint)
        if not self.lns:
            return cp_model.CpSolver().status_name(
                self._portfolio(built, built.model, self._remaining(), self.seed)
            )
        # Phase 1: the portfolio until a first roster (or a proof) and a short share of the
        # time; phase 2: our own LNS, strong far from the optimum; phase 3: the portfolio again,
        # started from the best roster (hinted), whose own LNS is stronger near the optimum.
        status = self._portfolio(
            built,
            self._hinted(built, self.best) if self.best else built.model,
            max(1.0, PORTFOLIO_SHARE * self.time_limit),
            self.seed,
        )
        self.trace.append(("portfolio", self._elapsed(), self.best_objective))
        if status in (cp_model.OPTIMAL, cp_model.INFEASIBLE, cp_model.MODEL_INVALID):
            return cp_model.CpSolver().status_name(status)
        if self.best is None and separable(self.problem) and not self._stop.is_set():
            # No roster from the whole model yet (large instances): build one person by person
            # and give it to the portfolio as a hint.
            start = self._person_by_person(GREEDY_SHARE * self._remaining())
            self.trace.append(("person by person", self._elapsed(), start is not None))
            if start is not None:
                hinted = self._hinted(built, start)
                status = self._portfolio(
                    built, hinted, max(5.0, PORTFOLIO_SHARE * self.time_limit), self.seed + 3
                )
        if self.best is None and not self._stop.is_set() and self._remaining() > 0.5:
            # No roster yet: keep going on the whole model for the rest of the time.
            status = self._portfolio(built, built.model, self._remaining(), self.seed + 1)
            return cp_model.CpSolver().status_name(status)
        if self.best is None:
            return "UNKNOWN"
        proved = self._lns(built, until=self.time_limit * LNS_SHARE)
        self.trace.append(("own LNS", self._elapsed(), self.best_objective))
        if proved:
            return "OPTIMAL"
        if self._remaining() > 1.0 and not self._stop.is_set():
            final = built.model.clone()
            final.clear_hints()
            if self.best_values is not None:
                hint = final.proto.solution_hint
                hint.vars.extend(range(len(self.best_values)))
                hint.values.extend(self.best_values)
            else:  # the best came from a callback: hint its shifts (the rest follows)
                final = self._hinted(built, self.best)
            status = self._portfolio(built, final, self._remaining(), self.seed + 2)
            self.trace.append(("hinted portfolio", self._elapsed(), self.best_objective))
            if status == cp_model.OPTIMAL:
                return "OPTIMAL"
        if self.best_objective is not None and self.best_objective <= self.bound + 1e-6:
            return "OPTIMAL"
        return "FEASIBLE"

    def _hinted(self, built: RosterModel, roster: Roster) -> cp_model.CpModel:
        """A copy of the model hinted with ``roster``'s shifts."""
        model = built.model.clone()
        model.clear_hints()
        people = [person.id for person in self.problem.people]
        for (i, d, t), v in built.x.items():
            model.add_hint(v, roster.get((people[i], d)) == t)
        return model

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

    # -- a first roster, person by person -----------------------------------------------------
    def _person_by_person(self, budget: float) -> Roster | None:
        """A starting roster for a problem whose people share no hard rule: each person in
        turn is solved alone (the same engine, a one-person problem) against the cover the
        people before them left, so the soft cover is greedily filled. A person whose solve
        runs out of its share of ``budget`` goes to the back of the queue (later shares are
        larger) up to three times; None if someone cannot be placed in time or at all."""
        p = self.problem
        ends = time.monotonic() + budget
        counts: dict[tuple[int, str], int] = {}
        roster: Roster = {}
        queue = list(p.people)
        attempts: dict[str, int] = {}
        while queue:
            person = queue.pop(0)
            left = ends - time.monotonic()
            if self._stop.is_set() or left <= 0:
                return None
            cover = tuple(
                replace(c, preferred=max(c.preferred - counts.get((c.day, c.shift_type), 0), 0))
                for c in p.cover
                if c.preferred is not None
            )
            alone = replace(
                p,
                people=(person,),
                cover=cover,
                requests=tuple(r for r in p.requests if r.person == person.id),
                pinned={key: v for key, v in p.pinned.items() if key[0] == person.id},
                current={key: v for key, v in p.current.items() if key[0] == person.id},
                fairness=(),
            )
            model = RosterModel(alone)
            attempts[person.id] = attempts.get(person.id, 0) + 1
            limit = max(0.05, left / (len(queue) + 1))
            solver = self._new_solver(limit, 1, self.seed + attempts[person.id])
            status = self._run_solver(solver, model.model, lambda o, b, v: None)
            if status == cp_model.UNKNOWN and attempts[person.id] < 3:
                queue.append(person)
                continue
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                return None
            for (pid, day), t in model.roster(solver.boolean_value).items():
                roster[pid, day] = t
                counts[day, t] = counts.get((day, t), 0) + 1
        return roster

    # -- large-neighbourhood search ----------------------------------------------------------
    def _lns(self, built: RosterModel, *, until: float) -> bool:
        """Improve ``self.best`` until the time is up, with one LNS thread per worker (each
        sub-solve single-threaded); True if the best reached the proven bound.

        A neighbourhood frees some (person, day) cells and fixes every other cell to the best
        roster, in a copy of the whole model (so every rule and the objective are exactly the
        same), with the objective capped below the best: any solution is a complete, better
        roster, whichever thread finds it. It ends early once no thread has improved the best
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

    def _costs(self, best: Roster) -> tuple[list[int], list[int]]:
        """Per day and per person, the soft cost ``best`` pays there (cover and requests):
        where the roster is bad, so the neighbourhoods that look there find improvements."""
        p = self.problem
        day_cost = [0] * p.days
        person_cost = [0] * len(p.people)
        counts: dict[tuple[int, str], int] = {}
        for (_pid, d), t in best.items():
            counts[d, t] = counts.get((d, t), 0) + 1
        for c in p.cover:
            if c.preferred is None:
                continue
            k = counts.get((c.day, c.shift_type), 0)
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
            objective.domain.extend([-(1 << 60), cap])
            limit = min(until - self._elapsed(), LNS_LIMIT)
            solver = self._new_solver(limit, 1, rng.randrange(1 << 30))
            started = time.monotonic()
            status = self._run_solver(solver, sub, lambda o, b, v: None)
            took = time.monotonic() - started
            self.lns_stats[kind] = self.lns_stats.get(kind, 0) + 1
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                self.lns_stats[kind + "+"] = self.lns_stats.get(kind + "+", 0) + 1
                self._improved(
                    solver.objective_value,
                    lambda s=solver: built.roster(s.boolean_value),
                    lambda s=solver: list(s.response_proto.solution),
                )
            if status in (cp_model.OPTIMAL, cp_model.INFEASIBLE) and took < 0.5 * limit:
                sizes[kind] = min(1.0, sizes[kind] * 1.15)
            elif status in (cp_model.UNKNOWN, cp_model.FEASIBLE) and took >= 0.9 * limit:
                sizes[kind] = max(0.02, sizes[kind] / 1.15)


def roster_cost(problem: RosterProblem, roster: Roster) -> int:
    """The objective of ``roster`` as the model counts it (requests, soft cover, stability,
    fairness), for a roster built outside the whole model."""
    cost = 0
    counts: dict[tuple[int, str], int] = {}
    for (_pid, d), t in roster.items():
        counts[d, t] = counts.get((d, t), 0) + 1
    for c in problem.cover:
        if c.preferred is None:
            continue
        k = counts.get((c.day, c.shift_type), 0)
        cost += (c.preferred - k) * c.under_weight if k < c.preferred else 0
        cost += (k - c.preferred) * c.over_weight if k > c.preferred else 0
    missed: dict[str, int] = {}
    for r in problem.requests:
        got = roster.get((r.person, r.day))
        worked = got is not None if r.shift_type is None else got == r.shift_type
        cost += r.weight if worked != r.on else 0
        missed[r.person] = missed.get(r.person, 0) + (r.weight if worked != r.on else 0)
    if problem.request_fairness_weight:
        cohort_of = {person.id: person.cohort for person in problem.people}
        worst: dict[str, list[int]] = {}
        for pid, lost in missed.items():
            if cohort_of.get(pid) is not None:
                worst.setdefault(cohort_of[pid], []).append(lost)
        for losses in worst.values():
            if len(losses) > 1:
                cost += problem.request_fairness_weight * max(losses)
    if problem.stability_weight:
        for person in problem.people:
            for d in range(problem.days):
                if roster.get((person.id, d)) != problem.current.get((person.id, d)):
                    cost += problem.stability_weight
    for rule in problem.fairness:
        points = rule.points or {t.id: t.points for t in problem.shift_types}
        totals: dict[str, int] = {}
        for person in problem.people:
            if person.cohort is not None:
                totals[person.id] = rule.history.get(person.id, 0)
        for (pid, d), t in roster.items():
            if pid in totals and (rule.days is None or d in rule.days):
                totals[pid] += points.get(t, 0)
        cohorts: dict[str, list[int]] = {}
        for person in problem.people:
            if person.cohort is not None:
                cohorts.setdefault(person.cohort, []).append(totals[person.id])
        for members in cohorts.values():
            if len(members) > 1:
                cost += rule.weight * (max(members) - min(members))
    return cost


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
    for (pid, d), t in before.items():
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
            worked = {d for d, _t in earlier}
            gone = sum(
                1
                for days in problem.weekends()
                if (max(days) < lo or (settled and min(days) >= end))
                and any(d in worked for d in days)
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


def separable(problem: RosterProblem) -> bool:
    """True if no hard rule links two people (cover is soft only), so each person's rules can
    be met alone and any combination of such rosters is feasible."""
    return all(c.min == 0 and c.max is None for c in problem.cover)


def roster_solve(
    problem: RosterProblem,
    *,
    time_limit: float,
    workers: int = 2,
    seed: int = 0,
    on_progress: Callable[[RosterProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    hint: Roster | None = None,
    lns: bool = True,
) -> RosterResult:
    return RosterSolve(
        problem,
        time_limit=time_limit,
        workers=workers,
        seed=seed,
        on_progress=on_progress,
        should_stop=should_stop,
        hint=hint,
        lns=lns,
    ).run()
