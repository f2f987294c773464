"""The lifecycle of schedule generation: start, cancel, execute (the job's body, in
scheduling/execute.py, re-exported here). The diff, drafts, publishing and discard are in
scheduling/publish.py (re-exported here); the job's guard thread is in scheduling/guard.py; the
reaper is in scheduling/reaper.py (re-exported here).

Lifecycle (docs/scheduling.md): queued -> running -> succeeded | failed | cancelling -> cancelled;
queued -> cancelled (cancelled before a worker picked it up); queued/running -> failed (reaper).
Every status change is a conditional UPDATE on the status it expects, so two actors (a cancel
and the worker's claim, the reaper and a finishing job) can never both win.

One generation per academic year at a time, three ways:
1. ``generation_run_start`` locks the year's row and refuses (409) while a run is queued or
   running; a partial unique index is the database's backstop.
2. The job holds a Redis lock on the year for its whole duration (expiry, renewed by a thread).
3. Taking the lock bumps ``AcademicYear.generation_fence``; the write transaction locks the year
   row and writes only if the fence still holds this run's token, so a job whose lock expired
   and was taken by another can never write.
"""

from __future__ import annotations

import datetime
import logging

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from residency.errors import Busy, Conflict, RuleViolation
from residency.locking import lock_rows
from residency.models import AcademicYear

# Used through this module by views, the admin, the rq job, commands and tests (explicit
# re-exports: they moved to scheduling/diff.py, scheduling/execute.py, scheduling/publish.py and
# scheduling/reaper.py; the lock's names live with the reaper, which reads the lock).
from scheduling.diff import Diff as Diff
from scheduling.diff import ScheduleInvalid as ScheduleInvalid
from scheduling.diff import StaleDraft as StaleDraft
from scheduling.diff import StaleRows as StaleRows
from scheduling.diff import schedule_diff as schedule_diff
from scheduling.execute import generation_run_execute as generation_run_execute
from scheduling.execute import run_finish
from scheduling.models import GenerationRun
from scheduling.publish import AUTO_PUBLISH_RESOLVES
from scheduling.publish import StaleFence as StaleFence
from scheduling.publish import generation_run_discard as generation_run_discard
from scheduling.publish import generation_run_publish as generation_run_publish

# The tests' hooks object (the same object as publish.hooks; the guard calls it too).
from scheduling.publish import hooks as hooks
from scheduling.publish import schedule_write as schedule_write
from scheduling.reaper import _redis as _redis

# A test that replaces the reaper here replaces what generation_run_start calls.
from scheduling.reaper import generation_runs_reap as generation_runs_reap
from scheduling.reaper import lock_name as lock_name
from scheduling.reaper import lock_token as lock_token

logger = logging.getLogger(__name__)
Status = GenerationRun.Status

MAX_TIME_LIMIT_SECONDS = 3600
MAX_WORKERS = 16
# CP-SAT's random_seed is a 32-bit signed integer; a larger one fails inside the worker.
MAX_SEED = 2**31 - 1
# Block numbers are small integers (PostgreSQL smallint).
MAX_BLOCK_NUMBER = 32767


class GenerationAlreadyRunning(Conflict):
    def __init__(self, run: GenerationRun) -> None:
        what = "A shifts generation" if run.kind == GenerationRun.Kind.SHIFTS else "A generation"
        super().__init__(
            f"{what} for {run.academic_year} is already {run.status} (run #{run.pk}). "
            "Wait for it to finish or cancel it."
        )
        self.run = run


class QueueUnavailable(Busy):
    """Redis (the job queue) could not be reached: the run was not started (503, try again)."""

    def __init__(self) -> None:
        super().__init__(
            "The job queue is unavailable right now, so the generation was not started. "
            "Try again in a moment."
        )


def rq_job_id(run_id: int) -> str:
    return f"generation-run-{run_id}"


# -- start ---------------------------------------------------------------------------------


