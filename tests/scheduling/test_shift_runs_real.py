"""Shift runs with the real reader (scheduling/shift_problem.py), end to end: the job reads the
shifts app, solves, checks with the independent validator, drafts, and the publish writes
exactly the draft; pinned shifts never move; an impossible day is explained by name; the demo
program's month is generated and published with no violation the validator did not see before.
"""

from __future__ import annotations

import datetime
import threading
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from residency.demo import demo_program_seed
from scheduling import services, shift_runs
from scheduling.models import GenerationRun, ShiftChange
from shifts import services as shift_services
from shifts.demo import demo_shifts_seed
from shifts.models import Shift
from shifts.validator import shifts_validate
from tests.concurrency import JOIN_TIMEOUT, join_all, wait_for_lock_waiters
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    CoverageRuleFactory,
    PersonFactory,
    ResidentYearFactory,
    ShiftFactory,
    ShiftTypeFactory,
)

Status = GenerationRun.Status
DAY = datetime.timedelta(days=1)


@pytest.fixture
def ward(db):
    """As in shift_ward.py: Ann holds night call every night of a week and gets leave on
    the third; Ben is the only other resident."""
    year = AcademicYearFactory()
    nc = ShiftTypeFactory(code="NC", name="Night call")
    CoverageRuleFactory(shift_type=nc)
    people = []
    for name in ("Ann", "Ben"):
        person = PersonFactory(name=name)
        ResidentYearFactory(person=person, academic_year=year, pgy_level=2)
        people.append(person)
    ann, ben = people
    start = year.start_date + 14 * DAY
    for offset in range(7):
        ShiftFactory(person=ann, shift_type=nc, date=start + offset * DAY)
    leave = start + 2 * DAY
    AbsenceFactory(person=ann, start_date=leave, end_date=leave)
    return SimpleNamespace(year=year, nc=nc, ann=ann, ben=ben, start=start, end=start + 6 * DAY,
                           leave=leave)  # fmt: skip


def _execute(year, start, end, **kwargs) -> GenerationRun:
    run = shift_runs.shift_generation_start(
        academic_year_id=year.pk, start=start, end=end, time_limit_seconds=10, workers=1,
        enqueue=False, **kwargs,
    )  # fmt: skip
    services.generation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


@pytest.mark.django_db(transaction=True)
def test_the_leave_night_goes_to_ben_and_the_publish_writes_exactly_the_draft(ward, redis_conn):
    w = ward
    annes = {s.date: (s.pk, s.version) for s in Shift.objects.filter(person=w.ann)}
    run = _execute(w.year, w.start, w.end)

    assert run.status == Status.READY, run.error
    changes = list(ShiftChange.objects.filter(run=run).select_related("person"))
    # Only Ann loses nights (the leave night among them, with the row and version read) and
    # only Ben gains them (the duty-hour rules and fairness may move more than the leave night).
    assert {(c.kind, c.person.name) for c in changes} == {("remove", "Ann"), ("add", "Ben")}
    removed = {c.date: (c.shift_id, c.version_read) for c in changes if c.kind == "remove"}
    assert removed[w.leave] == annes[w.leave]
    assert all(removed[day] == annes[day] for day in removed)
    added = {c.date for c in changes if c.kind == "add"}
    assert w.leave in added and not added & (set(annes) - set(removed))
    assert run.report  # the reader's per-person report

    services.generation_run_publish(run_id=run.pk)
    nights = dict(Shift.objects.filter(shift_type=w.nc).values_list("date", "person__name"))
    assert nights == {
        w.start + n * DAY: ("Ben" if w.start + n * DAY in added else "Ann") for n in range(7)
    }
    assert shifts_validate(start=w.start, end=w.end) == []


@pytest.mark.django_db(transaction=True)
def test_a_pinned_shift_is_never_in_the_diff_even_starting_afresh(ward, redis_conn):
    w = ward
    pinned = Shift.objects.get(person=w.ann, date=w.start)
    Shift.objects.filter(pk=pinned.pk).update(pinned=True)
    run = _execute(w.year, w.start, w.end, keep="none")

    assert run.status in (Status.READY, Status.SUCCEEDED), run.error
    assert not ShiftChange.objects.filter(run=run, date=w.start).exists()
    if run.status == Status.READY:
        services.generation_run_publish(run_id=run.pk)
    pinned_now = Shift.objects.get(pk=pinned.pk)
    assert (pinned_now.person_id, pinned_now.version) == (w.ann.pk, 1)


