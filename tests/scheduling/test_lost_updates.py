"""Nothing acknowledged is lost: a swap and a version-checked edit acknowledged while a run is
solving (after it read its snapshot) survive the run, with review and with automatic
publishing, in process and through a real forking rq worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.db import connection

from bench.stack import with_database_name
from residency.services import assignment_update
from scheduling import services
from scheduling.models import GenerationRun
from swaps import services as swap_services
from swaps.models import SwapRequest
from tests.concurrency import Outcome, join_all, run_in_thread, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
Status = GenerationRun.Status
ROOT = Path(__file__).resolve().parents[2]
WAIT = 60
NOTE = "Leave approved late: reachable by phone."


def _act_while_it_solves(tiny, coordinator):
    """What people do while the run solves: Ben and Cal swap their block 2 (Ben's row is one
    the run will change) and a coordinator writes a note on Ann's block 2 (another one), at the
    version she read. Both are acknowledged (committed) before the solve ends."""
    swap = SwapRequest.objects.get(requester=tiny.ben)
    swap_services.swap_request_accept(swap_request_id=swap.pk, person=tiny.cal)
    ann = tiny.row(tiny.ann, 2)
    assignment_update(assignment_id=ann.pk, version=ann.version, by=coordinator, notes=NOTE)


def _pending_swap(tiny) -> SwapRequest:
    return swap_services.swap_request_create(
        requester=tiny.ben,
        kind="one_to_one",
        counterpart=tiny.cal,
        offered_id=tiny.row(tiny.ben, 2).pk,
        wanted_id=tiny.row(tiny.cal, 2).pk,
    )


def _run_holding_the_solve(tiny, coordinator, held_solve, *, auto_publish: bool):
    read, release = held_solve
    _pending_swap(tiny)
    run = services.generation_run_start(
        academic_year_id=tiny.year.pk,
        requested_by=coordinator,
        auto_publish=auto_publish,
        enqueue=False,
    )
    job = Outcome()
    worker = run_in_thread(lambda: services.generation_run_execute(run_id=run.pk), job)
    try:
        assert read.wait(WAIT), "the solve never reached a solution"
        assert GenerationRun.objects.get(pk=run.pk).status == Status.RUNNING
        _act_while_it_solves(tiny, coordinator)
        acknowledged = tiny.rows()
    finally:
        release.set()
        join_all([worker])
    assert job.error is None, job.error
    run.refresh_from_db()
    return run, acknowledged


def _assert_the_swap_and_the_edit_are_there(tiny):
    swap = SwapRequest.objects.get(requester=tiny.ben)
    assert swap.status == SwapRequest.Status.EXECUTED
    assert swap.offered_id is not None and swap.wanted_id is not None  # rows still exist
    assert tiny.row(tiny.ann, 2).notes == NOTE
    # The swap gave Cal Ben's elective in block 2; no run has any reason to change that.
    cal = tiny.row(tiny.cal, 2)
    assert (cal.pk, cal.rotation_id, cal.version) == (
        swap.wanted_id,
        tiny.elective.pk,
        swap.wanted_version_after,
    )


def test_with_review_publishing_the_stale_draft_is_refused_and_a_fresh_run_publishes(
    tiny, coordinator, held_solve
):
    run, acknowledged = _run_holding_the_solve(tiny, coordinator, held_solve, auto_publish=False)
    assert run.status == Status.READY, run.error
    assert (run.rows_changed, run.rows_added, run.rows_removed) == (2, 0, 0)

    with pytest.raises(services.StaleRows) as refused:
        services.generation_run_publish(run_id=run.pk, by=coordinator)
    named = {(row["person"], row["block"]) for row in refused.value.rows}
    assert named == {("Ann", 2), ("Ben", 2)}
    assert "Ann, block 2 (changed since (version 1 -> 2))" in refused.value.message
    assert tiny.rows() == acknowledged  # nothing written
    assert GenerationRun.objects.get(pk=run.pk).status == Status.READY
    _assert_the_swap_and_the_edit_are_there(tiny)

    # Generate again from the current schedule: the new draft publishes.
    services.hooks.on_solution = None
    again = services.generation_run_start(
        academic_year_id=tiny.year.pk, requested_by=coordinator, enqueue=False
    )
    assert GenerationRun.objects.get(pk=run.pk).status == Status.SUPERSEDED
    services.generation_run_execute(run_id=again.pk)
    published = services.generation_run_publish(run_id=again.pk, by=coordinator)
    assert published.status == Status.SUCCEEDED
    _assert_the_swap_and_the_edit_are_there(tiny)
    assert tiny.row(tiny.ann, 2).rotation_id == tiny.leave.pk
    assert tiny.row(tiny.ben, 2).rotation_id == tiny.wards.pk


def test_with_automatic_publishing_the_run_solves_again_and_keeps_both(
    tiny, coordinator, held_solve
):
    run, acknowledged = _run_holding_the_solve(tiny, coordinator, held_solve, auto_publish=True)

    assert run.status == Status.SUCCEEDED, run.error
    assert run.resolves == 1
    assert "Solved again 1 time(s) from the current schedule, because 2 row(s) changed" in (
        run.progress_message
    )
    assert {(row["person"], row["block"]) for row in run.stale_rows} == {("Ann", 2), ("Ben", 2)}
    _assert_the_swap_and_the_edit_are_there(tiny)
    ann, ben = tiny.row(tiny.ann, 2), tiny.row(tiny.ben, 2)
    assert (ann.rotation_id, ann.version) == (tiny.leave.pk, 3)  # edit (2), then the run (3)
    assert (ben.rotation_id, ben.version) == (tiny.wards.pk, 3)  # swap (2), then the run (3)
    # Only those two rows were written (at the versions the second solve read).
    changed = {row[0] for row in set(acknowledged) - set(tiny.rows())}
    assert changed == {ann.pk, ben.pk}


@pytest.fixture
def worker_env():
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "residency.settings",
        "DATABASE_URL": with_database_name(settings.DATABASE_URL, connection.settings_dict["NAME"]),
        "REDIS_URL": settings.RQ_QUEUES["default"]["URL"],
        "LOG_LEVEL": "WARNING",
    }


@pytest.mark.parametrize("auto_publish", [True, False])
def test_through_a_forking_rq_worker(tiny, coordinator, redis_conn, worker_env, tmp_path,
                                     auto_publish):  # fmt: skip
    _pending_swap(tiny)
    run = services.generation_run_start(
        academic_year_id=tiny.year.pk,
        requested_by=coordinator,
        auto_publish=auto_publish,
        enqueue=False,
    )
    # The job holds its solve in the work horse (a forked process) until this test releases it.
    django_rq.get_queue("default").enqueue(
        "tests.scheduling.held_job.generation_run_held_job", run.pk, job_id=run.rq_job_id
    )
    with open(tmp_path / "rqworker.log", "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", "default", "--burst"],
            cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_until(
                lambda: redis_conn.exists(f"rota:test:snapshot-read:{run.pk}"),
                what="the worker's solve to reach a solution",
            )
            assert GenerationRun.objects.get(pk=run.pk).status == Status.RUNNING
            _act_while_it_solves(tiny, coordinator)
        finally:
            redis_conn.rpush(f"rota:test:release:{run.pk}", 1)
            assert worker.wait(WAIT) == 0, (tmp_path / "rqworker.log").read_text()

    run.refresh_from_db()
    _assert_the_swap_and_the_edit_are_there(tiny)
    if auto_publish:
        assert run.status == Status.SUCCEEDED, run.error
        assert run.resolves == 1
        assert tiny.row(tiny.ben, 2).rotation_id == tiny.wards.pk
    else:
        assert run.status == Status.READY, run.error
        with pytest.raises(services.StaleRows):
            services.generation_run_publish(run_id=run.pk, by=coordinator)
        assert tiny.row(tiny.ben, 2).rotation_id == tiny.clinic.pk  # the swap's result
