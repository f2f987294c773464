"""The shift services: every rule an edit is judged by, the duty-hour refusal and override, and
the optimistic version checks."""

import datetime

import pytest

from residency.errors import ConcurrentEdit, Gone, RuleViolation
from shifts import services
from shifts.errors import DutyHourViolation
from shifts.models import DutyHourOverride, Shift, ShiftType
from tests.factories import (
    AbsenceFactory,
    AssignmentFactory,
    BlockFactory,
    CoverageRuleFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    ShiftFactory,
    ShiftTypeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
MONDAY = datetime.date(2040, 7, 2)
DAY = datetime.timedelta(days=1)


def heavy_month(person):
    """Mon-Fri 06:00-21:00 for four weeks from MONDAY: 300 h, 75 h/week averaged."""
    day_type = ShiftTypeFactory(
        code="D15", kind=ShiftType.Kind.DAY_SHIFT, start_time=datetime.time(6), length_hours=15
    )
    for n in range(28):
        if (MONDAY + n * DAY).weekday() < 5:
            ShiftFactory(person=person, shift_type=day_type, date=MONDAY + n * DAY)


def saturday_type(code, hours):
    return ShiftTypeFactory(
        code=code, kind=ShiftType.Kind.DAY_SHIFT, start_time=datetime.time(8), length_hours=hours
    )


def test_create_within_every_rule():
    person = PersonFactory()
    call = ShiftTypeFactory()
    shift = services.shift_create(person=person, shift_type=call, date=MONDAY, notes="hi")
    assert (shift.version, shift.notes) == (1, "hi")


def test_pgy_levels_and_rotation_pool_are_enforced():
    block = BlockFactory()
    person = PersonFactory(name="Dr Lee")
    ResidentYearFactory(person=person, academic_year=block.academic_year, pgy_level=1)
    wards = RotationTemplateFactory(name="Wards")
    clinic = RotationTemplateFactory(name="Clinic")
    AssignmentFactory(person=person, block=block, rotation=clinic)
    senior = ShiftTypeFactory(name="Senior call", allowed_pgy_levels=[2, 3])
    with pytest.raises(
        RuleViolation, match="Senior call is taken by PGY-2, PGY-3; Dr Lee is PGY-1"
    ):
        services.shift_create(person=person, shift_type=senior, date=block.start_date)
    ward_call = ShiftTypeFactory(name="Ward call")
    ward_call.eligible_rotations.set([wards])
    with pytest.raises(RuleViolation, match="people on Wards; Dr Lee is on Clinic in block 1"):
        services.shift_create(person=person, shift_type=ward_call, date=block.start_date)


def test_faculty_types_refuse_residents():
    backup = ShiftTypeFactory(name="Backup", staffed_by=ShiftType.StaffedBy.FACULTY, in_house=False)
    with pytest.raises(RuleViolation, match="taken by faculty"):
        services.shift_create(person=PersonFactory(), shift_type=backup, date=MONDAY)
    services.shift_create(person=PersonFactory(faculty=True), shift_type=backup, date=MONDAY)


def test_approved_absence_refuses():
    person = PersonFactory(name="Dr Away")
    AbsenceFactory(person=person, start_date=MONDAY, end_date=MONDAY + 2 * DAY)
    with pytest.raises(RuleViolation, match="Dr Away is away on 3 Jul 2040"):
        services.shift_create(person=person, shift_type=ShiftTypeFactory(), date=MONDAY + DAY)


def test_overlap_is_refused_with_a_clear_message():
    person = PersonFactory()
    night = ShiftTypeFactory(name="Night", start_time=datetime.time(19), length_hours=12)
    services.shift_create(person=person, shift_type=night, date=MONDAY)
    morning = ShiftTypeFactory(start_time=datetime.time(6), length_hours=6)
    with pytest.raises(RuleViolation, match="already has Night on 2 Jul 2040, which overlaps"):
        services.shift_create(person=person, shift_type=morning, date=MONDAY + DAY)


def test_coverage_maximum_refuses_the_extra_person():
    call = ShiftTypeFactory(name="Ward call")
    CoverageRuleFactory(shift_type=call, min_people=1, max_people=1)
    services.shift_create(person=PersonFactory(), shift_type=call, date=MONDAY)
    with pytest.raises(RuleViolation, match=r"Ward call on 2 Jul 2040 is full \(1 of 1"):
        services.shift_create(person=PersonFactory(), shift_type=call, date=MONDAY)


def test_a_duty_hour_violation_is_refused_with_the_numbers():
    person = PersonFactory(name="Dr Okafor")
    heavy_month(person)
    with pytest.raises(DutyHourViolation) as refused:
        services.shift_create(
            person=person, shift_type=saturday_type("SAT", 24), date=MONDAY + 5 * DAY
        )
    assert [p.rule for p in refused.value.problems] == ["weekly_hours"]
    assert "Dr Okafor: 81 h/week averaged over" in refused.value.message
    assert "limit 80" in refused.value.message
    assert not Shift.objects.filter(shift_type__code="SAT").exists()


def test_a_coordinator_overrides_with_a_written_reason_which_is_recorded(coordinator):
    person = PersonFactory(name="Dr Okafor")
    heavy_month(person)
    saturday = saturday_type("SAT", 24)
    resident_user = UserFactory()
    with pytest.raises(DutyHourViolation):  # not a coordinator: no override
        services.shift_create(
            person=person, shift_type=saturday, date=MONDAY + 5 * DAY, by=resident_user,
            override_reason="please",
        )  # fmt: skip
    with pytest.raises(DutyHourViolation):  # a coordinator without a reason
        services.shift_create(
            person=person, shift_type=saturday, date=MONDAY + 5 * DAY, by=coordinator,
            override_reason="  ",
        )  # fmt: skip
    shift = services.shift_create(
        person=person, shift_type=saturday, date=MONDAY + 5 * DAY, by=coordinator,
        override_reason="Mass casualty weekend",
    )  # fmt: skip
    override = DutyHourOverride.objects.get()
    assert (override.shift, override.reason, override.created_by) == (
        shift,
        "Mass casualty weekend",
        coordinator,
    )
    assert "81 h/week" in override.problems


def test_an_existing_violation_does_not_block_unrelated_edits(coordinator):
    person = PersonFactory()
    heavy_month(person)
    services.shift_create(
        person=person, shift_type=saturday_type("SAT", 24), date=MONDAY + 5 * DAY,
        by=coordinator, override_reason="approved",
    )  # fmt: skip
    # A change far from the broken window is judged on its own.
    services.shift_create(
        person=person, shift_type=saturday_type("LATE", 4), date=MONDAY + 60 * DAY
    )
    # A change that makes the broken window worse is refused again.
    with pytest.raises(DutyHourViolation, match="82"):
        services.shift_create(
            person=person, shift_type=saturday_type("SUN", 4), date=MONDAY + 6 * DAY
        )


def test_update_is_version_checked_and_moves_are_rechecked():
    person = PersonFactory()
    call = ShiftTypeFactory()
    shift = services.shift_create(person=person, shift_type=call, date=MONDAY)
    updated = services.shift_update(shift_id=shift.pk, version=1, notes="swapped")
    assert (updated.version, updated.notes) == (2, "swapped")
    with pytest.raises(ConcurrentEdit) as stale:
        services.shift_update(shift_id=shift.pk, version=1, notes="mine")
    assert stale.value.current.notes == "swapped"
    moved = services.shift_update(shift_id=shift.pk, version=2, date=MONDAY + DAY)
    assert (moved.date, moved.starts_at.date(), moved.version) == (MONDAY + DAY, MONDAY + DAY, 3)
    AbsenceFactory(person=person, start_date=MONDAY + 3 * DAY, end_date=MONDAY + 3 * DAY)
    with pytest.raises(RuleViolation, match="away"):
        services.shift_update(shift_id=shift.pk, version=3, date=MONDAY + 3 * DAY)


def test_delete_is_version_checked():
    shift = services.shift_create(
        person=PersonFactory(), shift_type=ShiftTypeFactory(), date=MONDAY
    )
    services.shift_update(shift_id=shift.pk, version=1, notes="x")
    with pytest.raises(ConcurrentEdit):
        services.shift_delete(shift_id=shift.pk, version=1)
    services.shift_delete(shift_id=shift.pk, version=2)
    with pytest.raises(Gone):
        services.shift_delete(shift_id=shift.pk, version=2)


def test_holidays_are_seeded_from_the_holidays_package_and_kept_when_edited():
    from shifts.models import Holiday

    created = services.holidays_seed(year=2041)
    assert datetime.date(2041, 7, 4) in {h.date for h in created}
    Holiday.objects.filter(date=datetime.date(2041, 7, 4)).update(name="Fourth")
    assert services.holidays_seed(year=2041) == []
    assert Holiday.objects.get(date=datetime.date(2041, 7, 4)).name == "Fourth"
