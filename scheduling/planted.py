# ruff: noqa: C408 -- keyword dicts read best for rotation specs
"""Tight programs with a planted valid schedule, for solver tests and bench/generate.py.

Unlike scheduling/synthetic.py (generous capacities, so many schedules exist), a planted program
is built backwards from one schedule that is known to be valid, and its rules are then set as
tight as that schedule allows:

- every resident's curriculum is exact (min == max) for the core rotations; only the elective
  (0..2 blocks) absorbs a vacation block;
- each rotation's capacity is the planted schedule's smallest and largest head count over the
  blocks: cohorts are laid out as cyclic shifts of a base sequence, so on the sizes M and L
  (cohorts of 26 and 52: whole cycles of 13) every rotation but the elective gets min == max;
  on S (cohorts of 7, 7, 6) head counts cannot be constant, and min and max differ by 1 or 2;
- vacations (21 days: away for most of a block, so on leave), conference weeks (5 days) and
  absences of exactly half a block (14 days: NOT away, by the "more than half" rule);
- about 3% of the resident-blocks are pinned (to their planted rotation).

Sizes: S (20 residents), M (78), L (156); 13 four-week blocks; no faculty (supervision is
tested elsewhere). The planted schedule is returned so tests can check it is still valid.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field

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
from scheduling.models import CurriculumRequirement, RotationWish

Kind = RotationTemplate.Kind
BLOCKS = 13
SIZES = {"S": 20, "M": 78, "L": 156}

ROTATIONS = [
    dict(code="WARD", name="Inpatient wards", kind=Kind.INPATIENT, heavy=True, pgy=[1, 2, 3]),
    dict(code="NIGHT", name="Night float", kind=Kind.NIGHT, heavy=True, pgy=[1, 2, 3]),
    dict(code="ICU", name="Intensive care", kind=Kind.ICU, heavy=True, pgy=[2, 3]),
    dict(code="CLIN", name="Continuity clinic", kind=Kind.CLINIC, pgy=[1, 2, 3]),
    dict(code="ED", name="Emergency", kind=Kind.INPATIENT, pgy=[1, 2, 3]),
    dict(code="ELEC", name="Elective", kind=Kind.ELECTIVE, pgy=[1, 2, 3]),
    dict(code="RES", name="Research", kind=Kind.ELECTIVE, pgy=[2, 3]),
    dict(code="LEAVE", name="Leave", kind=Kind.LEAVE, pgy=[]),
]
HEAVY = {"WARD", "NIGHT", "ICU"}
# Blocks of each rotation per resident per year (13 in all); exact except the elective.
CURRICULUM = {
    1: {"WARD": 4, "NIGHT": 2, "CLIN": 3, "ED": 2, "ELEC": 2},
    2: {"WARD": 3, "ICU": 2, "NIGHT": 2, "CLIN": 2, "ED": 2, "ELEC": 2},
    3: {"WARD": 2, "ICU": 2, "NIGHT": 1, "CLIN": 3, "ED": 1, "RES": 2, "ELEC": 2},
}
MAX_CONSECUTIVE_HEAVY = 2


@dataclass
class Planted:
    year: AcademicYear
    rotations: dict[str, RotationTemplate]
    residents: list[Person]
    schedule: dict[tuple[int, int], int] = field(default_factory=dict)  # (person, block) -> rot
    pinned: set[tuple[int, int]] = field(default_factory=set)
    blocks: list[Block] = field(default_factory=list)


def _base_sequence(rng: random.Random, counts: dict[str, int]) -> list[str]:
    """A random order of the year's blocks with no more than MAX_CONSECUTIVE_HEAVY heavy
    blocks in a row, read cyclically (so that every rotation of it is valid too)."""
    items = [code for code, n in counts.items() for _ in range(n)]
    while True:
        rng.shuffle(items)
        heavy = [code in HEAVY for code in items]
        doubled = heavy + heavy
        if not any(all(doubled[i : i + MAX_CONSECUTIVE_HEAVY + 1]) for i in range(len(items))):
            return list(items)


def _balance(plan: list[list[str]], pools: dict[int, list[list[str]]], free: list[int]) -> None:
    """Choose the sequences (from ``pools``) and offsets of the residents in ``free`` so that
    every rotation's head count is as even over the blocks as it can be (whole cycles are even
    already): greedy, then a few passes of re-placing one resident at a time. Even head counts
    make tight capacities."""
    heads: dict[str, list[int]] = {}

    def count(sequence: list[str], sign: int) -> None:
        for b, code in enumerate(sequence):
            heads.setdefault(code, [0] * BLOCKS)[b] += sign

    def cost() -> int:
        return sum(max(h) - min(h) for h in heads.values()) * 1000 + sum(
            x * x for h in heads.values() for x in h
        )

    placed: set[int] = set()
    for i, sequence in enumerate(plan):
        if i not in free:
            count(sequence, 1)
    for _ in range(4):
        for i in free:
            if i in placed:  # re-place it, given everyone else
                count(plan[i], -1)
            best = None
            for base in pools[i]:
                for offset in range(BLOCKS):
                    candidate = base[offset:] + base[:offset]
                    count(candidate, 1)
                    score = cost()
                    count(candidate, -1)
                    if best is None or score < best[0]:
                        best = (score, candidate)
            plan[i] = best[1]
            count(plan[i], 1)
            placed.add(i)


@transaction.atomic
def planted_program_create(
    *,
    size: str = "S",
    seed: int = 0,
    residents: int | None = None,
    start_year: int = 2040,
    prefix: str | None = None,
    pin_share: float = 0.03,
    vacation_share: float = 0.3,
) -> Planted:
    """Create a tight program around a planted schedule (see the module docstring). The
    planted schedule itself is NOT written (except the pinned rows): generation must find one."""
    rng = random.Random(seed)
    n = residents if residents is not None else SIZES[size]
    prefix = prefix or f"P{size}{seed}"
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
        for i in range(BLOCKS)
    )

    # Cohorts as even as possible; each one a cyclic layout of one base sequence per 13 people.
    levels = [1 + i % 3 for i in range(n)]
    levels.sort()
    pools: dict[int, list[list[str]]] = {}  # per free resident: sequences to choose from
    free: list[int] = []  # residents of a partial cycle, whose offset is chosen below
    plan: list[list[str]] = []
    for pgy in (1, 2, 3):
        members = levels.count(pgy)
        for i in range(members):
            if i % BLOCKS == 0:
                base = _base_sequence(rng, CURRICULUM[pgy])
            if members - (i // BLOCKS) * BLOCKS >= BLOCKS:  # a whole cycle: every offset once
                plan.append(base[i % BLOCKS :] + base[: i % BLOCKS])
            else:
                free.append(len(plan))
                pools[len(plan)] = [_base_sequence(rng, CURRICULUM[pgy]) for _ in range(12)]
                plan.append(list(base))
    _balance(plan, pools, free)
    people = Person.objects.bulk_create(
        Person(name=f"Resident {prefix}-{i:03d}", email=f"r{i}.{prefix.lower()}@example.org",
               kind=Person.Kind.RESIDENT)
        for i in range(n)
    )  # fmt: skip
    ResidentYear.objects.bulk_create(
        ResidentYear(person=person, academic_year=year, pgy_level=level)
        for person, level in zip(people, levels, strict=True)
    )

    # Absences: a vacation takes an elective block (which turns into leave); conference weeks
    # and exactly-half absences leave the person on their rotation.
    absences = []
    for person, sequence in zip(people, plan, strict=True):
        electives = [b for b, code in enumerate(sequence) if code == "ELEC"]
        away: set[int] = set()
        if electives and rng.random() < vacation_share:
            b = rng.choice(electives)
            sequence[b] = "LEAVE"
            away.add(b)
            begin = blocks[b].start_date + datetime.timedelta(days=rng.randint(0, 7))
            absences.append(
                Absence(person=person, start_date=begin,
                        end_date=begin + datetime.timedelta(days=20), kind=Absence.Kind.VACATION,
                        status=Absence.Status.APPROVED)
            )  # fmt: skip
        if rng.random() < 0.25:  # a conference week: stays on the rotation
            b = rng.choice([b for b in range(BLOCKS) if b not in away])
            away.add(b)
            absences.append(
                Absence(person=person, start_date=blocks[b].start_date,
                        end_date=blocks[b].start_date + datetime.timedelta(days=4),
                        kind=Absence.Kind.CONFERENCE, status=Absence.Status.APPROVED)
            )  # fmt: skip
        if rng.random() < 0.15:  # exactly half of a block (14 of 28 days): still available
            b = rng.choice([b for b in range(BLOCKS) if b not in away])
            absences.append(
                Absence(person=person, start_date=blocks[b].start_date,
                        end_date=blocks[b].start_date + datetime.timedelta(days=13),
                        kind=Absence.Kind.SICK, status=Absence.Status.APPROVED)
            )  # fmt: skip
    Absence.objects.bulk_create(absences)

    # Capacities: as tight as the planted schedule allows.
    heads = {spec["code"]: [0] * BLOCKS for spec in ROTATIONS}
    for sequence in plan:
        for b, code in enumerate(sequence):
            heads[code][b] += 1
    rotations: dict[str, RotationTemplate] = {}
    for spec in ROTATIONS:
        spec = dict(spec)
        code = spec.pop("code")
        low, high = min(heads[code]), max(heads[code])
        if code == "LEAVE":
            low, high = 0, n
        rotations[code] = RotationTemplate.objects.create(
            code=f"{prefix}-{code}",
            allowed_pgy_levels=spec.pop("pgy"),
            weekly_hours=60 if spec.get("heavy") else 45,
            min_people=low,
            max_people=max(high, 1),
            **spec,
        )
    CurriculumRequirement.objects.bulk_create(
        CurriculumRequirement(
            rotation=rotations[code],
            pgy_level=pgy,
            min_blocks=0 if code == "ELEC" else count,
            max_blocks=count,
        )
        for pgy, counts in CURRICULUM.items()
        for code, count in counts.items()
    )

    planted = Planted(year=year, rotations=rotations, residents=list(people), blocks=blocks)
    for person, sequence in zip(people, plan, strict=True):
        for b, code in enumerate(sequence):
            planted.schedule[person.pk, blocks[b].pk] = rotations[code].pk
    cells = sorted(k for k, rot in planted.schedule.items() if rot != rotations["LEAVE"].pk)
    planted.pinned = set(rng.sample(cells, round(len(cells) * pin_share)))
    Assignment.objects.bulk_create(
        Assignment(person_id=pid, block_id=bid, rotation_id=planted.schedule[pid, bid], pinned=True)
        for pid, bid in sorted(planted.pinned)
    )
    return planted


@transaction.atomic
def planted_current_schedule_create(
    *, planted: Planted, seed: int = 0, mode: str = "perturbed", share: float = 0.1
) -> int:
    """A "current schedule" to regenerate against: ``perturbed`` is the planted schedule with
    ``share`` of its cells moved to another rotation (the everyday case), ``random`` gives every
    unpinned cell a random residents' rotation (far from any valid schedule)."""
    rng = random.Random(seed)
    choices = [r.pk for code, r in planted.rotations.items() if code != "LEAVE"]
    rows = []
    for (pid, bid), rot in sorted(planted.schedule.items()):
        if (pid, bid) in planted.pinned:
            continue
        if mode == "random" or rng.random() < share:
            rot = rng.choice(choices)
        rows.append(Assignment(person_id=pid, block_id=bid, rotation_id=rot))
    return len(Assignment.objects.bulk_create(rows))


