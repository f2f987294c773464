import datetime

import pytest
from django.db import IntegrityError

from residency.models import AcademicYear, Block, RotationTemplate
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)

pytestmark = pytest.mark.django_db


def test_double_booking_is_refused_by_the_database():
    first = AssignmentFactory()
    with pytest.raises(IntegrityError, match="one_assignment_per_person_per_block"):
        AssignmentFactory(person=first.person, block=first.block)


def test_blocks_of_one_year_cannot_overlap():
    block = BlockFactory()
    with pytest.raises(IntegrityError, match="blocks_of_a_year_do_not_overlap"):
        Block.objects.create(
            academic_year=block.academic_year,
            number=99,
            start_date=block.end_date,
            end_date=block.end_date + datetime.timedelta(days=10),
        )


def test_blocks_of_different_years_are_independent():
    block = BlockFactory()
    other_year = AcademicYearFactory()
    Block.objects.create(
        academic_year=other_year, number=1, start_date=block.start_date, end_date=block.end_date
    )


def test_academic_years_cannot_overlap():
    year = AcademicYearFactory()
    with pytest.raises(IntegrityError, match="academic_years_do_not_overlap"):
        AcademicYear.objects.create(
            label="overlap",
            start_date=year.start_date + datetime.timedelta(days=30),
            end_date=year.end_date + datetime.timedelta(days=30),
        )


@pytest.mark.parametrize(
    ("factory", "kwargs", "constraint"),
    [
        (BlockFactory, {"end_date": datetime.date(2000, 1, 1)}, "block_dates_ordered"),
        (AbsenceFactory, {"end_date": datetime.date(2000, 1, 1)}, "absence_dates_ordered"),
        (
            RotationTemplateFactory,
            {"min_people": 3, "max_people": 2},
            "rotation_capacity_min_le_max",
        ),
        (RotationTemplateFactory, {"allowed_pgy_levels": [1, 9]}, "rotation_pgy_levels_in_range"),
        (ResidentYearFactory, {"pgy_level": 0}, "pgy_level_in_range"),
        (ResidentYearFactory, {"pgy_level": 9}, "pgy_level_in_range"),
    ],
)
def test_check_constraints(factory, kwargs, constraint):
    with pytest.raises(IntegrityError, match=constraint):
        factory(**kwargs)


def test_one_pgy_level_per_person_per_year():
    level = ResidentYearFactory()
    with pytest.raises(IntegrityError, match="one_pgy_level_per_person_per_year"):
        ResidentYearFactory(person=level.person, academic_year=level.academic_year, pgy_level=2)


def test_pgy_history_survives_rollover():
    person = PersonFactory()
    first, second = AcademicYearFactory(), AcademicYearFactory()
    ResidentYearFactory(person=person, academic_year=first, pgy_level=1)
    ResidentYearFactory(person=person, academic_year=second, pgy_level=2)
    levels = {ry.academic_year_id: ry.pgy_level for ry in person.resident_years.all()}
    assert levels == {first.pk: 1, second.pk: 2}
    assert RotationTemplate.objects.count() == 0
