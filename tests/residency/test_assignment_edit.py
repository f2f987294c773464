"""The edit page: who may edit what, the version it carries, and every answer it gives."""

import re

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from residency import services
from residency.models import Assignment
from tests.factories import (
    AbsenceFactory,
    AssignmentFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)
from tests.residency.editing_support import (
    client_for,
    edit_url,
    faculty_assignment,
    resident_assignment,
)

pytestmark = pytest.mark.django_db


def coordinator_post(assignment, **overrides):
    data = {
        "version": assignment.version,
        "person": assignment.person_id,
        "rotation": assignment.rotation_id,
        "role": assignment.role,
        "notes": assignment.notes,
    }
    data.update(overrides)
    return data


def test_owner_sees_a_notes_only_form_with_the_version(faculty):
    assignment = faculty_assignment(faculty, notes="bring pager")
    response = client_for(faculty.user).get(edit_url(assignment))
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.fields) == ["version", "values_read", "notes"]
    assert form.initial == {**form.initial, "version": 1, "notes": "bring pager"}
    assert b'type="hidden" name="version" value="1"' in response.content


def test_coordinator_form_has_person_rotation_and_role(coordinator):
    assignment = resident_assignment()
    response = client_for(coordinator).get(edit_url(assignment))
    assert list(response.context["form"].fields) == [
        "version",
        "values_read",
        "person",
        "rotation",
        "role",
        "notes",
    ]


def test_owner_saves_notes_and_is_redirected_with_a_message(faculty):
    assignment = faculty_assignment(faculty)
    client = client_for(faculty.user)
    response = client.post(edit_url(assignment), {"version": 1, "notes": "covering clinic"})
    assert response.status_code == 302
    assert response["Location"] == f"/schedule/?year={assignment.block.academic_year_id}"
    saved = Assignment.objects.get(pk=assignment.pk)
    assert (saved.notes, saved.version, saved.updated_by) == ("covering clinic", 2, faculty.user)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Saved block {assignment.block.number}: {assignment.rotation.name}."
    ]


def test_owner_cannot_change_the_rotation_even_by_posting_it(faculty):
    assignment = faculty_assignment(faculty)
    other = RotationTemplateFactory(staffed_by="faculty")
    response = client_for(faculty.user).post(
        edit_url(assignment), {"version": 1, "notes": "x", "rotation": other.pk}
    )
    assert response.status_code == 302
    assert Assignment.objects.get(pk=assignment.pk).rotation_id == assignment.rotation_id


@pytest.mark.parametrize("method", ["get", "post"])
def test_someone_elses_assignment_is_404(faculty, method):
    assignment = resident_assignment()
    response = getattr(client_for(faculty.user), method)(
        edit_url(assignment), {"version": 1, "notes": "mine now"} if method == "post" else None
    )
    assert response.status_code == 404
    assert Assignment.objects.get(pk=assignment.pk).notes == ""


def test_resident_edits_own_notes(resident):
    assignment = resident_assignment(person=resident)
    response = client_for(resident.user).post(edit_url(assignment), {"version": 1, "notes": "ok"})
    assert response.status_code == 302
    assert Assignment.objects.get(pk=assignment.pk).notes == "ok"


def test_coordinator_moves_assignment_to_another_rotation(coordinator):
    assignment = resident_assignment()
    target = RotationTemplateFactory(name="Cardiology")
    response = client_for(coordinator).post(
        edit_url(assignment), coordinator_post(assignment, rotation=target.pk, role="backup")
    )
    assert response.status_code == 302
    assert response["Location"] == f"/schedule/block/{assignment.block_id}/"
    saved = Assignment.objects.get(pk=assignment.pk)
    assert (saved.rotation_id, saved.role, saved.version) == (target.pk, "backup", 2)


