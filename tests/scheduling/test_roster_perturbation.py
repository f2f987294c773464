"""The whole-model LNS's current roster and its perturbations (scheduling/roster/lns.py,
``PERTURB_AFTER``): once the current has not been lowered for a while, one sub-solve (one
thread's, not each's) perturbs it, moving at least ``PERTURB_CHANGE`` of the shifts it frees
within ``PERTURB_WORSE`` of its cost; the perturbed roster becomes the current even when it
costs more, while the best, which the solve returns, never gets worse. No database: the engine
is pure Python."""

from __future__ import annotations

import threading
import time

from ortools.sat.python import cp_model

from bench import shifts
from scheduling.roster import RosterSolve
from scheduling.roster import lns as lns_module
from scheduling.roster.cost import roster_cost
from tests.scheduling.test_roster_benchmark import evaluated, instance_text


def test_a_perturbation_drops_a_quarter_of_what_it_frees_and_may_cost_two_percent_more():
    m = cp_model.CpModel()
    held = [m.new_bool_var(f"held_{k}") for k in range(8)]
    cost = m.new_int_var(0, 10_000, "cost")
    m.add(cost == 1000 + 5 * (8 - sum(held)))  # each shift dropped costs 5 more
    m.minimize(cost)
    cap = lns_module.perturbed_cap(m, held, 999, 1000)
    assert cap == 999 + 1 + 20  # up to 2% (20) above the 1000 it costs now
    m.proto.objective.domain.extend([-(1 << 60), cap])
    solver = cp_model.CpSolver()
    assert solver.solve(m) == cp_model.OPTIMAL
    # The cheapest roster that drops a quarter (2 of 8): 1010, above the 1000 it started at.
    assert sum(solver.value(v) for v in held) == 6
    assert solver.value(cost) == 1010


def test_a_perturbation_may_not_rise_more_than_two_percent():
    m = cp_model.CpModel()
    held = [m.new_bool_var(f"held_{k}") for k in range(8)]
    cost = m.new_int_var(0, 10_000, "cost")
    m.add(cost == 1000 + 11 * (8 - sum(held)))  # dropping 2 of 8 costs 1022: more than 2%
    m.minimize(cost)
    cap = lns_module.perturbed_cap(m, held, 999, 1000)
    m.proto.objective.domain.extend([-(1 << 60), cap])
    assert cp_model.CpSolver().solve(m) == cp_model.INFEASIBLE


def _stalled_solve(monkeypatch) -> RosterSolve:
    """A solve whose current roster (costing 100, as its best) has not changed for 10 s of a
    60 s limit: past ``PERTURB_AFTER`` (3 s)."""
    monkeypatch.setattr(lns_module, "PERTURB_AFTER", 0.05)
    solve = RosterSolve(shifts.problem_from_text(instance_text(1)), time_limit=60)
    solve._started = time.monotonic() - 20
    solve.best, solve.best_objective = {("A", 0): "D"}, 100
    solve._current = (solve.best, 100, 10.0)
    return solve


