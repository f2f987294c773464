import datetime
import re

import pytest
from django.core.management import CommandError, call_command

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


def _uncovered_fortnight():
    """A year with a ward call wanted every day of its first fortnight and worked on none."""
    year = AcademicYearFactory(
        label="2040-41", start_date=datetime.date(2040, 7, 1), end_date=datetime.date(2041, 6, 30)
    )
    CoverageRuleFactory(
        shift_type=ShiftTypeFactory(name="Ward call"),
        start_date=datetime.date(2040, 7, 1),
        end_date=datetime.date(2040, 7, 14),
        min_people=1,
    )
    return year


def test_validate_shifts_checks_only_the_period_asked_and_counts_per_rule(capsys):
    _uncovered_fortnight()
    with pytest.raises(SystemExit):
        call_command("validate_shifts", "2040-41", "--from", "2040-07-10", "--to", "2040-07-20")
    out = capsys.readouterr().out
    # 10-14 Jul only: the rule's first nine days are outside the period.
    assert out.count("[coverage] Ward call on") == 5
    assert "Ward call on 9 Jul 2040" not in out and "Ward call on 10 Jul 2040" in out
    assert out.splitlines()[-1] == (
        "5 violation(s) in the shifts of 2040-41, 10 Jul 2040 to 20 Jul 2040 "
        "(5 coverage, 0 eligibility, 0 duty hours)."
    )


def test_validate_shifts_a_clean_period_exits_zero(capsys):
    _uncovered_fortnight()
    call_command("validate_shifts", "2040-41", "--from", "2040-07-15")
    assert capsys.readouterr().out.strip() == (
        "0 violation(s) in the shifts of 2040-41, 15 Jul 2040 to 30 Jun 2041 "
        "(0 coverage, 0 eligibility, 0 duty hours)."
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2040-13-01"), "'2040-13-01' is not a date (YYYY-MM-DD)."),
        (("--from", "2040-08-02", "--to", "2040-08-01"), "--from 2040-08-02 is after --to"),
        (("--to", "2041-07-01"), "2040-41 runs from 2040-07-01 to 2041-06-30"),
        (("--from", "2040-06-30"), "2040-06-30 to 2041-06-30 is not within it"),
    ],
)
def test_validate_shifts_refuses_a_bad_period_naming_the_year(args, message):
    _uncovered_fortnight()
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("validate_shifts", "2040-41", *args)