@transaction.atomic
def planted_wishes_create(
    *, planted: Planted, seed: int = 0, share: float = 0.5, blocks_each: int = 3
) -> int:
    """Wishes that the planted schedule honours in full: for ``share`` of the residents, in
    ``blocks_each`` unpinned, not-on-leave blocks, the first choice is the planted rotation and
    the second another rotation open to them. So 100% of first choices can be honoured."""
    rng = random.Random(seed)
    pgy = dict(
        ResidentYear.objects.filter(academic_year=planted.year).values_list(
            "person_id", "pgy_level"
        )
    )
    leave = planted.rotations["LEAVE"].pk
    rows = []
    for person in rng.sample(planted.residents, round(len(planted.residents) * share)):
        cells = [
            bid
            for bid in (b.pk for b in planted.blocks)
            if (person.pk, bid) not in planted.pinned and planted.schedule[person.pk, bid] != leave
        ]
        for bid in rng.sample(cells, min(blocks_each, len(cells))):
            first = planted.schedule[person.pk, bid]
            others = [
                r.pk
                for code, r in planted.rotations.items()
                if code != "LEAVE" and r.pk != first and pgy[person.pk] in r.allowed_pgy_levels
            ]
            rows.append(RotationWish(person=person, block_id=bid, rotation_id=first, rank=1))
            rows.append(
                RotationWish(person=person, block_id=bid, rotation_id=rng.choice(others), rank=2)
            )
    return len(RotationWish.objects.bulk_create(rows))
