"""What the eligibility check of a shift reads, read once for many people and days.

``shifts.selectors.shift_eligibility_problems`` asks three things of the database for each
shift: the person's PGY level that day, their assignment in the block, and an approved absence.
Judging a whole roster that way costs three queries a shift (about 1,500 for a month), and the
shift-generation publish judges it inside its transaction, with every person locked. Readers
that judge many shifts load ``EligibilityFacts`` once (three queries) and pass it in; the rules
stay in one place.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from residency.models import Absence, Assignment, ResidentYear


@dataclass(frozen=True)
class EligibilityFacts:
    """PGY levels, assignments and approved absences of some people over a date range, in the
    order the one-shift queries would find them (so ``first`` means the same)."""

    person_ids: frozenset[int]
    start: datetime.date
    end: datetime.date
    levels: dict[int, list[tuple[datetime.date, datetime.date, int]]]
    assignments: dict[int, list[Assignment]]
    absences: dict[int, list[Absence]]

    def covers(self, *, person_id: int, day: datetime.date) -> bool:
        return self.start <= day <= self.end and person_id in self.person_ids

    def level(self, *, person_id: int, day: datetime.date) -> int | None:
        for start, end, pgy_level in self.levels.get(person_id, []):
            if start <= day <= end:
                return pgy_level
        return None

    def assignment(self, *, person_id: int, day: datetime.date) -> Assignment | None:
        for assignment in self.assignments.get(person_id, []):
            if assignment.block.start_date <= day <= assignment.block.end_date:
                return assignment
        return None

    def absence(self, *, person_id: int, day: datetime.date) -> Absence | None:
        for absence in self.absences.get(person_id, []):
            if absence.start_date <= day <= absence.end_date:
                return absence
        return None


def eligibility_facts_load(
    *, person_ids: Iterable[int], start: datetime.date, end: datetime.date
) -> EligibilityFacts:
    """Three queries, whatever the number of people and days."""
    ids = set(person_ids)
    levels: dict[int, list[tuple[datetime.date, datetime.date, int]]] = defaultdict(list)
    for person_id, year_start, year_end, pgy_level in (
        ResidentYear.objects.filter(
            person_id__in=ids,
            academic_year__start_date__lte=end,
            academic_year__end_date__gte=start,
        )
        .order_by(*ResidentYear._meta.ordering)
        .values_list(
            "person_id", "academic_year__start_date", "academic_year__end_date", "pgy_level"
        )
    ):
        levels[person_id].append((year_start, year_end, pgy_level))
    assignments: dict[int, list[Assignment]] = defaultdict(list)
    for assignment in (
        Assignment.objects.filter(
            person_id__in=ids, block__start_date__lte=end, block__end_date__gte=start
        )
        .select_related("rotation", "block")
        .order_by(*Assignment._meta.ordering)
    ):
        assignments[assignment.person_id].append(assignment)
    absences: dict[int, list[Absence]] = defaultdict(list)
    for absence in Absence.objects.filter(
        person_id__in=ids, status=Absence.Status.APPROVED, start_date__lte=end, end_date__gte=start
    ).order_by("start_date"):
        absences[absence.person_id].append(absence)
    return EligibilityFacts(
        person_ids=frozenset(ids),
        start=start,
        end=end,
        levels=dict(levels),
        assignments=dict(assignments),
        absences=dict(absences),
    )
