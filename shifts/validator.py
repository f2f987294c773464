"""The daily layer's validator: everything the shifts of a period break, judged from the
database with the same rules every edit uses (selectors) — coverage minimums and maximums,
who may hold each shift, and the duty-hour rules. Used by ``manage.py validate_shifts``, the
admin's "Validate schedule" action (with the block validator) and the compliance pages."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from residency.models import AcademicYear
from shifts import selectors
from shifts.eligibility import eligibility_facts_load
from shifts.formatting import fmt_day
from shifts.models import Shift

# Each rule a violation can break, with how a report names it.
RULES = {"coverage": "coverage", "eligibility": "eligibility", "duty_hours": "duty hours"}


@dataclass(frozen=True)
class ShiftViolation:
    rule: str  # a key of RULES
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def shifts_validate(*, start: datetime.date, end: datetime.date) -> list[ShiftViolation]:
    violations: list[ShiftViolation] = []
    _, days = selectors.month_calendar(start=start, end=end)
    for day in days:
        for cell in day.cells:
            if cell.missing:
                violations.append(
                    ShiftViolation(
                        "coverage",
                        f"{cell.shift_type.name} on {fmt_day(day.day)}: {len(cell.shifts)} of "
                        f"at least {cell.needed} people.",
                    )
                )
            if cell.over:
                violations.append(
                    ShiftViolation(
                        "coverage",
                        f"{cell.shift_type.name} on {fmt_day(day.day)}: {len(cell.shifts)} "
                        f"people, at most {cell.maximum}.",
                    )
                )
    shifts = list(
        Shift.objects.filter(date__range=(start, end))
        .select_related("person", "shift_type")
        .prefetch_related("shift_type__eligible_rotations")
    )
    # Read once for every shift (a year has thousands), not three queries a shift.
    facts = eligibility_facts_load(person_ids={s.person_id for s in shifts}, start=start, end=end)
    for shift in shifts:
        for _, message in selectors.shift_eligibility_problems(
            person=shift.person, shift_type=shift.shift_type, day=shift.date, facts=facts
        ):
            violations.append(ShiftViolation("eligibility", message))
    for problems in selectors.program_duty_hour_problems(start=start, end=end).values():
        violations.extend(
            ShiftViolation("duty_hours", p.message) for p in problems if p.is_violation
        )
    return violations


def shifts_validate_year(*, academic_year: AcademicYear) -> list[ShiftViolation]:
    return shifts_validate(start=academic_year.start_date, end=academic_year.end_date)