@pytest.mark.django_db(transaction=True)
def test_a_night_nobody_can_take_is_explained_by_name_before_solving(ward, redis_conn):
    w = ward
    AbsenceFactory(person=w.ben, start_date=w.leave, end_date=w.leave)
    run = _execute(w.year, w.start, w.end)

    assert run.status == Status.FAILED and run.solver_status == "PRECHECK"
    assert "Nobody eligible for NC" in run.error
    assert "Ann (" in run.error and "Ben (" in run.error
    assert not ShiftChange.objects.filter(run=run).exists()


@pytest.mark.django_db(transaction=True)
def test_the_demo_programs_month_is_generated_and_published(redis_conn):
    today = datetime.date(2041, 11, 12)
    summary = demo_program_seed(today=today)
    demo_shifts_seed(year=summary.year, today=today)
    start, end = datetime.date(2041, 12, 1), datetime.date(2041, 12, 31)
    before = {str(v) for v in shifts_validate(start=start, end=end)}

    run = _execute(summary.year, start, end)
    assert run.status == Status.READY, run.error
    changes = list(ShiftChange.objects.filter(run=run))
    added = {(c.person_id, c.date, c.shift_type_id) for c in changes if c.kind == "add"}
    removed = {c.shift_id for c in changes if c.kind == "remove"}
    assert added

    services.generation_run_publish(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
    now = set(Shift.objects.values_list("person_id", "date", "shift_type_id"))
    assert added <= now
    assert not Shift.objects.filter(pk__in=removed).exists()
    assert {str(v) for v in shifts_validate(start=start, end=end)} <= before


@pytest.mark.django_db(transaction=True)
def test_a_shift_written_while_the_snapshot_is_read_is_in_the_snapshot(ward):
    # The gap the share lock closes: an edit stamped (updated_at) before snapshot_at but
    # committed after the read would be in neither the snapshot nor "changed after it". The
    # writer holds its transaction open after writing; the read must wait for it and see it.
    w = ward
    day = w.start + DAY
    clinic = ShiftTypeFactory(code="CL", name="Clinic")  # night call that day is full
    CoverageRuleFactory(shift_type=clinic)
    run = shift_runs.shift_generation_start(
        academic_year_id=w.year.pk, start=w.start, end=w.end, enqueue=False
    )
    written, release = threading.Event(), threading.Event()
    snapshots = []

    def writer() -> None:
        try:
            with transaction.atomic():
                shift_services.shift_create(
                    person=w.ben, shift_type=clinic, date=day, override_reason="test"
                )
                written.set()
                assert release.wait(JOIN_TIMEOUT)
        finally:
            connection.close()

    def reader() -> None:
        try:
            snapshots.append(shift_runs.shift_snapshot_read(run=run))
        finally:
            connection.close()

    writing = threading.Thread(target=writer)
    writing.start()
    assert written.wait(JOIN_TIMEOUT)
    reading = threading.Thread(target=reader)
    reading.start()
    try:
        wait_for_lock_waiters(1)  # the read waits for the writer's person lock
    finally:
        release.set()
        join_all([writing, reading])

    assert len(snapshots) == 1
    ben_shift = Shift.objects.get(person=w.ben, date=day)
    assert snapshots[0].current[w.ben.pk, day, clinic.pk] == (ben_shift.pk, ben_shift.version)
    run.refresh_from_db()
    assert run.snapshot_at > ben_shift.updated_at


@pytest.mark.django_db(transaction=True)
def test_only_the_chosen_shift_types_are_generated(ward, redis_conn):
    w = ward
    clinic = ShiftTypeFactory(code="CL", name="Clinic", start_time=datetime.time(8))
    CoverageRuleFactory(shift_type=clinic)  # nobody holds one: a full run would add some
    run = _execute(w.year, w.start, w.end, shift_type_ids=[w.nc.pk])

    assert run.status == Status.READY, run.error
    assert run.parameters["shift_type_ids"] == [w.nc.pk]
    changed_types = set(ShiftChange.objects.filter(run=run).values_list("shift_type", flat=True))
    assert changed_types == {w.nc.pk}
