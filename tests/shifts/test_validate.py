import datetime

import pytest
from django.core.management import call_command

from shifts.validator import shifts_validate
from tests.factories import (
    AcademicYearFactory,
    CoverageRuleFactory,
    PersonFactory,
    ShiftFactory,
    ShiftTypeFactory,
)
from tests.shifts.test_services import DAY, MONDAY, heavy_month

pytestmark = pytest.mark.django_db


def test_validate_shifts_lists_coverage_eligibility_and_duty_hours(capsys):
    year = AcademicYearFactory(
        label="2040-41", start_date=datetime.date(2040, 7, 1), end_date=datetime.date(2041, 6, 30)
    )
    call = ShiftTypeFactory(name="Ward call")
    CoverageRuleFactory(
        shift_type=call, start_date=MONDAY, end_date=MONDAY + DAY, min_people=1, max_people=1
    )
    ShiftFactory(shift_type=call, date=MONDAY)
    person = PersonFactory(name="Dr Okafor")
    heavy_month(person)
    # Written straight to the database, past every check: the validator still finds it.
    ShiftFactory(
        person=person,
        date=MONDAY + 5 * DAY,
        shift_type=ShiftTypeFactory(start_time=datetime.time(8), length_hours=24, code="SAT"),
    )
    ShiftFactory(person=PersonFactory(faculty=True), shift_type=call, date=MONDAY + 9 * DAY)
    with pytest.raises(SystemExit) as exit_status:
        call_command("validate_shifts", "2040-41")
    assert exit_status.value.code == 1
    out = capsys.readouterr().out
    assert "[coverage] Ward call on 3 Jul 2040: 0 of at least 1 people." in out
    assert "[eligibility] Ward call is taken by residents" in out
    assert "[duty_hours] Dr Okafor: 81 h/week averaged over" in out
    assert year.label in out


def test_a_clean_period_has_no_violations():
    assert shifts_validate(start=MONDAY, end=MONDAY + 27 * DAY) == []
