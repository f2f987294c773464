import pytest

from residency import services
from residency.errors import ConcurrentEdit, Gone, RuleViolation
from residency.models import Assignment
from tests.factories import (
    AssignmentFactory,
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
