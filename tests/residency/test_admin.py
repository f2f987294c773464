"""The coordinators' admin, through the test client."""

import csv
import datetime
import io
import itertools

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from residency import services
from residency.models import (
    Absence,
    AcademicYear,
    Assignment,
    Block,
    Person,
    ResidentYear,
    RotationTemplate,
)
from residency.selectors import COORDINATORS_GROUP
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MODELS = [Person, AcademicYear, ResidentYear, Block, RotationTemplate, Assignment, Absence]


def url(model, view, *args):
    return reverse(f"admin:residency_{model._meta.model_name}_{view}", args=args)


def management(prefix, total=0, initial=0):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


@pytest.fixture
def admin_client(client, coordinator):
    client.force_login(coordinator)
    return client


@pytest.fixture
def one_of_each():
    assignment = AssignmentFactory()
    ResidentYearFactory(person=assignment.person, academic_year=assignment.block.academic_year)
    AbsenceFactory(person=assignment.person)
    return {
        Person: assignment.person,
        AcademicYear: assignment.block.academic_year,
        ResidentYear: ResidentYear.objects.get(),
        Block: assignment.block,
        RotationTemplate: assignment.rotation,
        Assignment: assignment,
        Absence: Absence.objects.get(),
    }


def placed_assignment(**kwargs):
    """An assignment that passes every placement rule, for edits through the service."""
    assignment = AssignmentFactory(**kwargs)
    ResidentYearFactory(
        person=assignment.person, academic_year=assignment.block.academic_year, pgy_level=1
    )
    return assignment


def assignment_post(assignment, version, **changes):
    data = {
        "person": assignment.person_id,
        "block": assignment.block_id,
        "rotation": assignment.rotation_id,
        "role": assignment.role,
        "notes": assignment.notes,
        "expected_version": version,
        "_save": "Save",
    }
    if assignment.pinned:
        data["pinned"] = "on"
    data.update(changes)
    return data


# --- Who may see what ---


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_page_renders_for_a_coordinator(admin_client, one_of_each, model):
    assert admin_client.get(url(model, "changelist")).status_code == 200
    assert admin_client.get(url(model, "add")).status_code == 200
    assert admin_client.get(url(model, "change", one_of_each[model].pk)).status_code == 200


