"""The coordinators' admin, through the test client: the version-checked Assignment form, the
read-only assignment inlines, autocomplete and bulk delete."""

import pytest
from django.urls import reverse

from residency import services
from residency.models import Assignment, Block, Person
from tests.factories import (
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    UserFactory,
)
from tests.residency import admin_support
from tests.residency.admin_support import assignment_post, management, placed_assignment, url

pytestmark = pytest.mark.django_db

# The coordinator's client: a fixture pytest finds in this module (assigned, not imported, so
# the tests' argument of the same name is no redefinition to ruff).
admin_client = admin_support.admin_client


# --- The version-checked Assignment form ---


def test_change_form_carries_the_version_it_read(admin_client):
    assignment = placed_assignment()
    Assignment.objects.filter(pk=assignment.pk).update(version=7)
    response = admin_client.get(url(Assignment, "change", assignment.pk))
    assert 'name="expected_version" value="7"' in response.content.decode()


def test_change_saves_through_the_service(admin_client, coordinator):
    assignment = placed_assignment(notes="old")
    response = admin_client.post(
        url(Assignment, "change", assignment.pk), assignment_post(assignment, 1, notes="new")
    )
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert (assignment.notes, assignment.version, assignment.updated_by) == ("new", 2, coordinator)


def test_stale_save_is_refused_and_overwrites_nothing(admin_client, coordinator):
    assignment = placed_assignment(notes="as read")
    other = UserFactory(username="pat", first_name="Pat", last_name="Lee", is_staff=True)
    services.assignment_update(assignment_id=assignment.pk, version=1, by=other, notes="theirs")

    response = admin_client.post(
        url(Assignment, "change", assignment.pk),
        assignment_post(assignment, 1, notes="mine", pinned="on"),
    )

    assert response.status_code == 409
    page = response.content.decode()
    assert "Pat Lee saved a newer version of this assignment" in page
    assert "Saved meanwhile: “theirs”" in page  # their value, at the field
    assert "\nmine</textarea>" in page  # what the coordinator typed is kept
    assert 'name="expected_version" value="2"' in page  # the version now shown
    assignment.refresh_from_db()
    assert (assignment.notes, assignment.pinned, assignment.version) == ("theirs", False, 2)
    assert assignment.updated_by == other

    # Having seen their values, saving again is a deliberate overwrite.
    response = admin_client.post(
        url(Assignment, "change", assignment.pk),
        assignment_post(assignment, 2, notes="mine", pinned="on"),
    )
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert (assignment.notes, assignment.pinned, assignment.version) == ("mine", True, 3)
    assert assignment.updated_by == coordinator


def test_after_a_conflict_fields_left_alone_take_the_newer_values(admin_client, coordinator):
    assignment = placed_assignment(notes="as read")
    form = admin_client.get(url(Assignment, "change", assignment.pk)).context["adminform"].form
    values_read = form["values_read"].value()
    other = UserFactory(username="pat", is_staff=True)
    services.assignment_update(assignment_id=assignment.pk, version=1, by=other, notes="theirs")

    # This coordinator only ticks "pinned"; the notes field still holds what they read.
    post = assignment_post(assignment, 1, notes="as read", pinned="on")
    post["values_read"] = values_read
    response = admin_client.post(url(Assignment, "change", assignment.pk), post)

    assert response.status_code == 409
    form = response.context["adminform"].form
    assert "Updated to the newer saved value: “theirs”" in form.errors["notes"][0]
    assert form["notes"].value() == "theirs"  # theirs is shown, and kept by the next save
    assert form["pinned"].value() is True  # what this coordinator changed is kept
    # Saving the page as shown keeps both edits.
    post = assignment_post(assignment, 2, notes=form["notes"].value(), pinned="on")
    post["values_read"] = form["values_read"].value()
    assert admin_client.post(url(Assignment, "change", assignment.pk), post).status_code == 302
    assignment.refresh_from_db()
    assert (assignment.notes, assignment.pinned, assignment.version) == ("theirs", True, 3)


def test_rule_violation_is_a_field_error(admin_client):
    assignment = placed_assignment()
    senior_only = RotationTemplateFactory(name="ICU", allowed_pgy_levels=[2, 3])
    response = admin_client.post(
        url(Assignment, "change", assignment.pk),
        assignment_post(assignment, 1, rotation=senior_only.pk),
    )
    assert response.status_code == 422
    errors = response.context["adminform"].form.errors
    assert "ICU is open to PGY-2, PGY-3" in errors["rotation"][0]
    assignment.refresh_from_db()
    assert (assignment.rotation_id, assignment.version) != (senior_only.pk, 2)
    assert assignment.version == 1


