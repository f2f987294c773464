"""The coordinators' admin, through the test client: database constraints answered as form
errors on the program's models, and the academic year actions (cutting blocks, CSV export)."""

import csv
import datetime
import io
import itertools

import pytest

from residency.models import AcademicYear, Block, Person, RotationTemplate
from tests.factories import AcademicYearFactory, BlockFactory, PersonFactory
from tests.residency import admin_support
from tests.residency.admin_support import management, placed_assignment, url

pytestmark = pytest.mark.django_db

# The coordinator's client: a fixture pytest finds in this module (assigned, not imported, so
# the tests' argument of the same name is no redefinition to ruff).
admin_client = admin_support.admin_client


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
