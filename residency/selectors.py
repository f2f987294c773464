"""Reads used by more than one caller, and the scheduling rules that every write path checks.

The rule checks (eligibility, absence, capacity, double booking) are here, once, so that a
coordinator's edit, a swap and the schedule validator all judge a placement the same way.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

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

    if rotation.heavy and person.kind == Person.Kind.RESIDENT:
        streak = heavy_streak_through(person=person, block=block, ignore_assignment_ids=ignore)
        limit = settings.ROTA_GENERATION_MAX_CONSECUTIVE_HEAVY
        if streak > limit:
            problems.append(
                (
                    "rotation",
                    f"{person.name} would have {streak} heavy blocks in a row "
                    f"(at most {limit} allowed).",
                )
            )
    return problems


def heavy_streak_through(
    *, person: Person, block: Block, ignore_assignment_ids: Iterable[int] = ()
) -> int:
    """How many consecutive heavy blocks ``person`` would have through ``block`` if placed on a
    heavy rotation there (their other heavy assignments in the year, minus the ignored rows)."""
    heavy_numbers = set(
        Assignment.objects.filter(
            person=person, block__academic_year_id=block.academic_year_id, rotation__heavy=True
        )
        .exclude(pk__in=list(ignore_assignment_ids))
        .values_list("block__number", flat=True)
    )
    heavy_numbers.add(block.number)
    first = last = block.number
    while first - 1 in heavy_numbers:
        first -= 1
    while last + 1 in heavy_numbers:
        last += 1
    return last - first + 1


def assignments_for_year(*, academic_year: AcademicYear) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(block__academic_year=academic_year)
        .select_related("person", "block", "rotation", "updated_by")
        .order_by("block__number", "person__name")
    )


def person_for_user(*, user) -> Person | None:
    if not user.is_authenticated:
        return None
    try:
        # Through the reverse accessor, so the answer (a person or none) is cached on the user
        # and the page header, which names the person, does not query it again.
        return user.person
    except Person.DoesNotExist:
        return None


def user_display_name(user) -> str:
    """How a login is named to other people: the person's name, else the account's full name,
    never the username (half of a credential)."""
    person = Person.objects.filter(user=user).only("name").first()
    if person is not None:
        return person.name
    return user.get_full_name() or "a Rota user"


def is_coordinator(user) -> bool:
    return bool(
        user.is_authenticated
        and user.is_staff
        and (user.is_superuser or user.groups.filter(name=COORDINATORS_GROUP).exists())
    )


def current_academic_year(*, today: datetime.date | None = None) -> AcademicYear | None:
    today = today or timezone.localdate()
    years = AcademicYear.objects.all()
    return (
        years.filter(start_date__lte=today, end_date__gte=today).first()
        or years.filter(start_date__gt=today).order_by("start_date").first()
        or years.order_by("-start_date").first()
    )


# --- Schedules and rosters (issue 3) ------------------------------------------------------------
# Each page reads a fixed number of queries whatever the size of the year: the rows are fetched
# in bulk and grouped in Python, never one query per block.


@dataclass
class ScheduleRow:
    """One block of a person's schedule."""

    block: Block
    assignment: Assignment | None
    teammates: list[Assignment]  # others on the same rotation in the same block
    absences: list[Absence]  # the person's absences touching the block (not denied/cancelled)
    unavailable: bool  # approved absences cover more than half of the block
    is_current: bool
    upcoming: bool  # the block has not started: its assignment may still be offered for a swap


def block_containing(blocks: Iterable[Block], day: datetime.date) -> Block | None:
    return next((b for b in blocks if b.start_date <= day <= b.end_date), None)


def visible_absences(*, people: Iterable[int], start: datetime.date, end: datetime.date):
    return Absence.objects.filter(
        person_id__in=list(people),
        start_date__lte=end,
        end_date__gte=start,
        status__in=[Absence.Status.APPROVED, Absence.Status.REQUESTED],
    ).order_by("start_date")


