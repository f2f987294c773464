"""Why no shift roster exists for a period, naming people (Person.name), shift types (their
names) and dates.

Two layers, as for blocks (scheduling/explain.py): the engine's counting checks
(``roster_explain``) run on a copy of the problem whose ids are display names, and their
sentences for consecutive days that say the same thing are merged into one with a date range.
When the counts find nothing, a deletion filter over rule groups (each day's cover of a type,
each resident's duty-hour windows, each type's consecutive-days limit) finds a set of groups
that cannot hold together, and names them.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from ortools.sat.python import cp_model

from scheduling.roster import RosterProblem, roster_explain
from scheduling.roster.model import RosterModel
from scheduling.shift_problem.snapshot import ShiftSnapshot

StopAsked = Callable[[], bool] | None

# Day numbers travel through roster_explain's sentences as tokens and become dates at the end.
_TOKEN = re.compile(r"\[\[(\d+)\]\]")
# People travel as tokens too, so a list of "person (reason)" can be regrouped by reason.
_PERSON = re.compile(r"<<(\d+)>>")
_PERSON_WHY = re.compile(r"<<(\d+)>> \(((?:[^()]|\([^()]*\))*)\)")

CORE_TIME_BUDGET = 30.0  # seconds for the solver-side explanation of one problem
CORE_SOLVE_LIMIT = 3.0  # seconds per feasibility check


def _person_names(snapshot: ShiftSnapshot) -> dict[str, str]:
    """Roster person id -> the name sentences use (with the id when two people share it)."""
    seen: dict[str, int] = defaultdict(int)
    for person in snapshot.people.values():
        seen[person.name] += 1
    return {
        pid: person.name if seen[person.name] == 1 else f"{person.name} (#{person.pk})"
        for pid, person in snapshot.people.items()
    }


def _by_reason(message: str) -> str:
    """ "...: A (vacation), B (vacation), C (on Clinic)." -> "...: A, B (vacation); C (on
    Clinic)." (people still as tokens); any other sentence unchanged."""
    head, sep, tail = message.partition(": ")
    found = _PERSON_WHY.findall(tail)
    if not sep or not found or ", ".join(f"<<{p}>> ({w})" for p, w in found) + "." != tail:
        return message
    groups: dict[str, list[str]] = {}
    for pid, why in found:
        groups.setdefault(why, []).append(f"<<{pid}>>")
    return head + sep + "; ".join(f"{', '.join(who)} ({why})" for why, who in groups.items()) + "."


def _display_problem(snapshot: ShiftSnapshot, type_code: str | None) -> RosterProblem:
    """The problem with people as tokens and types as their names, for sentences; with
    ``type_code``, only the cover of that type and the people who may ever work it (the others
    are not its pool)."""
    names = {pid: f"<<{pid}>>" for pid in snapshot.people}
    type_names: dict[str, str] = {}
    seen_types: dict[str, int] = defaultdict(int)
    for t in snapshot.shift_types.values():
        seen_types[t.name] += 1
    for code, t in snapshot.shift_types.items():
        type_names[code] = t.name if seen_types[t.name] == 1 else f"{t.name} ({code})"

    p = snapshot.problem
    people = []
    for person in p.people:
        shift_types = person.shift_types
        if type_code is not None and shift_types is not None and type_code not in shift_types:
            continue
        people.append(
            dataclasses.replace(
                person,
                id=names[person.id],
                shift_types=None
                if person.shift_types is None
                else frozenset(type_names[t] for t in person.shift_types),
                max_shifts={type_names[t]: n for t, n in person.max_shifts.items()},
                ineligible={(d, type_names[t]): why for (d, t), why in person.ineligible.items()},
            )
        )
    kept = {person.id for person in people}
    return dataclasses.replace(
        p,
        shift_types=tuple(
            dataclasses.replace(
                t,
                id=type_names[t.id],
                cannot_follow=frozenset(type_names[c] for c in t.cannot_follow),
            )
            for t in p.shift_types
        ),
        people=tuple(people),
        cover=tuple(
            dataclasses.replace(c, shift_type=type_names[c.shift_type])
            for c in p.cover
            if type_code is None or c.shift_type == type_code
        ),
        pinned={
            (names[pid], d): None if t is None else type_names[t]
            for (pid, d), t in p.pinned.items()
            if names[pid] in kept
        },
        # Only what the counting checks read is renamed; the rest is not needed here.
        requests=(),
        current={},
        rolling_minutes=(),
        min_free_days=(),
        window_counts=(),
        same_shift_days=(),
        fairness=(),
    )