def test_add_creates_through_the_service(admin_client, coordinator):
    block = BlockFactory()
    person = PersonFactory()
    ResidentYearFactory(person=person, academic_year=block.academic_year)
    rotation = RotationTemplateFactory()
    data = {
        "person": person.pk,
        "block": block.pk,
        "rotation": rotation.pk,
        "role": "primary",
        "notes": "",
        "_save": "Save",
    }
    response = admin_client.post(url(Assignment, "add"), data)
    assert response.status_code == 302
    created = Assignment.objects.get()
    assert (created.person, created.version, created.updated_by) == (person, 1, coordinator)


def test_add_form_refuses_a_double_booking(admin_client):
    existing = placed_assignment()
    other_rotation = RotationTemplateFactory()
    data = {
        "person": existing.person_id,
        "block": existing.block_id,
        "rotation": other_rotation.pk,
        "role": "primary",
        "notes": "",
        "_save": "Save",
    }
    response = admin_client.post(url(Assignment, "add"), data)
    assert response.status_code == 200
    assert "This person already has an assignment in this block." in response.content.decode()
    assert Assignment.objects.count() == 1


def test_safe_delete(admin_client):
    assignment = placed_assignment()
    page = admin_client.get(url(Assignment, "delete", assignment.pk)).content.decode()
    assert 'name="expected_version" value="1"' in page
    services.assignment_update(assignment_id=assignment.pk, version=1, notes="changed meanwhile")

    response = admin_client.post(
        url(Assignment, "delete", assignment.pk), {"post": "yes", "expected_version": "1"}
    )
    assert response.status_code == 302
    assert Assignment.objects.filter(pk=assignment.pk).exists()
    followed = admin_client.get(response.url)
    assert "it was not deleted" in followed.content.decode()

    response = admin_client.post(
        url(Assignment, "delete", assignment.pk), {"post": "yes", "expected_version": "2"}
    )
    assert response.status_code == 302
    assert not Assignment.objects.filter(pk=assignment.pk).exists()


# --- Read-only assignment inlines ---


def test_block_and_person_pages_show_assignments_read_only(admin_client):
    assignment = placed_assignment(notes="keep me")
    for page in (
        url(Block, "change", assignment.block_id),
        url(Person, "change", assignment.person_id),
    ):
        html = admin_client.get(page).content.decode()
        assert url(Assignment, "change", assignment.pk) in html  # the "View" link
        assert "assignments-0-notes" not in html  # no editable inline field
        assert "keep me" in html


def test_saving_a_block_leaves_its_assignments_alone(admin_client):
    assignment = placed_assignment(notes="keep me")
    block = assignment.block
    data = {
        "academic_year": block.academic_year_id,
        "number": block.number,
        "start_date": block.start_date.isoformat(),
        "end_date": block.end_date.isoformat(),
        **management("assignments", total=1, initial=1),
        "expected_version": block.version,  # the block's change form is version-checked
        "_save": "Save",
    }
    response = admin_client.post(url(Block, "change", block.pk), data)
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert (assignment.notes, assignment.version) == ("keep me", 1)


# --- Autocomplete and bulk delete ---


@pytest.mark.parametrize(
    ("field", "term"), [("person", "Person"), ("block", "2"), ("rotation", "R")]
)
def test_assignment_autocomplete_fields_answer(admin_client, field, term):
    BlockFactory(number=2)
    placed_assignment()
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "residency", "model_name": "assignment", "field_name": field, "term": term},
    )
    assert response.status_code == 200
    assert response.json()["results"]


def test_bulk_delete_keeps_rows_changed_after_the_confirmation_page(admin_client):
    stays_same, edited_meanwhile = placed_assignment(), placed_assignment()
    changelist = url(Assignment, "changelist")
    selected = {
        "action": "delete_selected",
        "_selected_action": [stays_same.pk, edited_meanwhile.pk],
    }

    page = admin_client.post(changelist, selected)
    assert page.status_code == 200
    body = page.content.decode()
    assert f'name="version_{stays_same.pk}" value="1"' in body
    services.assignment_update(assignment_id=edited_meanwhile.pk, version=1, notes="newer")
    confirm = {**selected, "post": "yes", f"version_{stays_same.pk}": "1"}
    confirm[f"version_{edited_meanwhile.pk}"] = "1"

    response = admin_client.post(changelist, confirm, follow=True)

    assert not Assignment.objects.filter(pk=stays_same.pk).exists()
    assert Assignment.objects.get(pk=edited_meanwhile.pk).notes == "newer"
    shown = [str(m) for m in response.context["messages"]]
    assert "Deleted 1 assignment(s)." in shown
    assert any(m.startswith("Kept 1 assignment(s) changed since you selected them") for m in shown)


def test_bulk_delete_without_versions_deletes_nothing(admin_client):
    assignment = placed_assignment()
    data = {"action": "delete_selected", "_selected_action": [assignment.pk], "post": "yes"}
    admin_client.post(url(Assignment, "changelist"), data)
    assert Assignment.objects.filter(pk=assignment.pk).exists()