def schedule_for_person(
    *, person: Person, academic_year: AcademicYear, today: datetime.date | None = None
) -> list[ScheduleRow]:
    """The person's year block by block, in four queries (blocks, their assignments, the
    teammates on those rotations, their absences)."""
    blocks = list(academic_year.blocks.order_by("number"))
    mine = {
        a.block_id: a
        for a in Assignment.objects.filter(
            person=person, block__academic_year=academic_year
        ).select_related("rotation", "updated_by")
    }
    teammates: dict[tuple[int, int], list[Assignment]] = defaultdict(list)
    if mine:
        others = (
            Assignment.objects.filter(
                block__academic_year=academic_year,
                rotation_id__in={a.rotation_id for a in mine.values()},
            )
            .exclude(person=person)
            .select_related("person")
            .order_by("person__name")
        )
        for other in others:
            teammates[(other.block_id, other.rotation_id)].append(other)
    absences = list(
        visible_absences(
            people=[person.pk], start=academic_year.start_date, end=academic_year.end_date
        )
    )
    today = today or timezone.localdate()
    current = block_containing(blocks, today)
    rows = []
    for block in blocks:
        assignment = mine.get(block.pk)
        touching = [
            a for a in absences if a.start_date <= block.end_date and a.end_date >= block.start_date
        ]
        rows.append(
            ScheduleRow(
                block=block,
                assignment=assignment,
                teammates=teammates[(block.pk, assignment.rotation_id)] if assignment else [],
                absences=touching,
                unavailable=is_unavailable_for_block(block=block, absences=touching),
                is_current=current is not None and current.pk == block.pk,
                upcoming=block.start_date > today,
            )
        )
    return rows


@dataclass
class RosterEntry:
    assignment: Assignment
    absences: list[Absence]  # the person's absences touching the block (not denied/cancelled)


@dataclass
class RosterGroup:
    """The people on one rotation in one block."""

    rotation: RotationTemplate
    entries: list[RosterEntry] = field(default_factory=list)
    counted: int = 0  # people who count toward the rotation's capacity

    @property
    def over_capacity(self) -> bool:
        return self.counted > self.rotation.max_people

    @property
    def under_capacity(self) -> bool:
        return self.counted < self.rotation.min_people


def block_roster(*, block: Block) -> list[RosterGroup]:
    """Who is on what in ``block``, grouped by rotation, with each person's absences that
    touch the block. Two queries."""
    assignments = list(
        Assignment.objects.filter(block=block)
        .select_related("person", "rotation", "updated_by", "updated_by__person")
        .order_by("rotation__name", "person__name")
    )
    absences: dict[int, list[Absence]] = defaultdict(list)
    for absence in visible_absences(
        people={a.person_id for a in assignments}, start=block.start_date, end=block.end_date
    ):
        absences[absence.person_id].append(absence)
    groups: dict[int, RosterGroup] = {}
    for assignment in assignments:
        group = groups.setdefault(assignment.rotation_id, RosterGroup(assignment.rotation))
        group.entries.append(RosterEntry(assignment, absences[assignment.person_id]))
        if counts_toward_capacity(person=assignment.person, rotation=assignment.rotation):
            group.counted += 1
    return list(groups.values())


def assignment_visible_to(*, user, assignment: Assignment) -> bool:
    """Coordinators see every assignment; anyone else only their own."""
    if is_coordinator(user):
        return True
    return assignment.person.user_id is not None and assignment.person.user_id == user.pk


def pgy_levels_for_year(*, academic_year: AcademicYear) -> dict[int, int]:
    """Person id -> PGY level in ``academic_year``, in one query."""
    return dict(
        ResidentYear.objects.filter(academic_year=academic_year).values_list(
            "person_id", "pgy_level"
        )
    )


def academic_year_by_label(*, label: str) -> AcademicYear | None:
    return AcademicYear.objects.filter(label=label).first()
