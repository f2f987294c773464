"""The independent schedule validator: plain Python over the database, no solver.

It judges whatever is in the database (generated, edited by hand, swapped) against every rule
and lists each violation with the rule, the person and the block. Generation runs it inside its
write transaction and commits only with zero violations; coordinators run it from the admin
("Schedules" > Validate schedule). It shares the placement rules with every other write path
(residency.selectors) and nothing with the CP-SAT model, so a modelling bug shows up here.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.conf import settings

from residency.models import (
    Absence,
    AcademicYear,
    Assignment,
    Person,
    ResidentYear,
    RotationTemplate,
)
from residency.selectors import (
    counts_toward_capacity,
    is_unavailable_for_block,
    rotation_eligibility_problem,
)
from scheduling.models import CurriculumRequirement

RULES = (
    "eligibility",  # PGY level, staffing kind, active person and rotation, faculty role
    "absence",  # on a rotation while away for most of the block
    "coverage",  # an active resident without an assignment in a block
    "capacity",  # fewer than min or more than max people of the staffing kind
    "supervision",  # fewer supervising faculty than ceil(residents / ratio)
    "curriculum",  # blocks of a rotation outside the PGY level's min..max
    "heavy",  # more consecutive heavy blocks than allowed
)


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    person: str = ""
    block: int | None = None

    def __str__(self) -> str:
        return f"[{self.rule}] {self.message}"


def schedule_validate(
    *,
    academic_year: AcademicYear,
    first_block: int | None = None,
    last_block: int | None = None,
    max_consecutive_heavy: int | None = None,
) -> list[Violation]:
    """Every rule the year's schedule breaks. With a block range, the per-block rules look at
    those blocks only; the per-year rules (curriculum, consecutive heavy blocks) always look at
    the whole year, since a range is generated against the rest of the year as it stands."""
    limit = (
        settings.ROTA_GENERATION_MAX_CONSECUTIVE_HEAVY
        if max_consecutive_heavy is None
        else max_consecutive_heavy
    )
    blocks = list(academic_year.blocks.order_by("number"))
    checked = [
        b for b in blocks if first_block is None or first_block <= b.number <= (last_block or 0)
    ]
    checked_ids = {b.pk for b in checked}
    assignments = list(
        Assignment.objects.filter(block__academic_year=academic_year).select_related(
            "person", "block", "rotation"
        )
    )
    pgy = dict(
        ResidentYear.objects.filter(academic_year=academic_year).values_list(
            "person_id", "pgy_level"
        )
    )
    residents = list(Person.objects.filter(pk__in=pgy, active=True, kind=Person.Kind.RESIDENT))
    rotations = list(RotationTemplate.objects.filter(active=True))
    has_leave = any(
        r.kind == RotationTemplate.Kind.LEAVE and r.staffed_by == "residents" for r in rotations
    )

    absences: dict[int, list[Absence]] = defaultdict(list)
    if blocks:
        for absence in Absence.objects.filter(
            status=Absence.Status.APPROVED,
            start_date__lte=blocks[-1].end_date,
            end_date__gte=blocks[0].start_date,
        ):
            absences[absence.person_id].append(absence)

    def away(person_id: int, block) -> bool:
        return is_unavailable_for_block(block=block, absences=absences.get(person_id, []))

    violations: list[Violation] = []

    def add(rule: str, message: str, person: Person | None = None, block=None) -> None:
        violations.append(
            Violation(
                rule=rule,
                message=message,
                person=person.name if person else "",
                block=block.number if block else None,
            )
        )

    # Each assignment in the checked blocks, on its own.
    for a in assignments:
        if a.block_id not in checked_ids:
            continue
        where = f"block {a.block.number}"
        if not a.person.active:
            add("eligibility", f"{a.person.name} is not active ({where}).", a.person, a.block)
        problem = rotation_eligibility_problem(
            person=a.person, pgy_level=pgy.get(a.person_id), rotation=a.rotation, role=a.role
        )
        if problem:
            add("eligibility", f"{problem} ({where})", a.person, a.block)
        if a.rotation.kind != RotationTemplate.Kind.LEAVE and away(a.person_id, a.block):
            add(
                "absence",
                f"{a.person.name} is on {a.rotation.name} in {where} but on approved leave "
                "for most of it.",
                a.person,
                a.block,
            )

    # Coverage, capacity and supervision, block by block.
    by_block: dict[int, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_block[a.block_id].append(a)
    for block in checked:
        here = by_block[block.pk]
        booked = {a.person_id for a in here}
        for person in residents:
            if person.pk in booked:
                continue
            if away(person.pk, block) and not has_leave:
                continue  # documented rule: absent with no leave rotation -> no assignment
            add(
                "coverage",
                f"{person.name} has no assignment in block {block.number}.",
                person,
                block,
            )
        for rotation in rotations:
            on = [a for a in here if a.rotation_id == rotation.pk]
            counted = sum(
                1 for a in on if counts_toward_capacity(person=a.person, rotation=rotation)
            )
            if counted < rotation.min_people:
                add(
                    "capacity",
                    f"{rotation.name} has {counted} in block {block.number}; it needs at least "
                    f"{rotation.min_people}.",
                    block=block,
                )
            if counted > rotation.max_people:
                add(
                    "capacity",
                    f"{rotation.name} has {counted} in block {block.number}; it holds at most "
                    f"{rotation.max_people}.",
                    block=block,
                )
            if (
                rotation.supervision_ratio
                and rotation.staffed_by == "residents"
                and rotation.kind != RotationTemplate.Kind.LEAVE  # nobody supervises leave
            ):
                trainees = sum(1 for a in on if a.person.kind == Person.Kind.RESIDENT)
                supervisors = sum(
                    1
                    for a in on
                    if a.person.kind == Person.Kind.FACULTY
                    and a.role == Assignment.Role.SUPERVISING
                )
                needed = math.ceil(trainees / rotation.supervision_ratio)
                if supervisors < needed:
                    add(
                        "supervision",
                        f"{rotation.name} has {trainees} residents in block {block.number} and "
                        f"needs {needed} supervising faculty; it has {supervisors}.",
                        block=block,
                    )

    # Curriculum and consecutive heavy blocks, over the whole year, per resident.
    requirements = defaultdict(list)
    for req in CurriculumRequirement.objects.filter(rotation__active=True).select_related(
        "rotation"
    ):
        requirements[req.pgy_level].append(req)
    by_person: dict[int, dict[int, Assignment]] = defaultdict(dict)
    for a in assignments:
        by_person[a.person_id][a.block.number] = a
    for person in residents:
        theirs = by_person[person.pk]
        counts = Counter(a.rotation_id for a in theirs.values())
        for req in requirements[pgy[person.pk]]:
            got = counts[req.rotation_id]
            if got < req.min_blocks or (req.max_blocks is not None and got > req.max_blocks):
                most = f"-{req.max_blocks}" if req.max_blocks is not None else " or more"
                add(
                    "curriculum",
                    f"{person.name} (PGY-{pgy[person.pk]}) has {got} blocks of "
                    f"{req.rotation.name}; the curriculum asks {req.min_blocks}{most}.",
                    person,
                )
        run = 0
        for block in blocks:
            a = theirs.get(block.number)
            run = run + 1 if a is not None and a.rotation.heavy else 0
            if run == limit + 1:
                add(
                    "heavy",
                    f"{person.name} has more than {limit} heavy blocks in a row "
                    f"(up to block {block.number}).",
                    person,
                    block,
                )
    return violations