def test_admin_index_lists_the_models(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    for model in MODELS:
        assert url(model, "changelist") in response.content.decode()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_faculty_login_is_sent_to_the_admin_login(client, faculty, model):
    client.force_login(faculty.user)
    response = client.get(url(model, "changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_staff_outside_the_group_is_refused(client, model):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url(model, "changelist")).status_code == 403
    assert client.get(url(model, "add")).status_code == 403


def test_coordinators_group_has_every_residency_permission():
    group = Group.objects.get(name=COORDINATORS_GROUP)
    codenames = set(group.permissions.values_list("codename", flat=True))
    for model in MODELS:
        for action in ("add", "change", "delete", "view"):
            assert f"{action}_{model._meta.model_name}" in codenames
    assert "view_user" in codenames
    assert "change_user" not in codenames


# --- No N+1 on the busy changelists ---


def _queries(client, path):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_assignment_changelist_queries_do_not_grow_with_rows(admin_client, coordinator):
    year = AcademicYearFactory()
    blocks = [BlockFactory(academic_year=year) for _ in range(3)]

    def add_rows(n):
        for _ in range(n):
            person = PersonFactory()
            ResidentYearFactory(person=person, academic_year=year)
            for block in blocks:
                AssignmentFactory(person=person, block=block, updated_by=coordinator)

    add_rows(2)
    few = _queries(admin_client, url(Assignment, "changelist"))
    add_rows(8)
    many = _queries(admin_client, url(Assignment, "changelist"))
    assert Assignment.objects.count() == 30
    assert many == few


def test_person_changelist_queries_do_not_grow_with_rows(admin_client):
    year = AcademicYearFactory(start_date=datetime.date.today() - datetime.timedelta(days=10))
    for _ in range(2):
        ResidentYearFactory(person=PersonFactory(with_login=True), academic_year=year)
    few = _queries(admin_client, url(Person, "changelist"))
    for _ in range(15):
        ResidentYearFactory(person=PersonFactory(with_login=True), academic_year=year)
    many = _queries(admin_client, url(Person, "changelist"))
    assert many == few


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


# --- Database constraints reach the coordinator as form errors ---


def test_overlapping_block_is_a_form_error(admin_client):
    block = BlockFactory()
    data = {
        "academic_year": block.academic_year_id,
        "number": 2,
        "start_date": (block.end_date - datetime.timedelta(days=3)).isoformat(),
        "end_date": (block.end_date + datetime.timedelta(days=20)).isoformat(),
        **management("assignments"),
        "_save": "Save",
    }
    response = admin_client.post(url(Block, "add"), data)
    assert response.status_code == 200
    assert "This block overlaps another block of the same year." in response.content.decode()
    assert Block.objects.count() == 1


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2041-01-01", "2041-12-31", "This academic year overlaps another academic year."),
        ("2050-07-01", "2050-06-30", "The end date must be after the start date."),
    ],
)
def test_academic_year_constraints_are_form_errors(admin_client, start, end, message):
    AcademicYearFactory(start_date=datetime.date(2040, 7, 1), end_date=datetime.date(2041, 6, 30))
    data = {
        "label": "new",
        "start_date": start,
        "end_date": end,
        **management("blocks"),
        "_save": "Save",
    }
    response = admin_client.post(url(AcademicYear, "add"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert AcademicYear.objects.count() == 1


def test_block_dates_out_of_order_are_a_form_error(admin_client):
    year = AcademicYearFactory()
    data = {
        "academic_year": year.pk,
        "number": 1,
        "start_date": "2040-08-10",
        "end_date": "2040-08-01",
        **management("assignments"),
        "_save": "Save",
    }
    response = admin_client.post(url(Block, "add"), data)
    assert response.status_code == 200
    assert "The end date must not be before the start date." in response.content.decode()
    assert not Block.objects.exists()


def test_block_outside_its_year_is_a_form_error(admin_client):
    year = AcademicYearFactory(
        start_date=datetime.date(2040, 7, 1), end_date=datetime.date(2041, 6, 30)
    )
    data = {
        "academic_year": year.pk,
        "number": 1,
        "start_date": "2041-06-20",
        "end_date": "2041-07-10",
        **management("assignments"),
        "_save": "Save",
    }
    response = admin_client.post(url(Block, "add"), data)
    assert response.status_code == 200
    assert f"A block of {year} must lie within 2040-07-01 to 2041-06-30." in (
        response.content.decode()
    )
    assert not Block.objects.exists()


def test_rotation_min_above_max_is_a_form_error(admin_client):
    data = {
        "name": "Wards",
        "code": "W",
        "kind": "inpatient",
        "staffed_by": "residents",
        "min_people": "4",
        "max_people": "2",
        "allowed_pgy_levels": ["1", "2"],
        "weekly_hours": "60",
        "active": "on",
        "_save": "Save",
    }
    response = admin_client.post(url(RotationTemplate, "add"), data)
    assert response.status_code == 200
    assert "The minimum number of people must not exceed the maximum." in (
        response.content.decode()
    )
    assert not RotationTemplate.objects.exists()


def test_rotation_pgy_levels_are_checkboxes(admin_client):
    data = {
        "name": "Wards",
        "code": "W",
        "kind": "inpatient",
        "staffed_by": "residents",
        "min_people": "1",
        "max_people": "4",
        "allowed_pgy_levels": ["3", "1"],
        "weekly_hours": "60",
        "active": "on",
        "_save": "Save",
    }
    page = admin_client.get(url(RotationTemplate, "add")).content.decode()
    assert 'type="checkbox" name="allowed_pgy_levels" value="8"' in page
    response = admin_client.post(url(RotationTemplate, "add"), data)
    assert response.status_code == 302
    assert RotationTemplate.objects.get().allowed_pgy_levels == [1, 3]

    data.update(code="W2", allowed_pgy_levels=[])
    response = admin_client.post(url(RotationTemplate, "add"), data)
    assert response.status_code == 200
    assert "Choose at least one PGY level" in response.content.decode()


def test_duplicate_email_is_a_form_error(admin_client):
    PersonFactory(email="taken@example.org")
    data = {
        "name": "Someone",
        "email": "taken@example.org",
        "kind": "resident",
        "active": "on",
        **management("resident_years"),
        **management("assignments"),
        "_save": "Save",
    }
    response = admin_client.post(url(Person, "add"), data)
    assert response.status_code == 200
    assert "Person with this Email already exists." in response.content.decode()
    assert Person.objects.count() == 1


# --- Academic year actions ---


def action(admin_client, name, years, **extra):
    data = {"action": name, "_selected_action": [y.pk for y in years], **extra}
    return admin_client.post(url(AcademicYear, "changelist"), data)


def test_create_blocks_asks_for_the_length_first(admin_client):
    year = AcademicYearFactory()
    response = action(admin_client, "create_blocks", [year])
    assert response.status_code == 200
    assert 'name="length"' in response.content.decode()
    assert not year.blocks.exists()


def test_create_blocks_default_is_13_four_week_blocks(admin_client):
    year = AcademicYearFactory(
        start_date=datetime.date(2030, 7, 1), end_date=datetime.date(2031, 6, 30)
    )
    response = action(admin_client, "create_blocks", [year], apply="1", length="4", unit="weeks")
    assert response.status_code == 302
    blocks = list(year.blocks.order_by("number"))
    assert [b.number for b in blocks] == list(range(1, 14))
    assert blocks[0].start_date == year.start_date
    assert blocks[-1].end_date == datetime.date(2031, 6, 30)
    for before, after in itertools.pairwise(blocks):
        assert after.start_date == before.end_date + datetime.timedelta(days=1)
    messages = [str(m) for m in admin_client.get(response.url).context["messages"]]
    assert messages == ["2030-31: created 13 blocks, 2030-07-01 to 2031-06-30."]


def test_create_blocks_with_a_chosen_length(admin_client):
    year = AcademicYearFactory(
        start_date=datetime.date(2030, 7, 1), end_date=datetime.date(2031, 6, 30)
    )
    action(admin_client, "create_blocks", [year], apply="1", length="14", unit="days")
    blocks = list(year.blocks.order_by("number"))
    assert len(blocks) == 26
    assert all(b.days == 14 for b in blocks[:-1])
    assert blocks[-1].end_date == year.end_date


def test_create_blocks_refuses_a_year_with_blocks(admin_client):
    year = AcademicYearFactory()
    BlockFactory(academic_year=year)
    response = action(admin_client, "create_blocks", [year], apply="1", length="4", unit="weeks")
    assert response.status_code == 302
    messages = [str(m) for m in admin_client.get(response.url).context["messages"]]
    assert messages == [f"{year} already has blocks; delete them first to cut the year again."]
    assert year.blocks.count() == 1


def test_create_blocks_bad_length_shows_the_form_again(admin_client):
    year = AcademicYearFactory()
    response = action(admin_client, "create_blocks", [year], apply="1", length="0", unit="weeks")
    assert response.status_code == 200
    assert "greater than or equal to 1" in response.content.decode()
    assert not year.blocks.exists()


def test_csv_export(admin_client):
    assignment = placed_assignment(notes="=cmd()", pinned=True)
    year = assignment.block.academic_year
    response = action(admin_client, "export_assignments_csv", [year])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f"assignments-{year.label}.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "academic_year",
        "block",
        "block_start",
        "block_end",
        "person",
        "email",
        "kind",
        "pgy",
        "rotation_code",
        "rotation",
        "role",
        "pinned",
        "notes",
        "version",
    ]
    block, person, rotation = assignment.block, assignment.person, assignment.rotation
    assert rows[1:] == [
        [
            year.label,
            str(block.number),
            block.start_date.isoformat(),
            block.end_date.isoformat(),
            person.name,
            person.email,
            "resident",
            "1",
            rotation.code,
            rotation.name,
            "primary",
            "yes",
            "'=cmd()",
            "1",
        ]
    ]


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
