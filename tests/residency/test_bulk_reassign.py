"""Moving everyone on one rotation in a block to another: all or nothing, with the reason."""

import pytest

from residency import services
from residency.errors import RuleViolation
from residency.models import Assignment
from tests.factories import (
    AbsenceFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)
from tests.residency.editing_support import client_for

pytestmark = pytest.mark.django_db


def team(block, rotation, size, pgy=1):
    people = []
    for n in range(size):
        person = PersonFactory(name=f"Resident {block.pk}-{n}")
        ResidentYearFactory(person=person, academic_year=block.academic_year, pgy_level=pgy)
        people.append(AssignmentFactory(person=person, block=block, rotation=rotation))
    return people


def rotations_of(block):
    return dict(Assignment.objects.filter(block=block).values_list("pk", "rotation__code"))


def test_moves_everyone_and_bumps_each_version(coordinator):
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(code="W"), RotationTemplateFactory(code="C")
    moving = team(block, wards, 3)
    bystander = team(BlockFactory(), wards, 1)[0]  # another block: untouched

    moved = services.assignments_bulk_reassign(
        block=block, from_rotation=wards, to_rotation=clinic, by=coordinator
    )

    assert sorted(a.pk for a in moved) == sorted(a.pk for a in moving)
    assert set(rotations_of(block).values()) == {"C"}
    assert set(Assignment.objects.filter(block=block).values_list("version", "updated_by")) == {
        (2, coordinator.pk)
    }
    assert Assignment.objects.get(pk=bystander.pk).rotation_id == wards.pk


def test_one_ineligible_person_means_nobody_moves():
    block = BlockFactory()
    wards = RotationTemplateFactory()
    seniors = RotationTemplateFactory(name="Seniors", allowed_pgy_levels=[1, 2])
    team(block, wards, 2)
    team(block, wards, 1, pgy=3)
    before = rotations_of(block)
    with pytest.raises(RuleViolation, match="Nobody was moved: Seniors is open to PGY-1, PGY-2"):
        services.assignments_bulk_reassign(block=block, from_rotation=wards, to_rotation=seniors)
    assert rotations_of(block) == before
    assert set(Assignment.objects.filter(block=block).values_list("version", flat=True)) == {1}


def test_absent_person_means_nobody_moves():
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(), RotationTemplateFactory()
    people = team(block, wards, 2)
    AbsenceFactory(person=people[1].person, start_date=block.start_date, end_date=block.end_date)
    with pytest.raises(RuleViolation, match="is absent for most of block"):
        services.assignments_bulk_reassign(block=block, from_rotation=wards, to_rotation=clinic)


def test_group_must_fit_the_target_capacity():
    block = BlockFactory()
    wards = RotationTemplateFactory()
    small = RotationTemplateFactory(name="Small", max_people=3)
    team(block, small, 1)
    team(block, wards, 3)
    with pytest.raises(RuleViolation, match="Small has 2 free place"):
        services.assignments_bulk_reassign(block=block, from_rotation=wards, to_rotation=small)
    assert Assignment.objects.filter(block=block, rotation=small).count() == 1


def test_nobody_to_move_and_same_rotation_are_refused():
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(), RotationTemplateFactory()
    with pytest.raises(RuleViolation, match="Nobody is on"):
        services.assignments_bulk_reassign(block=block, from_rotation=wards, to_rotation=clinic)
    with pytest.raises(RuleViolation, match="different rotation"):
        services.assignments_bulk_reassign(block=block, from_rotation=wards, to_rotation=wards)


def test_page_moves_and_redirects_with_a_message(coordinator):
    block = BlockFactory()
    wards, clinic = RotationTemplateFactory(name="Wards"), RotationTemplateFactory(name="Clinic")
    team(block, wards, 2)
    client = client_for(coordinator)
    assert client.get(f"/schedule/block/{block.pk}/reassign/").status_code == 200
    response = client.post(
        f"/schedule/block/{block.pk}/reassign/",
        {"from_rotation": wards.pk, "to_rotation": clinic.pk},
        follow=True,
    )
    assert response.redirect_chain == [(f"/schedule/block/{block.pk}/", 302)]
    assert b"Moved 2 from Wards to Clinic in block 1." in response.content


def test_page_shows_the_rule_with_422(coordinator):
    block = BlockFactory()
    wards = RotationTemplateFactory()
    faculty_only = RotationTemplateFactory(name="Attending", staffed_by="faculty")
    team(block, wards, 1)
    response = client_for(coordinator).post(
        f"/schedule/block/{block.pk}/reassign/",
        {"from_rotation": wards.pk, "to_rotation": faculty_only.pk},
    )
    assert response.status_code == 422
    assert "Attending is staffed by faculty" in response.context["form"].errors["to_rotation"][0]


def test_page_rejects_bad_input_with_400(coordinator):
    block = BlockFactory()
    wards = RotationTemplateFactory()
    team(block, wards, 1)
    response = client_for(coordinator).post(
        f"/schedule/block/{block.pk}/reassign/",
        {"from_rotation": wards.pk, "to_rotation": wards.pk},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["to_rotation"]


def test_page_is_for_coordinators_only(faculty):
    block = BlockFactory()
    client = client_for(faculty.user)
    # 403 with a page saying where to look instead (blocks are no secret: the grid shows them).
    response = client.get(f"/schedule/block/{block.pk}/reassign/")
    assert response.status_code == 403 and b"year grid" in response.content
    assert client.post(f"/schedule/block/{block.pk}/reassign/", {}).status_code == 403
