import pytest

from residency import services
from residency.errors import ConcurrentEdit, Gone, RuleViolation
from residency.models import Assignment
from tests.factories import (
    AssignmentFactory,
    BlockFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
)

pytestmark = pytest.mark.django_db


def test_update_bumps_version_and_records_editor(coordinator):
    assignment = AssignmentFactory(notes="old")
    updated = services.assignment_update(
        assignment_id=assignment.pk, version=1, by=coordinator, notes="new"
    )
    assert (updated.notes, updated.version, updated.updated_by) == ("new", 2, coordinator)


def test_stale_version_is_refused_and_nothing_written():
    assignment = AssignmentFactory(notes="theirs")
    Assignment.objects.filter(pk=assignment.pk).update(version=2, notes="newer")
    with pytest.raises(ConcurrentEdit) as caught:
        services.assignment_update(assignment_id=assignment.pk, version=1, notes="mine")
    assert caught.value.current.notes == "newer"
    assert Assignment.objects.get(pk=assignment.pk).notes == "newer"


def test_update_of_deleted_assignment_is_gone():
    assignment = AssignmentFactory()
    assignment.delete()
    with pytest.raises(Gone):
        services.assignment_update(assignment_id=assignment.pk, version=1, notes="x")


def test_rotation_change_checks_pgy_rule():
    assignment = AssignmentFactory()
    ResidentYearFactory(
        person=assignment.person, academic_year=assignment.block.academic_year, pgy_level=1
    )
    senior_only = RotationTemplateFactory(name="ICU", allowed_pgy_levels=[2, 3])
    with pytest.raises(RuleViolation, match="ICU is open to PGY-2, PGY-3") as caught:
        services.assignment_update(assignment_id=assignment.pk, version=1, rotation=senior_only)
    assert caught.value.field == "rotation"
    assert Assignment.objects.get(pk=assignment.pk).version == 1


def test_rotation_change_refuses_a_heavy_streak_past_the_limit(settings):
    settings.ROTA_GENERATION_MAX_CONSECUTIVE_HEAVY = 2
    resident = ResidentYearFactory(pgy_level=1)
    year = resident.academic_year
    wards = RotationTemplateFactory(name="Wards", heavy=True)
    clinic = RotationTemplateFactory(name="Clinic")
    blocks = [BlockFactory(academic_year=year) for _ in range(4)]
    for block, rotation in zip(blocks, [wards, wards, clinic, wards], strict=True):
        AssignmentFactory(person=resident.person, block=block, rotation=rotation)
    third = Assignment.objects.get(block=blocks[2])

    with pytest.raises(RuleViolation, match=r"would have 4 heavy blocks in a row \(at most 2"):
        services.assignment_update(assignment_id=third.pk, version=1, rotation=wards)
    assert Assignment.objects.get(pk=third.pk).rotation == clinic

    # Breaking the run elsewhere first makes the same change allowed.
    second = Assignment.objects.get(block=blocks[1])
    services.assignment_update(assignment_id=second.pk, version=1, rotation=clinic)
    services.assignment_update(assignment_id=third.pk, version=1, rotation=wards)
    assert Assignment.objects.get(pk=third.pk).rotation == wards
