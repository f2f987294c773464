"""The shift admin writes through the services: rules, duty hours and versions are enforced."""

import pytest

from shifts.models import DutyHourOverride, Shift
from tests.factories import PersonFactory, ShiftFactory, ShiftTypeFactory
from tests.residency.editing_support import client_for
from tests.shifts.test_services import DAY, MONDAY, heavy_month, saturday_type

pytestmark = pytest.mark.django_db


def test_admin_pages_of_the_daily_layer_load(coordinator):
    client = client_for(coordinator)
    ShiftFactory()
    for name in ("shifttype", "coveragerule", "holiday", "workpattern", "shift", "dutyhoursettings",
                 "dutyhouroverride"):  # fmt: skip
        assert client.get(f"/admin/shifts/{name}/").status_code == 200, name
    assert client.get("/admin/shifts/shift/add/").status_code == 200


def test_admin_add_is_judged_by_the_duty_hour_rules_and_records_overrides(coordinator):
    person = PersonFactory()
    heavy_month(person)
    saturday = saturday_type("SAT", 24)
    client = client_for(coordinator)
    data = {"person": person.pk, "date": MONDAY + 5 * DAY, "shift_type": saturday.pk, "notes": ""}
    refused = client.post("/admin/shifts/shift/add/", data)
    assert refused.status_code == 422
    assert "81 h/week" in refused.content.decode()
    made = client.post("/admin/shifts/shift/add/", {**data, "override_reason": "short-staffed"})
    assert made.status_code == 302
    assert DutyHourOverride.objects.get().reason == "short-staffed"


def test_admin_change_is_version_checked(coordinator):
    shift = ShiftFactory()
    client = client_for(coordinator)
    url = f"/admin/shifts/shift/{shift.pk}/change/"
    data = {
        "person": shift.person_id,
        "date": shift.date,
        "shift_type": shift.shift_type_id,
        "notes": "one",
        "expected_version": 1,
    }
    assert client.post(url, data).status_code == 302
    stale = client.post(url, {**data, "notes": "two"})
    assert stale.status_code == 409
    assert Shift.objects.get().notes == "one"


def test_shift_type_times_are_frozen_once_used(coordinator):
    shift = ShiftFactory(shift_type=ShiftTypeFactory(code="WC", name="Ward call"))
    client = client_for(coordinator)
    t = shift.shift_type
    response = client.post(
        f"/admin/shifts/shifttype/{t.pk}/change/",
        {
            "code": "WC", "name": "Ward call", "kind": t.kind, "start_time": "18:00",
            "length_hours": "14", "staffed_by": "residents", "burden_points": 1,
            "rest_after_hours": "0", "allowed_pgy_levels": "", "colour": "#5b8def",
            "in_house": "on", "active": "on",
            "coverage_rules-TOTAL_FORMS": 0, "coverage_rules-INITIAL_FORMS": 0,
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert "cannot change" in response.content.decode()


def test_shift_configuration_admin_is_version_checked(coordinator):
    kind = ShiftTypeFactory(code="WC", name="Ward call")
    client = client_for(coordinator)
    url = f"/admin/shifts/shifttype/{kind.pk}/change/"
    data = {
        "code": "WC", "name": "Ward call 1", "kind": kind.kind, "start_time": "17:00",
        "length_hours": "14", "staffed_by": "residents", "burden_points": 1,
        "rest_after_hours": "0", "allowed_pgy_levels": "", "colour": "#5b8def",
        "in_house": "on", "active": "on", "expected_version": 1,
        "coverage_rules-TOTAL_FORMS": 0, "coverage_rules-INITIAL_FORMS": 0,
    }  # fmt: skip
    assert client.post(url, data).status_code == 302
    stale = client.post(url, {**data, "name": "Ward call 2"})
    assert stale.status_code == 409
    kind.refresh_from_db()
    assert (kind.name, kind.version) == ("Ward call 1", 2)
