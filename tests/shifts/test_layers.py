"""The two layers stay consistent: a block change that would leave someone holding shifts they
may not hold (or break a duty-hour rule with the new rotation's hours) is refused, naming the
shifts, on every write path of the block schedule; and the race between a block swap and a
shift assignment has exactly one winner."""

import datetime

import pytest
from django.db import transaction

from residency import services as residency_services
from residency.errors import RuleViolation
from residency.locking import lock_people
from residency.models import Assignment
from shifts import services
from shifts.formatting import fmt_day
from shifts.models import Shift
from swaps import services as swap_services
from swaps.errors import SwapRefused
from swaps.models import SwapRequest
from tests.concurrency import Outcome, join_all, run_in_thread, wait_for_lock_waiters
from tests.factories import (
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    ShiftTypeFactory,
    WorkPatternFactory,
)


def program():
    year = AcademicYearFactory()
    blocks = [BlockFactory(academic_year=year) for _ in range(2)]
    wards = RotationTemplateFactory(name="Wards", code="WARDS")
    clinic = RotationTemplateFactory(name="Clinic", code="CLIN")
    ward_call = ShiftTypeFactory(name="Ward call", code="WCALL")
    ward_call.eligible_rotations.set([wards])
    return year, blocks, wards, clinic, ward_call


def resident(year, name):
    person = PersonFactory(name=name, with_login=True)
    ResidentYearFactory(person=person, academic_year=year, pgy_level=2)
    return person


@pytest.mark.django_db
def test_moving_someone_off_the_rotation_their_shifts_need_is_refused_on_every_path(coordinator):
    year, blocks, wards, clinic, ward_call = program()
    okafor = resident(year, "Dr Okafor")
    on_wards = AssignmentFactory(person=okafor, block=blocks[0], rotation=wards)
    day = blocks[0].start_date + datetime.timedelta(days=3)
    shift = services.shift_create(person=okafor, shift_type=ward_call, date=day)
    expected = f"Dr Okafor holds Ward call on {fmt_day(day)}, taken by people on Wards"

    with pytest.raises(RuleViolation, match=expected):  # an edit
        residency_services.assignment_update(assignment_id=on_wards.pk, version=1, rotation=clinic)
    with pytest.raises(RuleViolation, match=expected):  # a delete
        residency_services.assignment_delete(assignment_id=on_wards.pk, version=1)
    with pytest.raises(RuleViolation, match=expected):  # a bulk move
        residency_services.assignments_bulk_reassign(
            block=blocks[0], from_rotation=wards, to_rotation=clinic
        )
    assert Assignment.objects.get(pk=on_wards.pk).rotation == wards
    # Once the shift is moved away, the block change goes through.
    services.shift_delete(shift_id=shift.pk, version=1)
    residency_services.assignment_update(assignment_id=on_wards.pk, version=1, rotation=clinic)


@pytest.mark.django_db
def test_a_new_rotations_hours_that_break_a_duty_hour_rule_are_refused():
    year, blocks, wards, clinic, _ = program()
    person = resident(year, "Dr Lee")
    for weekday in range(7):  # a brutal rotation: 14 h every day
        WorkPatternFactory(rotation=clinic, weekday=weekday, length_hours=14)
    row = AssignmentFactory(person=person, block=blocks[0], rotation=wards)
    night = ShiftTypeFactory(code="N", start_time=datetime.time(21), length_hours=10)
    services.shift_create(person=person, shift_type=night, date=blocks[0].start_date)
    with pytest.raises(RuleViolation, match="With that rotation's usual hours"):
        residency_services.assignment_update(assignment_id=row.pk, version=1, rotation=clinic)