class _TellingLock:
    """A lock that sets ``contended`` when a thread finds it held and has to wait."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.contended = threading.Event()

    def __enter__(self):
        if not self._lock.acquire(blocking=False):
            self.contended.set()
            self._lock.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


def _hold_at_the_clock(solve: RosterSolve, holds) -> threading.Event:
    """Give ``solve`` a ``_TellingLock`` and a clock that holds a thread for which ``holds()``
    is true (read under the lock) until another thread waits for the lock. Returns an event
    set once a thread is held."""
    solve._lock = _TellingLock()
    elapsed, inside = solve._elapsed, threading.Event()

    def held_elapsed() -> float:
        if holds():
            inside.set()
            solve._lock.contended.wait(timeout=10)
        return elapsed()

    solve._elapsed = held_elapsed
    return inside


def test_only_one_of_two_threads_asking_at_once_perturbs_a_stalled_current(monkeypatch):
    solve = _stalled_solve(monkeypatch)
    # The first thread to read the clock inside _current_base (having found the current
    # stalled) waits there until the other thread is waiting for the lock: the overlap is
    # forced. Without the lock both would read the clock, both see the current stalled and both
    # perturb; the first would then wait out its timeout and the assertion below fails.
    entered: list[str] = []

    def first_to_read() -> bool:
        entered.append(threading.current_thread().name)
        return len(entered) == 1

    _hold_at_the_clock(solve, first_to_read)
    barrier = threading.Barrier(2)
    perturbs: list[bool] = []

    def ask() -> None:
        barrier.wait(timeout=10)
        _roster, _cost, perturb = solve._current_base()
        perturbs.append(perturb)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads)
    assert solve._lock.contended.is_set()  # the second thread did wait for the first
    assert sorted(perturbs) == [False, True]
    # And the next perturbation waits for another stall.
    assert solve._current_base()[2] is False


def test_two_threads_offering_at_once_leave_the_cheaper_roster_current(monkeypatch):
    solve = _stalled_solve(monkeypatch)
    # The dearer roster's thread, past the comparison in _current_offer (it reads the clock
    # only then), waits there until the cheaper roster's thread is waiting for the lock, which
    # starts offering only once the first is inside: the overlap is forced, in that order.
    # Without the lock both would compare against the old current (100), the cheaper roster
    # would land first, and the dearer one would overwrite it.
    inside = _hold_at_the_clock(solve, lambda: threading.current_thread().name == "dearer")
    dearer, cheaper = {("A", 1): "D"}, {("A", 2): "D"}

    def offer(cost: float, roster: dict, after: threading.Event | None) -> None:
        if after is not None:
            assert after.wait(timeout=10)
        solve._current_offer(cost, roster, perturbed=False)

    threads = [
        threading.Thread(target=offer, args=(99, dearer, None), name="dearer"),
        threading.Thread(target=offer, args=(98, cheaper, inside), name="cheaper"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads)
    assert solve._lock.contended.is_set()  # the cheaper roster's thread did wait
    assert solve._current[:2] == (cheaper, 98)


def test_a_current_within_its_stall_time_is_not_perturbed(monkeypatch):
    solve = _stalled_solve(monkeypatch)
    solve._current = (solve.best, 100, 18.0)  # changed 2 s ago, under 3 s
    assert solve._current_base()[2] is False
    monkeypatch.setattr(lns_module, "PERTURB_AFTER", 0)
    solve._current = (solve.best, 100, 0.0)
    assert solve._current_base()[2] is False  # perturbations off


def test_a_perturbed_roster_becomes_the_current_but_never_the_best(monkeypatch):
    solve = _stalled_solve(monkeypatch)
    best = solve.best
    dearer = {("A", 1): "D"}
    solve._current_offer(101, dearer, perturbed=False)
    assert solve._current[0] is best  # dearer and not a perturbation: ignored
    solve._current_offer(101, dearer, perturbed=True)
    assert solve._current[:2] == (dearer, 101)
    assert (solve.best, solve.best_objective) == (best, 100)
    cheaper = {("A", 2): "D"}
    solve._current_offer(100.5, cheaper, perturbed=False)
    assert solve._current[:2] == (cheaper, 100.5)


def test_the_whole_model_lns_perturbs_and_returns_the_cheapest_roster_it_saw(monkeypatch):
    # Every sub-solve but the first after a perturbation perturbs (no floor, a stall of a
    # nanosecond), whether or not the search is still improving (a loaded machine improves
    # for longer): the best must still be the cheapest roster any sub-solve found.
    monkeypatch.setattr(lns_module, "PERTURB_AFTER", 1e-9)
    monkeypatch.setattr(lns_module, "PERTURB_FLOOR", 0.0)
    number = 3
    problem = shifts.problem_from_text(instance_text(number))
    solve = RosterSolve(problem, time_limit=5, workers=2, seed=1)
    offered: list[float] = []
    perturbations: list[float] = []
    original_improved, original_offer = solve._improved, solve._current_offer

    def improved(objective, roster_of, values_of=None):
        offered.append(objective)
        return original_improved(objective, roster_of, values_of)

    def offer(cost, roster, *, perturbed: bool):
        if perturbed:
            offered.append(cost)
            perturbations.append(cost)
        return original_offer(cost, roster, perturbed=perturbed)

    solve._improved, solve._current_offer = improved, offer
    result = solve.run()
    assert result.found
    # It perturbed (each try is counted; those that found a roster offered it).
    assert solve.lns_stats.get("perturb", 0) >= len(perturbations) >= 1, solve.lns_stats
    # Whatever the perturbations cost, the solve returns the cheapest roster offered.
    assert result.objective == min(offered) == roster_cost(problem, result.roster)
    assert evaluated(number, result.roster) == (result.objective, [])
