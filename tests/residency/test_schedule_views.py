"""My schedule, anyone's schedule (coordinators), block rosters: content, access, query counts."""

import datetime

import pytest
from django.test import Client

from residency import selectors
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    RotationTemplateFactory,
)
from tests.residency.editing_support import client_for

pytestmark = pytest.mark.django_db


def build_year(person, *, blocks: int, teammates: int):
    """A year of ``blocks`` blocks; ``person`` on a rotation in each with ``teammates`` others,
    and an absence in every block."""
    year = AcademicYearFactory()
    for _ in range(blocks):
        block = BlockFactory(academic_year=year)
        rotation = RotationTemplateFactory()
        AssignmentFactory(person=person, block=block, rotation=rotation, notes=f"n{block.number}")
        for _ in range(teammates):
            AssignmentFactory(block=block, rotation=rotation)
        AbsenceFactory(person=person, start_date=block.start_date, end_date=block.start_date)
    return year


def test_my_schedule_shows_blocks_rotations_teammates_and_absences(faculty):
    year = AcademicYearFactory()
    block1, block2, block3 = (BlockFactory(academic_year=year) for _ in range(3))
    clinic = RotationTemplateFactory(name="Clinic", staffed_by="faculty")
    AssignmentFactory(person=faculty, block=block1, rotation=clinic, notes="room 4")
    AssignmentFactory(
        person=PersonFactory(name="Dr Other", kind="faculty"), block=block1, rotation=clinic
    )
    AssignmentFactory(
        person=PersonFactory(name="Dr Elsewhere", kind="faculty"), block=block2, rotation=clinic
    )
    AbsenceFactory(person=faculty, start_date=block3.start_date, end_date=block3.end_date)

    response = client_for(faculty.user).get(f"/schedule/?year={year.pk}")

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r.block.number for r in rows] == [1, 2, 3]
    assert rows[0].assignment.notes == "room 4"
    assert [t.person.name for t in rows[0].teammates] == ["Dr Other"]
    assert rows[1].assignment is None and rows[1].teammates == []
    assert rows[2].unavailable and len(rows[2].absences) == 1
    body = response.content.decode()
    assert "Clinic" in body and "room 4" in body and "Dr Other" in body
    assert "Dr Elsewhere" not in body
    assert "Away most of this block" in body


def test_current_block_is_highlighted(faculty):
    year = AcademicYearFactory()
    blocks = [BlockFactory(academic_year=year) for _ in range(3)]
    rows = selectors.schedule_for_person(
        person=faculty, academic_year=year, today=blocks[1].start_date + datetime.timedelta(3)
    )
    assert [r.is_current for r in rows] == [False, True, False]


def test_only_upcoming_own_assignments_offer_a_swap(faculty, coordinator, monkeypatch):
    year = AcademicYearFactory()
    past, current, upcoming = (BlockFactory(academic_year=year) for _ in range(3))
    mine = [AssignmentFactory(person=faculty, block=b) for b in (past, current, upcoming)]
    monkeypatch.setattr("django.utils.timezone.localdate", lambda: current.start_date)

    body = client_for(faculty.user).get(f"/schedule/?year={year.pk}").content.decode()

    offers = [f"/swaps/new/?assignment={a.pk}" in body for a in mine]
    assert offers == [False, False, True]
    # A coordinator looking at someone else's schedule is not offered their swaps.
    other = client_for(coordinator).get(f"/schedule/person/{faculty.pk}/?year={year.pk}")
    assert "/swaps/new/" not in other.content.decode()


def test_current_block_row_has_the_current_class(faculty, monkeypatch):
    year = AcademicYearFactory()
    block = BlockFactory(academic_year=year)
    monkeypatch.setattr("django.utils.timezone.localdate", lambda: block.start_date)
    response = client_for(faculty.user).get(f"/schedule/?year={year.pk}")
    assert b'class="current"' in response.content


def test_default_year_is_the_current_one(faculty):
    # Test years lie in the future: the current one is then the next to start.
    sooner = AcademicYearFactory()
    AcademicYearFactory()
    response = client_for(faculty.user).get("/schedule/")
    assert response.context["year"] == sooner


def test_unknown_year_is_404(faculty):
    client = client_for(faculty.user)
    assert client.get("/schedule/?year=999999").status_code == 404
    assert client.get("/schedule/?year=abc").status_code == 404


