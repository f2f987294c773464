"""Reads used by more than one caller, and the scheduling rules that every write path checks.

The rule checks (eligibility, absence, capacity, double booking) are here, once, so that a
coordinator's edit, a swap and the schedule validator all judge a placement the same way.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import QuerySet

from residency.models import (
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    ResidentYear,
    RotationTemplate,
)

# Documented rule (docs/architecture.md): a person is unavailable for a block when approved
# absences cover more than half of the block's days. A shorter absence (a conference week in a
# four-week block) leaves them on the rotation.
UNAVAILABLE_FRACTION = 0.5
COORDINATORS_GROUP = "Coordinators"


def absence_days_in_block(*, block: Block, absences: Iterable[Absence]) -> int:
    """Days of the block covered by the given approved absences (overlaps counted once)."""
    days: set[datetime.date] = set()
    for absence in absences:
        if absence.status != Absence.Status.APPROVED:
            continue
        start = max(absence.start_date, block.start_date)
        end = min(absence.end_date, block.end_date)
        days.update(start + datetime.timedelta(n) for n in range((end - start).days + 1))
    return len(days)


def is_unavailable_for_block(*, block: Block, absences: Iterable[Absence]) -> bool:
    return absence_days_in_block(block=block, absences=absences) > block.days * UNAVAILABLE_FRACTION


def pgy_level_get(*, person: Person, academic_year: AcademicYear | int) -> int | None:
    year_id = academic_year if isinstance(academic_year, int) else academic_year.pk
    return (
        ResidentYear.objects.filter(person=person, academic_year_id=year_id)
        .values_list("pgy_level", flat=True)
        .first()
    )


def rotation_eligibility_problem(
    *, person: Person, pgy_level: int | None, rotation: RotationTemplate, role: str
) -> str | None:
    """Why ``person`` may not take ``rotation`` in ``role``, or None if they may."""
    if not rotation.active:
        return f"{rotation.name} is no longer offered."
    if person.kind == Person.Kind.RESIDENT:
        if rotation.staffed_by == RotationTemplate.StaffedBy.FACULTY:
            return f"{rotation.name} is staffed by faculty, and {person.name} is a resident."
        if pgy_level is None:
            return f"{person.name} has no PGY level for this academic year."
        if rotation.kind != RotationTemplate.Kind.LEAVE and pgy_level not in (
            rotation.allowed_pgy_levels or []
        ):
            levels = ", ".join(f"PGY-{n}" for n in rotation.allowed_pgy_levels) or "no level"
            return f"{rotation.name} is open to {levels}, and {person.name} is PGY-{pgy_level}."
        return None
    if rotation.staffed_by == RotationTemplate.StaffedBy.RESIDENTS:
        if rotation.supervision_ratio is None:
            return f"{rotation.name} is a residents' rotation without faculty supervision."
        if role != Assignment.Role.SUPERVISING:
            return f"Faculty on {rotation.name} supervise: the role must be Supervising."
    return None


def counts_toward_capacity(*, person: Person, rotation: RotationTemplate) -> bool:
    """Capacity (min/max people) counts people of the rotation's staffing kind; supervising
    faculty on a residents' rotation are counted by the supervision ratio instead."""
    if rotation.staffed_by == RotationTemplate.StaffedBy.RESIDENTS:
        return person.kind == Person.Kind.RESIDENT
    return person.kind == Person.Kind.FACULTY


def placement_problems(
    *,
    person: Person,
    block: Block,
    rotation: RotationTemplate,
    role: str,
    ignore_assignment_ids: Iterable[int] = (),
) -> list[tuple[str, str]]:
    """Every rule that placing ``person`` on ``rotation`` in ``block`` would break, as
    ``(field, message)`` pairs. ``ignore_assignment_ids`` are rows being replaced by this change
    (the assignment being edited, or both sides of a swap)."""
    ignore = list(ignore_assignment_ids)
    problems: list[tuple[str, str]] = []
    if not person.active:
        problems.append(("person", f"{person.name} is not active."))
    pgy = pgy_level_get(person=person, academic_year=block.academic_year_id)
    problem = rotation_eligibility_problem(
        person=person, pgy_level=pgy, rotation=rotation, role=role
    )
    if problem:
        problems.append(("rotation", problem))

    absences = Absence.objects.filter(
        person=person,
        status=Absence.Status.APPROVED,
        start_date__lte=block.end_date,
        end_date__gte=block.start_date,
    )
    if rotation.kind != RotationTemplate.Kind.LEAVE and is_unavailable_for_block(
        block=block, absences=absences
    ):
        problems.append(
            (
                "person",
                f"{person.name} is absent for most of block {block.number} (approved leave).",
            )
        )

    if Assignment.objects.filter(person=person, block=block).exclude(pk__in=ignore).exists():
        problems.append(("person", f"{person.name} is already booked in block {block.number}."))

    if counts_toward_capacity(person=person, rotation=rotation):
        kind = Person.Kind.RESIDENT if rotation.staffed_by == "residents" else Person.Kind.FACULTY
        taken = (
            Assignment.objects.filter(block=block, rotation=rotation, person__kind=kind)
            .exclude(pk__in=ignore)
            .count()
        )
        if taken >= rotation.max_people:
            problems.append(
                (
                    "rotation",
                    f"{rotation.name} is full in block {block.number} "
                    f"({taken} of {rotation.max_people} places taken).",
                )
            )
    return problems


def assignments_for_year(*, academic_year: AcademicYear) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(block__academic_year=academic_year)
        .select_related("person", "block", "rotation", "updated_by")
        .order_by("block__number", "person__name")
    )


def person_for_user(*, user) -> Person | None:
    if not user.is_authenticated:
        return None
    return Person.objects.filter(user=user).first()


def is_coordinator(user) -> bool:
    return bool(
        user.is_authenticated
        and user.is_staff
        and (user.is_superuser or user.groups.filter(name=COORDINATORS_GROUP).exists())
    )


def current_academic_year(*, today: datetime.date | None = None) -> AcademicYear | None:
    today = today or datetime.date.today()
    years = AcademicYear.objects.all()
    return (
        years.filter(start_date__lte=today, end_date__gte=today).first()
        or years.filter(start_date__gt=today).order_by("start_date").first()
        or years.order_by("-start_date").first()
    )


def pgy_levels_for_year(*, academic_year: AcademicYear) -> dict[int, int]:
    """Person id -> PGY level in ``academic_year``, in one query."""
    return dict(
        ResidentYear.objects.filter(academic_year=academic_year).values_list(
            "person_id", "pgy_level"
        )
    )
