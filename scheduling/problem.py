"""The facts a schedule is generated from, read from the database into plain data.

The solver (scheduling/solver.py) and the pre-checks (scheduling/explain.py) work on this snapshot
only, so the long solve holds no database transaction or lock. The validator does NOT use it: it
reads the database itself, so a bug here cannot hide a bug there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings

from residency.models import (
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    ResidentYear,
    RotationTemplate,
)
from residency.selectors import is_unavailable_for_block
from scheduling.models import CurriculumRequirement

Key = tuple[int, int]  # (person_id, block_id)


@dataclass(frozen=True)
class Rotation:
    id: int
    code: str
    name: str
    kind: str
    staffed_by: str
    min_people: int
    max_people: int
    allowed_pgy_levels: frozenset[int]
    supervision_ratio: int | None
    heavy: bool
    active: bool

    @property
    def for_residents(self) -> bool:
        return self.staffed_by == RotationTemplate.StaffedBy.RESIDENTS

    @property
    def is_leave(self) -> bool:
        return self.kind == RotationTemplate.Kind.LEAVE


@dataclass(frozen=True)
class Fixed:
    """An assignment generation keeps as it is (pinned, or outside the block range)."""

    rotation_id: int
    role: str
    pinned: bool


@dataclass
class Problem:
    year_id: int
    year_label: str
    block_ids: list[int]  # every block of the year, in order
    block_numbers: dict[int, int]
    range_block_ids: list[int]  # the blocks being generated
    residents: dict[int, tuple[str, int]]  # person id -> (name, PGY level)
    faculty: dict[int, str]
    rotations: dict[int, Rotation]  # every rotation any fact refers to, active or not
    leave_rotation_id: int | None
    unavailable: set[Key]
    fixed: dict[Key, Fixed]
    previous: dict[Key, tuple[int, str]]  # replaced assignments (stability): rotation id, role
    curriculum: dict[tuple[int, int], tuple[int, int | None]]  # (pgy, rotation) -> (min, max)
    max_consecutive_heavy: int = field(default=2)
    # The replaced assignments' rows as read: (assignment id, version). Publishing changes a row
    # only if it is still at this version (scheduling/services.py, the diff write).
    versions: dict[Key, tuple[int, int]] = field(default_factory=dict)

    @property
    def active_rotations(self) -> list[Rotation]:
        return [r for r in self.rotations.values() if r.active]

    def person_name(self, person_id: int) -> str:
        if person_id in self.residents:
            return self.residents[person_id][0]
        return self.faculty.get(person_id, f"person #{person_id}")

    def cohort(self, pgy: int) -> list[int]:
        return [pid for pid, (_, level) in self.residents.items() if level == pgy]


def _rotation(template: RotationTemplate) -> Rotation:
    return Rotation(
        id=template.pk,
        code=template.code,
        name=template.name,
        kind=template.kind,
        staffed_by=template.staffed_by,
        min_people=template.min_people,
        max_people=template.max_people,
        allowed_pgy_levels=frozenset(template.allowed_pgy_levels or []),
        supervision_ratio=template.supervision_ratio,
        heavy=template.heavy,
        active=template.active,
    )


def problem_load(
    *,
    academic_year: AcademicYear,
    first_block: int | None = None,
    last_block: int | None = None,
    max_consecutive_heavy: int | None = None,
) -> Problem:
    blocks = list(Block.objects.filter(academic_year=academic_year).order_by("number"))
    in_range = [
        b for b in blocks if first_block is None or first_block <= b.number <= (last_block or 0)
    ]
    range_ids = {b.pk for b in in_range}

    pgy_by_person = dict(
        ResidentYear.objects.filter(
            academic_year=academic_year, person__active=True, person__kind=Person.Kind.RESIDENT
        ).values_list("person_id", "pgy_level")
    )
    people = Person.objects.filter(active=True).order_by("pk")
    residents = {p.pk: (p.name, pgy_by_person[p.pk]) for p in people if p.pk in pgy_by_person}
    faculty = {p.pk: p.name for p in people if p.kind == Person.Kind.FACULTY}

    templates = {t.pk: t for t in RotationTemplate.objects.all()}
    rotations = {pk: _rotation(t) for pk, t in templates.items()}
    leaves = sorted(
        (r for r in rotations.values() if r.active and r.is_leave and r.for_residents),
        key=lambda r: r.id,
    )

    absences: dict[int, list[Absence]] = defaultdict(list)
    if blocks:
        for absence in Absence.objects.filter(
            person_id__in=[*residents, *faculty],
            status=Absence.Status.APPROVED,
            start_date__lte=blocks[-1].end_date,
            end_date__gte=blocks[0].start_date,
        ):
            absences[absence.person_id].append(absence)
    unavailable = {
        (person_id, block.pk)
        for person_id, theirs in absences.items()
        for block in blocks
        if is_unavailable_for_block(block=block, absences=theirs)
    }

    fixed: dict[Key, Fixed] = {}
    previous: dict[Key, tuple[int, str]] = {}
    versions: dict[Key, tuple[int, int]] = {}
    # One query: each row's rotation, role and version are read together (one snapshot per row).
    for pk, version, person_id, block_id, rotation_id, role, pinned in Assignment.objects.filter(
        block__academic_year=academic_year
    ).values_list("pk", "version", "person_id", "block_id", "rotation_id", "role", "pinned"):
        key = (person_id, block_id)
        if pinned or block_id not in range_ids:
            fixed[key] = Fixed(rotation_id=rotation_id, role=role, pinned=pinned)
        else:
            previous[key] = (rotation_id, role)
            versions[key] = (pk, version)

    curriculum = {
        (req.pgy_level, req.rotation_id): (req.min_blocks, req.max_blocks)
        for req in CurriculumRequirement.objects.filter(rotation__active=True)
    }
    return Problem(
        year_id=academic_year.pk,
        year_label=academic_year.label,
        block_ids=[b.pk for b in blocks],
        block_numbers={b.pk: b.number for b in blocks},
        range_block_ids=[b.pk for b in in_range],
        residents=residents,
        faculty=faculty,
        rotations=rotations,
        leave_rotation_id=leaves[0].id if leaves else None,
        unavailable=unavailable,
        fixed=fixed,
        previous=previous,
        versions=versions,
        curriculum=curriculum,
        max_consecutive_heavy=(
            settings.ROTA_GENERATION_MAX_CONSECUTIVE_HEAVY
            if max_consecutive_heavy is None
            else max_consecutive_heavy
        ),
    )
