"""The CP-SAT model of a RosterProblem (docs/rostering.md, "The model").

Variables: ``x[p, d, t]`` = person p works shift type t on day d, created only where the person
may work it (eligibility, absences and fixed days off are enforced by absence of a variable);
``work[p, d]`` = p works some shift on d (the sum of the day's x, at most one).

The encodings are chosen to propagate well: "cannot follow" and rest are one aggregated
inequality per (person, day, type); maximum runs and rolling windows are sliding-window sums;
minimum runs (shifts and days off) are forbidden-pattern clauses (an off day, 1..k-1 working
days, an off day: forbidden), which exempt runs touching the first or last day by construction;
a weekend is worked if either day is (two implications, linear in the count); soft cover is one
pair of under/over integers per (day, type) tied to the count by an equality.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ortools.sat.python import cp_model

from scheduling.roster.problem import Roster, RosterProblem


@dataclass(frozen=True)
class Cost:
    """One objective term: ``weight`` x ``expr`` (for reporting which rules cost what)."""

    kind: str  # "request", "cover", "stability", "fairness"
    weight: int
    expr: cp_model.LinearExprT


class BuildStopped(Exception):
    """Building was abandoned because the solve was cancelled."""


class RosterModel:
    def __init__(
        self, problem: RosterProblem, *, stopped: Callable[[], bool] | None = None
    ) -> None:
        self.problem = problem
        # Checked once per person while building, so a cancel lands within 2 s even while a
        # year-long model is still being built.
        self._stopped = stopped or (lambda: False)
        self.model = cp_model.CpModel()
        self.x: dict[tuple[int, int, str], cp_model.IntVar] = {}
        self.work: dict[tuple[int, int], cp_model.IntVar | int] = {}
        self.costs: list[Cost] = []
        self.constant_cost = 0
        self._build()

    # -- building -------------------------------------------------------------------------
    def _build(self) -> None:
        p = self.problem
        m = self.model
        types = {t.id: t for t in p.shift_types}
        self.index = {person.id: i for i, person in enumerate(p.people)}
        self.by_person: dict[int, list[tuple[int, str, cp_model.IntVar]]] = defaultdict(list)
        for i, person in enumerate(p.people):
            self._check()
            for d in range(p.days):
                pinned = p.pinned.get((person.id, d), "unpinned")
                day_vars = []
                for t in p.shift_types:
                    if pinned != "unpinned" and pinned != t.id:
                        continue
                    if pinned != t.id and (
                        not person.may_work(d, t.id) or person.max_shifts.get(t.id, 1) == 0
                    ):
                        continue
                    v = m.new_bool_var(f"x_{person.id}_{d}_{t.id}")
                    self.x[i, d, t.id] = v
                    self.by_person[i].append((d, t.id, v))
                    day_vars.append(v)
                if not day_vars:
                    self.work[i, d] = 0
                    continue
                w = m.new_bool_var(f"w_{person.id}_{d}")
                m.add(sum(day_vars) == w)
                self.work[i, d] = w
                if pinned not in ("unpinned", None):
                    m.add(self.x[i, d, pinned] == 1)
        for i, person in enumerate(p.people):
            self._check()
            self._person_rules(i, person, types)
        self._weekends()
        self._cover()
        self._requests()
        self._windows()
        self._runs()
        self._same_shift_days()
        self._stability()
        self._fairness()
        m.minimize(sum(c.weight * c.expr for c in self.costs) + self.constant_cost)

    def _check(self) -> None:
        if self._stopped():
            raise BuildStopped

    def _w(self, i: int, d: int):
        return self.work[i, d]

    def _person_rules(self, i: int, person, types) -> None:
        p, m = self.problem, self.model
        D = p.days
        # Cannot follow / rest after: one inequality per (day, type), since at most one shift a
        # day makes "x + sum(next day's forbidden) <= 1" exact.
        for d in range(D):
            for t in p.shift_types:
                v = self.x.get((i, d, t.id))
                if v is None:
                    continue
                if d + 1 < D and t.cannot_follow:
                    nxt = [self.x[i, d + 1, s] for s in t.cannot_follow if (i, d + 1, s) in self.x]
                    if nxt:
                        m.add(v + sum(nxt) <= 1)
                for k in range(1, t.rest_days_after + 1):
                    if d + k < D and not isinstance(self._w(i, d + k), int):
                        m.add_implication(v, self._w(i, d + k).Not())
        # Per-type maximum.
        for t in p.shift_types:
            limit = person.max_shifts.get(t.id)
            if limit is None:
                continue
            vs = [self.x[i, d, t.id] for d in range(D) if (i, d, t.id) in self.x]
            if len(vs) > limit:
                m.add(sum(vs) <= limit)
        # Total minutes (shifts + baseline).
        minutes = [types[t].minutes * v for _d, t, v in self.by_person[i]]
        base = sum(person.baseline_minutes.values())
        total = sum(minutes) + base if minutes else base
        if person.max_minutes is not None:
            m.add(total <= person.max_minutes)
        if person.min_minutes:
            m.add(total >= person.min_minutes)
        work = [self._w(i, d) for d in range(D)]
        # Maximum consecutive working days: every window of max+1 days has an off day.
        k = person.max_consecutive_shifts
        if k is not None and k < D:
            for s in range(D - k):
                window = work[s : s + k + 1]
                if not any(isinstance(w, int) and w == 0 for w in window):
                    m.add(sum(window) <= k)
        # Redundant, for the LP: with runs of at most k and interior off-runs of at least j days,
        # any k + j consecutive days hold at most k working days (more would need a second run
        # after an off-run shorter than j inside the window, or a run longer than k).
        j = person.min_consecutive_days_off
        if k is not None and j > 1 and k + j <= D:
            for s in range(D - k - j + 1):
                window = work[s : s + k + j]
                if not any(isinstance(w, int) and w == 0 for w in window):
                    m.add(sum(window) <= k)
        # Minimum runs: forbid off, 1..k-1 on, off (and the mirror for days off).
        self._min_runs(work, person.min_consecutive_shifts, on=True)
        self._min_runs(work, person.min_consecutive_days_off, on=False)

    def _lit(self, w, positive: bool):
        """A literal for "w is positive" (or its negation), or True/False for constants."""
        if isinstance(w, int):
            return bool(w) == positive
        return w if positive else w.Not()

    def _min_runs(self, work, k: int, *, on: bool) -> None:
        D = len(work)
        for length in range(1, k):
            for start in range(1, D - length):
                end = start + length  # first day after the run
                clause = [self._lit(work[start - 1], on)]
                clause += [self._lit(work[d], not on) for d in range(start, end)]
                clause.append(self._lit(work[end], on))
                if any(lit is True for lit in clause):
                    continue
                lits = [lit for lit in clause if lit is not False]
                # No literal left: fixed days (pins, absences) force a too-short run; the empty
                # clause makes the model infeasible, which the explanation layer reports.
                self.model.add_bool_or(lits)

    def _weekends(self) -> None:
        p, m = self.problem, self.model
        weekends = p.weekends()
        for i, person in enumerate(p.people):
            if person.max_weekends is None or person.max_weekends >= len(weekends):
                continue
            flags = []
            for days in weekends:
                ws = [self._w(i, d) for d in days if not isinstance(self._w(i, d), int)]
                if not ws:
                    continue
                f = m.new_bool_var(f"we_{person.id}_{days[0]}")
                for w in ws:
                    m.add_implication(w, f)
                flags.append(f)
            if len(flags) > person.max_weekends:
                m.add(sum(flags) <= person.max_weekends)

    def _cover(self) -> None:
        p, m = self.problem, self.model
        by_day_type = defaultdict(list)
        for (_i, d, t), v in self.x.items():
            by_day_type[d, t].append(v)
        for c in p.cover:
            vs = by_day_type.get((c.day, c.shift_type), [])
            count = sum(vs)
            n = len(vs)
            if c.min:
                m.add(count >= c.min)
            if c.max is not None and c.max < n:
                m.add(count <= c.max)
            if c.preferred is None:
                continue
            if c.preferred >= n or c.preferred <= 0:
                # Only one side can be missed: the shortfall (or the excess) is the count's
                # distance from the preferred cover, with no variable of its own. A few
                # people's model (the person-by-person start, the people-only LNS) is mostly
                # such cells; its build took half its time in cover variables (instance 13).
                under, over = max(c.preferred, 0) - count, count - max(c.preferred, 0)
                if c.under_weight and c.preferred > 0:
                    self._cost("cover", c.under_weight, under)
                if c.over_weight and c.preferred < n:
                    self._cost("cover", c.over_weight, over)
                continue
            under = m.new_int_var(0, c.preferred, f"under_{c.day}_{c.shift_type}")
            over = m.new_int_var(0, n - c.preferred, f"over_{c.day}_{c.shift_type}")
            m.add(count - c.preferred == over - under)
            # Never both: the objective of every roster (not only the optimal one) is then its
            # true cost, which is what progress reports and the benchmark table show.
            short = m.new_bool_var(f"short_{c.day}_{c.shift_type}")
            m.add(under == 0).only_enforce_if(short.Not())
            m.add(over == 0).only_enforce_if(short)
            if c.under_weight:
                self.costs.append(Cost("cover", c.under_weight, under))
            if c.over_weight:
                self.costs.append(Cost("cover", c.over_weight, over))

    def _cost(self, kind: str, weight: int, expr: cp_model.LinearExprT) -> None:
        """``weight`` x ``expr`` in the objective; a constant ``expr`` (no person can change
        it) goes to ``constant_cost``."""
        if isinstance(expr, int):
            self.constant_cost += weight * expr
        else:
            self.costs.append(Cost(kind, weight, expr))

    def _requests(self) -> None:
        p = self.problem
        missed: dict[int, list] = defaultdict(list)  # person -> weight x "not honoured"
        for r in p.requests:
            i = self.index[r.person]
            if r.shift_type is None:
                w = self._w(i, r.day)
                lit = w if not r.on else 1 - w
            else:
                v = self.x.get((i, r.day, r.shift_type))
                lit = (1 if r.on else 0) if v is None else 1 - v if r.on else v
            missed[i].append(r.weight * lit)
            if isinstance(lit, int):
                self.constant_cost += r.weight * lit
            else:
                self.costs.append(Cost("request", r.weight, lit))
        if p.request_fairness_weight:
            self._request_fairness(missed)

    def _request_fairness(self, missed: dict[int, list]) -> None:
        p, m = self.problem, self.model
        cohorts = defaultdict(list)
        for i in missed:
            if p.people[i].cohort is not None:
                cohorts[p.people[i].cohort].append(i)
        for cohort, members in sorted(cohorts.items()):
            if len(members) < 2:
                continue  # nobody to share the misses with
            top = sum(r.weight for r in p.requests if self.index[r.person] in members)
            worst = m.new_int_var(0, top, f"request_miss_{cohort}")
            m.add_max_equality(worst, [sum(missed[i]) for i in members])
            self.costs.append(Cost("fairness", p.request_fairness_weight, worst))

    def _people(self, people) -> list[int]:
        if people is None:
            return list(range(len(self.problem.people)))
        return [self.index[pid] for pid in sorted(people)]

    def _windows(self) -> None:
        p, m = self.problem, self.model
        types = {t.id: t for t in p.shift_types}
        D = p.days
        for rule in p.rolling_minutes:
            for i in self._people(rule.people):
                person = p.people[i]
                terms: list[list] = [[] for _ in range(D)]
                most_from: list[dict[int, int]] = [{} for _ in range(D)]
                for d in range(D):
                    for t in p.shift_types:
                        v = self.x.get((i, d, t.id))
                        if v is None:
                            continue
                        spread = person.shift_minutes.get((d, t.id)) or ((0, types[t.id].minutes),)
                        for offset, minutes in spread:
                            if minutes and 0 <= d + offset < D:
                                terms[d + offset].append(minutes * v)
                                # At most one shift a day: per source day, its largest share.
                                source = most_from[d + offset]
                                source[d] = max(source.get(d, 0), minutes)
                daily = [
                    (sum(terms[d]) if terms[d] else 0) + person.baseline_minutes.get(d, 0)
                    for d in range(D)
                ]
                # Skip windows that cannot exceed the limit even with the longest allowed
                # shift every day (a year-long model has hundreds of windows per person).
                most = [
                    sum(most_from[d].values()) + person.baseline_minutes.get(d, 0) for d in range(D)
                ]
                for s in range(max(1, D - rule.window + 1)):
                    if sum(most[s : s + rule.window]) <= rule.max_minutes:
                        continue
                    m.add(sum(daily[s : s + rule.window]) <= rule.max_minutes)
        spill = [t for t in p.shift_types if t.busy_days_after]
        for rule in p.min_free_days:
            for i in self._people(rule.people):
                person = p.people[i]
                busy = []
                for d in range(D):
                    if person.baseline_minutes.get(d, 0) > 0:
                        busy.append(1)
                        continue
                    # Shifts of earlier days that reach into d make it a worked day too.
                    reach = [
                        self.x[i, d - k, t.id]
                        for t in spill
                        for k in range(1, t.busy_days_after + 1)
                        if (i, d - k, t.id) in self.x
                    ]
                    if not reach:
                        busy.append(self._w(i, d))
                        continue
                    b = m.new_bool_var(f"busy_{person.id}_{d}")
                    for lit in [self._w(i, d), *reach]:
                        if not isinstance(lit, int):
                            m.add_implication(lit, b)
                    busy.append(b)
                for s in range(max(1, D - rule.window + 1)):
                    window = busy[s : s + rule.window]
                    need = min(rule.min_free, len(window))
                    # Days surely free (no baseline, no shift possible) satisfy it already.
                    if sum(1 for b in window if isinstance(b, int) and b == 0) >= need:
                        continue
                    m.add(len(window) - sum(window) >= need)
        for rule in p.window_counts:
            for i in self._people(rule.people):
                daily = []
                for d in range(D):
                    vs = [self.x[i, d, t] for t in rule.shift_types if (i, d, t) in self.x]
                    daily.append(sum(vs) if vs else 0)
                for s in range(max(1, D - rule.window + 1)):
                    m.add(sum(daily[s : s + rule.window]) <= rule.max_count)

    def _runs(self) -> None:
        """Runs of some shift types: a maximum is a sliding window; a minimum is the
        forbidden pattern "not on, 1..k-1 on, not on" (interior runs only, as for person runs);
        rest after a run is "on today, not on tomorrow -> no shift on each of the rest days"."""
        p, m = self.problem, self.model
        D = p.days
        for rule in p.runs:
            for i in self._people(rule.people):
                on = []
                for d in range(D):
                    vs = [self.x[i, d, t] for t in rule.shift_types if (i, d, t) in self.x]
                    if not vs:
                        on.append(0)
                    elif len(vs) == 1:
                        on.append(vs[0])
                    else:
                        b = m.new_bool_var(f"run_{i}_{d}")
                        m.add(sum(vs) == b)
                        on.append(b)
                if all(isinstance(v, int) for v in on):
                    continue
                k = rule.max_length
                if k is not None and k < D:
                    for s in range(D - k):
                        window = on[s : s + k + 1]
                        if sum(1 for v in window if not isinstance(v, int)) > k:
                            m.add(sum(window) <= k)
                self._min_runs(on, rule.min_length, on=True)
                for d in range(D - 1):
                    if isinstance(on[d], int):
                        continue
                    for j in range(1, rule.rest_after + 1):
                        if d + j >= D:
                            break
                        w = self._w(i, d + j)
                        if isinstance(w, int) or (isinstance(on[d + 1], int) and on[d + 1]):
                            continue
                        clause = [on[d].Not(), w.Not()]
                        if not isinstance(on[d + 1], int):
                            clause.append(on[d + 1])
                        m.add_bool_or(clause)

    def _same_shift_days(self) -> None:
        m = self.model
        for rule in self.problem.same_shift_days:
            for i in self._people(rule.people):
                for group in rule.groups:
                    lits = [self.x.get((i, d, rule.shift_type), 0) for d in group]
                    first = lits[0]
                    for other in lits[1:]:
                        m.add(first == other)

    def _stability(self) -> None:
        p = self.problem
        if not p.stability_weight:
            return
        for i, person in enumerate(p.people):
            for d in range(p.days):
                current = p.current.get((person.id, d))
                if current is None:
                    lit = self._w(i, d)  # any shift where there was none is a change
                else:
                    v = self.x.get((i, d, current))
                    lit = 1 if v is None else 1 - v
                if isinstance(lit, int):
                    self.constant_cost += p.stability_weight * lit
                else:
                    self.costs.append(Cost("stability", p.stability_weight, lit))

    def _fairness(self) -> None:
        p, m = self.problem, self.model
        types = {t.id: t for t in p.shift_types}
        self.spreads: dict[tuple[str, str], cp_model.IntVar] = {}
        cohorts = defaultdict(list)
        for i, person in enumerate(p.people):
            if person.cohort is not None:
                cohorts[person.cohort].append(i)
        for rule in p.fairness:
            points = rule.points or {t.id: t.points for t in p.shift_types}
            for cohort, members in sorted(cohorts.items()):
                if len(members) < 2:
                    continue
                totals = []
                top = 0
                for i in members:
                    pid = p.people[i].id
                    terms = [
                        points.get(t, 0) * v
                        for d, t, v in self.by_person[i]
                        if (rule.days is None or d in rule.days) and points.get(t, 0)
                    ]
                    hist = rule.history.get(pid, 0)
                    top = max(top, hist + sum(max(points.get(t, 0), 0) for t in types) * p.days)
                    totals.append((sum(terms) if terms else 0) + hist)
                hi = m.new_int_var(0, top, f"fair_hi_{rule.name}_{cohort}")
                lo = m.new_int_var(0, top, f"fair_lo_{rule.name}_{cohort}")
                # Exact max and min (not just bounds), so every roster's objective is its cost.
                m.add_max_equality(hi, totals)
                m.add_min_equality(lo, totals)
                spread = m.new_int_var(0, top, f"fair_{rule.name}_{cohort}")
                m.add(spread == hi - lo)
                self.spreads[rule.name, cohort] = spread
                self.costs.append(Cost("fairness", rule.weight, spread))

    # -- reading a solution ----------------------------------------------------------------
    def roster(self, value) -> Roster:
        """The roster of a solution; ``value`` maps a variable to its value."""
        people = self.problem.people
        return {(people[i].id, d): t for (i, d, t), v in self.x.items() if value(v)}

    def hint(self, roster: Roster) -> None:
        self.model.clear_hints()
        for (i, d, t), v in self.x.items():
            self.model.add_hint(v, roster.get((self.problem.people[i].id, d)) == t)
