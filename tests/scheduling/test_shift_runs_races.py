"""Shift runs racing other actors: a cancel during a long solve stops it within two seconds,
an edit waiting on the publish's person lock lands after it, and an edit during the solve makes
the draft refuse to publish (or an automatic run solve again).

With the stand-in reader (tests/scheduling/shift_standin.py) over the week of
tests/scheduling/shift_ward.py."""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.test import Client

from scheduling import services, shift_runs
from scheduling.models import GenerationRun, ShiftChange
from scheduling.roster import Cover, Fairness, Request, RosterProblem
from scheduling.roster import Person as RosterPerson
from scheduling.roster import ShiftType as RosterType
from shifts import services as shift_services
from shifts.models import Shift
from tests.concurrency import Outcome, join_all, run_in_thread, wait_for_lock_waiters
from tests.factories import PersonFactory
from tests.scheduling import shift_standin
from tests.scheduling.shift_ward import DAY, run_changes, run_draft, run_start

# The reader (scheduling/shift_problem.py) is replaced by tests/scheduling/shift_standin.py.
pytestmark = pytest.mark.usefixtures("standin")
Status = GenerationRun.Status


# -- cancellation --------------------------------------------------------------------------------


def _long_problem(days: int, people: list[str]) -> RosterProblem:
    """Soft cover, requests and fairness: a first roster comes fast, a proof never within the
    test's time (the solve would run its full 120 s)."""
    rng = random.Random(1)
    types = (
        RosterType("NC", 600, points=2),
        RosterType("D", 480, points=1),
        RosterType("E", 480, cannot_follow=frozenset({"D"}), points=1),
    )
    return RosterProblem(
        days=days,
        shift_types=types,
        people=tuple(RosterPerson(pid, max_consecutive_shifts=5, cohort="a") for pid in people),
        cover=tuple(
            Cover(d, t.id, preferred=rng.randint(3, 8), under_weight=100, over_weight=1)
            for d in range(days)
            for t in types
        ),
        requests=tuple(
            Request(
                rng.choice(people),
                rng.randrange(days),
                rng.choice(["NC", "D", "E"]),
                rng.randint(1, 3),
                rng.random() < 0.5,
            )
            for _ in range(len(people) * 10)
        ),
        fairness=(Fairness("points", 5),),
    )


@pytest.mark.django_db(transaction=True)
def test_cancel_during_the_solve_stops_within_two_seconds_writing_nothing(
    ward, coordinator, run_worker, redis_conn
):
    people = [str(PersonFactory().pk) for _ in range(12)]
    shift_standin.override["problem"] = _long_problem(28, people)
    before = ward.rows()
    run = shift_runs.shift_generation_start(
        academic_year_id=ward.year.pk, start=ward.start, end=ward.start + 27 * DAY,
        requested_by=coordinator, time_limit_seconds=120, workers=2, auto_publish=True,
    )  # fmt: skip
    first_progress = threading.Event()
    services.hooks.after_progress_write = lambda run_id: first_progress.set()

    def cancel_on_first_progress():
        assert first_progress.wait(90), "no progress was written"
        client = Client()
        client.force_login(coordinator)
        progress = client.get(f"/api/generation-runs/{run.pk}").json()
        cancel = client.post(f"/api/generation-runs/{run.pk}/cancel")
        return progress, cancel.status_code

    cancelled = Outcome()
    thread = run_in_thread(cancel_on_first_progress, cancelled)
    started = time.monotonic()
    run_worker()
    elapsed = time.monotonic() - started
    join_all([thread])

    assert cancelled.error is None, cancelled.error
    progress, cancel_status = cancelled.result
    assert progress["status"] == "running" and progress["kind"] == "shifts"
    assert progress["progress"] >= 10 and "found" in progress["message"]
    assert cancel_status == 200
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert (run.finished_at - run.cancelled_at).total_seconds() < 2
    assert elapsed < 100
    assert ward.rows() == before and not ShiftChange.objects.exists()
    assert not redis_conn.exists(services.lock_name(ward.year.pk))