def test_stale_version_answers_409_with_both_versions_and_a_reapply_form(coordinator, faculty):
    assignment = faculty_assignment(faculty, notes="original")
    # The coordinator saves first, from version 1.
    client_for(coordinator).post(edit_url(assignment), coordinator_post(assignment, notes="theirs"))

    response = client_for(faculty.user).post(edit_url(assignment), {"version": 1, "notes": "mine"})

    assert response.status_code == 409
    assert response.context["comparison"] == [
        {"label": "Notes", "saved": "theirs", "yours": "mine", "differs": True, "untouched": False}
    ]
    reapply = response.context["form"]
    assert reapply.initial["version"] == 2 and reapply.initial["notes"] == "mine"
    body = response.content.decode()
    assert "coordinator" in body  # who changed it
    assert 'name="version" value="2"' in body
    assert "mine</textarea>" in body  # nothing typed is lost
    assert Assignment.objects.get(pk=assignment.pk).notes == "theirs"

    # Re-applying posts the user's input on top of the new version.
    again = client_for(faculty.user).post(edit_url(assignment), {"version": 2, "notes": "mine"})
    assert again.status_code == 302
    saved = Assignment.objects.get(pk=assignment.pk)
    assert (saved.notes, saved.version) == ("mine", 3)


def test_reapply_keeps_only_my_changes_on_top_of_the_new_version(coordinator):
    assignment = resident_assignment()
    form = client_for(coordinator).get(edit_url(assignment)).context["form"]
    rendered = {name: form[name].value() for name in ("version", "values_read", "person", "role")}
    other_rotation = RotationTemplateFactory(name="Clinic B")
    services.assignment_update(assignment_id=assignment.pk, version=1, rotation=other_rotation)

    # This coordinator changed only the notes; the rotation field still holds what they read.
    mine = {**rendered, "rotation": assignment.rotation_id, "notes": "my note"}
    response = client_for(coordinator).post(edit_url(assignment), mine)

    assert response.status_code == 409
    rows = {row["label"]: row for row in response.context["comparison"]}
    assert rows["Rotation"]["untouched"] and rows["Rotation"]["differs"]
    assert not rows["Notes"]["untouched"]
    reapply = response.context["form"]
    assert reapply.initial["rotation"] == other_rotation.pk  # theirs, not reverted
    assert reapply.initial["notes"] == "my note"  # mine, kept
    # Submitting the re-apply form as shown keeps both changes.
    again = {name: reapply[name].value() for name in reapply.fields}
    assert client_for(coordinator).post(edit_url(assignment), again).status_code == 302
    saved = Assignment.objects.get(pk=assignment.pk)
    assert (saved.rotation, saved.notes, saved.version) == (other_rotation, "my note", 3)


def test_deleted_before_the_save_answers_404_and_keeps_the_notes(faculty):
    # 404, not 410: another person's existing assignment answers 404 too (issue 14), so the
    # status tells nobody which ids exist.
    assignment = faculty_assignment(faculty)
    client = client_for(faculty.user)
    assert client.get(edit_url(assignment)).status_code == 200
    Assignment.objects.filter(pk=assignment.pk).delete()
    response = client.post(edit_url(assignment), {"version": 1, "notes": "typed text"})
    assert response.status_code == 404
    assert b"It no longer exists, or it is not yours to edit" in response.content
    assert b"typed text" in response.content


def test_posting_to_a_missing_or_someone_elses_assignment_answers_alike(faculty):
    """Issue 14: a forged id and another person's assignment get the same answer."""
    others = AssignmentFactory()
    client = client_for(faculty.user)
    missing = client.post("/assignments/99999999/edit/", {"version": 1, "notes": "x"})
    theirs = client.post(edit_url(others), {"version": 1, "notes": "x"})
    assert missing.status_code == theirs.status_code == 404

    def page(response) -> bytes:  # the logout form's CSRF token is masked afresh each time
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]*"', b"", response.content)

    assert page(missing) == page(theirs)


def test_get_of_a_missing_assignment_is_404(faculty):
    assert client_for(faculty.user).get("/assignments/999999/edit/").status_code == 404


def test_missing_version_is_400_and_keeps_the_input(faculty):
    assignment = faculty_assignment(faculty)
    response = client_for(faculty.user).post(edit_url(assignment), {"notes": "kept"})
    assert response.status_code == 400
    assert b"kept</textarea>" in response.content
    assert Assignment.objects.get(pk=assignment.pk).version == 1


