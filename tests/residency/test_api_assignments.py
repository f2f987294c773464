"""The assignments JSON API: ETag / If-Match, version field, and every status it answers."""

import json

import pytest
from django.test import Client

from residency.models import Assignment
from tests.factories import AssignmentFactory, BlockFactory, RotationTemplateFactory
from tests.residency.editing_support import (
    api_url,
    client_for,
    faculty_assignment,
    resident_assignment,
)

pytestmark = pytest.mark.django_db


def patch(client, url, body, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.patch(url, data, content_type="application/json", headers=headers)


def test_get_returns_the_assignment_with_an_etag(faculty):
    assignment = faculty_assignment(faculty, notes="hello")
    response = client_for(faculty.user).get(api_url(assignment))
    assert response.status_code == 200
    assert response["ETag"] == '"v1"'
    body = response.json()
    assert body["id"] == assignment.pk and body["version"] == 1 and body["notes"] == "hello"
    assert body["person"] == faculty.pk and body["rotation"] == assignment.rotation_id
    assert body["block_number"] == assignment.block.number
    assert "csrftoken" in response.cookies


def test_patch_with_if_match_updates_and_answers_the_new_etag(faculty):
    assignment = faculty_assignment(faculty)
    response = patch(client_for(faculty.user), api_url(assignment), {"notes": "x"}, if_match='"v1"')
    assert response.status_code == 200
    assert response["ETag"] == '"v2"'
    assert response.json()["notes"] == "x"
    assert Assignment.objects.get(pk=assignment.pk).version == 2


def test_patch_with_version_field(faculty):
    assignment = faculty_assignment(faculty)
    response = patch(client_for(faculty.user), api_url(assignment), {"notes": "y", "version": 1})
    assert response.status_code == 200 and response["ETag"] == '"v2"'


@pytest.mark.parametrize("headers", [{}, {"if_match": "*"}])
def test_patch_without_a_version_is_428(faculty, headers):
    assignment = faculty_assignment(faculty)
    response = patch(client_for(faculty.user), api_url(assignment), {"notes": "blind"}, **headers)
    assert response.status_code == 428
    assert "If-Match" in response.json()["error"]
    assert Assignment.objects.get(pk=assignment.pk).notes == ""


@pytest.mark.parametrize("tag", ['"v1"', 'W/"v2"', '"v2", "v3"', "v2", '"garbage"'])
def test_failed_if_match_is_412_with_the_current_representation(faculty, tag):
    assignment = faculty_assignment(faculty)
    Assignment.objects.filter(pk=assignment.pk).update(version=2, notes="newer")
    response = patch(client_for(faculty.user), api_url(assignment), {"notes": "mine"}, if_match=tag)
    assert response.status_code == 412
    assert response["ETag"] == '"v2"'
    assert response.json()["current"]["notes"] == "newer"
    assert Assignment.objects.get(pk=assignment.pk).notes == "newer"


def test_stale_version_field_is_409_with_the_current_representation(faculty):
    assignment = faculty_assignment(faculty)
    Assignment.objects.filter(pk=assignment.pk).update(version=2, notes="newer")
    response = patch(client_for(faculty.user), api_url(assignment), {"notes": "m", "version": 1})
    assert response.status_code == 409
    assert response.json()["current"]["version"] == 2


def test_if_match_and_version_field_must_agree(faculty):
    assignment = faculty_assignment(faculty)
    response = patch(
        client_for(faculty.user), api_url(assignment), {"notes": "m", "version": 2}, if_match='"v1"'
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        ({"notes": 5, "version": 1}, "notes"),
        ({"notes": "x", "version": "1"}, "version"),
        ({"notes": "x", "version": True}, "version"),
        ({"rotation": "3", "version": 1}, "rotation"),
        ({"pinned": True, "version": 1}, "pinned"),
        ({"version": 1}, None),
    ],
)
def test_malformed_input_is_400(coordinator, body, field):
    assignment = resident_assignment()
    response = patch(client_for(coordinator), api_url(assignment), body)
    assert response.status_code == 400
    if field:
        assert field in response.json()["errors"]
    assert Assignment.objects.get(pk=assignment.pk).version == 1


def test_rule_violation_is_422_with_field_errors(coordinator):
    assignment = resident_assignment()
    senior = RotationTemplateFactory(name="ICU", allowed_pgy_levels=[3])
    response = patch(
        client_for(coordinator), api_url(assignment), {"rotation": senior.pk}, if_match='"v1"'
    )
    assert response.status_code == 422
    assert "ICU is open to PGY-3" in response.json()["errors"]["rotation"][0]
    assert Assignment.objects.get(pk=assignment.pk).rotation_id == assignment.rotation_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rotation": 999999}, "rotation"),
        ({"person": 999999}, "person"),
        ({"role": "boss"}, "role"),
    ],
)
def test_unknown_ids_and_roles_are_422(coordinator, body, field):
    assignment = resident_assignment()
    response = patch(client_for(coordinator), api_url(assignment), body, if_match='"v1"')
    assert response.status_code == 422
    assert field in response.json()["errors"]


