"""The CP-SAT model of a year's schedule (docs/scheduling.md, "The model").

Residents: one rotation per block (x[r, b, k] booleans, exactly one per available block).
Faculty: at most one per block, on a faculty-staffed rotation or supervising a residents'
rotation that has a supervision ratio (y[f, b, k]); otherwise they have no assignment.
Pinned assignments, and every assignment outside the block range, are constants.

Hard rules: capacity min/max per rotation and block (people of the staffing kind), PGY
eligibility, curriculum min/max blocks per resident, absences (leave rotation), no more than
``max_consecutive_heavy`` heavy blocks in a row, supervision ratio.
Objective (minimised): WEIGHT_FAIRNESS x (max - min heavy blocks, per PGY cohort)
+ each fairness group's weight x its spread (holiday groups: holiday blocks only)
+ WEIGHT_STABILITY x (person-blocks that change vs the current schedule) + wish points.
Supervisors are exactly ceil(residents / ratio) (pinned extra supervisors stay).

The model is solved in phases by ``ScheduleSolve`` (scheduling/search.py).
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from residency.models import Assignment
from scheduling.problem import FairnessTerm, Problem, Rotation

WEIGHT_FAIRNESS = 10  # per block of heavy-rotation spread within a PGY cohort
WEIGHT_STABILITY = 1  # per person-block changed from the current schedule
WEIGHT_WISH = 2  # per wish point (below)
WEIGHT_WISH_FAIRNESS = 1  # per wish point of the resident whose wishes fare worst
WISH_RANK_COST = {1: 0, 2: 1, 3: 2}  # points when the block's wish of this rank is honoured
WISH_MISSED_COST = 3  # points when none of a block's wishes (or a vacation request) is honoured
HEAVY_GROUP = "Heavy rotations"

PRIMARY = Assignment.Role.PRIMARY
SUPERVISING = Assignment.Role.SUPERVISING

Group = tuple  # a named rule group, e.g. ("capacity_max", rotation_id)


@dataclass(frozen=True)
class Progress:
    solutions: int
    objective: float
    best_bound: float
    wall_seconds: float
    # Person-blocks of the current schedule this solution changes (what the coordinator judges
    # a regeneration by; None before the model is known).
    changes: int | None = None

    @property
    def gap(self) -> float:
        return relative_gap(self.objective, self.best_bound)


@dataclass
class SolveResult:
    status: str  # CP-SAT status name: OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN, MODEL_INVALID
    assignments: list[tuple[int, int, int, str]] | None = None  # person, block, rotation, role
    objective: float | None = None
    best_bound: float | None = None
    first_solution_seconds: float | None = None
    wall_seconds: float = 0.0
    stopped: bool = False  # stop() was called (cancellation, lost lock)
    fairness_spread: dict[int, int] = field(default_factory=dict)  # PGY -> max-min heavy blocks
    group_spreads: dict[str, int] = field(default_factory=dict)  # "group PGY-n" -> max - min
    changes: int | None = None  # person-blocks of the current schedule that the result changes
    changes_at_least: int = 0  # ...of which this many had to change (absence, pin, eligibility)
    report: dict = field(default_factory=dict)  # scheduling/report.py, set by the caller
    phase: str = ""  # which phase found the schedule returned: "feasibility" or "optimisation"

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.best_bound is None:
            return None
        return relative_gap(self.objective, self.best_bound)

    @property
    def found(self) -> bool:
        return self.assignments is not None


def relative_gap(objective: float, bound: float) -> float:
    return abs(objective - bound) / max(1.0, abs(objective))


def resident_rotations(problem: Problem, pgy: int) -> list[Rotation]:
    """Rotations a resident of ``pgy`` may be given by the solver (leave only through absence)."""
    return [
        r
        for r in problem.active_rotations
        if r.for_residents and not r.is_leave and pgy in r.allowed_pgy_levels
    ]


def faculty_rotations(problem: Problem) -> list[Rotation]:
    """Rotations a faculty member may be given: faculty-staffed, or supervising a residents'
    rotation with a supervision ratio."""
    return [
        r
        for r in problem.active_rotations
        if not r.for_residents or (r.supervision_ratio and not r.is_leave)
    ]


class ScheduleModel:
    """Builds the model; ``explain=True`` puts every rule group behind an assumption literal so
    that an infeasible model can name a set of groups that cannot hold together."""

    def __init__(self, problem: Problem, *, explain: bool = False) -> None:
        self.problem = problem
        self.explain = explain
        self.model = cp_model.CpModel()
        self.groups: dict[Group, cp_model.IntVar] = {}
        self.x: dict[tuple[int, int, int], cp_model.IntVar] = {}  # resident, block, rotation
        self.y: dict[tuple[int, int, int], cp_model.IntVar] = {}  # faculty, block, rotation
        self.heavy_total: dict[int, cp_model.LinearExprT] = {}
        self.spreads: dict[tuple[str, int], cp_model.IntVar] = {}  # (group, PGY) -> spread
        self.wish_cost: dict[int, cp_model.LinearExprT] = {}  # resident -> unmet wish points
        self._build()

    # -- helpers ---------------------------------------------------------------------------
    def _add(self, constraint: cp_model.Constraint, group: Group) -> None:
        if not self.explain:
            return
        if group not in self.groups:
            self.groups[group] = self.model.new_bool_var(str(group))
        constraint.only_enforce_if(self.groups[group])

    def _slot(self, rid: int, bid: int, rotation_ids: list[int]) -> dict[int, object]:
        slot = {}
        for rot_id in dict.fromkeys(rotation_ids):
            var = self.model.new_bool_var(f"x_{rid}_{bid}_{rot_id}")
            self.x[rid, bid, rot_id] = var
            slot[rot_id] = var
        self.model.add_exactly_one(slot.values())
        return slot

    def _fixed_rotation(self, person_id: int, block_id: int) -> int | None:
        fixed = self.problem.fixed.get((person_id, block_id))
        return fixed.rotation_id if fixed else None

    # -- the model -------------------------------------------------------------------------
    def _build(self) -> None:
        p = self.problem
        m = self.model
        range_ids = set(p.range_block_ids)
        # What each resident does in each block: variables, or a constant rotation id (or None).
        self.resident_slot: dict[tuple[int, int], dict[int, object]] = {}
        for rid, (_, pgy) in p.residents.items():
            options = resident_rotations(p, pgy)
            for bid in p.block_ids:
                key = (rid, bid)
                fixed = self._fixed_rotation(rid, bid)
                pinned = bid in range_ids and key in p.fixed and p.fixed[key].pinned
                leave = p.leave_rotation_id
                if self.explain and pinned:
                    # Explain mode: a pin is a rule of its own ("pin", person, block) that the
                    # explanation may name, not a constant.
                    slot = self._slot(rid, bid, [r.id for r in options] + [fixed])
                    self._add(m.add(slot[fixed] == 1), ("pin", rid, bid))
                    self.resident_slot[key] = slot
                elif fixed is not None or bid not in range_ids:
                    self.resident_slot[key] = {fixed: 1} if fixed is not None else {}
                elif key in p.unavailable and self.explain and leave is not None:
                    # Explain mode: each person's absences are one rule ("absence", person).
                    slot = self._slot(rid, bid, [r.id for r in options] + [leave])
                    self._add(m.add(slot[leave] == 1), ("absence", rid))
                    self.resident_slot[key] = slot
                elif key in p.unavailable:
                    self.resident_slot[key] = {leave: 1} if leave is not None else {}
                else:
                    self.resident_slot[key] = self._slot(rid, bid, [r.id for r in options])

        fac_options = faculty_rotations(p)
        self.faculty_slot: dict[tuple[int, int], dict[int, object]] = {}
        for fid in p.faculty:
            for bid in p.block_ids:
                key = (fid, bid)
                fixed = self._fixed_rotation(fid, bid)
                if fixed is not None or bid not in range_ids:
                    self.faculty_slot[key] = {fixed: 1} if fixed is not None else {}
                elif key in p.unavailable:
                    self.faculty_slot[key] = {}
                else:
                    slot = {}
                    for rot in fac_options:
                        var = m.new_bool_var(f"y_{fid}_{bid}_{rot.id}")
                        self.y[fid, bid, rot.id] = var
                        slot[rot.id] = var
                    m.add_at_most_one(slot.values())
                    self.faculty_slot[key] = slot

        # Capacity and supervision per rotation and block (range blocks only: the others are
        # kept as they are and judged by the validator, not rewritten).
        for bid in p.range_block_ids:
            residents_on: dict[int, list] = defaultdict(list)
            faculty_on: dict[int, list] = defaultdict(list)
            for rid in p.residents:
                for rot_id, term in self.resident_slot[rid, bid].items():
                    residents_on[rot_id].append(term)
            for fid in p.faculty:
                for rot_id, term in self.faculty_slot[fid, bid].items():
                    faculty_on[rot_id].append(term)
            for rot in p.active_rotations:
                staff = residents_on[rot.id] if rot.for_residents else faculty_on[rot.id]
                count = sum(staff)
                self._add(m.add(count >= rot.min_people), ("capacity_min", rot.id))
                self._add(m.add(count <= rot.max_people), ("capacity_max", rot.id))
                if rot.for_residents and rot.supervision_ratio and not rot.is_leave:
                    ratio = rot.supervision_ratio
                    supervisors = faculty_on[rot.id]
                    # ratio x supervisors >= residents  <=>  supervisors >= ceil(residents / ratio)
                    self._add(m.add(ratio * sum(supervisors) >= count), ("supervision", rot.id))
                    # ...and no more than that among the ones generation chooses (pinned extra
                    # supervisors stay): ratio x (chosen - 1) < residents.
                    chosen = [s for s in supervisors if not isinstance(s, int)]
                    if chosen:
                        m.add(ratio * sum(chosen) <= count + ratio - 1)

        # Per resident over the whole year: curriculum, consecutive heavy blocks, fairness.
        heavy_ids = {r.id for r in p.rotations.values() if r.heavy}
        c = p.max_consecutive_heavy
        for rid, (_, pgy) in p.residents.items():
            slots = [self.resident_slot[rid, bid] for bid in p.block_ids]
            for (level, rot_id), (low, high) in p.curriculum.items():
                if level != pgy:
                    continue
                total = sum(slot.get(rot_id, 0) for slot in slots)
                # One rule per person and rotation, so an explanation names whose need it is.
                self._add(m.add(total >= low), ("curriculum", rid, rot_id))
                if high is not None:
                    self._add(m.add(total <= high), ("curriculum", rid, rot_id))
            heavy = [sum(t for k, t in slot.items() if k in heavy_ids) for slot in slots]
            for start in range(len(heavy) - c):
                window = heavy[start : start + c + 1]
                if any(not isinstance(h, int) for h in window):
                    self._add(m.add(sum(window) <= c), ("heavy", rid))
            self.heavy_total[rid] = sum(heavy)

        # Objective. Fairness: the spread (max - min) of heavy blocks, and of each fairness
        # group's blocks, within each PGY cohort.
        # A holiday group counts only the blocks that contain a program holiday.
        terms = []
        heavy = FairnessTerm(HEAVY_GROUP, frozenset(heavy_ids), WEIGHT_FAIRNESS)
        for group in [heavy, *p.fairness_groups]:
            block_ids = [
                bid for bid in p.block_ids if group.block_ids is None or bid in group.block_ids
            ]
            if group.name != HEAVY_GROUP and not (group.rotation_ids and block_ids):
                continue
            for pgy in sorted({level for _, level in p.residents.values()}):
                cohort = p.cohort(pgy)
                if len(cohort) < 2:
                    continue
                counts = [
                    sum(
                        t
                        for bid in block_ids
                        for k, t in self.resident_slot[rid, bid].items()
                        if k in group.rotation_ids
                    )
                    for rid in cohort
                ]
                spread = self._spread(f"{group.name}_{pgy}", counts)
                self.spreads[group.name, pgy] = spread
                terms.append(group.weight * spread)
        terms.extend(self._wish_terms())

        # Stability: every person-block of the current schedule that changes costs 1. Those
        # that cannot stay (absent now, no longer eligible, inactive) are a lower bound on the
        # changes of any schedule, which the run reports instead of CP-SAT's weak bound.
        self.forced_changes = 0
        self.change_terms: list = []
        for key, (rot_id, _) in p.previous.items():
            slot = self.resident_slot.get(key) or self.faculty_slot.get(key) or {}
            term = slot.get(rot_id)  # a variable, 1 (kept as a constant, e.g. leave), or None
            if term is None:
                self.forced_changes += 1
            elif not isinstance(term, int):
                self.change_terms.append(1 - term)
        # A faculty member of the current schedule put on a rotation in a block where it has
        # them on none is a change too (residents have a row in every block; faculty need not).
        # Faculty with no current row are new to the schedule, as in a fresh year: no change.
        scheduled = {person for person, _block in p.previous}
        for key, slot in self.faculty_slot.items():
            if key[0] in scheduled and key not in p.previous:
                self.change_terms.extend(v for v in slot.values() if not isinstance(v, int))
        terms.append(WEIGHT_STABILITY * (self.forced_changes + sum(self.change_terms)))
        # No schedule costs less than this: the run stops as soon as it reaches it.
        self.objective_floor = WEIGHT_STABILITY * self.forced_changes
        if not self.explain:
            m.minimize(sum(terms))

    def break_symmetry(self) -> None:
        """Residents of one PGY level with no absence, pin, current assignment (or wish) are
        interchangeable: any schedule stays valid and costs the same with their rows swapped.
        Ordering them by their first free block's rotation removes those mirror images from
        the search (a valid cut: every schedule has a permutation that satisfies it). Added for
        the optimisation phase only: it slows the feasibility phase's local search."""
        p = self.problem
        if not p.range_block_ids:
            return
        first = p.range_block_ids[0]
        classes: dict[int, list[int]] = defaultdict(list)
        for rid, (_, pgy) in sorted(p.residents.items()):
            if (
                any(
                    (rid, bid) in p.unavailable or (rid, bid) in p.fixed or (rid, bid) in p.previous
                    for bid in p.block_ids
                )
                or rid in p.individual
            ):
                continue
            classes[pgy].append(rid)
        for members in classes.values():
            ranks = []
            for rid in members:
                slot = self.resident_slot[rid, first]
                ranks.append(sum(i * var for i, (_, var) in enumerate(sorted(slot.items()))))
            for a, b in itertools.pairwise(ranks):
                self.model.add(a <= b)

    def hint_start(self) -> int:
        """Hint where the search should start: each open cell's first wish, else its current
        rotation (where it may stay). The feasibility phase's local search then repairs this
        point instead of starting from nothing, so the first schedule already honours most
        wishes and keeps most of the current schedule. Returns the hinted cells."""
        p = self.problem
        targets: dict[tuple[int, int], int] = {
            key: rot_id for key, (rot_id, _) in p.previous.items()
        }
        for key, ranked in p.wishes.items():
            targets[key] = ranked[0][1]
        hinted = 0
        for key, rot_id in targets.items():
            slot = self.resident_slot.get(key) or self.faculty_slot.get(key) or {}
            if rot_id not in slot or isinstance(slot[rot_id], int):
                continue
            for other, var in slot.items():
                if not isinstance(var, int):
                    self.model.add_hint(var, other == rot_id)
            hinted += 1
        return hinted

    def with_first_wishes(self) -> cp_model.CpModel | None:
        """A copy of the model with every block's first wish imposed and every requested
        vacation block kept off heavy rotations (None without wishes). Any schedule of the copy
        is a schedule of the model (it only adds rules), usually a very good one."""
        p = self.problem
        if not p.wishes and not p.vacation_requests:
            return None
        copy = self.model.clone()

        def same(var):
            return copy.get_bool_var_from_proto_index(var.index)

        for key, ranked in p.wishes.items():
            var = self.resident_slot.get(key, {}).get(ranked[0][1])
            if var is not None and not isinstance(var, int):
                copy.add(same(var) == 1)
        heavy_ids = {r.id for r in p.rotations.values() if r.heavy}
        for key in p.vacation_requests:
            for rot_id, var in self.resident_slot.get(key, {}).items():
                if rot_id in heavy_ids and not isinstance(var, int):
                    copy.add(same(var) == 0)
        return copy

    def _spread(self, name: str, exprs: list) -> cp_model.IntVar:
        m = self.model
        n = len(self.problem.block_ids)
        helpers = []
        for i, expr in enumerate(exprs):
            h = m.new_int_var(0, n, f"{name}_{i}")
            m.add(h == expr)
            helpers.append(h)
        high, low = m.new_int_var(0, n, f"{name}_max"), m.new_int_var(0, n, f"{name}_min")
        m.add_max_equality(high, helpers)
        m.add_min_equality(low, helpers)
        spread = m.new_int_var(0, n, f"{name}_spread")
        m.add(spread == high - low)
        return spread

    def _wish_terms(self) -> list:
        """Wishes (docs/scheduling.md, "Preferences"): a block's first choice costs nothing,
        the second WISH_RANK_COST[2], ..., none of them WISH_MISSED_COST; a requested vacation
        costs WISH_MISSED_COST if the block is heavy (a heavy rotation cannot spare the
        resident). Each point weighs WEIGHT_WISH; the worst-off resident's points weigh
        WEIGHT_WISH_FAIRNESS more, so nobody's wishes are always the ones dropped."""
        p = self.problem
        cost: dict[int, list] = defaultdict(list)
        heavy_ids = {r.id for r in p.rotations.values() if r.heavy}
        for (rid, bid), ranked in p.wishes.items():
            slot = self.resident_slot.get((rid, bid), {})
            saved = [
                (WISH_MISSED_COST - WISH_RANK_COST[rank]) * slot[rot_id]
                for rank, rot_id in ranked
                if rot_id in slot
            ]
            cost[rid].append(WISH_MISSED_COST - sum(saved))
        for rid, bid in p.vacation_requests:
            slot = self.resident_slot.get((rid, bid), {})
            cost[rid].append(WISH_MISSED_COST * sum(t for k, t in slot.items() if k in heavy_ids))
        if not cost:
            return []
        ceiling = WISH_MISSED_COST * len(p.block_ids)
        worst = self.model.new_int_var(0, ceiling, "wish_worst")
        for rid, parts in cost.items():
            self.wish_cost[rid] = sum(parts)
            self.model.add(worst >= self.wish_cost[rid])
        return [WEIGHT_WISH * sum(self.wish_cost.values()), WEIGHT_WISH_FAIRNESS * worst]

    def solution(self, value: Callable) -> list[tuple[int, int, int, str]]:
        rows = []
        for (rid, bid, rot_id), var in self.x.items():
            if value(var):
                rows.append((rid, bid, rot_id, PRIMARY))
        for (fid, bid, rot_id), var in self.y.items():
            if value(var):
                role = SUPERVISING if self.problem.rotations[rot_id].for_residents else PRIMARY
                rows.append((fid, bid, rot_id, role))
        # Absent residents in range blocks go on leave (a constant, not a variable).
        range_ids = set(self.problem.range_block_ids)
        leave = self.problem.leave_rotation_id
        if leave is not None:
            for rid, bid in self.problem.unavailable:
                if (
                    rid in self.problem.residents
                    and bid in range_ids
                    and (rid, bid) not in self.problem.fixed
                ):
                    rows.append((rid, bid, leave, PRIMARY))
        return sorted(rows)