def _rule_case(name):
    """An assignment and a rotation change that breaks the named rule."""
    assignment = resident_assignment()
    block, person = assignment.block, assignment.person
    if name == "pgy":
        return assignment, {"rotation": RotationTemplateFactory(allowed_pgy_levels=[3]).pk}
    if name == "absent":
        AbsenceFactory(person=person, start_date=block.start_date, end_date=block.end_date)
        return assignment, {"rotation": RotationTemplateFactory().pk}
    if name == "capacity":
        full = RotationTemplateFactory(max_people=1)
        other = PersonFactory()
        ResidentYearFactory(person=other, academic_year=block.academic_year)
        AssignmentFactory(person=other, block=block, rotation=full)
        return assignment, {"rotation": full.pk}
    if name == "double_booking":
        other = PersonFactory()
        ResidentYearFactory(person=other, academic_year=block.academic_year)
        AssignmentFactory(person=other, block=block)
        return assignment, {"person": other.pk}
    raise AssertionError(name)


@pytest.mark.parametrize(
    ("rule", "field", "message"),
    [
        ("pgy", "rotation", "is open to PGY-3"),
        ("absent", "person", "is absent for most of block 1"),
        ("capacity", "rotation", "is full in block 1 (1 of 1 places taken)"),
        ("double_booking", "person", "is already booked in block 1"),
    ],
)
def test_rule_violation_is_422_on_the_field_and_nothing_written(coordinator, rule, field, message):
    assignment, change = _rule_case(rule)
    response = client_for(coordinator).post(
        edit_url(assignment), coordinator_post(assignment, notes="typed", **change)
    )
    assert response.status_code == 422
    errors = response.context["form"].errors[field]
    assert len(errors) == 1 and message in errors[0]
    assert b"typed</textarea>" in response.content
    saved = Assignment.objects.get(pk=assignment.pk)
    assert (saved.version, saved.notes, saved.rotation_id, saved.person_id) == (
        1,
        "",
        assignment.rotation_id,
        assignment.person_id,
    )


def test_post_without_csrf_token_is_403(faculty):
    assignment = faculty_assignment(faculty)
    client = client_for(faculty.user, enforce_csrf_checks=True)
    response = client.post(edit_url(assignment), {"version": 1, "notes": "forged"})
    assert response.status_code == 403
    assert Assignment.objects.get(pk=assignment.pk).notes == ""


def test_post_with_csrf_token_passes(faculty):
    assignment = faculty_assignment(faculty)
    client = client_for(faculty.user, enforce_csrf_checks=True)
    client.get(edit_url(assignment))
    token = client.cookies["csrftoken"].value
    response = client.post(
        edit_url(assignment), {"version": 1, "notes": "real", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


def test_anonymous_is_sent_to_login():
    assignment = AssignmentFactory()
    response = Client().get(edit_url(assignment))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_owner_whose_assignment_was_given_away_meanwhile_sees_no_details(coordinator, faculty):
    assignment = faculty_assignment(faculty)
    someone = PersonFactory(kind="faculty", name="Dr Next")
    client_for(coordinator).post(
        edit_url(assignment), coordinator_post(assignment, person=someone.pk)
    )
    response = client_for(faculty.user).post(edit_url(assignment), {"version": 1, "notes": "mine"})
    assert response.status_code == 404  # it is no longer theirs at all


def test_gone_page_for_a_stale_owner_whose_row_moved_during_the_save(faculty, monkeypatch):
    """The row is reassigned between the view's permission check and the service's write."""
    assignment = faculty_assignment(faculty)
    someone = PersonFactory(kind="faculty")
    real_update = services.assignment_update

    def reassigned_first(**kwargs):
        Assignment.objects.filter(pk=assignment.pk).update(person=someone, version=2)
        return real_update(**kwargs)

    monkeypatch.setattr(services, "assignment_update", reassigned_first)
    response = client_for(faculty.user).post(edit_url(assignment), {"version": 1, "notes": "mine"})
    assert response.status_code == 409
    body = response.content.decode()
    assert "no longer yours" in body and "mine</textarea>" in body
    assert someone.name not in body