def generation_run_start(
    *,
    academic_year_id: int,
    requested_by=None,
    first_block: int | None = None,
    last_block: int | None = None,
    time_limit_seconds: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    max_consecutive_heavy: int | None = None,
    auto_publish: bool = False,
    enqueue: bool = True,
) -> GenerationRun:
    """Queue a generation for the year, or raise ``GenerationAlreadyRunning`` (409).

    By default the run ends with a draft for review (``generation_run_publish``); with
    ``auto_publish`` it publishes its result itself through the same version-checked diff write.
    Starting a run makes the year's older drafts stale. ``enqueue=False`` leaves the run for the
    caller to execute (the management command)."""
    parameters = _parameters(
        first_block=first_block,
        last_block=last_block,
        time_limit_seconds=time_limit_seconds,
        seed=seed,
        workers=workers,
        max_consecutive_heavy=max_consecutive_heavy,
    )
    # Clear runs whose worker died first, so that they do not block this request forever.
    try:
        generation_runs_reap(academic_year_id=academic_year_id)
    except RedisError as error:
        raise Busy("The job queue (Redis) is unavailable; try again shortly.") from error
    return run_create(
        academic_year_id=academic_year_id,
        requested_by=requested_by,
        first_block=first_block,
        last_block=last_block,
        parameters=parameters,
        auto_publish=auto_publish,
        enqueue=enqueue,
    )


def _parameters(
    *, first_block, last_block, time_limit_seconds, seed, workers, max_consecutive_heavy
) -> dict:
    if (first_block is None) != (last_block is None):
        raise RuleViolation("Give both the first and the last block, or neither.", "last_block")
    if first_block is not None and (first_block < 1 or last_block < first_block):
        raise RuleViolation("The block range must run from a first to a later block.", "last_block")
    limit = time_limit_seconds or settings.ROTA_GENERATION_TIME_LIMIT_SECONDS
    if not 1 <= limit <= MAX_TIME_LIMIT_SECONDS:
        raise RuleViolation(
            f"The time limit must be 1 to {MAX_TIME_LIMIT_SECONDS} seconds.", "time_limit_seconds"
        )
    workers = workers or settings.ROTA_GENERATION_WORKERS
    if not 1 <= workers <= MAX_WORKERS:
        raise RuleViolation(f"Workers must be 1 to {MAX_WORKERS}.", "workers")
    heavy = (
        settings.ROTA_GENERATION_MAX_CONSECUTIVE_HEAVY
        if max_consecutive_heavy is None
        else max_consecutive_heavy
    )
    if heavy < 1:
        raise RuleViolation("Allow at least one heavy block in a row.", "max_consecutive_heavy")
    # Everything the worker will use is checked here, at the door (400/422), never in the job.
    if not 0 <= (seed or 0) <= MAX_SEED:
        raise RuleViolation(f"The seed must be 0 to {MAX_SEED}.", "seed")
    if first_block is not None and last_block > MAX_BLOCK_NUMBER:
        raise RuleViolation(f"Block numbers go up to {MAX_BLOCK_NUMBER}.", "last_block")
    return {
        "time_limit_seconds": int(limit),
        "seed": int(seed or 0),
        "workers": int(workers),
        "max_consecutive_heavy": int(heavy),
    }


