import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from shifts.models import DutyHourSettings, Shift
from tests.factories import PersonFactory, ShiftFactory, ShiftTypeFactory

pytestmark = pytest.mark.django_db
DAY = datetime.date(2040, 7, 2)


def test_shift_times_are_derived_from_the_type_and_may_cross_midnight():
    call = ShiftTypeFactory(start_time=datetime.time(7, 0), length_hours=24)
    shift = ShiftFactory(shift_type=call, date=DAY)
    assert shift.ends_at - shift.starts_at == datetime.timedelta(hours=24)
    assert shift.ends_at.date() == DAY + datetime.timedelta(days=1)


def test_the_database_refuses_a_persons_overlapping_shifts_written_through_the_orm():
    person = PersonFactory()
    call = ShiftTypeFactory(start_time=datetime.time(17, 0), length_hours=14)  # to 07:00
    early = ShiftTypeFactory(start_time=datetime.time(6, 0), length_hours=8)
    ShiftFactory(person=person, shift_type=call, date=DAY)
    with (
        pytest.raises(IntegrityError, match="shifts_of_a_person_do_not_overlap"),
        transaction.atomic(),
    ):
        Shift.objects.create(person=person, shift_type=early, date=DAY + datetime.timedelta(1))
    # Back to back is not an overlap (ranges are half-open), and another person may overlap.
    late = ShiftTypeFactory(start_time=datetime.time(7, 0), length_hours=8)
    Shift.objects.create(person=person, shift_type=late, date=DAY + datetime.timedelta(1))
    Shift.objects.create(person=PersonFactory(), shift_type=early, date=DAY + datetime.timedelta(1))


def test_one_shift_per_person_date_and_type():
    shift = ShiftFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Shift.objects.create(person=shift.person, shift_type=shift.shift_type, date=shift.date)


def test_full_clean_reports_the_overlap_as_a_form_error():
    person = PersonFactory()
    call = ShiftTypeFactory(start_time=datetime.time(17, 0), length_hours=14)
    ShiftFactory(person=person, shift_type=call, date=DAY)
    other = ShiftTypeFactory(start_time=datetime.time(20, 0), length_hours=4)
    with pytest.raises(ValidationError, match="overlaps another shift"):
        Shift(person=person, shift_type=other, date=DAY).full_clean()


def test_times_of_a_type_in_use_cannot_change():
    shift = ShiftFactory()
    kind = shift.shift_type
    kind.length_hours = 10
    with pytest.raises(ValidationError, match="cannot change"):
        kind.full_clean()


def test_duty_hour_settings_start_with_the_acgme_defaults():
    limits = DutyHourSettings.objects.get()
    assert (limits.max_weekly_hours, limits.max_continuous_hours, limits.transition_hours) == (
        80,
        24,
        4,
    )
    assert (limits.rest_after_long_call_hours, limits.call_every_nth_night) == (14, 3)