def _range_label(snapshot: ShiftSnapshot, first: int, last: int) -> str:
    if first == last:
        return snapshot.day_label(first)
    return f"{snapshot.day_label(first)} - {snapshot.day_label(last)}"


def _merge_days(snapshot: ShiftSnapshot, messages: list[str]) -> list[str]:
    """Sentences identical but for their first date become one sentence over a date range
    (consecutive days only); every other day token becomes its date."""
    order: list[str] = []
    days: dict[str, list[int]] = defaultdict(list)
    for message in messages:
        first = _TOKEN.search(message)
        if first is None:
            key = message
        else:
            key = message[: first.start()] + "{when}" + message[first.end() :]
            days[key].append(int(first.group(1)))
        if key not in order:
            order.append(key)
    result = []
    for key in order:
        label = lambda m: snapshot.day_label(int(m.group(1)))  # noqa: E731
        if key not in days:
            result.append(_TOKEN.sub(label, key))
            continue
        runs: list[list[int]] = []
        for day in sorted(set(days[key])):
            if runs and day == runs[-1][1] + 1:
                runs[-1][1] = day
            else:
                runs.append([day, day])
        for first, last in runs:
            text = key.replace("{when}", _range_label(snapshot, first, last))
            result.append(_TOKEN.sub(label, text))
    return result


def shift_roster_explain(snapshot: ShiftSnapshot, *, should_stop: StopAsked = None) -> list[str]:
    """Sentences naming the people, dates and rules that leave no roster (empty if neither the
    counts nor the solver-side search find a reason). ``should_stop`` (a cancelled run) ends
    the solver-side search within a fraction of a second."""
    messages: list[str] = []
    token = lambda d: f"[[{d}]]"  # noqa: E731
    names = _person_names(snapshot)
    for code in snapshot.shift_types:
        for message in roster_explain(_display_problem(snapshot, code), day_label=token):
            message = _PERSON.sub(lambda m: names[m.group(1)], _by_reason(message))
            if message not in messages:
                messages.append(message)
    if messages:
        return _merge_days(snapshot, messages)
    return shift_roster_core(snapshot, should_stop=should_stop)


# --- The solver side: a deletion filter over rule groups -------------------------------------


def _groups(problem: RosterProblem) -> list[tuple]:
    groups: list[tuple] = [
        ("cover", c.day, c.shift_type) for c in problem.cover if c.min or c.max is not None
    ]
    for kind, rules in (
        ("hours", problem.rolling_minutes),
        ("free", problem.min_free_days),
        ("count", problem.window_counts),
    ):
        for index, rule in enumerate(rules):
            members = rule.people if rule.people is not None else [p.id for p in problem.people]
            groups.extend((kind, index, pid) for pid in sorted(members))
    return groups


def _with_groups(problem: RosterProblem, groups: set[tuple]) -> RosterProblem:
    """The problem keeping only ``groups`` of the relaxable rules (pins, eligibility, rest
    and one shift a day always hold: they are facts, not choices)."""

    def people_of(kind, index, rule):
        return frozenset(pid for k, i, pid in groups if k == kind and i == index)

    return dataclasses.replace(
        problem,
        cover=tuple(c for c in problem.cover if ("cover", c.day, c.shift_type) in groups),
        rolling_minutes=tuple(
            dataclasses.replace(r, people=people_of("hours", i, r))
            for i, r in enumerate(problem.rolling_minutes)
        ),
        min_free_days=tuple(
            dataclasses.replace(r, people=people_of("free", i, r))
            for i, r in enumerate(problem.min_free_days)
        ),
        window_counts=tuple(
            dataclasses.replace(r, people=people_of("count", i, r))
            for i, r in enumerate(problem.window_counts)
        ),
        requests=(),
        current={},
        stability_weight=0,
        fairness=(),
    )