def infeasible_groups(problem: Problem, *, time_limit: float = 10.0) -> list[Group] | None:
    """Rule groups that cannot all hold, or None if the explanation solve found the model
    feasible or ran out of time. CP-SAT's core is made smaller by deletion while time is left
    (a group whose removal keeps the rest infeasible is not needed to explain it), so the
    explanation names the few people, absences and pins that clash, not every rule touched."""
    started = time.monotonic()
    built = ScheduleModel(problem, explain=True)
    by_index = {lit.index: group for group, lit in built.groups.items()}

    def core_of(groups: list[Group], limit: float) -> list[Group] | None:
        built.model.clear_assumptions()
        built.model.add_assumptions([built.groups[g] for g in groups])
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(0.1, limit)
        solver.parameters.num_workers = 1  # cores are extracted by the single-thread search
        if solver.solve(built.model) != cp_model.INFEASIBLE:
            return None
        return [by_index[i] for i in solver.sufficient_assumptions_for_infeasibility()]

    core = core_of(list(built.groups), time_limit)
    if core is None:
        return None
    for group in list(core):
        left = time_limit - (time.monotonic() - started)
        if left <= 0.2 or group not in core:
            continue
        smaller = core_of([g for g in core if g != group], min(left, 2.0))
        if smaller is not None:
            core = smaller
    return core
