# ruff: noqa: C408 -- keyword dicts read best for rotation specs
"""Synthetic residency programs from a seed, for tests and the benchmark (bench/generate.py).

Sizes: S (18 residents, 12 faculty, 10 rotations, 13 blocks), M (60, 40, 15, 13),
L (140, 150, 20, 13). Capacities and the curriculum scale with the number of residents so that
every size has schedules; the seed varies PGY cohorts and absences (vacations that take a
resident off most of a block, and short conferences that do not).
"""

from __future__ import annotations

import datetime
import math
import random
from dataclasses import dataclass

from django.db import transaction

from residency.models import (
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    ResidentYear,
    RotationTemplate,
)
from scheduling.models import CurriculumRequirement

Kind = RotationTemplate.Kind
FACULTY = RotationTemplate.StaffedBy.FACULTY


@dataclass(frozen=True)
class Size:
    residents: int
    faculty: int
    rotations: int
    blocks: int = 13


SIZES = {"S": Size(18, 12, 10), "M": Size(60, 40, 15), "L": Size(140, 150, 20)}


def _rotation_specs(n: int, f: int, count: int) -> list[dict]:
    """Ten core rotations, then extra electives and faculty services up to ``count``."""

    def low(share: float) -> int:
        return max(1, round(n * share))

    def high(share: float) -> int:
        return max(1, math.ceil(n * share))

    specs = [
        dict(code="WARD", name="Inpatient wards", kind=Kind.INPATIENT, heavy=True,
             supervision_ratio=4, min_people=low(0.2), max_people=high(0.35), pgy=[1, 2, 3]),
        dict(code="NIGHT", name="Night float", kind=Kind.NIGHT, heavy=True,
             min_people=low(0.08), max_people=high(0.16), pgy=[1, 2, 3]),
        dict(code="ICU", name="Intensive care", kind=Kind.ICU, heavy=True, supervision_ratio=2,
             min_people=low(0.06), max_people=high(0.14), pgy=[2, 3]),
        dict(code="CLIN", name="Continuity clinic", kind=Kind.CLINIC, supervision_ratio=6,
             min_people=low(0.1), max_people=high(0.3), pgy=[1, 2, 3]),
        dict(code="ED", name="Emergency", kind=Kind.INPATIENT,
             min_people=low(0.05), max_people=high(0.15), pgy=[1, 2, 3]),
        dict(code="ELEC", name="Elective", kind=Kind.ELECTIVE, min_people=0, max_people=n,
             pgy=[1, 2, 3]),
        dict(code="RES", name="Research", kind=Kind.ELECTIVE, min_people=0,
             max_people=high(0.2), pgy=[2, 3]),
        dict(code="LEAVE", name="Leave", kind=Kind.LEAVE, min_people=0, max_people=n, pgy=[]),
        dict(code="ATTC", name="Attending clinic", kind=Kind.CLINIC, staffed_by=FACULTY,
             min_people=max(1, round(f * 0.1)), max_people=max(2, math.ceil(f * 0.3))),
        dict(code="CONS", name="Consult service", kind=Kind.INPATIENT, staffed_by=FACULTY,
             min_people=1, max_people=max(2, math.ceil(f * 0.15))),
    ]  # fmt: skip
    extra = 0
    while len(specs) < count:
        extra += 1
        if extra % 3:
            specs.append(
                dict(code=f"EL{extra}", name=f"Elective {extra}", kind=Kind.ELECTIVE,
                     min_people=0, max_people=high(0.1), pgy=[1, 2, 3] if extra % 2 else [2, 3])
            )  # fmt: skip
        else:
            specs.append(
                dict(code=f"FS{extra}", name=f"Faculty service {extra}", kind=Kind.ADMIN,
                     staffed_by=FACULTY, min_people=0, max_people=max(1, math.ceil(f * 0.1)))
            )  # fmt: skip
    return specs


# (PGY, rotation code) -> (min blocks, max blocks) per resident per year.
CURRICULUM = {
    (1, "WARD"): (4, 6),
    (1, "NIGHT"): (1, 2),
    (1, "CLIN"): (2, 4),
    (1, "ED"): (1, 3),
    (2, "WARD"): (2, 4),
    (2, "ICU"): (2, 3),
    (2, "NIGHT"): (1, 2),
    (2, "CLIN"): (2, 4),
    (3, "WARD"): (2, 3),
    (3, "ICU"): (1, 2),
    (3, "NIGHT"): (1, 2),
    (3, "CLIN"): (2, 4),
}