def test_coordinator_changes_rotation_and_role(coordinator):
    assignment = resident_assignment()
    target = RotationTemplateFactory()
    response = patch(
        client_for(coordinator),
        api_url(assignment),
        {"rotation": target.pk, "role": "backup"},
        if_match='"v1"',
    )
    assert response.status_code == 200
    assert (response.json()["rotation"], response.json()["role"]) == (target.pk, "backup")


def test_faculty_changing_the_rotation_is_403(faculty):
    assignment = faculty_assignment(faculty)
    other = RotationTemplateFactory(staffed_by="faculty")
    response = patch(
        client_for(faculty.user), api_url(assignment), {"rotation": other.pk}, if_match='"v1"'
    )
    assert response.status_code == 403
    assert "only the notes" in response.json()["error"]
    assert Assignment.objects.get(pk=assignment.pk).rotation_id == assignment.rotation_id


@pytest.mark.parametrize("method", ["get", "patch"])
def test_someone_elses_assignment_is_404(faculty, method):
    assignment = resident_assignment()
    client = client_for(faculty.user)
    if method == "get":
        response = client.get(api_url(assignment))
    else:
        response = patch(client, api_url(assignment), {"notes": "x"}, if_match='"v1"')
    assert response.status_code == 404
    assert Assignment.objects.get(pk=assignment.pk).notes == ""


def test_deleted_assignment_is_404_on_get(faculty):
    assert client_for(faculty.user).get("/api/assignments/999999").status_code == 404


def test_anonymous_is_401():
    assignment = AssignmentFactory()
    assert Client().get(api_url(assignment)).status_code == 401


def test_other_methods_are_405(faculty):
    assignment = faculty_assignment(faculty)
    response = client_for(faculty.user).delete(api_url(assignment))
    assert response.status_code == 405 and response["Allow"] == "GET, PATCH"


def test_patch_without_csrf_token_is_403_json(faculty):
    assignment = faculty_assignment(faculty)
    client = client_for(faculty.user, enforce_csrf_checks=True)
    response = patch(client, api_url(assignment), {"notes": "forged"}, if_match='"v1"')
    assert response.status_code == 403
    assert "X-CSRFToken" in response.json()["error"]
    assert Assignment.objects.get(pk=assignment.pk).notes == ""


def test_patch_with_csrf_header_passes(faculty):
    assignment = faculty_assignment(faculty)
    client = client_for(faculty.user, enforce_csrf_checks=True)
    client.get(api_url(assignment))
    token = client.cookies["csrftoken"].value
    response = patch(
        client, api_url(assignment), {"notes": "ok"}, if_match='"v1"', x_csrftoken=token
    )
    assert response.status_code == 200


def test_list_own_assignments_for_a_year(faculty):
    mine = faculty_assignment(faculty)
    year = mine.block.academic_year_id
    AssignmentFactory(block=BlockFactory(academic_year=mine.block.academic_year))  # not mine
    client = client_for(faculty.user)
    response = client.get(f"/api/assignments?year={year}")
    assert response.status_code == 200
    assert [a["id"] for a in response.json()["results"]] == [mine.pk]
    other = AssignmentFactory().person
    assert client.get(f"/api/assignments?year={year}&person={other.pk}").status_code == 404
    assert client.get("/api/assignments?year=x").status_code == 400


def test_coordinator_lists_anyone(coordinator):
    first = resident_assignment()
    second = AssignmentFactory(block=BlockFactory(academic_year=first.block.academic_year))
    year = first.block.academic_year_id
    client = client_for(coordinator)
    everyone = client.get(f"/api/assignments?year={year}").json()["results"]
    assert {a["id"] for a in everyone} == {first.pk, second.pk}
    one = client.get(f"/api/assignments?year={year}&person={second.person_id}").json()
    assert [a["id"] for a in one["results"]] == [second.pk]


def test_notes_too_long_is_422(faculty):
    assignment = faculty_assignment(faculty)
    response = patch(
        client_for(faculty.user), api_url(assignment), {"notes": "x" * 2001}, if_match='"v1"'
    )
    assert response.status_code == 422
    assert "notes" in response.json()["errors"]


@pytest.mark.parametrize("value", ["²", "١٢", "12a", "99999999999999999999"])
def test_list_query_ids_must_be_plain_integers(faculty, value):
    response = client_for(faculty.user).get("/api/assignments", {"year": value})
    assert response.status_code == 400
    assert response.json()["errors"] == {"year": ["Must be an integer id."]}


@pytest.mark.parametrize("value", ["²", "99999999999999999999"])
def test_pages_answer_404_for_odd_year_ids(faculty, value):
    assert client_for(faculty.user).get("/schedule/", {"year": value}).status_code == 404
    assert client_for(faculty.user).get("/swaps/new/", {"assignment": value}).status_code == 200
