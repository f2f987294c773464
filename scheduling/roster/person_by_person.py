"""A first roster person by person, for a problem whose people share no hard rule (cover soft
only, as in the benchmark): each person is solved alone (the same engine, a one-person problem)
against the cover the people placed before them left (docs/rostering.md, "Search").
``PersonByPerson`` holds it as methods of ``RosterSolve`` (which inherits it): they share its
clock, cancellation, solvers and seed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from ortools.sat.python import cp_model

from scheduling.roster.model import RosterModel
from scheduling.roster.problem import Roster

# A person's solve stops once this fraction of its share has passed if it has a roster, else at
# its first roster after (``_run_settling``): the people after them need the time more than
# this person's greedy best does (instance 21: each person solving to the end of an equal share
# left the last ten with no roster in 60 s). Tried: 0.05, which made instance 20's start
# shorter (25 s against 95 s of 120), but instance 22 then found no roster in 120 s (0.25: its
# first at 108 s, and 76.9 s since a solve with a roster stops at its settle time).
PERSON_SETTLE = 0.25


class PersonByPerson:
    """The person-by-person start of ``RosterSolve`` (see the module's docstring)."""

    def _run_settling(self, solver, model, settle: float) -> int:
        """Solve ``model``, stopping at ``settle`` seconds if a roster has been found by then,
        else at the first one after: a one-person solve often finds its best roster at once
        and then spends most of its time proving it (instance 13: 0.05 s to its roster, 0.7 s
        in all), time the people after it need more."""
        found = threading.Event()
        settled = threading.Event()
        started = time.monotonic()

        def on_solution(_o, _b, _v) -> None:
            found.set()
            if time.monotonic() - started > settle:
                solver.stop_search()

        def stop_when_settled() -> None:
            if not settled.wait(settle) and found.is_set():
                solver.stop_search()

        timer = threading.Thread(target=stop_when_settled, daemon=True)
        timer.start()
        try:
            return self._run_solver(solver, model, on_solution)
        finally:
            settled.set()
            timer.join()

    def _person_by_person(self, budget: float) -> Roster | None:
        """A starting roster for a problem whose people share no hard rule: each person in
        turn is solved alone (the same engine, a one-person problem) against the cover the
        people placed before them left, so the soft cover is greedily filled; one thread per
        worker places people side by side. A person whose solve runs out of its share of
        ``budget`` goes to the back of the queue (later shares are larger) up to three times;
        None if someone cannot be placed in time or at all."""
        greedy = _Greedy(queue=list(self.problem.people), ends=time.monotonic() + budget)
        threads = [
            threading.Thread(target=self._place_people, args=(greedy,)) for _ in range(self.workers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if greedy.failed or greedy.queue or self._stop.is_set():
            return None
        return greedy.roster

    def _place_people(self, greedy: _Greedy) -> None:
        p = self.problem
        while True:
            with greedy.lock:
                if greedy.failed or not greedy.queue:
                    return
                person = greedy.queue.pop(0)
                counts = dict(greedy.counts)
                # This person's share: what is left, spread over the people still to place,
                # ``workers`` of them at a time.
                share = (greedy.ends - time.monotonic()) * self.workers
                share /= len(greedy.queue) + self.workers
                attempt = greedy.attempts[person.id] = greedy.attempts.get(person.id, 0) + 1
            if self._stop.is_set() or greedy.ends <= time.monotonic():
                with greedy.lock:
                    greedy.failed = True
                return
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
            limit = max(0.05, share)
            solver = self._new_solver(limit, 1, self.seed + attempt)
            status = self._run_settling(solver, model.model, limit * PERSON_SETTLE)
            with greedy.lock:
                if status == cp_model.UNKNOWN and attempt < 3:
                    greedy.queue.append(person)
                elif status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                    greedy.failed = True
                else:
                    for (pid, day), t in model.roster(solver.boolean_value).items():
                        greedy.roster[pid, day] = t
                        greedy.counts[day, t] = greedy.counts.get((day, t), 0) + 1


@dataclass
class _Greedy:
    """The person-by-person start's shared state; its threads read and write it under
    ``lock``: without it two threads could pop the same person, or lose each other's count
    of a cell (a cell filled twice would look filled once, and be filled a third time). The
    cover a person is solved against is a copy taken when they start."""

    queue: list
    ends: float
    roster: Roster = field(default_factory=dict)
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    failed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
