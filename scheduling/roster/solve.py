"""Solving a RosterProblem: time limit, workers, seed, progress and cancellation.

``roster_solve`` builds the model once and runs CP-SAT on it. Cancellation: a watcher thread
polls ``should_stop`` (and ``RosterSolve.stop()``) every 0.1 s and calls ``stop_search``; CP-SAT
returns within a fraction of a second, and a stopped solve returns status ``CANCELLED`` and no
roster, so nothing of a cancelled run can be written by mistake.

Search (docs/rostering.md, "Search"): with ``lns=False`` CP-SAT's own portfolio on the whole
model for the whole time. With ``lns=True`` (the default): for a long horizon with hard cover,
a first roster month by month and a fairness sweep (each month decided again inside the
whole year); for a large problem whose people share no hard rule, a first roster person by
person and then a few people at a time (for the whole horizon, or more of them over a window
of days) re-solved in models of their own, to the end (the whole model is not built);
otherwise the portfolio for a short share (a first roster; small problems are proved optimal
here; person by person when people share no hard rule and the portfolio found nothing),
then our own large-neighbourhood search (free some people, or a window of days, partly chosen
where the best roster pays its costs; fix the rest to the best roster; re-solve with the
objective capped below the best) for as long as it improves, then the portfolio again started
from the best roster (a full hint) for the rest of the time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from scheduling.roster.cost import roster_cost
from scheduling.roster.lns import NeighbourhoodSearch
from scheduling.roster.long_horizon import (
    SWEEP,
    SWEEP_SHARE,
    WINDOW_SHARE,
    LongHorizonSearch,
    long_horizon,
)
from scheduling.roster.model import BuildStopped, RosterModel
from scheduling.roster.people_lns import PeopleSearch
from scheduling.roster.person_by_person import PersonByPerson
from scheduling.roster.problem import Roster, RosterProblem

CANCELLED = "CANCELLED"
PORTFOLIO_SHARE = 0.1  # phase 1 (portfolio) gets this fraction of the time limit (>= 1 s)
LNS_SHARE = 0.85  # phase 2 (own LNS) ends by this fraction of the time limit (or on a stall)
GREEDY_SHARE = 0.5  # of the remaining time, at most, for a person-by-person first roster
# A problem whose people share no hard rule and has more cells (people x days x shift types) than
# this gets its first roster person by person and is improved a few people at a time, each group
# in a model of its own, without the whole model (docs/rostering.md, "Search"). On benchmark
# instances 11, 12, 13 and 17 (7,168-60,480 cells) this beat the whole-model LNS by 4-42% (an
# LNS iteration on the whole model of 13 costs about 0.5 s before it searches); below about
# 6,000 cells (instances 5-10, 14, 16) the whole-model LNS did as well or better. If the start
# finds no roster, a problem of up to WHOLE_MODEL_CELLS still gets the whole model's phases.
PERSON_FIRST_CELLS = 7_000
WHOLE_MODEL_CELLS = 300_000
ALONE_GREEDY_SHARE = 0.9  # of the remaining time, at most, for the person-by-person start


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


class RosterSolve(LongHorizonSearch, NeighbourhoodSearch, PeopleSearch, PersonByPerson):
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
        # The roster the whole-model LNS's sub-solves start from, its cost, and when it last
        # changed: the best unless a perturbation moved it (lns.PERTURB_AFTER); None until the
        # LNS begins.
        self._current: tuple[Roster | None, float, float] = (None, float("inf"), 0.0)
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
                    swept = self._sweep(start, self._elapsed() + SWEEP_SHARE * self._remaining())
                    if not self._stop.is_set():
                        self._even_out(swept, self.time_limit - 0.5)
                    if self._remaining() < 2.0:
                        return "FEASIBLE"
        if (
            self.lns
            and not self.hint
            and separable(self.problem)
            and _cells(self.problem) > PERSON_FIRST_CELLS
        ):
            status = self._people_first()
            if status is not None:
                return status
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

    def _people_first(self) -> str | None:
        """Large, and no hard rule links people (benchmark instances 11-13, 15, 17-24): a first
        roster person by person, then a few people at a time (or more over a window of days)
        re-solved in models of their own to the end. None if the start found no roster and the
        whole model is small enough to try (the usual phases then go on)."""
        # The whole model's portfolio found no roster in 120 s on instance 20 (54,600 cells),
        # while one person alone takes 0.1-3 s; nothing else finds a roster first, so the start
        # may take almost all the time (instance 24: about 2.2 s a person, 150 people).
        start = self._person_by_person(ALONE_GREEDY_SHARE * self._remaining())
        self.trace.append(("person by person", self._elapsed(), start is not None))
        if start is None:
            whole = _cells(self.problem) <= WHOLE_MODEL_CELLS
            return None if whole and not self._stop.is_set() else "UNKNOWN"
        self._improved(roster_cost(self.problem, start), lambda: start)
        # Tried: the whole model's portfolio, hinted with the best roster, for the last 15%
        # (as in phase 3 below): it improved nothing on instances 12 and 13, whose people LNS
        # was still improving when it stopped.
        self._people_lns(until=self.time_limit - 0.5)
        self.trace.append(("people LNS", self._elapsed(), self.best_objective))
        return "FEASIBLE"


def _cells(problem: RosterProblem) -> int:
    return len(problem.people) * problem.days * len(problem.shift_types)


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
