"""Shift requests and request periods are in the history (issue 10's tables, filled by triggers):
who added or withdrew a request and through what, when a coordinator moved a deadline, and a
resident sees their own requests' history on their history page but nobody else's."""

from __future__ import annotations

import json

import pytest

from residency.history import history_for_object
from shifts.models import ShiftRequest
from tests.factories import PersonFactory
from tests.residency.editing_support import client_for
from tests.residency.test_changes_api import read_all
from tests.residency.test_history import change_of
from tests.shifts.test_requests import DAY, ask, open_period

pytestmark = pytest.mark.django_db


@pytest.fixture
def period():
    return open_period()


def test_a_request_added_and_withdrawn_on_the_page_is_in_the_history(resident, period):
    client = client_for(resident.user)
    response = client.post(
        "/shifts/requests/add/",
        {"date": period.start_date, "kind": "off", "priority": 1, "note": "Wedding"},
    )
    assert response.status_code == 302
    saved = ShiftRequest.objects.get()
    assert client.post(f"/shifts/requests/{saved.pk}/delete/").status_code == 302

    withdrawn, added = history_for_object(label="shift request", object_id=saved.pk)
    assert (added.action, withdrawn.action) == ("insert", "delete")
    assert added.source == withdrawn.source == "edit page"
    assert added.context["user"] == withdrawn.context["user"] == resident.user.pk
    assert change_of(added, "note") == ("-", "Wedding")
    assert change_of(added, "priority") == ("-", "High")

    page = client.get(f"/people/{resident.pk}/history/").content.decode()
    assert f"shift request #{saved.pk} created" in page and "Wedding" in page
    assert f"shift request #{saved.pk} deleted" in page
    assert "created at" not in page  # the event's own time says it


def test_a_request_made_through_the_api_is_recorded_as_api(faculty, period):
    response = client_for(faculty.user).post(
        "/api/shift-requests",
        json.dumps({"date": period.start_date.isoformat(), "kind": "off"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    [entry] = history_for_object(label="shift request", object_id=response.json()["id"])
    assert (entry.action, entry.source) == ("insert", "api")
    assert entry.context["user"] == faculty.user.pk


def test_a_resident_does_not_see_someone_elses_requests_in_their_history(resident, period):
    other = PersonFactory(with_login=True)
    ask(other, period.start_date + DAY, note="Conference")
    page = client_for(resident.user).get(f"/people/{resident.pk}/history/").content.decode()
    assert "Conference" not in page
    assert client_for(resident.user).get(f"/people/{other.pk}/history/").status_code == 404


def test_a_deadline_moved_in_the_admin_is_in_the_history(coordinator, period):
    old_deadline = period.deadline
    response = client_for(coordinator).post(
        f"/admin/shifts/shiftrequestperiod/{period.pk}/change/",
        {"start_date": period.start_date, "end_date": period.end_date,
         "deadline_0": "2040-01-01", "deadline_1": "12:00", "note": period.note,
         "expected_version": period.version},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    newest = history_for_object(label="shift request period", object_id=period.pk)[0]
    assert (newest.action, newest.source) == ("update", "admin")
    assert newest.context["user"] == coordinator.pk
    before, after = change_of(newest, "deadline")
    assert before != after and "2040" in after and "2040" not in before
    assert old_deadline.year != 2040
    feed = client_for(coordinator).get("/changes/")
    assert feed.status_code == 200 and "shift request period" in feed.content.decode()


@pytest.mark.django_db(transaction=True)
def test_requests_and_periods_are_in_the_changes_api(coordinator):
    period = open_period()
    request = ask(PersonFactory(), period.start_date, note="Conference")
    changes, _cursor = read_all(client_for(coordinator))
    mine = [c for c in changes if c["model"] == "shift request"]
    assert [(c["object_id"], c["action"]) for c in mine] == [(request.pk, "insert")]
    fields = {f["field"]: f["after"] for f in mine[0]["changes"]}
    assert fields["note"] == "Conference" and "created at" not in fields
    assert [c["object_id"] for c in changes if c["model"] == "shift request period"] == [period.pk]