@transaction.atomic
def run_create(
    *,
    academic_year_id: int,
    requested_by,
    parameters: dict,
    auto_publish: bool,
    enqueue: bool,
    first_block: int | None = None,
    last_block: int | None = None,
    kind: str = GenerationRun.Kind.BLOCKS,
    start_date: datetime.date | None = None,
    end_date: datetime.date | None = None,
) -> GenerationRun:
    """Create and queue a run of either kind (its parameters checked by the caller), or raise
    ``GenerationAlreadyRunning``: one active run per year, whatever its kind."""
    # The year's row lock serialises start requests for one year: without it two requests
    # could both see "no active run" and both queue one.
    years = lock_rows(AcademicYear.objects.filter(pk=academic_year_id))
    if not years:
        raise RuleViolation("No such academic year.", "academic_year")
    year = years[0]
    if first_block is not None and not year.blocks.filter(number=first_block).exists():
        raise RuleViolation(f"{year} has no block {first_block}.", "first_block")
    if last_block is not None and not year.blocks.filter(number=last_block).exists():
        raise RuleViolation(f"{year} has no block {last_block}.", "last_block")
    active = (
        GenerationRun.objects.filter(academic_year=year, status__in=GenerationRun.ACTIVE_STATUSES)
        .select_related("academic_year")
        .first()
    )
    if active is not None:
        raise GenerationAlreadyRunning(active)
    try:
        with transaction.atomic():
            run = GenerationRun.objects.create(
                academic_year=year,
                kind=kind,
                start_date=start_date,
                end_date=end_date,
                first_block=first_block,
                last_block=last_block,
                requested_by=requested_by,
                parameters=parameters,
                auto_publish=auto_publish,
                progress_message="Waiting for a worker.",
            )
    except IntegrityError:  # the partial unique index: someone bypassed the row lock
        raise GenerationAlreadyRunning(
            GenerationRun.objects.filter(
                academic_year=year, status__in=GenerationRun.ACTIVE_STATUSES
            )
            .select_related("academic_year")
            .first()
        ) from None
    # A newer run makes the year's drafts stale: they were solved from an older schedule. Under
    # the year's row lock, which publishing also takes, so a draft is either published before
    # this run exists or superseded and refused.
    GenerationRun.objects.filter(academic_year=year, status=Status.READY).exclude(pk=run.pk).update(
        status=Status.SUPERSEDED,
        progress_message=f"Superseded by run #{run.pk}: this draft can no longer be published.",
    )
    run.rq_job_id = rq_job_id(run.pk)
    fields = ["rq_job_id"]
    if not enqueue:
        # Executed in-process (the command, the benchmark): no rq job need exist for it, so the
        # reaper does not take a missing job for a dead worker (its lock still tells).
        run.parameters = {**run.parameters, "in_process": True}
        fields.append("parameters")
    run.save(update_fields=fields)
    # After commit: a worker must never pick up a run the database does not have yet.
    if enqueue:
        transaction.on_commit(lambda: _enqueue(run))
    return run


def _enqueue(run: GenerationRun) -> None:
    try:
        django_rq.get_queue("default").enqueue(
            "scheduling.jobs.generation_run_job",
            run.pk,
            job_id=run.rq_job_id,
            # An automatic run may solve again after rows changed during its solve.
            job_timeout=run.parameters["time_limit_seconds"] * (AUTO_PUBLISH_RESOLVES + 1) + 600,
        )
    except RedisError as error:  # the run is committed: fail it rather than leave it queued
        logger.exception("could not enqueue generation run %s", run.pk)
        run_finish(
            run.pk,
            Status.FAILED,
            f"Could not queue the generation (Redis: {error}). Try again.",
            expected=(Status.QUEUED,),
        )
        # And say so: the caller must not answer "queued" for a run that will never start.
        raise QueueUnavailable() from error


# -- cancel --------------------------------------------------------------------------------


def generation_run_cancel(*, run_id: int) -> tuple[GenerationRun, str]:
    """Record a cancel request at once. Harmless to repeat or to send to a finished run: the
    message says what happened. Raises GenerationRun.DoesNotExist for an unknown id."""
    now = timezone.now()
    # Not started yet: cancel outright; the worker's claim (status=queued) will then miss.
    if GenerationRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
        status=Status.CANCELLED,
        cancelled_at=now,
        finished_at=now,
        progress_message="Cancelled before it started.",
    ):
        message = "Cancelled before it started."
    elif GenerationRun.objects.filter(pk=run_id, status=Status.RUNNING).update(
        status=Status.CANCELLING, cancelled_at=now, progress_message="Cancelling..."
    ):
        message = "Cancelling: the solver stops within a few seconds and nothing is written."
    else:
        run = GenerationRun.objects.get(pk=run_id)
        if run.status == Status.CANCELLING:
            message = "Already being cancelled."
        else:
            status = run.get_status_display().lower()
            message = f"This run already finished ({status}); nothing to cancel."
    return GenerationRun.objects.get(pk=run_id), message
