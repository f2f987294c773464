"""Fuzzing the shifts app (the daily layer): the shift API and duty-hour reads, the shift forms
and pages, and shift requests."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from hypothesis import example, given
from hypothesis import strategies as st

from shifts import requests as shift_requests
from tests.security.fuzz.support import (
    FUZZ,
    assert_clear_refusal_or_success,
    bodies_or_garbage,
    client_for,
    form_data,
    ids,
    json_objects,
    send_json,
    state,
)

pytestmark = pytest.mark.django_db


# --- the daily layer (shifts) -----------------------------------------------------------------


@FUZZ
@given(body=st.one_of(json_objects(["notes", "person", "shift_type", "date", "override_reason",
                                    "pinned", "version"]), bodies_or_garbage),
       if_match=st.one_of(st.none(), st.text(max_size=20), st.sampled_from(['"v1"', "*"])),
       coordinator=st.booleans())  # fmt: skip
@example(body={"date": "0001-01-01", "version": 1}, if_match=None, coordinator=True)
def test_fuzz_shift_patch(world, body, if_match, coordinator):
    user = world["coordinator"] if coordinator else world["resident"].user
    headers = {} if if_match is None else {"If-Match": if_match}
    before = state()
    response = send_json(client_for(user), "PATCH", f"/api/shifts/{world['shift'].pk}", body,
                         headers=headers)  # fmt: skip
    assert_clear_refusal_or_success(response, before, api=True)


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["from", "to", "x"]),
                             st.one_of(st.text(max_size=12),
                                       st.sampled_from(["0001-01-01", "9999-12-31", "2040-07-01"])),
                             max_size=3),
       person_id=ids, method=st.sampled_from(["GET", "POST", "DELETE"]))  # fmt: skip
def test_fuzz_duty_hours_and_shift_reads(world, query, person_id, method):
    client = client_for(world["coordinator"])
    before = state()
    for url in (f"/api/people/{person_id}/duty-hours", f"/api/people/{world['resident'].pk}"
                "/duty-hours", f"/api/shifts/{person_id}"):  # fmt: skip
        response = client.get(url, query) if method == "GET" else send_json(client, method, url, {})
        assert_clear_refusal_or_success(response, before, api=True)


@FUZZ
@given(data=form_data(["version", "person", "date", "shift_type", "notes", "override_reason"]),
       edit=st.booleans(), query=st.text(max_size=12))  # fmt: skip
def test_fuzz_shift_forms_and_pages(world, data, edit, query):
    client = client_for(world["coordinator"])
    url = f"/shifts/{world['shift'].pk}/edit/" if edit else "/shifts/new/"
    before = state()
    response = client.post(url, data)
    assert_clear_refusal_or_success(response, before, api=False)
    for page in ("/shifts/calendar/", "/shifts/compliance/", "/shifts/mine/",
                 "/shifts/compliance/export.csv", "/shifts/new/"):  # fmt: skip
        response = client.get(page, {"month": query, "from": query, "to": query, "date": query})
        assert response.status_code < 500
    response = client.post(f"/shifts/{world['shift'].pk}/delete/", {"version": query})
    assert response.status_code < 500


REQUEST_FIELDS = ["date", "kind", "shift_type", "priority", "note"]


@pytest.fixture
def request_period(world):
    """An open period for shift requests (issue 16) starting 2 Jul 2040."""
    return shift_requests.shift_request_period_create(
        start_date=datetime.date(2040, 7, 2), end_date=datetime.date(2040, 7, 29),
        deadline=timezone.now() + datetime.timedelta(days=7),
    )  # fmt: skip


@FUZZ
@given(body=st.one_of(json_objects(REQUEST_FIELDS), bodies_or_garbage),
       data=form_data(REQUEST_FIELDS), request_id=ids)  # fmt: skip
@example(body={"date": "2040-07-03", "kind": "off"}, data={"date": "2040-07-04", "kind": "off",
         "priority": "1"}, request_id=1)  # fmt: skip
def test_fuzz_shift_requests(world, request_period, body, data, request_id):
    client = client_for(world["resident"].user)
    before = state()
    response = send_json(client, "POST", "/api/shift-requests", body)
    assert_clear_refusal_or_success(response, before, api=True)
    before = state()
    response = client.post("/shifts/requests/add/", data)
    assert_clear_refusal_or_success(response, before, api=False)
    before = state()
    response = send_json(client, "DELETE", f"/api/shift-requests/{request_id}", {})
    assert_clear_refusal_or_success(response, before, api=True)
    assert client.get("/shifts/requests/").status_code == 200
