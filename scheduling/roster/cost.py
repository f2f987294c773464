"""What a roster costs, counted from the roster alone, as the model's objective counts it."""

from __future__ import annotations

from scheduling.roster.problem import Fairness, Person, Roster, RosterProblem


def roster_cost(problem: RosterProblem, roster: Roster) -> int:
    """The objective of ``roster`` as the model counts it (requests, soft cover, stability,
    fairness), for a roster built outside the whole model."""
    cost = 0
    counts = shift_counts(roster)
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
        for members in cohort_points(problem, rule, roster).values():
            if len(members) > 1:
                cost += rule.weight * (max(members.values()) - min(members.values()))
    return cost


def shift_counts(roster: Roster) -> dict[tuple[int, str], int]:
    """(day, shift type) -> how many people the roster puts there."""
    counts: dict[tuple[int, str], int] = {}
    for (_pid, d), t in roster.items():
        counts[d, t] = counts.get((d, t), 0) + 1
    return counts


def minutes_slack(problem: RosterProblem, roster: Roster) -> list[int]:
    """Per person (in ``problem.people``'s order), the minutes ``roster`` leaves them before
    their maximum total, counted as the model counts the total (each shift at its type's
    minutes, plus baseline minutes); 0 for a person with no maximum or over it."""
    minutes = {t.id: t.minutes for t in problem.shift_types}
    worked = {person.id: sum(person.baseline_minutes.values()) for person in problem.people}
    for (pid, _d), t in roster.items():
        if pid in worked:
            worked[pid] += minutes[t]
    return [
        max(0, person.max_minutes - worked[person.id]) if person.max_minutes is not None else 0
        for person in problem.people
    ]


def whole_weekends(problem: RosterProblem) -> list[tuple[int, ...]]:
    """The horizon's weekends with both days inside it (a weekend the horizon cuts to one day
    can be neither whole nor half)."""
    return [days for days in problem.weekends() if len(days) == 2]


def weekends_limited(person: Person, weekends: int) -> bool:
    """Whether ``person`` may work fewer weekends than the horizon's ``weekends`` whole ones."""
    return person.max_weekends is not None and person.max_weekends < weekends


def half_weekends(problem: RosterProblem, roster: Roster) -> list[int]:
    """Per person (in ``problem.people``'s order), the whole weekends ``roster`` has them work
    on one day only, for people whose weekends are limited (``weekends_limited``; 0 for the
    rest): each wastes a weekend day they could have worked within their maximum."""
    weekends = whole_weekends(problem)
    return [
        sum(1 for days in weekends if sum((person.id, d) in roster for d in days) == 1)
        if weekends_limited(person, len(weekends))
        else 0
        for person in problem.people
    ]


def unfillable_types(problem: RosterProblem, roster: Roster) -> set[str]:
    """Shift types whose cover shortfall no roster can lower, only move between days: everyone
    works as often as their maximum allows (a person without a maximum for a type never does),
    so no roster has more of it, and no day has more of it than its cover wants, so none can be
    moved from there."""
    worked: dict[tuple[str, str], int] = {}
    for (pid, _d), t in roster.items():
        worked[pid, t] = worked.get((pid, t), 0) + 1
    counts = shift_counts(roster)
    crowded = {
        c.shift_type
        for c in problem.cover
        if c.preferred is not None and counts.get((c.day, c.shift_type), 0) > c.preferred
    }
    return {
        t.id
        for t in problem.shift_types
        if t.id not in crowded
        and all(
            t.id in person.max_shifts
            and worked.get((person.id, t.id), 0) >= person.max_shifts[t.id]
            for person in problem.people
        )
    }


def cohort_points(problem: RosterProblem, rule: Fairness, roster: Roster) -> dict[str, dict]:
    """Cohort -> {person: points under ``rule``, history included} (people with a cohort)."""
    points = rule.points or {t.id: t.points for t in problem.shift_types}
    totals = {
        person.id: rule.history.get(person.id, 0)
        for person in problem.people
        if person.cohort is not None
    }
    for (pid, d), t in roster.items():
        if pid in totals and (rule.days is None or d in rule.days):
            totals[pid] += points.get(t, 0)
    cohorts: dict[str, dict[str, int]] = {}
    for person in problem.people:
        if person.cohort is not None:
            cohorts.setdefault(person.cohort, {})[person.id] = totals[person.id]
    return cohorts
