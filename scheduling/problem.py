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
from scheduling.models import CurriculumRequirement, FairnessGroup, RotationWish
from shifts.models import Holiday

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
class FairnessTerm:
    """A fairness group as the solver balances it: blocks of ``rotation_ids`` per resident,
    counted over ``block_ids`` only (the blocks containing a program holiday) or, when None,
    over every block of the year."""

    name: str
    rotation_ids: frozenset[int]
    weight: int
    block_ids: frozenset[int] | None = None


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
    # Per person, their approved absences that take them off a block, in words (explanations).
    absence_notes: dict[int, list[str]] = field(default_factory=dict)
    # Wishes (docs/scheduling.md, "Preferences"): ranked rotations per resident and block, and
    # blocks a resident asked (not yet approved) vacation in.
    wishes: dict[Key, list[tuple[int, int]]] = field(default_factory=dict)  # -> [(rank, rot)]
    vacation_requests: set[Key] = field(default_factory=set)
    # Extra fairness groups, balanced within each PGY cohort.
    fairness_groups: list[FairnessTerm] = field(default_factory=list)

    @property
    def individual(self) -> set[int]:
        """Residents with something only they have (wishes): never interchangeable."""
        return {pid for pid, _ in self.wishes} | {pid for pid, _ in self.vacation_requests}

    # The replaced assignments' rows as read: (assignment id, version). Publishing changes a row
    # only if it is still at this version (scheduling/publish.py, the diff write).
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

    absence_notes = {
        person_id: [
            f"{a.get_kind_display().lower()} {a.start_date:%d %b} - {a.end_date:%d %b %Y}"
            for a in sorted(theirs, key=lambda a: a.start_date)
        ]
        for person_id, theirs in absences.items()
        if any((person_id, b.pk) in unavailable for b in blocks)
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

    # Wishes count where generation decides: range blocks, not pinned, not on approved leave.
    def open_cell(key: Key) -> bool:
        return key[1] in range_ids and key not in fixed and key not in unavailable

    wishes: dict[Key, list[tuple[int, int]]] = defaultdict(list)
    for person_id, block_id, rank, rotation_id in RotationWish.objects.filter(
        block__academic_year=academic_year, person_id__in=list(residents)
    ).values_list("person_id", "block_id", "rank", "rotation_id"):
        if open_cell((person_id, block_id)):
            wishes[person_id, block_id].append((rank, rotation_id))
    requested: dict[int, list[Absence]] = defaultdict(list)
    if blocks:
        for absence in Absence.objects.filter(
            person_id__in=list(residents),
            status=Absence.Status.REQUESTED,
            start_date__lte=blocks[-1].end_date,
            end_date__gte=blocks[0].start_date,
        ):
            requested[absence.person_id].append(absence)
    vacation_requests = {
        (person_id, block.pk)
        for person_id, theirs in requested.items()
        for block in blocks
        if open_cell((person_id, block.pk))
        and any(a.start_date <= block.end_date and a.end_date >= block.start_date for a in theirs)
    }
    # Holiday groups count the blocks that contain a program holiday. The holidays belong to
    # the shifts app (one list per program, seeded by country); this is scheduling's one read
    # of it, of dates only.
    groups = list(FairnessGroup.objects.filter(active=True).prefetch_related("rotations"))
    holiday_block_ids: frozenset[int] = frozenset()
    if blocks and any(group.holiday_blocks_only for group in groups):
        dates = Holiday.objects.filter(
            date__gte=blocks[0].start_date, date__lte=blocks[-1].end_date
        ).values_list("date", flat=True)
        holiday_block_ids = frozenset(
            b.pk for b in blocks if any(b.start_date <= d <= b.end_date for d in dates)
        )
    fairness_groups = [
        FairnessTerm(
            name=group.name,
            rotation_ids=frozenset(r.pk for r in group.rotations.all()),
            weight=group.weight,
            block_ids=holiday_block_ids if group.holiday_blocks_only else None,
        )
        for group in groups
    ]

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
        absence_notes=absence_notes,
        fixed=fixed,
        previous=previous,
        versions=versions,
        curriculum=curriculum,
        wishes={key: sorted(ranked) for key, ranked in wishes.items()},
        vacation_requests=vacation_requests,
        fairness_groups=fairness_groups,
        max_consecutive_heavy=(
            settings.ROTA_GENERATION_MAX_CONSECUTIVE_HEAVY
            if max_consecutive_heavy is None
            else max_consecutive_heavy
        ),
    )
