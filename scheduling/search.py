"""The solve of a schedule model in phases (docs/scheduling.md, "Search: a first schedule fast,
with one worker or two"): a local-search phase for a first schedule (with the first wishes
imposed, then from the hint), then optimisation for the rest of the time limit, with each
phase's CP-SAT parameters (``phase_parameters``). The model itself is scheduling/solver.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ortools.sat.python import cp_model

from scheduling.problem import Problem
from scheduling.solver import HEAVY_GROUP, Progress, ScheduleModel, SolveResult


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, solve: ScheduleSolve, *, better_than: float | None = None) -> None:
        super().__init__()
        self.solve = solve
        self.better_than = better_than  # the incumbent of an earlier phase: report improvements

    def on_solution_callback(self) -> None:
        s = self.solve
        if self.better_than is not None and self.objective_value >= self.better_than:
            return
        with s._lock:
            s.solutions += 1
            if s.first_solution_seconds is None:
                s.first_solution_seconds = time.monotonic() - s._started
            built = s.built
            progress = Progress(
                solutions=s.solutions,
                objective=self.objective_value,
                best_bound=self.best_objective_bound,
                wall_seconds=time.monotonic() - s._started,
                changes=None
                if built is None
                else built.forced_changes + sum(int(self.value(t)) for t in built.change_terms),
            )
            s.latest = progress
        if s.on_solution is not None:
            s.on_solution(progress)
        if s.stop_requested.is_set():
            self.stop_search()


# The feasibility phase gets at most this share of the time limit (and at least a few seconds).
FEASIBILITY_SHARE = 0.4
FEASIBILITY_MIN_SECONDS = 1.0


def phase_parameters(
    params, phase: str, *, workers: int, seed: int, time_limit: float, incumbent: bool = True
) -> None:
    """Search parameters per phase and worker count (docs/scheduling.md, "Search").

    Feasibility: CP-SAT's local search only (feasibility jump, violation LS), from the hint
    (current schedule, wishes), stopping at the first schedule, with every worker on local
    search. Used for any worker count: with one worker CP-SAT would otherwise run only the tree
    search (on tight programs it can need minutes), and with two its portfolio gives local
    search one thread beside the tree search, which a loaded host starves.
    Optimisation: CP-SAT's default portfolio for the worker count (measured on planted
    programs, interleaving all subsolvers on one thread improved the schedule more slowly than
    one tree-search worker started afresh; a hint of the incumbent slowed it too).
    """
    params.num_workers = max(1, int(workers))
    params.random_seed = int(seed)
    params.max_time_in_seconds = max(0.1, float(time_limit))
    if phase == "feasibility":
        # Local search only (one LS thread per worker): it finds tight programs' schedules in
        # seconds. If it finds none, the optimisation phase's tree search (which finds
        # generous programs' schedules at once) still has the rest of the time.
        params.stop_after_first_solution = True
        params.use_ls_only = True
    elif workers == 1 and not incumbent:
        # Still no schedule: local search and tree search take turns on the one thread.
        params.interleave_search = True


class ScheduleSolve:
    """One solve of a problem in two phases (feasibility, then optimisation); ``stop()`` may be
    called from any thread (cancellation)."""

    def __init__(
        self,
        problem: Problem,
        *,
        time_limit: float,
        workers: int = 2,
        seed: int = 0,
        on_solution: Callable[[Progress], None] | None = None,
    ) -> None:
        self.problem = problem
        self.time_limit = float(time_limit)
        self.workers = max(1, int(workers))
        self.seed = int(seed)
        self.on_solution = on_solution
        self.solver: cp_model.CpSolver | None = None
        self.stop_requested = threading.Event()
        self.solutions = 0
        self.first_solution_seconds: float | None = None
        self.latest: Progress | None = None
        self.built: ScheduleModel | None = None
        self._lock = threading.Lock()
        self._started = time.monotonic()

    def stop(self) -> None:
        self.stop_requested.set()
        with self._lock:
            solver = self.solver
        if solver is not None:
            solver.stop_search()

    def _solve(self, model: cp_model.CpModel, phase: str, limit: float, better_than=None):
        solver = cp_model.CpSolver()
        phase_parameters(
            solver.parameters, phase, workers=self.workers, seed=self.seed, time_limit=limit,
            incumbent=better_than is not None,
        )  # fmt: skip
        with self._lock:
            self.solver = solver
        if self.stop_requested.is_set():  # a stop() before self.solver was set
            return solver, cp_model.UNKNOWN
        try:
            status = solver.solve(model, _Callback(self, better_than=better_than))
        finally:
            with self._lock:
                self.solver = None
        return solver, status

    def run(self) -> SolveResult:
        self._started = time.monotonic()
        built = ScheduleModel(self.problem)
        self.built = built  # the callback reports each solution's changes from it
        if self.stop_requested.is_set():
            return SolveResult(status="UNKNOWN", stopped=True)
        result = SolveResult(status="UNKNOWN", changes_at_least=built.forced_changes)
        # The time limit is the solver's (as before the two phases): building the model does
        # not eat into it.
        solving_since = time.monotonic()

        def take(solver: cp_model.CpSolver, phase: str) -> None:
            result.assignments = built.solution(solver.boolean_value)
            result.objective = solver.objective_value
            result.group_spreads = {
                f"{name} PGY-{pgy}": int(solver.value(v))
                for (name, pgy), v in built.spreads.items()
            }
            result.fairness_spread = {
                pgy: int(solver.value(v))
                for (name, pgy), v in built.spreads.items()
                if name == HEAVY_GROUP
            }
            result.best_bound = solver.best_objective_bound  # weak; the optimisation tightens it
            result.changes = built.forced_changes + sum(
                int(solver.value(t)) for t in built.change_terms
            )
            result.phase = phase

        # Phase 1: a first schedule, fast, by local search from the current schedule (and the
        # wishes). First try with every first wish imposed (half the budget): when they all fit,
        # as they often do, the optimisation has little left to find.
        built.hint_start()
        budget = min(
            0.8 * self.time_limit,  # leave the optimisation some time, however short the limit
            max(FEASIBILITY_MIN_SECONDS, self.time_limit * FEASIBILITY_SHARE),
        )
        wished = built.with_first_wishes()
        if wished is not None:
            solver, status = self._solve(wished, "feasibility", budget / 2)
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                take(solver, "feasibility")
                result.status = "FEASIBLE"
        # Then a local-search phase for any worker count (see phase_parameters): every worker
        # runs local search from the hint. CP-SAT's two-worker portfolio runs local search on
        # one thread beside the tree search, and on a loaded (or one-core) host that thread
        # gets too little CPU: first schedules on tight programs took 9-22 s instead of 2-6 s.
        if not result.found and not self.stop_requested.is_set():
            left = budget - (time.monotonic() - solving_since)
            solver, status = self._solve(built.model, "feasibility", max(left, 1.0))
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                take(solver, "feasibility")
                result.status = "FEASIBLE"
            elif status in (cp_model.INFEASIBLE, cp_model.MODEL_INVALID):  # proven by presolve
                result.status = solver.status_name(status)
        # Phase 2: optimise for the rest of the time (the model is unchanged; the incumbent is
        # kept if this phase finds nothing better). Without an incumbent it is also the phase
        # that proves a program infeasible.
        if result.found:  # the search starts from the incumbent, not the hint
            built.model.clear_hints()
            built.break_symmetry()  # it slows the local search, so only once there is one
        if result.found and result.objective <= built.objective_floor:
            result.status, result.best_bound = "OPTIMAL", result.objective  # nothing to improve
        left = self.time_limit - (time.monotonic() - solving_since)
        more = result.status in ("FEASIBLE", "UNKNOWN") and not self.stop_requested.is_set()
        if more and left > 0.1:
            solver, status = self._solve(built.model, "optimisation", left, result.objective)
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and (
                result.objective is None or solver.objective_value <= result.objective
            ):
                take(solver, "optimisation")
                result.status = "FEASIBLE"
            if status == cp_model.OPTIMAL:
                result.status, result.best_bound = "OPTIMAL", result.objective
            elif status == cp_model.FEASIBLE:
                result.best_bound = solver.best_objective_bound
            elif not result.found:
                result.status = solver.status_name(status)  # INFEASIBLE, UNKNOWN
        result.wall_seconds = time.monotonic() - self._started
        result.stopped = self.stop_requested.is_set()
        result.first_solution_seconds = self.first_solution_seconds
        return result
