"""The people-only large-neighbourhood search, phase 0' of ``RosterSolve`` (docs/rostering.md,
"Search"): for a problem whose people share no hard rule and too large to build whole, a few
people at a time are re-solved in a model of their own (for the whole horizon, over a window of
days, or on their weekends), everyone else fixed. ``PeopleSearch`` holds it as methods of
``RosterSolve`` (which inherits it): they share its clock, cancellation, solvers and best; the
sub-solves' settings and the whole-weekends tie-break are the whole-model LNS's (lns.py).
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from dataclasses import replace

from ortools.sat.python import cp_model

from scheduling.roster import lns
from scheduling.roster.cost import minutes_slack, roster_cost
from scheduling.roster.long_horizon import lookback, problem_people, problem_window
from scheduling.roster.model import BuildStopped, RosterModel
from scheduling.roster.problem import Roster, RosterProblem

PEOPLE_LNS_START = 3  # people freed at first by a neighbourhood of the people-only LNS
# The people-only LNS frees, in half of its draws that are not weekends, more people (8 at
# first, growing like the people above) over a window of WINDOW_SPAN days around a costly day
# instead of a few for the whole horizon: cover is per day and these instances' costs are
# mostly cover shortfall, which people on the same days can trade. At 60 s, 3 seeds
# (docs/performance.md, round 7): instance 13 from +189% to +96% of the best known, 12 from
# +10.3% to +3.6%. Tried: windows only (13 better, 3037-3471 at 30 s against 3603-3809; 15
# worse, 5561-5769 against 4966-5040); 14-day windows (13: 4398 against 3662 at 30 s); choosing
# the kind by the cost each removed per second.
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
WEEKENDS_MIX = 0.25  # of the draws, people-weekends steps (lns.WEEKENDS_KIND says why)


class PeopleSearch:
    """The people-only LNS of ``RosterSolve`` (see the module's docstring)."""

    # -- people at a time, each neighbourhood a model of its own --------------------------------
    def _people_lns(self, *, until: float) -> None:
        """Improve ``self.best`` until ``until`` for a problem too large to build whole: one
        thread per worker, each freeing a few people at a time for the whole horizon
        (``_people_step``), more people over a window of days (``_window_step``) or on their
        weekends (``_weekends_step``), in a model of just them. Slower to improve than the
        whole-model LNS where that can be built (tried: worse on benchmark instances 5-10),
        but it scales with the people freed, not with the problem."""
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
        sizes = {
            "people-own": PEOPLE_LNS_START,
            "people-window": WINDOW_PEOPLE_START,
            "people-weekends": WINDOW_PEOPLE_START,
        }
        weekends = lns.WEEKENDS_KIND and lns.weekends_limited_anyone(self.problem)
        while not self._stop.is_set() and self._elapsed() < until - 0.1:
            with self._lock:
                best, best_objective = self.best, self.best_objective
            if weekends and rng.random() < WEEKENDS_MIX:
                kind = "people-weekends"
            elif rng.random() < WINDOW_MIX:
                kind = "people-window"
            else:
                kind = "people-own"
            chosen = self._choose_people(rng, min(len(people), sizes[kind]), best)
            limit = min(until - self._elapsed(), lns.LNS_LIMIT)
            started = time.monotonic()
            step = {
                "people-own": self._people_step,
                "people-window": self._window_step,
                "people-weekends": self._weekends_step,
            }[kind]
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
        self, best: Roster, chosen: set[str], limit: float, rng, *, days: set[int] | None = None
    ) -> tuple[int, int | None]:
        """Re-solve the ``chosen`` people for the whole horizon (or only on ``days``, their
        other days pinned to ``best``) in a model of their own (``problem_people``: everyone
        else fixed, cover reduced by what they hold), capped below what they cost now; the
        whole roster is re-priced before it is taken. (status, the new roster's cost or
        None)."""
        sub_problem = problem_people(self.problem, chosen, best)
        if days is not None:
            pinned = dict(sub_problem.pinned)
            for pid in chosen:
                for d in range(self.problem.days):
                    if d not in days:
                        pinned.setdefault((pid, d), best.get((pid, d)))
            sub_problem = replace(sub_problem, pinned=pinned)
        mine = {key: t for key, t in best.items() if key[0] in chosen}
        status, found = self._solve_below(sub_problem, mine, limit, rng)
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

    def _weekends_step(
        self, best: Roster, chosen: set[str], limit: float, rng
    ) -> tuple[int, int | None]:
        """Re-solve the ``chosen`` people's weekends (``lns.weekend_days``) in a model of their
        own, their other days pinned (``_people_step``)."""
        return self._people_step(best, chosen, limit, rng, days=lns.weekend_days(self.problem))

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
        if lns.WHOLE_WEEKENDS:
            cap, _halves = lns.prefer_whole_weekends(
                model.model, model.work, sub_problem, mine, cap
            )
        objective.domain.clear()
        objective.domain.extend([-(1 << 60), cap])
        solver = self._new_solver(limit, 1, rng.randrange(1 << 30))
        solver.parameters.linearization_level = lns.SUB_SOLVE_LINEARIZATION
        status = self._run_solver(solver, model.model, lambda o, b, v: None)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return status, None
        return status, model.roster(solver.boolean_value)
