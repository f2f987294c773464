"""GET/PATCH /api/shifts/<id> (ETag/If-Match like assignments) and
GET /api/people/<id>/duty-hours."""

import json

import pytest

from shifts.models import DutyHourOverride, Shift
from tests.factories import PersonFactory, ShiftFactory
from tests.residency.editing_support import client_for
from tests.shifts.test_services import DAY, MONDAY, heavy_month, saturday_type

pytestmark = pytest.mark.django_db


def patch(client, shift, body, **headers):
    return client.patch(
        f"/api/shifts/{shift.pk}", json.dumps(body), content_type="application/json", **headers
    )


def test_get_answers_an_etag_and_owners_see_only_their_shifts(resident):
    mine = ShiftFactory(person=resident)
    theirs = ShiftFactory()
    client = client_for(resident.user)
    response = client.get(f"/api/shifts/{mine.pk}")
    assert response.status_code == 200
    assert response["ETag"] == '"v1"'
    assert response.json()["shift_type_code"] == mine.shift_type.code
    assert client.get(f"/api/shifts/{theirs.pk}").status_code == 404
    assert client.get("/api/shifts/999999").status_code == 404


def test_patch_with_if_match_and_stale_answers(coordinator):
    shift = ShiftFactory()
    client = client_for(coordinator)
    ok = patch(client, shift, {"notes": "pager 42"}, HTTP_IF_MATCH='"v1"')
    assert ok.status_code == 200 and ok["ETag"] == '"v2"'
    stale = patch(client, shift, {"notes": "mine"}, HTTP_IF_MATCH='"v1"')
    assert stale.status_code == 412
    assert stale.json()["current"]["notes"] == "pager 42"
    conflict = patch(client, shift, {"notes": "mine", "version": 1})
    assert conflict.status_code == 409
    assert patch(client, shift, {"notes": "no version"}).status_code == 428
    moved = patch(client, shift, {"date": str(shift.date + DAY), "version": 2})
    assert moved.status_code == 200 and moved.json()["date"] == "2040-07-03"


def test_owner_may_change_only_notes(resident):
    shift = ShiftFactory(person=resident)
    client = client_for(resident.user)
    assert patch(client, shift, {"notes": "x", "version": 1}).status_code == 200
    refused = patch(client, shift, {"date": "2040-07-09", "version": 2})
    assert refused.status_code == 403


def test_duty_hour_refusal_carries_the_numbers_and_a_coordinator_may_override(coordinator):
    person = PersonFactory(name="Dr Okafor")
    heavy_month(person)
    shift = ShiftFactory(person=person, shift_type=saturday_type("SAT", 24), date=MONDAY + 61 * DAY)
    client = client_for(coordinator)
    body = {"date": str(MONDAY + 5 * DAY), "version": 1}
    refused = patch(client, shift, body)
    assert refused.status_code == 422
    problems = refused.json()["problems"]
    assert problems[0]["rule"] == "weekly_hours" and problems[0]["value"] == 81.0
    made = patch(client, shift, {**body, "override_reason": "approved by PD"})
    assert made.status_code == 200
    assert DutyHourOverride.objects.get().reason == "approved by PD"


@pytest.mark.parametrize(
    "body",
    [
        {"notes": 5, "version": 1},
        {"person": "x", "version": 1},
        {"date": "2040-02-30", "version": 1},
        {"date": "0001-01-01", "version": 1},
        {"shift_type": 2**70, "version": 1},
        {"unknown": 1, "version": 1},
        {"version": True, "notes": ""},
    ],
)
def test_bad_patches_are_400_or_422(coordinator, body):
    shift = ShiftFactory()
    response = patch(client_for(coordinator), shift, body)
    assert response.status_code in (400, 422)
    assert Shift.objects.get(pk=shift.pk).version == 1


def test_duty_hours_report_for_self_and_coordinators_only(resident, coordinator):
    heavy_month(resident)
    client = client_for(resident.user)
    url = f"/api/people/{resident.pk}/duty-hours?from=2040-07-02&to=2040-07-29"
    response = client.get(url)
    assert response.status_code == 200
    data = response.json()
    assert [w["hours"] for w in data["weeks"]] == [75.0] * 4
    assert data["days_off"] == 8 and data["problems"] == []
    assert data["limits"]["max_weekly_hours"] == 80.0
    other = PersonFactory()
    assert client.get(f"/api/people/{other.pk}/duty-hours").status_code == 404
    assert client_for(coordinator).get(url).status_code == 200
    for query in ("?from=x", "?from=2040-07-10&to=2040-07-01", "?from=2040-01-01&to=2042-01-01"):
        assert client.get(f"/api/people/{resident.pk}/duty-hours{query}").status_code == 400
