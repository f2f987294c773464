"""Cancellation (DESIGN concurrency rule 5): recorded at once, the solver stops at its next
check, nothing is written, the lock is released, the run ends cancelled."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import Client
from django.utils import timezone

from residency.models import AcademicYear, Assignment
from scheduling import services
from scheduling.models import GenerationRun
from scheduling.synthetic import synthetic_previous_schedule_create, synthetic_program_create
from tests.concurrency import Outcome, join_all, run_in_thread
from tests.factories import GenerationRunFactory

Status = GenerationRun.Status


@pytest.mark.django_db(transaction=True)
def test_cancel_at_first_progress_stops_within_two_seconds(coordinator, run_worker, redis_conn):
    # M program regenerated against a messy current schedule: the solver keeps improving for
    # far longer than the test (its time limit is 120 s), so only the cancel can stop it.
    year = synthetic_program_create(size="M", seed=1)
    synthetic_previous_schedule_create(academic_year=year, seed=3)
    before = sorted(Assignment.objects.values_list("pk", "rotation_id", "version"))
    run = services.generation_run_start(
        auto_publish=True,
        academic_year_id=year.pk,
        requested_by=coordinator,
        time_limit_seconds=120,
    )
    first_progress = threading.Event()
    services.hooks.after_progress_write = lambda run_id: first_progress.set()

    def cancel_on_first_progress():
        assert first_progress.wait(60), "no progress was written"
        client = Client()
        client.force_login(coordinator)
        progress = client.get(f"/api/generation-runs/{run.pk}").json()
        cancel = client.post(f"/api/generation-runs/{run.pk}/cancel")
        return progress, cancel.status_code, cancel.json()

    cancelled = Outcome()
    thread = run_in_thread(cancel_on_first_progress, cancelled)
    started = time.monotonic()
    run_worker()  # returns when the job has ended
    elapsed = time.monotonic() - started
    join_all([thread])

    assert cancelled.error is None, cancelled.error
    progress, cancel_status, cancel_body = cancelled.result
    assert progress["status"] == "running"
    assert progress["progress"] >= 10 and "schedule(s) found" in progress["message"]
    assert (cancel_status, cancel_body["status"]) == (200, "cancelling")
    assert cancel_body["detail"].startswith("Cancelling")
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert (run.finished_at - run.cancelled_at).total_seconds() < 2
    assert elapsed < 60
    assert Assignment.objects.filter(generation_run_id=run.pk).count() == 0
    assert sorted(Assignment.objects.values_list("pk", "rotation_id", "version")) == before
    assert not redis_conn.exists(services.lock_name(year.pk))
    again = services.generation_run_start(
        auto_publish=True, academic_year_id=year.pk, requested_by=coordinator
    )
    assert again.status == Status.QUEUED


@pytest.mark.django_db(transaction=True)
def test_cancel_before_pickup_never_starts_solving(program_s, coordinator, run_worker):
    run = services.generation_run_start(
        auto_publish=True, academic_year_id=program_s.pk, requested_by=coordinator
    )
    _, message = services.generation_run_cancel(run_id=run.pk)
    assert message == "Cancelled before it started."
    run_worker()  # picks the job up; the run is no longer queued, so it does nothing

    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert run.started_at is None and run.fence_token is None and run.cancelled_at is not None
    assert AcademicYear.objects.get(pk=program_s.pk).generation_fence == 0
    assert not Assignment.objects.filter(block__academic_year=program_s).exists()


@pytest.mark.django_db
def test_cancel_twice_is_harmless_and_says_so():
    run = GenerationRunFactory(status=Status.RUNNING, started_at=timezone.now())
    first_run, first = services.generation_run_cancel(run_id=run.pk)
    cancelled_at = first_run.cancelled_at
    second_run, second = services.generation_run_cancel(run_id=run.pk)

    assert first.startswith("Cancelling")
    assert second == "Already being cancelled."
    assert second_run.status == Status.CANCELLING
    assert second_run.cancelled_at == cancelled_at


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED])
def test_cancel_of_a_finished_run_changes_nothing(status):
    finished = timezone.now()
    run = GenerationRunFactory(status=status, finished_at=finished)
    after, message = services.generation_run_cancel(run_id=run.pk)

    assert message == f"This run already finished ({status.label.lower()}); nothing to cancel."
    assert (after.status, after.finished_at, after.cancelled_at) == (status, finished, None)
