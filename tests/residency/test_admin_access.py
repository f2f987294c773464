"""The coordinators' admin, through the test client: who may see which page, and changelists
whose number of queries does not grow with their rows."""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

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
    UserFactory,
)
from tests.residency import admin_support
from tests.residency.admin_support import url

pytestmark = pytest.mark.django_db

# The coordinator's client: a fixture pytest finds in this module (assigned, not imported, so
# the tests' argument of the same name is no redefinition to ruff).
admin_client = admin_support.admin_client

MODELS = [Person, AcademicYear, ResidentYear, Block, RotationTemplate, Assignment, Absence]


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
    year = AcademicYearFactory(start_date=timezone.localdate() - datetime.timedelta(days=10))
    for _ in range(2):
        ResidentYearFactory(person=PersonFactory(with_login=True), academic_year=year)
    few = _queries(admin_client, url(Person, "changelist"))
    for _ in range(15):
        ResidentYearFactory(person=PersonFactory(with_login=True), academic_year=year)
    many = _queries(admin_client, url(Person, "changelist"))
    assert many == few