# -- shift edits racing the solve and the publish ---------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_edit_waiting_on_the_publish_lands_after_it_and_is_not_lost(
    ward, coordinator, redis_conn
):
    run = run_draft(ward)
    # Ann's last night moves to the day after the period: a move takes Ann's person lock,
    # which the publish holds (it changes Ann's shifts).
    last = ward.shift(ward.ann, ward.end)
    held, release = threading.Event(), threading.Event()

    def hold(run_id: int) -> None:
        held.set()
        assert release.wait(30), "the publish was never released"

    services.hooks.in_publish = hold
    published, moved = Outcome(), Outcome()
    publisher = run_in_thread(
        lambda: services.generation_run_publish(run_id=run.pk, by=coordinator), published
    )
    assert held.wait(30), "the publish never took its locks"
    mover = run_in_thread(
        lambda: shift_services.shift_update(
            shift_id=last.pk, version=1, date=ward.end + DAY, by=coordinator
        ),
        moved,
    )
    wait_for_lock_waiters(1)  # the edit waits behind the publish's lock on Ann
    release.set()
    join_all([publisher, mover])

    assert published.error is None, published.error
    assert moved.error is None, moved.error
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
    last.refresh_from_db()
    assert (last.date, last.version) == (ward.end + DAY, 2)  # the edit landed after
    assert ward.shift(ward.ben, ward.leave_day).version == 1  # and the publish stays
    assert not Shift.objects.filter(person=ward.ann, date=ward.leave_day).exists()


@pytest.mark.django_db(transaction=True)
def test_an_edit_during_the_solve_makes_the_draft_refuse_to_publish(ward, coordinator, redis_conn):
    annes_night = ward.shift(ward.ann, ward.leave_day)
    read, release = threading.Event(), threading.Event()

    def hold(run_id: int) -> None:  # at the solve's first roster: the snapshot was read
        if not read.is_set():
            read.set()
            assert release.wait(60), "the held solve was never released"

    services.hooks.on_solution = hold
    run = run_start(ward, enqueue=False)
    solving = Outcome()
    job = run_in_thread(lambda: services.generation_run_execute(run_id=run.pk), solving)
    assert read.wait(60), "the solve never found a roster"
    shift_services.shift_update(
        shift_id=annes_night.pk, version=1, notes="Cover arranged", by=coordinator
    )
    release.set()
    join_all([job])
    assert solving.error is None, solving.error
    run.refresh_from_db()
    assert run.status == Status.READY, run.error
    before = ward.rows()

    with pytest.raises(services.StaleRows) as refused:
        services.generation_run_publish(run_id=run.pk, by=coordinator)

    assert [row["person"] for row in refused.value.rows] == ["Ann"]
    assert "changed since (version 1 -> 2)" in refused.value.rows[0]["text"]
    assert ward.rows() == before
    assert ward.shift(ward.ann, ward.leave_day).notes == "Cover arranged"


@pytest.mark.django_db(transaction=True)
def test_automatic_publishing_solves_again_after_an_edit_during_the_solve(
    ward, coordinator, redis_conn
):
    annes_night = ward.shift(ward.ann, ward.leave_day)
    read, release = threading.Event(), threading.Event()

    def hold(run_id: int) -> None:  # only the first solve is held
        if not read.is_set():
            read.set()
            assert release.wait(60), "the held solve was never released"

    services.hooks.on_solution = hold
    run = run_start(ward, enqueue=False, auto_publish=True)
    solving = Outcome()
    job = run_in_thread(lambda: services.generation_run_execute(run_id=run.pk), solving)
    assert read.wait(60), "the solve never found a roster"
    shift_services.shift_update(shift_id=annes_night.pk, version=1, notes="Cover arranged")
    release.set()
    join_all([job])

    assert solving.error is None, solving.error
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED, run.error
    assert run.resolves == 1
    assert "Solved again 1 time(s) from the current shifts" in run.progress_message
    assert "Ann, Night call on" in run.progress_message
    # The second solve read the edited row (version 2) and removed that one, knowingly.
    assert run_changes(run)[1] == ("remove", "Ann", ward.leave_day, "NC", annes_night.pk, 2)
    assert list(
        Shift.objects.filter(date=ward.leave_day).values_list("person__name", flat=True)
    ) == ["Ben"]
