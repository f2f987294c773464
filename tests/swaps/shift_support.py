"""Shift-trade fixtures: the swaps test program (year 2040-41) plus shift types and helpers."""

from __future__ import annotations

import datetime

from shifts.models import ShiftType
from tests.factories import ShiftFactory, ShiftTypeFactory

MONDAY = datetime.date(2040, 7, 2)
DAY = datetime.timedelta(days=1)


def day_type(code: str, hours, start=datetime.time(8)) -> ShiftType:
    return ShiftTypeFactory(
        code=code, kind=ShiftType.Kind.DAY_SHIFT, start_time=start, length_hours=hours
    )


def heavy_month(person, hours_per_weekday="15.5"):
    """Mon-Fri from 06:00 for four weeks from MONDAY: with 15.5 h a day, 310 h, 77.5 h/week
    averaged over the 28 days."""
    long_day = ShiftTypeFactory(
        code=f"L{person.pk}",
        kind=ShiftType.Kind.DAY_SHIFT,
        start_time=datetime.time(6),
        length_hours=hours_per_weekday,
    )
    for n in range(28):
        if (MONDAY + n * DAY).weekday() < 5:
            ShiftFactory(person=person, shift_type=long_day, date=MONDAY + n * DAY)


def shift(person, shift_type, day=MONDAY):
    return ShiftFactory(person=person, shift_type=shift_type, date=day)


def make_program():
    """The swaps test program, with its year pinned to 2040-41 (factory sequences move it)."""
    from tests.factories import AcademicYearFactory, BlockFactory, RotationTemplateFactory
    from tests.swaps.conftest import Program

    year = AcademicYearFactory(
        start_date=datetime.date(2040, 7, 1), end_date=datetime.date(2041, 6, 30), label="2040-41"
    )
    blocks = [BlockFactory(academic_year=year) for _ in range(3)]
    ward = RotationTemplateFactory(name="Ward", code="WARD")
    clinic = RotationTemplateFactory(name="Clinic", code="CLIN")
    return Program(year=year, blocks=blocks, ward=ward, clinic=clinic)
