"""seed_demo's call system: a month of shifts that covers every minimum and breaks no duty-hour
rule, eligible throughout, and a second run that changes nothing."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from residency.demo import demo_program_seed
from shifts import selectors
from shifts.demo import demo_shifts_seed
from shifts.models import Shift, ShiftRequest, ShiftRequestPeriod

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
    # Next month is open for requests until a week from "today", with a few requests in it.
    period = ShiftRequestPeriod.objects.get()
    assert (period.start_date, period.end_date) == (datetime.date(2041, 12, 1),
                                                    datetime.date(2041, 12, 31))  # fmt: skip
    assert timezone.localtime(period.deadline).date() == datetime.date(2041, 11, 19)
    assert created["shift requests"] == ShiftRequest.objects.count() >= 10
    assert set(ShiftRequest.objects.values_list("kind", flat=True)) == {"on", "off"}
    days_off = set(
        ShiftRequest.objects.filter(kind="off", shift_type=None).values_list("person", "date")
    )
    wished = set(ShiftRequest.objects.filter(kind="on").values_list("person", "date"))
    assert wished and not wished & days_off  # nobody asks for call on their own day off
    again = demo_shifts_seed(year=summary.year, today=TODAY)
    assert again["shifts"] == 0 and again["shift types"] == 0
    assert again["shift requests"] == 0 and ShiftRequestPeriod.objects.count() == 1
    assert Shift.objects.count() == created["shifts"]


def test_seed_demo_command_adds_the_call_system(capsys):
    call_command("seed_demo")
    assert "shift types" in capsys.readouterr().out
    assert Shift.objects.exists()
