"""The shift pages through the test client: the calendar (read only for residents, editable for
coordinators, constant queries), assign/move/remove with 409/410/422, a person's page, the
compliance report and its CSV."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shifts.models import DutyHourOverride, Shift
from tests.factories import (
    CoverageRuleFactory,
    HolidayFactory,
    PersonFactory,
    ShiftFactory,
    ShiftTypeFactory,
)
from tests.residency.editing_support import client_for
from tests.shifts.test_services import DAY, MONDAY, heavy_month, saturday_type

pytestmark = pytest.mark.django_db
MONTH = "?month=2040-07"


def test_calendar_shows_names_and_highlights_uncovered_slots(resident):
    call = ShiftTypeFactory(name="Ward call")
    CoverageRuleFactory(shift_type=call, min_people=2, max_people=2)
    ShiftFactory(shift_type=call, date=MONDAY, person=PersonFactory(name="Dr Okafor"))
    HolidayFactory(date=datetime.date(2040, 7, 4), name="Independence Day")
    response = client_for(resident.user).get("/shifts/calendar/" + MONTH)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Dr Okafor" in html and "Independence Day" in html
    assert "1 uncovered" in html  # Mon 2 Jul: one of two
    assert "2 uncovered" in html  # every other day
    assert "+ assign" not in html and "(read only)" in html


def test_the_calendar_reads_a_constant_number_of_queries(coordinator):
    client = client_for(coordinator)
    types = [ShiftTypeFactory(start_time=datetime.time(h)) for h in (7, 17)]
    for t in types:
        CoverageRuleFactory(shift_type=t, min_people=1, max_people=3)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/shifts/calendar/" + MONTH).status_code == 200
        return len(queries)

    empty = count()
    for n in range(20):
        ShiftFactory(shift_type=types[n % 2], date=MONDAY + (n // 2) * DAY)
    HolidayFactory(date=datetime.date(2040, 7, 4))
    assert count() == empty
    assert empty <= 10


def test_coordinator_assigns_from_the_calendar(coordinator):
    call = ShiftTypeFactory(name="Ward call")
    CoverageRuleFactory(shift_type=call)
    person = PersonFactory(name="Dr Lee")
    client = client_for(coordinator)
    page = client.get(f"/shifts/new/?date={MONDAY}&type={call.pk}")
    assert page.status_code == 200
    response = client.post(
        "/shifts/new/", {"person": person.pk, "date": MONDAY, "shift_type": call.pk, "notes": ""}
    )
    assert response.status_code == 302
    shift = Shift.objects.get()
    assert (shift.person, shift.updated_by) == (person, coordinator)
    # The slot is now full: a second person is refused with the rule, input kept.
    other = PersonFactory()
    response = client.post(
        "/shifts/new/", {"person": other.pk, "date": MONDAY, "shift_type": call.pk, "notes": "x"}
    )
    assert response.status_code == 422
    assert "is full (1 of 1 places taken)" in response.content.decode()
    assert response.context["form"]["notes"].value() == "x"


def test_duty_hour_refusal_then_override_through_the_page(coordinator):
    person = PersonFactory(name="Dr Okafor")
    heavy_month(person)
    saturday = saturday_type("SAT", 24)
    client = client_for(coordinator)
    data = {"person": person.pk, "date": MONDAY + 5 * DAY, "shift_type": saturday.pk}
    refused = client.post("/shifts/new/", data)
    assert refused.status_code == 422
    assert "Dr Okafor: 81 h/week averaged over" in refused.content.decode()
    made = client.post("/shifts/new/", {**data, "override_reason": "Two residents off sick"})
    assert made.status_code == 302
    assert DutyHourOverride.objects.get().reason == "Two residents off sick"
    report = client.get("/shifts/compliance/" + MONTH)
    assert report.status_code == 200
    html = report.content.decode()
    assert "Two residents off sick" in html and "at risk" in html
    csv = client.get("/shifts/compliance/export.csv" + MONTH)
    assert csv.status_code == 200
    assert b"weekly_hours" in csv.content and b"Two residents off sick" in csv.content


def test_move_is_version_checked_and_409_keeps_the_input(coordinator):
    shift = ShiftFactory(notes="old")
    client = client_for(coordinator)
    data = {
        "version": 1,
        "person": shift.person_id,
        "date": shift.date,
        "shift_type": shift.shift_type_id,
        "notes": "first",
    }
    assert client.post(f"/shifts/{shift.pk}/edit/", data).status_code == 302
    stale = client.post(f"/shifts/{shift.pk}/edit/", {**data, "notes": "second"})
    assert stale.status_code == 409
    html = stale.content.decode()
    assert "Someone else changed this shift" in html and "first" in html
    assert stale.context["form"]["notes"].value() == "second"
    assert stale.context["form"]["version"].value() == "2"
    moved = client.post(
        f"/shifts/{shift.pk}/edit/", {**data, "version": 2, "date": shift.date + DAY}
    )
    assert moved.status_code == 302
    shift.refresh_from_db()
    assert (shift.date, shift.version) == (datetime.date(2040, 7, 3), 3)


def test_remove_is_version_checked_and_gone_is_410(coordinator):
    shift = ShiftFactory()
    client = client_for(coordinator)
    Shift.objects.filter(pk=shift.pk).update(version=2)
    stale = client.post(f"/shifts/{shift.pk}/delete/", {"version": 1})
    assert stale.status_code == 409
    assert client.post(f"/shifts/{shift.pk}/delete/", {"version": 2}).status_code == 302
    assert not Shift.objects.exists()
    assert client.post(f"/shifts/{shift.pk}/delete/", {"version": 2}).status_code == 410
    assert client.post(f"/shifts/{shift.pk}/edit/", {"notes": "mine"}).status_code == 410


def test_residents_see_their_own_shifts_and_not_others(resident):
    ShiftFactory(person=resident, notes="bring pager")
    other = PersonFactory(with_login=True)
    client = client_for(resident.user)
    mine = client.get("/shifts/mine/" + MONTH)
    assert mine.status_code == 200 and "bring pager" in mine.content.decode()
    assert client.get(f"/shifts/person/{resident.pk}/" + MONTH).status_code == 200
    assert client.get(f"/shifts/person/{other.pk}/").status_code == 404
    assert client.get("/shifts/new/").status_code == 404
    assert client.get("/shifts/compliance/").status_code == 404
    shift = ShiftFactory(person=other)
    assert client.get(f"/shifts/{shift.pk}/edit/").status_code == 404
    assert client.post(f"/shifts/{shift.pk}/delete/", {"version": 1}).status_code == 404


def test_bad_input_is_never_a_500(coordinator):
    client = client_for(coordinator)
    for query in ("?month=99999-1", "?month=2040-13", "?month=abc", "?month=²-1"):
        assert client.get("/shifts/calendar/" + query).status_code == 200
    assert client.get("/shifts/new/?date=2040-99-01&type=x").status_code == 200
    bad = client.post("/shifts/new/", {"person": "x", "date": "0001-01-01", "shift_type": "-1"})
    assert bad.status_code == 400
    assert client.get("/shifts/compliance/?from=0001-01-01&to=9999-12-31").status_code == 200
