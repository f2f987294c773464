"""The independent validator finds each rule's violation on a crafted schedule."""

from __future__ import annotations

import datetime

import pytest

from residency.models import Assignment, RotationTemplate
from scheduling.validator import RULES, schedule_validate
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    CurriculumRequirementFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)

pytestmark = pytest.mark.django_db


def test_each_rule_violation_is_detected():
    year = AcademicYearFactory()
    b1, b2, b3 = (BlockFactory(academic_year=year) for _ in range(3))
    ward = RotationTemplateFactory(
        name="Wards", kind=RotationTemplate.Kind.INPATIENT, heavy=True, min_people=0,
        max_people=1, supervision_ratio=1, allowed_pgy_levels=[1],
    )  # fmt: skip
    clinic = RotationTemplateFactory(name="Clinic", min_people=1, allowed_pgy_levels=[2])
    elective = RotationTemplateFactory(name="Elective", allowed_pgy_levels=[1, 2])
    RotationTemplateFactory(name="Leave", kind=RotationTemplate.Kind.LEAVE, allowed_pgy_levels=[])
    CurriculumRequirementFactory(rotation=ward, pgy_level=1, min_blocks=1, max_blocks=1)
    a, b, c = (PersonFactory(name=n) for n in ("Ann", "Ben", "Cat"))
    for person in (a, b, c):
        ResidentYearFactory(person=person, academic_year=year, pgy_level=1)
    teacher = PersonFactory(name="Dr Fay", faculty=True)
    AbsenceFactory(person=b, start_date=b1.start_date, end_date=b1.end_date)

    def put(person, block, rotation, role=Assignment.Role.PRIMARY):
        AssignmentFactory(person=person, block=block, rotation=rotation, role=role)

    put(a, b1, clinic)  # Ann is PGY-1, Clinic is PGY-2 only; no block 3 for Ann
    put(a, b2, elective)
    put(b, b1, ward)  # Ben is away in block 1
    put(b, b2, ward)
    put(b, b3, ward)  # three heavy blocks in a row, three Wards blocks (curriculum 1-1)
    put(c, b1, elective)
    put(c, b2, ward)  # Wards holds 1: two in block 2
    put(c, b3, elective)
    put(teacher, b3, ward, Assignment.Role.SUPERVISING)

    found = {(v.rule, v.person, v.block) for v in schedule_validate(academic_year=year)}

    assert found == {
        ("eligibility", "Ann", 1),
        ("absence", "Ben", 1),
        ("coverage", "Ann", 3),
        ("capacity", "", 2),  # Wards over its maximum
        ("capacity", "", 3),  # Clinic under its minimum (blocks 2 and 3)
        ("supervision", "", 1),
        ("supervision", "", 2),
        ("curriculum", "Ann", None),
        ("curriculum", "Ben", None),
        ("heavy", "Ben", 3),
    }
    assert {rule for rule, _, _ in found} == set(RULES)
    messages = [v.message for v in schedule_validate(academic_year=year)]
    assert "Clinic has 0 in block 2; it needs at least 1." in messages
    assert "Wards has 2 in block 2; it holds at most 1." in messages
    assert "Ben has more than 2 heavy blocks in a row (up to block 3)." in messages


def test_absent_resident_without_a_leave_rotation_needs_no_assignment():
    block = BlockFactory()
    person = PersonFactory()
    ResidentYearFactory(person=person, academic_year=block.academic_year)
    AbsenceFactory(
        person=person,
        start_date=block.start_date,
        end_date=block.start_date + datetime.timedelta(days=20),
    )
    assert schedule_validate(academic_year=block.academic_year) == []