@transaction.atomic
def synthetic_program_create(
    *, size: str = "S", seed: int = 0, start_year: int = 2030, prefix: str | None = None
) -> AcademicYear:
    """Create one program (a year with blocks, rotations, people, PGY levels, absences and the
    curriculum). ``prefix`` keeps codes and e-mails unique when several programs share a
    database."""
    spec = SIZES[size]
    rng = random.Random(seed)
    prefix = prefix or f"{size}{seed}"
    start = datetime.date(start_year, 7, 1)
    year = AcademicYear.objects.create(
        label=f"{prefix} {start_year}-{(start_year + 1) % 100:02d}",
        start_date=start,
        end_date=datetime.date(start_year + 1, 6, 30),
    )
    blocks = Block.objects.bulk_create(
        Block(
            academic_year=year,
            number=i + 1,
            start_date=start + datetime.timedelta(days=28 * i),
            end_date=start + datetime.timedelta(days=28 * i + 27),
        )
        for i in range(spec.blocks)
    )

    rotations = {}
    for item in _rotation_specs(spec.residents, spec.faculty, spec.rotations):
        item = dict(item)
        code = item.pop("code")
        rotations[code] = RotationTemplate.objects.create(
            code=f"{prefix}-{code}",
            allowed_pgy_levels=item.pop("pgy", []),
            weekly_hours=60 if item.get("heavy") else 45,
            **item,
        )
    CurriculumRequirement.objects.bulk_create(
        CurriculumRequirement(
            rotation=rotations[code], pgy_level=pgy, min_blocks=low, max_blocks=high
        )
        for (pgy, code), (low, high) in CURRICULUM.items()
    )

    levels = [1 + i % 3 for i in range(spec.residents)]
    rng.shuffle(levels)
    residents = Person.objects.bulk_create(
        Person(name=f"Resident {prefix}-{i:03d}", email=f"r{i}.{prefix.lower()}@example.org",
               kind=Person.Kind.RESIDENT)
        for i in range(spec.residents)
    )  # fmt: skip
    ResidentYear.objects.bulk_create(
        ResidentYear(person=person, academic_year=year, pgy_level=level)
        for person, level in zip(residents, levels, strict=True)
    )
    faculty = Person.objects.bulk_create(
        Person(name=f"Faculty {prefix}-{i:03d}", email=f"f{i}.{prefix.lower()}@example.org",
               kind=Person.Kind.FACULTY)
        for i in range(spec.faculty)
    )  # fmt: skip

    absences = []
    for person in [*residents, *faculty]:
        if rng.random() < 0.35:  # three weeks' vacation: off for most of a block
            block = rng.choice(blocks)
            begin = block.start_date + datetime.timedelta(days=rng.randint(0, 6))
            absences.append(
                Absence(person=person, start_date=begin,
                        end_date=begin + datetime.timedelta(days=20), kind=Absence.Kind.VACATION,
                        status=Absence.Status.APPROVED)
            )  # fmt: skip
        if rng.random() < 0.3:  # a conference week: stays on the rotation
            block = rng.choice(blocks)
            absences.append(
                Absence(person=person, start_date=block.start_date,
                        end_date=block.start_date + datetime.timedelta(days=4),
                        kind=Absence.Kind.CONFERENCE, status=Absence.Status.APPROVED)
            )  # fmt: skip
    Absence.objects.bulk_create(absences)
    return year


@transaction.atomic
def synthetic_previous_schedule_create(*, academic_year: AcademicYear, seed: int = 0) -> int:
    """Give every resident a random residents' rotation in every block: a "current schedule" far
    from any valid one, so that regeneration has to weigh stability (and takes a while)."""
    rng = random.Random(seed)
    rotations = list(
        RotationTemplate.objects.filter(
            staffed_by=RotationTemplate.StaffedBy.RESIDENTS, active=True
        ).exclude(kind=Kind.LEAVE)
    )
    blocks = list(academic_year.blocks.all())
    people = ResidentYear.objects.filter(academic_year=academic_year).values_list(
        "person_id", flat=True
    )
    rows = Assignment.objects.bulk_create(
        Assignment(person_id=person_id, block=block, rotation=rng.choice(rotations))
        for person_id in people
        for block in blocks
    )
    return len(rows)


@transaction.atomic
def synthetic_absences_add(
    *, academic_year: AcademicYear, seed: int = 0, share: float = 0.1
) -> int:
    """New approved three-week vacations for ``share`` of the residents: the usual reason to
    regenerate a schedule that is already in use."""
    rng = random.Random(seed)
    blocks = list(academic_year.blocks.all())
    people = list(
        Person.objects.filter(
            resident_years__academic_year=academic_year, kind=Person.Kind.RESIDENT
        ).order_by("pk")
    )
    chosen = rng.sample(people, max(1, round(len(people) * share)))
    rows = []
    for person in chosen:
        block = rng.choice(blocks)
        rows.append(
            Absence(person=person, start_date=block.start_date,
                    end_date=block.start_date + datetime.timedelta(days=20),
                    kind=Absence.Kind.VACATION, status=Absence.Status.APPROVED)
        )  # fmt: skip
    return len(Absence.objects.bulk_create(rows))