def test_login_without_person_is_told_so():
    from tests.factories import UserFactory

    response = client_for(UserFactory()).get("/schedule/")
    assert response.status_code == 200
    assert b"not linked" in response.content


def test_anonymous_goes_to_login():
    assert Client().get("/schedule/").status_code == 302


@pytest.mark.parametrize(("blocks", "teammates"), [(2, 1), (13, 6)])
def test_pages_read_a_fixed_number_of_queries(
    faculty, coordinator, django_assert_max_num_queries, blocks, teammates
):
    year = build_year(faculty, blocks=blocks, teammates=teammates)
    own, coord = client_for(faculty.user), client_for(coordinator)
    # session, user, person, year, blocks, own assignments, teammates, absences, year list,
    # the header's unread notification count, the upcoming shifts (the shifts app's source)
    with django_assert_max_num_queries(11):
        response = own.get(f"/schedule/?year={year.pk}")
    assert len(response.context["rows"]) == blocks
    assert all(len(r.teammates) == teammates for r in response.context["rows"])
    roster_url = f"/schedule/block/{year.blocks.last().pk}/"
    # session, user, groups, block, assignments, absences, the header's unread count
    with django_assert_max_num_queries(7):
        response = coord.get(roster_url)
    assert len(response.context["groups"][0].entries) == teammates + 1


def test_query_count_does_not_grow_with_size(faculty, coordinator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = build_year(faculty, blocks=2, teammates=1)
    big = build_year(faculty, blocks=13, teammates=6)
    counts = []
    for client, year in [(client_for(faculty.user), small), (client_for(faculty.user), big)]:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/schedule/?year={year.pk}").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]

    roster_counts = []
    for year in (small, big):
        block = year.blocks.first()
        with CaptureQueriesContext(connection) as queries:
            assert client_for(coordinator).get(f"/schedule/block/{block.pk}/").status_code == 200
        roster_counts.append(len(queries))
    assert roster_counts[0] == roster_counts[1]


def test_coordinator_sees_anyones_schedule(coordinator, resident):
    year = build_year(resident, blocks=2, teammates=0)
    response = client_for(coordinator).get(f"/schedule/person/{resident.pk}/?year={year.pk}")
    assert response.status_code == 200
    assert response.context["person"] == resident


def test_others_schedules_are_404(faculty, resident):
    assert client_for(faculty.user).get(f"/schedule/person/{resident.pk}/").status_code == 404


def test_own_schedule_by_id_is_allowed(faculty):
    assert client_for(faculty.user).get(f"/schedule/person/{faculty.pk}/").status_code == 200


def test_block_roster_for_coordinators_only(coordinator, faculty):
    block = BlockFactory()
    wards = RotationTemplateFactory(name="Wards", min_people=1, max_people=1)
    AssignmentFactory(block=block, rotation=wards, person=PersonFactory(name="Ann"))
    AssignmentFactory(block=block, rotation=wards, person=PersonFactory(name="Bob"))
    AbsenceFactory(person=faculty, start_date=block.start_date, end_date=block.end_date)
    AssignmentFactory(
        block=block,
        person=faculty,
        rotation=RotationTemplateFactory(staffed_by="faculty", name="Consults"),
    )

    response = client_for(coordinator).get(f"/schedule/block/{block.pk}/")

    assert response.status_code == 200
    groups = response.context["groups"]
    assert [g.rotation.name for g in groups] == ["Consults", "Wards"]
    assert [e.assignment.person.name for e in groups[1].entries] == ["Ann", "Bob"]
    assert groups[1].over_capacity
    assert len(groups[0].entries[0].absences) == 1
    assert b"over capacity" in response.content
    refused = client_for(faculty.user).get(f"/schedule/block/{block.pk}/")
    assert refused.status_code == 403 and b"year grid" in refused.content


def test_coordinator_without_person_gets_an_index(coordinator):
    year = AcademicYearFactory()
    block = BlockFactory(academic_year=year)
    person = PersonFactory(name="Zed")
    response = client_for(coordinator).get(f"/schedule/?year={year.pk}")
    assert response.status_code == 200
    body = response.content.decode()
    assert f"/schedule/block/{block.pk}/" in body and f"/schedule/person/{person.pk}/" in body
