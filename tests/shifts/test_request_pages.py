"""Shift requests through the test client: the "My shift requests" page (add, refusals that keep
what was typed, withdraw, after the deadline), the JSON API, the admin, and pinned shifts in
the coordinator's forms and the shift API."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import timezone

from shifts.models import Shift, ShiftRequest, ShiftRequestPeriod
from tests.factories import PersonFactory, ShiftFactory, ShiftTypeFactory
from tests.residency.editing_support import client_for
from tests.shifts.test_requests import DAY, ask, open_period

pytestmark = pytest.mark.django_db
PAGE = "/shifts/requests/"
ADD = "/shifts/requests/add/"
API = "/api/shift-requests"


@pytest.fixture
def period():
    return open_period()


@pytest.fixture
def night():
    return ShiftTypeFactory(code="NF", name="Night float")


def _close(period):
    ShiftRequestPeriod.objects.filter(pk=period.pk).update(
        deadline=timezone.now() - datetime.timedelta(minutes=1)
    )


# -- the page -----------------------------------------------------------------------------------


def test_page_shows_the_open_period_its_deadline_and_the_form(resident, period, night):
    faculty_only = ShiftTypeFactory(name="Attending backup", staffed_by="faculty")
    response = client_for(resident.user).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "My shift requests" in html
    assert "Open until" in html and "10 of 10 requests left" in html
    assert "Requests for the winter call schedule." in html
    assert "Night float" in html and faculty_only.name not in html  # residents' types only
    assert f'min="{period.start_date.isoformat()}"' in html
    assert 'href="/shifts/requests/"' in html  # in the navigation


def test_add_a_request_then_withdraw_it(resident, period, night):
    client = client_for(resident.user)
    response = client.post(
        ADD,
        {"date": period.start_date, "kind": "on", "shift_type": night.pk, "priority": 1,
         "note": "Need the days after free"},
    )  # fmt: skip
    assert response.status_code == 302
    saved = ShiftRequest.objects.get()
    assert (saved.person, saved.kind, saved.shift_type, saved.priority) == (resident, "on",
                                                                           night, 1)  # fmt: skip
    html = client.get(PAGE).content.decode()
    assert "Saved: Night float on" in html
    assert "Night float, please" in html and "High" in html and "9 of 10" in html
    response = client.post(f"/shifts/requests/{saved.pk}/delete/")
    assert response.status_code == 302 and not ShiftRequest.objects.exists()
    # A second click (another tab): gone, like someone else's.
    assert client.post(f"/shifts/requests/{saved.pk}/delete/").status_code == 404


def test_a_refusal_keeps_what_was_typed(resident, period):
    client = client_for(resident.user)
    outside = period.end_date + DAY
    response = client.post(
        ADD, {"date": outside, "kind": "off", "shift_type": "", "priority": 2, "note": "Ski week"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "not being collected" in html
    assert 'value="Ski week"' in html and f'value="{outside.isoformat()}"' in html
    assert not ShiftRequest.objects.exists()


def test_on_without_a_shift_is_a_form_error(resident, period):
    response = client_for(resident.user).post(
        ADD, {"date": period.start_date, "kind": "on", "priority": 2, "note": "typed"}
    )
    assert response.status_code == 400
    assert "Pick the shift" in response.content.decode()
    assert 'value="typed"' in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"date": "not a date", "kind": "off", "priority": 2},
        {"date": "99999-01-01", "kind": "off", "priority": 2},
        {"date": "2041-01-01", "kind": "sideways", "priority": 2},
        {"date": "2041-01-01", "kind": "off", "priority": 9},
        {"date": "2041-01-01", "kind": "off", "priority": 2, "shift_type": "99999999999999999999"},
        {"date": "2041-01-01", "kind": "off", "priority": 2, "note": "x" * 301},
        {},
    ],
)
def test_bad_input_is_a_400_never_a_500(resident, period, data):
    response = client_for(resident.user).post(ADD, data)
    assert response.status_code == 400
    assert not ShiftRequest.objects.exists()


def test_a_stale_form_after_the_deadline_gets_a_clear_409_and_keeps_the_input(resident, period):
    client = client_for(resident.user)
    assert client.get(PAGE).status_code == 200  # the form, while open
    _close(period)
    response = client.post(
        ADD, {"date": period.start_date, "kind": "off", "priority": 1, "note": "Wedding"}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "has passed" in html and "Ask the coordinator" in html
    assert 'value="Wedding"' in html
    assert "Closed" in html
    assert not ShiftRequest.objects.exists()


def test_withdrawing_after_the_deadline_is_refused_with_409(resident, period):
    request = ask(resident, period.start_date)
    _close(period)
    client = client_for(resident.user)
    html = client.get(PAGE).content.decode()
    assert "Withdraw" not in html and "Day off" in html
    response = client.post(f"/shifts/requests/{request.pk}/delete/")
    assert response.status_code == 409
    assert "has passed" in response.content.decode()
    assert ShiftRequest.objects.filter(pk=request.pk).exists()


def test_nobody_withdraws_someone_elses_request(resident, period):
    theirs = ask(PersonFactory(), period.start_date)
    response = client_for(resident.user).post(f"/shifts/requests/{theirs.pk}/delete/")
    assert response.status_code == 404
    assert ShiftRequest.objects.filter(pk=theirs.pk).exists()


def test_without_periods_the_page_says_so(faculty):
    html = client_for(faculty.user).get(PAGE).content.decode()
    assert "No requests are being collected now" in html
    assert "Add a request" not in html


def test_coordinators_are_sent_to_the_admin_and_others_without_a_person_get_404(coordinator):
    response = client_for(coordinator).get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/admin/shifts/shiftrequest/"
    from tests.factories import UserFactory

    assert client_for(UserFactory()).get(PAGE).status_code == 404
    assert client_for(UserFactory()).post(ADD, {}).status_code == 404


def test_my_shifts_links_to_the_requests_page(resident):
    assert (
        'href="/shifts/requests/"'
        in client_for(resident.user).get("/shifts/mine/").content.decode()
    )


# -- the API ------------------------------------------------------------------------------------


def _post(client, body):
    return client.post(API, json.dumps(body), content_type="application/json")


def test_api_lists_adds_and_deletes_own_requests(faculty, period):
    backup = ShiftTypeFactory(name="Backup", staffed_by="faculty")
    client = client_for(faculty.user)
    response = _post(
        client,
        {"date": period.start_date.isoformat(), "kind": "on", "shift_type": backup.pk,
         "priority": 3, "note": "Happy to"},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["kind"] == "on" and created["shift_type"] == backup.pk
    assert created["weight"] == 1 and created["priority"] == 3
    day_off = _post(client, {"date": (period.start_date + DAY).isoformat(), "kind": "off"})
    assert day_off.status_code == 201 and day_off.json()["shift_type"] is None
    assert day_off.json()["priority"] == 2  # medium unless said
    listing = client.get(API).json()
    [entry] = listing["periods"]
    assert entry["open"] is True and entry["requests_left"] == 8
    assert [r["id"] for r in entry["requests"]] == [created["id"], day_off.json()["id"]]
    assert client.delete(f"{API}/{created['id']}").status_code == 204
    assert client.delete(f"{API}/{created['id']}").status_code == 404


def test_api_refusals(faculty, period):
    client = client_for(faculty.user)
    outside = _post(client, {"date": (period.end_date + DAY).isoformat(), "kind": "off"})
    assert outside.status_code == 422
    assert "not being collected" in outside.json()["errors"]["date"][0]
    no_type = _post(client, {"date": period.start_date.isoformat(), "kind": "off",
                             "shift_type": 10**12})  # fmt: skip
    assert no_type.status_code == 422
    bad = _post(client, {"date": "2041-13-01", "kind": "up", "shift_type": "NF", "priority": True,
                         "note": 5, "extra": 1})  # fmt: skip
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"date", "kind", "shift_type", "priority", "note", "extra"}
    kept = ask(faculty, period.start_date)
    _close(period)
    late = _post(client, {"date": period.start_date.isoformat(), "kind": "off",
                          "shift_type": None, "priority": 1})  # fmt: skip
    assert late.status_code == 409 and "has passed" in late.json()["error"]
    assert client.delete(f"{API}/{kept.pk}").status_code == 409
    assert client.put(API, "{}", content_type="application/json").status_code == 405
    assert client.generic("POST", API, "[1]", content_type="application/json").status_code == 400
    assert ShiftRequest.objects.count() == 1


def test_api_hides_other_peoples_requests(faculty, period):
    theirs = ask(PersonFactory(), period.start_date)
    client = client_for(faculty.user)
    assert client.get(API).json()["periods"][0]["requests"] == []
    assert client.delete(f"{API}/{theirs.pk}").status_code == 404
    assert ShiftRequest.objects.filter(pk=theirs.pk).exists()


# -- the admin ----------------------------------------------------------------------------------


def test_admin_lists_requests_with_filters_and_periods_with_counts(coordinator, period, night):
    ask(PersonFactory(name="Dr Okafor"), period.start_date, "on", night)
    ask(PersonFactory(name="Dr Lindqvist"), period.start_date + DAY)
    later = open_period(days_ahead=60)
    ask(PersonFactory(name="Dr Oduya"), later.start_date)
    client = client_for(coordinator)

    def listed(query=""):
        response = client.get(f"/admin/shifts/shiftrequest/{query}")
        assert response.status_code == 200
        return sorted(r.person.name for r in response.context["cl"].result_list)

    assert listed() == ["Dr Lindqvist", "Dr Oduya", "Dr Okafor"]
    assert "Dr Okafor" in client.get("/admin/shifts/shiftrequest/").content.decode()
    assert listed(f"?period={period.pk}") == ["Dr Lindqvist", "Dr Okafor"]
    assert listed("?period=x") == []
    assert listed("?kind=on") == ["Dr Okafor"]
    assert listed("?priority=2") == ["Dr Lindqvist", "Dr Oduya", "Dr Okafor"]
    periods = client.get("/admin/shifts/shiftrequestperiod/").content.decode()
    assert f"?period={period.pk}" in periods
    assert client.get("/admin/shifts/shiftrequest/add/").status_code == 403
    assert client.get(f"/admin/shifts/shiftrequestperiod/{period.pk}/change/").status_code == 200


def test_admin_refuses_an_overlapping_period(coordinator, period):
    response = client_for(coordinator).post(
        "/admin/shifts/shiftrequestperiod/add/",
        {"start_date": period.end_date, "end_date": period.end_date + 3 * DAY,
         "deadline_0": "2040-01-01", "deadline_1": "12:00", "note": ""},
    )  # fmt: skip
    assert response.status_code == 200
    assert "overlaps another request period" in response.content.decode()
    assert ShiftRequestPeriod.objects.count() == 1


# -- pinned shifts ------------------------------------------------------------------------------


def test_coordinator_pins_a_shift_on_the_edit_form_and_the_api_shows_it(coordinator):
    shift = ShiftFactory()
    client = client_for(coordinator)
    assert (
        "Generation never moves or removes a pinned shift."
        in client.get(f"/shifts/{shift.pk}/edit/").content.decode()
    )
    response = client.post(
        f"/shifts/{shift.pk}/edit/",
        {"version": shift.version, "person": shift.person_id, "date": shift.date,
         "shift_type": shift.shift_type_id, "notes": "", "pinned": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    shift = Shift.objects.get(pk=shift.pk)
    assert shift.pinned and shift.version == 2
    month = f"/shifts/calendar/?month={shift.date:%Y-%m}"
    assert '<span class="pin">pinned</span></div>' in client.get(month).content.decode()
    body = client.get(f"/api/shifts/{shift.pk}").json()
    assert body["pinned"] is True
    unpin = client.patch(f"/api/shifts/{shift.pk}", json.dumps({"pinned": False, "version": 2}),
                         content_type="application/json")  # fmt: skip
    assert unpin.status_code == 200 and unpin.json()["pinned"] is False
    bad = client.patch(f"/api/shifts/{shift.pk}", json.dumps({"pinned": "yes", "version": 3}),
                       content_type="application/json")  # fmt: skip
    assert bad.status_code == 400 and "pinned" in bad.json()["errors"]


def test_owners_may_not_pin_their_own_shift(faculty):
    shift = ShiftFactory(person=faculty)
    response = client_for(faculty.user).patch(
        f"/api/shifts/{shift.pk}", json.dumps({"pinned": True, "version": 1}),
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 403
    assert not Shift.objects.get(pk=shift.pk).pinned


def test_admin_pins_a_new_shift(coordinator):
    person, call = PersonFactory(), ShiftTypeFactory()
    response = client_for(coordinator).post(
        "/admin/shifts/shift/add/",
        {"person": person.pk, "date": "2040-07-02", "shift_type": call.pk, "notes": "",
         "pinned": "on", "override_reason": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Shift.objects.get().pinned
    assert client_for(coordinator).get("/admin/shifts/shift/?pinned__exact=1").status_code == 200