@pytest.mark.django_db
def test_a_swap_that_would_strand_a_shift_is_refused():
    year, blocks, wards, clinic, ward_call = program()
    okafor, lee = resident(year, "Dr Okafor"), resident(year, "Dr Lee")
    offered = AssignmentFactory(person=okafor, block=blocks[0], rotation=wards)
    wanted = AssignmentFactory(person=lee, block=blocks[0], rotation=clinic)
    services.shift_create(person=okafor, shift_type=ward_call, date=blocks[0].start_date)
    swap = swap_services.swap_request_create(
        requester=okafor, kind=SwapRequest.Kind.ONE_TO_ONE, offered_id=offered.pk,
        counterpart=lee, wanted_id=wanted.pk,
    )  # fmt: skip
    with pytest.raises(SwapRefused, match="Dr Okafor holds Ward call"):
        swap_services.swap_request_accept(swap_request_id=swap.pk, person=lee)
    assert Assignment.objects.get(pk=offered.pk).rotation == wards


@pytest.mark.django_db(transaction=True)
def test_race_between_a_block_swap_and_a_shift_assignment_has_one_winner(settings):
    """Dr Okafor swaps Wards for Lee's Clinic in block 1 while a coordinator gives Okafor ward
    call in block 1. Each is fine alone; together Okafor would hold ward call on Clinic. Both
    queue on Okafor's person row (held here until both wait), then exactly one goes through."""
    settings.ROTA_LOCK_TIMEOUT_MS = 30_000
    year, blocks, wards, clinic, ward_call = program()
    okafor, lee = resident(year, "Dr Okafor"), resident(year, "Dr Lee")
    offered = AssignmentFactory(person=okafor, block=blocks[0], rotation=wards)
    wanted = AssignmentFactory(person=lee, block=blocks[0], rotation=clinic)
    swap = swap_services.swap_request_create(
        requester=okafor, kind=SwapRequest.Kind.ONE_TO_ONE, offered_id=offered.pk,
        counterpart=lee, wanted_id=wanted.pk,
    )  # fmt: skip
    day = blocks[0].start_date + datetime.timedelta(days=5)
    outcomes = [Outcome(), Outcome()]
    with transaction.atomic():
        lock_people([okafor.pk])
        threads = [
            run_in_thread(
                lambda: swap_services.swap_request_accept(swap_request_id=swap.pk, person=lee),
                outcomes[0],
            ),
            run_in_thread(
                lambda: services.shift_create(person=okafor, shift_type=ward_call, date=day),
                outcomes[1],
            ),
        ]
        wait_for_lock_waiters(2)
    join_all(threads)
    swapped, assigned = (o.error is None for o in outcomes)
    assert swapped != assigned, [o.error for o in outcomes]
    okafor_rotation = Assignment.objects.get(pk=offered.pk).rotation
    if swapped:
        assert okafor_rotation == clinic
        assert isinstance(outcomes[1].error, RuleViolation)
        assert "Dr Okafor is on Clinic" in outcomes[1].error.message
        assert not Shift.objects.exists()
    else:
        assert okafor_rotation == wards
        assert isinstance(outcomes[0].error, SwapRefused)
        assert "Dr Okafor holds Ward call" in outcomes[0].error.message
        assert Shift.objects.get().person == okafor


@pytest.mark.django_db
def test_generation_write_is_refused_when_it_would_strand_shifts():
    from scheduling import services as scheduling_services
    from scheduling.models import GenerationRun
    from scheduling.problem import problem_load
    from scheduling.solver import SolveResult
    from tests.factories import GenerationRunFactory

    year, blocks, wards, clinic, ward_call = program()
    okafor = resident(year, "Dr Okafor")
    AssignmentFactory(person=okafor, block=blocks[0], rotation=wards)
    services.shift_create(person=okafor, shift_type=ward_call, date=blocks[0].start_date)
    run = GenerationRunFactory(
        academic_year=year, status=GenerationRun.Status.RUNNING, fence_token=0
    )
    solution = SolveResult(
        status="OPTIMAL",
        assignments=[(okafor.pk, blocks[0].pk, clinic.pk, "primary")],
        objective=0,
        best_bound=0,
    )
    # The publish's diff: Okafor's block 1 moves from Wards to Clinic.
    diff = scheduling_services.schedule_diff(
        run_id=run.pk, problem=problem_load(academic_year=year), result=solution
    )
    with pytest.raises(scheduling_services.ScheduleInvalid) as refused:
        scheduling_services.schedule_write(run=run, diff=diff, result=solution)
    assert any("[shifts] Dr Okafor holds Ward call" in v for v in refused.value.violations)