def _feasible(problem: RosterProblem, limit: float, should_stop: StopAsked = None) -> bool | None:
    """True / False, or None when the solver could not tell in time (or was asked to stop)."""
    if should_stop is not None and should_stop():
        return None
    built = RosterModel(problem)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = limit
    solver.parameters.num_workers = 1
    solver.parameters.stop_after_first_solution = True
    done = threading.Event()

    def watch() -> None:
        # A cancelled run must not wait out the check: stop the search within 0.1 s.
        while not done.wait(0.1):
            if should_stop is not None and should_stop():
                solver.stop_search()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        status = solver.solve(built.model)
    finally:
        done.set()
        watcher.join(timeout=1)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return True
    if status == cp_model.INFEASIBLE:
        return False
    return None


def _group_sentence(snapshot: ShiftSnapshot, group: tuple) -> str:
    p = snapshot.problem
    kind = group[0]
    if kind == "cover":
        _, day, code = group
        cover = next(c for c in p.cover if c.day == day and c.shift_type == code)
        name = snapshot.shift_types[code].name
        if cover.max == cover.min:
            amount = f"{cover.min} {'person' if cover.min == 1 else 'people'}"
        elif cover.max is None:
            amount = f"at least {cover.min}"
        else:
            amount = f"{cover.min} to {cover.max} people"
        return f"{name} on [[{day}]] needs {amount}."
    _, index, pid = group
    who = _person_names(snapshot)[pid]
    limits = snapshot.limits
    if kind == "hours":
        return (
            f"{who} may work at most {limits.max_weekly_hours} h/week averaged over "
            f"{limits.averaging_days} days (with their rotation's hours)."
        )
    if kind == "free":
        days = limits.averaging_days
        return f"{who} needs one day in seven free of work, averaged over {days} days."
    rule = p.window_counts[index]
    names = ", ".join(sorted(snapshot.shift_types[c].name for c in rule.shift_types))
    return f"{who} may take at most {rule.max_count} shifts of {names} in any {rule.window} days."


def shift_roster_core(
    snapshot: ShiftSnapshot, *, budget: float = CORE_TIME_BUDGET, should_stop: StopAsked = None
) -> list[str]:
    """A set of rule groups that cannot all hold, found by dropping each group in turn and
    keeping the drop when the rest is still infeasible (whole kinds first: cheap when a single
    kind of rule is at fault). What is left is named; if the time runs out it is a superset."""
    problem = snapshot.problem
    deadline = time.monotonic() + budget
    groups = _groups(problem)
    if _feasible(_with_groups(problem, set()), CORE_SOLVE_LIMIT, should_stop) is False:
        facts = [
            "The fixed facts alone leave no roster: pinned shifts (including the shifts worked "
            "in the four weeks around the period), eligibility, absences and rest after shifts."
        ]
        return facts
    keep = set(groups)
    for kind in ("count", "free", "hours", "cover"):
        trial = {g for g in keep if g[0] != kind}
        if (
            trial != keep
            and time.monotonic() < deadline
            and _feasible(_with_groups(problem, trial), CORE_SOLVE_LIMIT, should_stop) is False
        ):
            keep = trial
    for group in sorted(keep, key=groups.index):
        if time.monotonic() >= deadline or (should_stop is not None and should_stop()):
            break
        trial = keep - {group}
        if _feasible(_with_groups(problem, trial), CORE_SOLVE_LIMIT, should_stop) is False:
            keep = trial
    if not keep:
        return []
    lead = "No roster meets all of these together:"
    return _merge_days(
        snapshot, [lead] + [_group_sentence(snapshot, g) for g in sorted(keep, key=groups.index)]
    )
