"""Concurrent shift changes on real PostgreSQL with real threads, each with its own connection.

Each test forces the overlap: the test's own connection holds the lock the services need while
both threads start and queue behind it (``wait_for_lock_waiters``), then lets them go together.
Without the lock in the service, both would check before either wrote.
"""

import datetime

import pytest
from django.db import IntegrityError, transaction

from residency.errors import ConcurrentEdit, Gone, RuleViolation
from residency.locking import lock_people
from shifts import services
from shifts.errors import DutyHourViolation
from shifts.models import Shift, ShiftType
from tests.concurrency import (
    Outcome,
    join_all,
    run_concurrently,
    run_in_thread,
    wait_for_lock_waiters,
)
from tests.factories import CoverageRuleFactory, PersonFactory, ShiftFactory, ShiftTypeFactory
from tests.shifts.test_services import DAY, MONDAY, heavy_month, saturday_type

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _patient_locks(settings):
    # Long enough for both threads to queue behind the test's lock on a busy machine.
    settings.ROTA_LOCK_TIMEOUT_MS = 30_000


def release_together(hold, *funcs):
    """Run ``funcs`` in threads while ``hold()`` keeps a lock in this connection; once every
    thread waits on it, commit (releasing them together) and collect the outcomes."""
    outcomes = [Outcome() for _ in funcs]
    with transaction.atomic():
        hold()
        threads = [run_in_thread(f, o) for f, o in zip(funcs, outcomes, strict=True)]
        wait_for_lock_waiters(len(funcs))
    join_all(threads)
    return outcomes


@pytest.mark.parametrize(("hours", "accepted"), [(12, 1), (4, 2)])
def test_write_skew_on_the_80_hour_rule(hours, accepted):
    """A call on the 7th and a shift on the 14th for one person: 300 h + 12 + 12 = 81 h/week
    together, 78 alone, so exactly one is accepted; with 4-hour shifts (77 h) both are."""
    person = PersonFactory(name="Dr Okafor")
    heavy_month(person)
    first, second = saturday_type("SA", hours), saturday_type("SB", hours)
    outcomes = release_together(
        lambda: lock_people([person.pk]),
        lambda: services.shift_create(person=person, shift_type=first, date=MONDAY + 5 * DAY),
        lambda: services.shift_create(person=person, shift_type=second, date=MONDAY + 12 * DAY),
    )
    made = [o for o in outcomes if o.error is None]
    assert len(made) == accepted
    if accepted == 1:
        (refused,) = [o.error for o in outcomes if o.error is not None]
        assert isinstance(refused, DutyHourViolation)
        assert "81 h/week" in refused.message
    assert Shift.objects.filter(shift_type__code__in=["SA", "SB"]).count() == accepted


def test_two_coordinators_cannot_both_fill_the_last_coverage_slot():
    call = ShiftTypeFactory(name="Ward call")
    CoverageRuleFactory(shift_type=call, min_people=1, max_people=2)
    ShiftFactory(shift_type=call, date=MONDAY)  # one of two places taken
    people = [PersonFactory(), PersonFactory()]
    outcomes = release_together(
        lambda: list(ShiftType.objects.filter(pk=call.pk).select_for_update(no_key=True)),
        *(
            (lambda p=p: services.shift_create(person=p, shift_type=call, date=MONDAY))
            for p in people
        ),
    )
    errors = [o.error for o in outcomes if o.error is not None]
    assert len(errors) == 1
    assert isinstance(errors[0], RuleViolation)
    assert "Ward call on 2 Jul 2040 is full (2 of 2 places taken)" in errors[0].message
    assert Shift.objects.filter(shift_type=call, date=MONDAY).count() == 2


def test_edit_against_delete_exactly_one_wins():
    shift = ShiftFactory()
    outcomes = release_together(
        lambda: list(Shift.objects.filter(pk=shift.pk).select_for_update()),
        lambda: services.shift_update(shift_id=shift.pk, version=1, notes="mine"),
        lambda: services.shift_delete(shift_id=shift.pk, version=1),
    )
    edit, delete = outcomes
    if edit.error is None:  # the edit won: the delete saw a newer version
        assert isinstance(delete.error, ConcurrentEdit)
        assert Shift.objects.get(pk=shift.pk).version == 2
    else:  # the delete won: the edit finds the shift gone
        assert delete.error is None
        assert isinstance(edit.error, (Gone, ConcurrentEdit))
        assert not Shift.objects.filter(pk=shift.pk).exists()


def test_two_overlapping_shifts_for_one_person_at_once_one_is_refused():
    """Both pass the overlap check only if they run side by side; the person lock queues them,
    and the exclusion constraint is the last word anyway."""
    person = PersonFactory()
    night = ShiftTypeFactory(start_time=datetime.time(19), length_hours=12)
    early = ShiftTypeFactory(start_time=datetime.time(5), length_hours=8)
    outcomes = run_concurrently(
        lambda: services.shift_create(person=person, shift_type=night, date=MONDAY),
        lambda: services.shift_create(person=person, shift_type=early, date=MONDAY + DAY),
    )
    assert sorted(o.error is None for o in outcomes) == [False, True]
    assert isinstance(next(o.error for o in outcomes if o.error), RuleViolation)
    assert Shift.objects.filter(person=person).count() == 1


def test_the_exclusion_constraint_refuses_overlap_written_straight_through_the_orm():
    person = PersonFactory()
    ShiftFactory(
        person=person, shift_type=ShiftTypeFactory(start_time=datetime.time(19), length_hours=12)
    )
    with pytest.raises(IntegrityError, match="shifts_of_a_person_do_not_overlap"):
        Shift.objects.create(
            person=person,
            date=datetime.date(2040, 7, 3),
            shift_type=ShiftTypeFactory(start_time=datetime.time(6), length_hours=2),
        )
