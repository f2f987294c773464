"""One generation per year (Redis lock + fence + DB check), the reaper, and generation's write
phase against swaps (DESIGN concurrency rules 3 and 4)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import transaction
from django.utils import timezone
from rq.job import Job, JobStatus

from residency.errors import ScheduleLocked
from residency.locking import schedule_lock_shared
from residency.models import AcademicYear, Assignment
from scheduling import execute, services
from scheduling import problem as problem_module
from scheduling.models import GenerationRun
from scheduling.solver import SolveResult
from tests.concurrency import Outcome, join_all, run_in_thread, wait_until
from tests.factories import AssignmentFactory, BlockFactory, GenerationRunFactory

Status = GenerationRun.Status


@pytest.mark.django_db(transaction=True)
def test_swap_is_refused_while_generation_writes(program_s, coordinator, run_worker):
    holding = threading.Event()
    release = threading.Event()

    def hold_the_write_phase(run_id):
        holding.set()
        assert release.wait(30)

    services.hooks.in_write_phase = hold_the_write_phase

    def swap_like_writer():
        assert holding.wait(30), "generation never reached its write phase"
        try:
            with transaction.atomic():
                schedule_lock_shared(academic_year_id=program_s.pk, year_label=program_s.label)
        finally:
            release.set()

    swap = Outcome()
    thread = run_in_thread(swap_like_writer, swap)
    run = services.generation_run_start(
        auto_publish=True, academic_year_id=program_s.pk, requested_by=coordinator
    )
    run_worker()
    join_all([thread])

    assert isinstance(swap.error, ScheduleLocked)
    assert "Schedule generation in progress" in swap.error.message
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED, run.error
    with transaction.atomic():  # after the write phase, swaps go through again
        schedule_lock_shared(academic_year_id=program_s.pk)


@pytest.mark.django_db(transaction=True)
def test_job_whose_lock_was_taken_over_cannot_write(
    program_s, coordinator, run_worker, redis_conn, monkeypatch
):
    existing = AssignmentFactory(block=program_s.blocks.get(number=1))
    run = services.generation_run_start(
        auto_publish=True, academic_year_id=program_s.pk, requested_by=coordinator
    )
    real_load = problem_module.problem_load

    def load_then_lose_the_lock(**kwargs):
        # While this job works, its lock expires and a newer run takes it (and the fence).
        redis_conn.set(services.lock_name(program_s.pk), services.lock_token(run.pk + 1000))
        AcademicYear.objects.filter(pk=program_s.pk).update(generation_fence=99)
        return real_load(**kwargs)

    monkeypatch.setattr(execute, "problem_load", load_then_lose_the_lock)
    run_worker()

    run.refresh_from_db()
    assert run.status == Status.FAILED
    # Whichever notices first says so: the guard's renewal ("expired and could not be
    # renewed", when the solve outlasts a renewal period on a busy machine) or the write
    # phase's fence check ("lost the generation lock").
    assert "lost the generation lock" in run.error or "could not be renewed" in run.error
    assert run.fence_token == 1
    assert not Assignment.objects.filter(generation_run_id=run.pk).exists()
    assert Assignment.objects.filter(pk=existing.pk).exists()
    # It did not release the lock the newer run holds.
    assert redis_conn.get(services.lock_name(program_s.pk)) == b"generation-run-%d" % (
        run.pk + 1000
    )


@pytest.mark.django_db
def test_write_with_a_stale_fence_token_is_refused():
    block = BlockFactory()
    year = block.academic_year
    kept = AssignmentFactory(block=block)
    AcademicYear.objects.filter(pk=year.pk).update(generation_fence=2)
    run = GenerationRunFactory(academic_year=year, status=Status.RUNNING, fence_token=1)
    solution = SolveResult(status="OPTIMAL", assignments=[], objective=0, best_bound=0)

    with pytest.raises(services.StaleFence):
        services.schedule_write(run=run, diff=services.Diff(changes=[], kept=1), result=solution)
    assert list(Assignment.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_starts_for_one_year_one_wins_one_gets_409(program_s, coordinator, client):
    from django.test import Client

    from tests.concurrency import run_concurrently

    def start():
        c = Client()
        c.force_login(coordinator)
        return c.post(
            "/api/generation-runs",
            {"academic_year": program_s.pk},
            content_type="application/json",
        )

    outcomes = run_concurrently(start, start)
    assert [o.error for o in outcomes] == [None, None]
    codes = sorted(o.result.status_code for o in outcomes)
    assert codes == [202, 409]
    winner = next(o.result.json() for o in outcomes if o.result.status_code == 202)
    loser = next(o.result.json() for o in outcomes if o.result.status_code == 409)
    assert GenerationRun.objects.count() == 1
    assert loser["running_run"]["id"] == winner["id"]
    assert loser["running_run"]["url"] == f"/generation/runs/{winner['id']}/"


@pytest.mark.django_db
def test_reaper_fails_a_running_run_whose_worker_vanished(program_s, coordinator, redis_conn):
    # A worker SIGKILLed mid-solve: the run says running, and its Redis lock has expired.
    dead = GenerationRunFactory(
        academic_year=program_s, status=Status.RUNNING, started_at=timezone.now(), fence_token=1
    )
    assert services.generation_runs_reap() == [dead.pk]
    dead.refresh_from_db()
    assert dead.status == Status.FAILED and "stopped" in dead.error
    # The year is free again.
    run = services.generation_run_start(
        auto_publish=True, academic_year_id=program_s.pk, requested_by=coordinator
    )
    assert run.status == Status.QUEUED


@pytest.mark.django_db
def test_reaper_leaves_a_run_that_holds_its_lock(program_s, redis_conn):
    alive = GenerationRunFactory(academic_year=program_s, status=Status.RUNNING, rq_job_id="j1")
    _rq_job(redis_conn, alive, JobStatus.STARTED)  # rq: a worker is on it
    redis_conn.set(services.lock_name(program_s.pk), services.lock_token(alive.pk), ex=30)
    assert services.generation_runs_reap() == []
    alive.refresh_from_db()
    assert alive.status == Status.RUNNING


@pytest.mark.django_db
def test_reaper_fails_an_old_queued_run_whose_job_is_gone(program_s, redis_conn, settings):
    settings.ROTA_GENERATION_REAP_GRACE_SECONDS = 60
    fresh = GenerationRunFactory(academic_year=program_s, status=Status.QUEUED)
    assert services.generation_runs_reap() == []  # maybe still being enqueued
    GenerationRun.objects.filter(pk=fresh.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    assert services.generation_runs_reap() == [fresh.pk]


@pytest.mark.django_db(transaction=True)
def test_reap_command_runs_the_reaper(program_s, redis_conn):
    from django.core.management import call_command

    dead = GenerationRunFactory(academic_year=program_s, status=Status.CANCELLING)
    call_command("reap_generation_runs")
    dead.refresh_from_db()
    assert dead.status == Status.FAILED


def _someone_waits_for_schedule_lock(year_id: int) -> bool:
    from django.db import connection

    from residency.locking import SCHEDULE_LOCK_NAMESPACE

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objid = %s",
            [SCHEDULE_LOCK_NAMESPACE, year_id],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_write_phase_waits_for_a_swap_in_flight(program_s, coordinator, run_worker, settings):
    settings.ROTA_LOCK_TIMEOUT_MS = 20_000  # long enough to observe the wait
    in_swap = threading.Event()
    finish_swap = threading.Event()

    def swap_in_flight():
        with transaction.atomic():
            schedule_lock_shared(academic_year_id=program_s.pk)
            in_swap.set()
            assert finish_swap.wait(30)

    def release_when_generation_waits():
        # The database's lock table is the only observable sign that generation waits.
        wait_until(
            lambda: _someone_waits_for_schedule_lock(program_s.pk),
            what="generation to wait for the swap",
        )
        finish_swap.set()

    swap, watcher = Outcome(), Outcome()
    threads = [run_in_thread(swap_in_flight, swap)]
    assert in_swap.wait(30)
    threads.append(run_in_thread(release_when_generation_waits, watcher))
    run = services.generation_run_start(
        auto_publish=True, academic_year_id=program_s.pk, requested_by=coordinator
    )
    run_worker()
    join_all(threads)

    assert swap.error is None and watcher.error is None, (swap.error, watcher.error)
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED, run.error


@pytest.fixture
def slow_program(db):
    """A regeneration that keeps the solver busy for its whole time limit."""
    from scheduling.synthetic import synthetic_previous_schedule_create, synthetic_program_create

    year = synthetic_program_create(size="M", seed=1)
    synthetic_previous_schedule_create(academic_year=year, seed=3)
    return year


@pytest.mark.django_db(transaction=True)
def test_lock_is_renewed_while_the_job_runs(
    slow_program, coordinator, run_worker, redis_conn, settings
):
    settings.ROTA_GENERATION_LOCK_TTL_SECONDS = 1  # would expire during a 3 s solve unless renewed
    seen = {}

    def at_write(run_id):
        seen["holder"] = redis_conn.get(services.lock_name(slow_program.pk))

    services.hooks.in_write_phase = at_write
    run = services.generation_run_start(
        auto_publish=True,
        academic_year_id=slow_program.pk,
        requested_by=coordinator,
        time_limit_seconds=3,
    )
    run_worker()

    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED, run.error
    assert run.wall_seconds >= 2.9
    assert seen["holder"] == services.lock_token(run.pk).encode()


@pytest.mark.django_db(transaction=True)
def test_a_lost_lock_stops_the_solver_and_fails_the_run(
    slow_program, coordinator, run_worker, redis_conn, settings
):
    settings.ROTA_GENERATION_LOCK_TTL_SECONDS = 1  # renewed every third of a second
    # At the first progress the lock vanishes (as if it had expired): the next renewal fails.
    services.hooks.after_progress_write = lambda run_id: redis_conn.delete(
        services.lock_name(slow_program.pk)
    )
    run = services.generation_run_start(
        auto_publish=True,
        academic_year_id=slow_program.pk,
        requested_by=coordinator,
        time_limit_seconds=120,
    )
    run_worker()

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert "lock expired and could not be renewed" in run.error
    assert run.wall_seconds < 30
    assert not Assignment.objects.filter(generation_run_id=run.pk).exists()


def _rq_job(redis_conn, run, status):
    job = Job.create("scheduling.jobs.generation_run_job", args=(run.pk,), id=run.rq_job_id,
                     connection=redis_conn)  # fmt: skip
    job.save()
    job.set_status(status)
    return job


@pytest.mark.django_db
@pytest.mark.parametrize("job_status", [JobStatus.FAILED, JobStatus.STOPPED, None])
def test_reaper_fails_a_running_run_at_once_when_rq_reports_its_job_failed_or_missing(
    program_s, redis_conn, job_status
):
    # A killed work-horse: rq marks the job failed, but the run's lock has not expired yet.
    run = GenerationRunFactory(academic_year=program_s, status=Status.RUNNING, rq_job_id="j2")
    if job_status is not None:
        _rq_job(redis_conn, run, job_status)
    redis_conn.set(services.lock_name(program_s.pk), services.lock_token(run.pk), ex=30)

    assert services.generation_runs_reap() == [run.pk]
    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert f"rq reports its job {job_status.value if job_status else 'missing'})" in run.error


@pytest.mark.django_db
def test_run_page_and_api_show_a_run_whose_rq_job_failed_as_failed(
    program_s, redis_conn, coordinator, client
):
    run = GenerationRunFactory(academic_year=program_s, status=Status.RUNNING, rq_job_id="j2")
    _rq_job(redis_conn, run, JobStatus.FAILED)
    redis_conn.set(services.lock_name(program_s.pk), services.lock_token(run.pk), ex=30)
    client.force_login(coordinator)

    assert client.get(f"/api/generation-runs/{run.pk}").json()["status"] == "failed"
    page = client.get(f"/generation/runs/{run.pk}/")
    assert page.status_code == 200 and "rq reports its job failed" in page.content.decode()


@pytest.mark.django_db
def test_reaper_leaves_an_in_process_run_without_an_rq_job_while_it_holds_its_lock(
    program_s, redis_conn
):
    run = services.generation_run_start(academic_year_id=program_s.pk, enqueue=False)
    GenerationRun.objects.filter(pk=run.pk).update(status=Status.RUNNING)  # as the command does
    redis_conn.set(services.lock_name(program_s.pk), services.lock_token(run.pk), ex=30)
    assert services.generation_runs_reap() == []  # no rq job, by design: the lock tells
    redis_conn.delete(services.lock_name(program_s.pk))  # the process died
    assert services.generation_runs_reap() == [run.pk]
