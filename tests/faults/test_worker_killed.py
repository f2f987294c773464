"""The rq worker is SIGKILLed mid-solve (a real ``manage.py rqworker`` process, as when a machine
or the OOM killer takes it): the run must end failed (by the reaper, once the year's lock has
expired, and not before), nothing of it is written, and the next run succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import django_rq
import psutil
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from rq import SimpleWorker

from bench.stack import with_database_name
from residency.models import Assignment, Notification
from scheduling import services
from scheduling.models import GenerationRun
from scheduling.synthetic import synthetic_previous_schedule_create, synthetic_program_create
from tests.concurrency import wait_until

ROOT = Path(__file__).resolve().parents[2]
Status = GenerationRun.Status
LOCK_TTL_SECONDS = 3
WAIT = 60


@pytest.fixture
def worker_env():
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "residency.settings",
        # The test database and the tests' Redis database, as this process sees them.
        "DATABASE_URL": with_database_name(settings.DATABASE_URL, connection.settings_dict["NAME"]),
        "REDIS_URL": settings.RQ_QUEUES["default"]["URL"],
        "ROTA_GENERATION_LOCK_TTL_SECONDS": str(LOCK_TTL_SECONDS),
        "LOG_LEVEL": "WARNING",
    }


def snapshot(year_id: int):
    return sorted(
        Assignment.objects.filter(block__academic_year_id=year_id).values_list(
            "pk", "person_id", "rotation_id", "version", "generation_run_id"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_solve(coordinator, redis_conn, worker_env, settings, tmp_path):
    settings.ROTA_GENERATION_LOCK_TTL_SECONDS = LOCK_TTL_SECONDS
    # M program against a messy current schedule: the solver keeps improving far longer than
    # this test (time limit 120 s), so the kill lands mid-solve.
    year = synthetic_program_create(size="M", seed=1)
    synthetic_previous_schedule_create(academic_year=year, seed=3)
    before = snapshot(year.pk)
    run = services.generation_run_start(
        auto_publish=True,
        academic_year_id=year.pk,
        requested_by=coordinator,
        time_limit_seconds=120,
        workers=1,
    )

    log = open(tmp_path / "rqworker.log", "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker", "default"],
        cwd=ROOT,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_until(
            lambda: GenerationRun.objects.filter(pk=run.pk, progress__gte=5).exists(),
            what="the worker to start solving",
        )
        assert redis_conn.get(services.lock_name(year.pk)) == services.lock_token(run.pk).encode()
        # The worker and its work horse (rq forks one per job, in a session of its own), at
        # once and without any cleanup, as when the machine goes away.
        processes = [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(True)]
        assert len(processes) >= 2, "no work horse: the job is not running"
        for process in processes:
            process.send_signal(signal.SIGKILL)
        worker.wait(WAIT)
        psutil.wait_procs(processes, timeout=WAIT)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(WAIT)
        log.close()

    # Until the dead worker's lock expires the run might still be alive: it is not reaped.
    # (The lock was renewed at most TTL/3 ago, so at least 2 s of it are left here.)
    assert redis_conn.exists(services.lock_name(year.pk))
    assert services.generation_runs_reap() == []
    run.refresh_from_db()
    assert run.status == Status.RUNNING
    wait_until(
        lambda: not redis_conn.exists(services.lock_name(year.pk)),
        timeout=LOCK_TTL_SECONDS + 5,
        what="the lock to expire",
    )
    call_command("reap_generation_runs", stdout=open(os.devnull, "w"))  # noqa: SIM115

    run.refresh_from_db()
    assert run.status == Status.FAILED
    assert run.finished_at is not None
    assert "stopped" in run.error
    assert snapshot(year.pk) == before  # nothing of the killed run was written
    # The coordinators hear that it failed (issue 10), in the reaper's transaction.
    (notice,) = Notification.objects.filter(kind=Notification.Kind.GENERATION_FINISHED)
    assert (notice.user, notice.subject) == (coordinator, f"Generation run #{run.pk} failed")
    assert not Assignment.objects.filter(generation_run_id=run.pk).exists()

    # The next run takes the freed lock and succeeds.
    again = services.generation_run_start(
        auto_publish=True,
        academic_year_id=year.pk,
        requested_by=coordinator,
        time_limit_seconds=10,
        workers=1,
    )
    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    again.refresh_from_db()
    assert again.status == Status.SUCCEEDED, again.error
    assert Assignment.objects.filter(generation_run_id=again.pk).exists()
    assert not redis_conn.exists(services.lock_name(year.pk))
