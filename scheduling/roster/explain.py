"""Why no roster exists, in the coordinator's terms: people, days and rules.

``roster_explain`` runs counting checks that need no solver and names what does not add up:
a day's hard cover against the people who could work it (and, for each one who cannot, why:
their absence, their eligibility, a pinned shift, rest after a pinned shift the day before), a
pinned shift the person may not work, and a person's minimum hours against the days they are
available. The residency layer turns day numbers into dates with ``day_label``.
"""

from __future__ import annotations

from collections.abc import Callable

from scheduling.roster.problem import Person, RosterProblem


def _why_not(problem: RosterProblem, person: Person, day: int, shift_type: str) -> str | None:
    """Why ``person`` cannot work ``shift_type`` on ``day`` (None if they could)."""
    pinned = problem.pinned.get((person.id, day), "unpinned")
    if pinned is None:
        return "pinned off"
    if pinned != "unpinned" and pinned != shift_type:
        return f"pinned to {pinned}"
    if day in person.unavailable:
        return person.unavailable[day]
    if person.shift_types is not None and shift_type not in person.shift_types:
        return f"not eligible for {shift_type}"
    if (day, shift_type) in person.ineligible:
        return person.ineligible[day, shift_type]
    if person.max_shifts.get(shift_type, 1) == 0:
        return f"no {shift_type} allowed"
    for t in problem.shift_types:
        for back in range(1, max(t.rest_days_after, 1) + 1):
            before = day - back
            if before < 0 or problem.pinned.get((person.id, before)) != t.id:
                continue
            if back <= t.rest_days_after:
                return f"resting after {t.id} on {{day:{before}}}"
            if back == 1 and shift_type in t.cannot_follow:
                return f"{shift_type} may not follow {t.id} on {{day:{before}}}"
    return None


def roster_explain(
    problem: RosterProblem, *, day_label: Callable[[int], str] = lambda d: f"day {d}"
) -> list[str]:
    """Sentences naming the people, days and rules that make the problem infeasible (empty if
    no counting argument finds a reason; the solver may still prove it infeasible)."""

    def fmt(text: str) -> str:
        # Reasons carry "{day:N}" placeholders so the caller's labels apply inside them too.
        while "{day:" in text:
            start = text.index("{day:")
            end = text.index("}", start)
            text = text[:start] + day_label(int(text[start + 5 : end])) + text[end + 1 :]
        return text

    messages: list[str] = []
    types = {t.id for t in problem.shift_types}
    for (pid, day), shift in sorted(problem.pinned.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if shift is None:
            continue
        person = next((p for p in problem.people if p.id == pid), None)
        if person is None or shift not in types:
            messages.append(f"{pid} is pinned to unknown {shift} on {day_label(day)}.")
            continue
        reason = (
            person.unavailable.get(day)
            or (
                f"not eligible for {shift}"
                if person.shift_types is not None and shift not in person.shift_types
                else None
            )
            or person.ineligible.get((day, shift))
        )
        if reason:
            messages.append(f"{pid} is pinned to {shift} on {day_label(day)} but is {reason}.")

    for c in sorted(problem.cover, key=lambda c: (c.day, c.shift_type)):
        if not c.min:
            continue
        able, unable = [], []
        for person in problem.people:
            why = _why_not(problem, person, c.day, c.shift_type)
            (unable if why else able).append((person.id, why))
        if len(able) >= c.min:
            continue
        names = ", ".join(f"{pid} ({fmt(why)})" for pid, why in unable)
        if not able:
            head = f"Nobody eligible for {c.shift_type} on {day_label(c.day)}"
        else:
            who = ", ".join(pid for pid, _ in able)
            head = (
                f"{c.shift_type} on {day_label(c.day)} needs {c.min} people but only "
                f"{len(able)} can work it ({who})"
            )
        messages.append(f"{head}: {names}." if names else f"{head}.")

    minutes = {t.id: t.minutes for t in problem.shift_types}
    for person in problem.people:
        if not person.min_minutes:
            continue
        possible = sum(person.baseline_minutes.values())
        for day in range(problem.days):
            best = [
                minutes[t.id]
                for t in problem.shift_types
                if _why_not(problem, person, day, t.id) is None
            ]
            possible += max(best, default=0)
        if possible < person.min_minutes:
            messages.append(
                f"{person.id} must work at least {person.min_minutes} minutes but can work at "
                f"most {possible} on the days available."
            )
    return messages
