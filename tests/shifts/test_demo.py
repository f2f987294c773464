"""seed_demo's call system: a month of shifts that covers every minimum and breaks no duty-hour
rule, eligible throughout, and a second run that changes nothing."""

import datetime

import pytest
from django.core.management import call_command

from residency.demo import demo_program_seed
from shifts import selectors
from shifts.demo import demo_shifts_seed
from shifts.models import Shift

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2041, 11, 12)


def test_the_demo_month_is_covered_eligible_and_compliant():
    summary = demo_program_seed(today=TODAY)
    created = demo_shifts_seed(year=summary.year, today=TODAY)
    assert created["shifts"] > 90
    first, last = datetime.date(2041, 11, 1), datetime.date(2041, 11, 30)
    _, days = selectors.month_calendar(start=first, end=last)
    uncovered = [(d.day, c.shift_type.code) for d in days for c in d.cells if c.missing]
    assert uncovered == []
    problems = selectors.program_duty_hour_problems(start=first, end=last)
    assert [p.message for ps in problems.values() for p in ps if p.is_violation] == []
    for shift in Shift.objects.select_related("person", "shift_type"):
        assert (
            selectors.shift_eligibility_problems(
                person=shift.person, shift_type=shift.shift_type, day=shift.date
            )
            == []
        )
    again = demo_shifts_seed(year=summary.year, today=TODAY)
    assert again["shifts"] == 0 and again["shift types"] == 0
    assert Shift.objects.count() == created["shifts"]


def test_seed_demo_command_adds_the_call_system(capsys):
    call_command("seed_demo")
    assert "shift types" in capsys.readouterr().out
    assert Shift.objects.exists()
