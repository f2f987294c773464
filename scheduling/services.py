"""The lifecycle of schedule generation: start, cancel, execute (the job's body). The diff,
drafts, publishing and discard are in scheduling/publish.py (re-exported here); the job's guard
thread is in scheduling/guard.py; the reaper is in scheduling/reaper.py (re-exported here).

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

import contextlib
import datetime
import functools
import logging
from collections.abc import Callable

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import LockError, RedisError

from residency.errors import Busy, Conflict, RotaError, RuleViolation
from residency.locking import lock_rows
from residency.models import AcademicYear
from scheduling.diff import Diff, ScheduleInvalid, StaleRows, schedule_diff

# Used through this module by views, the admin, commands and tests (explicit re-exports: they
# moved to scheduling/publish.py and scheduling/diff.py).
from scheduling.diff import StaleDraft as StaleDraft
from scheduling.explain import explain_groups, precheck
from scheduling.guard import JobGuard, run_status
from scheduling.models import GenerationRun
from scheduling.notifications import generation_run_end_notify
from scheduling.problem import Problem, problem_load
from scheduling.publish import (
    AUTO_PUBLISH_RESOLVES,
    NoLongerRunning,
    draft_store,
    result_figures,
    schedule_write,
)
from scheduling.publish import StaleFence as StaleFence
from scheduling.publish import generation_run_discard as generation_run_discard
from scheduling.publish import generation_run_publish as generation_run_publish

# The tests' hooks object (the same object as publish.hooks; the guard calls it too).
from scheduling.publish import hooks as hooks

# The lock's names live with the reaper, which reads the lock (tests use them through here).
from scheduling.reaper import _redis, lock_name, lock_token

# Used through this module by views, commands, shift runs and tests (explicit re-export: it moved
# to scheduling/reaper.py; a test that replaces it here replaces what generation_run_start calls).
from scheduling.reaper import generation_runs_reap as generation_runs_reap
from scheduling.report import result_report
from scheduling.search import ScheduleSolve
from scheduling.solver import SolveResult, infeasible_groups

logger = logging.getLogger(__name__)
Status = GenerationRun.Status

MAX_TIME_LIMIT_SECONDS = 3600
MAX_WORKERS = 16
# CP-SAT's random_seed is a 32-bit signed integer; a larger one fails inside the worker.
MAX_SEED = 2**31 - 1
# Block numbers are small integers (PostgreSQL smallint).
MAX_BLOCK_NUMBER = 32767
WRITE_ATTEMPTS = 3  # the write phase waits for swaps in flight, a bounded number of times


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
        _finish(
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


# -- execute (the rq job's body) -------------------------------------------------------------


def generation_run_execute(*, run_id: int) -> None:
    """Take the year's lock, claim the run, solve, write. Never raises for a domain outcome:
    the run's status and error say what happened."""
    run = GenerationRun.objects.filter(pk=run_id).first()
    if run is None or run.status != Status.QUEUED:
        return  # cancelled before pickup, reaped, or already taken by another worker
    ttl = settings.ROTA_GENERATION_LOCK_TTL_SECONDS
    # thread_local=False: the guard thread renews the lock this thread acquired.
    lock = _redis().lock(
        lock_name(run.academic_year_id),
        timeout=ttl,
        blocking_timeout=settings.ROTA_GENERATION_LOCK_WAIT_SECONDS,
        thread_local=False,
    )
    if not lock.acquire(token=lock_token(run_id)):
        _finish(
            run_id,
            Status.FAILED,
            "Another generation for this year still holds the generation lock.",
            expected=(Status.QUEUED,),
        )
        return
    guard = None
    try:
        if not _claim(run_id):
            return
        run.refresh_from_db()
        guard = JobGuard(run, lock, renew_every=ttl / 3)
        guard.start()
        _generate(run, guard)
    except Exception as error:  # a bug or an outage: the run must not stay "running"
        logger.exception("generation run %s failed", run_id)
        _finish(run_id, Status.FAILED, f"Unexpected error: {error}")
    finally:
        if guard is not None:
            guard.stop()
        with contextlib.suppress(LockError):  # expired or taken over: no longer ours
            lock.release()


def _claim(run_id: int) -> bool:
    with transaction.atomic():
        if not GenerationRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
            status=Status.RUNNING,
            started_at=timezone.now(),
            progress=1,
            progress_message="Reading the program.",
        ):
            return False
        year_id = GenerationRun.objects.values_list("academic_year_id", flat=True).get(pk=run_id)
        # The fence: every lock holder gets a new number; only the newest may write.
        AcademicYear.objects.filter(pk=year_id).update(generation_fence=F("generation_fence") + 1)
        fence = AcademicYear.objects.values_list("generation_fence", flat=True).get(pk=year_id)
        GenerationRun.objects.filter(pk=run_id).update(fence_token=fence)
    return True


class _BlockWork:
    """What a blocks run does at each step of ``_generate``; scheduling/shift_runs.py has the
    same four for shifts, so both kinds share the loop, the lock, the guard and the fence."""

    @staticmethod
    def solve(run: GenerationRun, guard: JobGuard) -> tuple[Diff, SolveResult] | None:
        solved = _solve(run, guard)
        if solved is None:
            return None
        problem, result = solved
        return schedule_diff(run_id=run.pk, problem=problem, result=result), result

    @staticmethod
    def figures(result: SolveResult) -> dict:
        return result_figures(result)

    @staticmethod
    def draft(**kwargs) -> None:
        draft_store(**kwargs)

    @staticmethod
    def write(**kwargs) -> None:
        schedule_write(**kwargs)


def _work_for(run: GenerationRun):
    if run.kind == GenerationRun.Kind.SHIFTS:
        from scheduling.shift_runs import ShiftWork  # imports this module

        return ShiftWork
    return _BlockWork


def _generate(run: GenerationRun, guard: JobGuard) -> None:
    """Solve; then leave a draft for review, or (automatic publishing) publish the diff. When
    rows the run would change were changed during the solve, an automatic run solves again from
    the current schedule, at most AUTO_PUBLISH_RESOLVES times, then leaves a draft naming them.
    The same for both kinds of run: ``_work_for`` gives the steps (blocks or shifts)."""
    work = _work_for(run)
    stale: StaleRows | None = None
    for attempt in range(AUTO_PUBLISH_RESOLVES + 1):
        solved = work.solve(run, guard)
        if solved is None:
            return  # the run has ended (failed, cancelled); it says why
        diff, result = solved
        if not run.auto_publish or not diff.changes:
            _end_with(run, functools.partial(work.draft, run=run, diff=diff, result=result))
            return
        guard.report(95, "Publishing the schedule.")
        try:
            _write_patiently(
                functools.partial(work.write, run=run, diff=diff, result=result, stale=stale)
            )
            return
        except StaleRows as error:
            stale = error
        except NoLongerRunning:
            _end_cancelled_or_not(run, work.figures(result))
            return
        except ScheduleInvalid as error:
            text = "\n".join(str(v) for v in error.violations)
            _finish(run.pk, Status.FAILED, f"{error.message}\n{text}", **work.figures(result))
            return
        except RotaError as error:  # StaleFence, Busy
            _finish(run.pk, Status.FAILED, error.message, **work.figures(result))
            return
        if attempt < AUTO_PUBLISH_RESOLVES:
            GenerationRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(
                resolves=F("resolves") + 1
            )
            guard.report(5, f"{stale.summary} Solving again from the current schedule.")
    # Still stale after the re-solves: nothing is written; a coordinator decides.
    _end_with(run, functools.partial(work.draft, run=run, diff=diff, result=result, stale=stale))


def _solve(run: GenerationRun, guard: JobGuard) -> tuple[Problem, SolveResult] | None:
    """Read a snapshot and solve it; None when the run ended here (pre-check, infeasible, no
    solution in time, cancelled, lost lock)."""
    params = run.parameters
    # Before the first read: every change acknowledged before this moment is in the snapshot.
    snapshot_at = timezone.now()
    problem = problem_load(
        academic_year=run.academic_year,
        first_block=run.first_block,
        last_block=run.last_block,
        max_consecutive_heavy=params["max_consecutive_heavy"],
    )
    GenerationRun.objects.filter(pk=run.pk).update(snapshot_at=snapshot_at)
    reasons = precheck(problem)
    if reasons:
        _finish(run.pk, Status.FAILED, _rules_text(reasons), solver_status="PRECHECK")
        return None
    guard.report(5, "Solving.")
    solve = ScheduleSolve(
        problem,
        time_limit=params["time_limit_seconds"],
        workers=params["workers"],
        seed=params["seed"],
        on_solution=guard.on_solution,
    )
    guard.solve = solve
    result = solve.run()
    guard.solve = None
    if result.found:
        result.report = result_report(problem=problem, result=result)
    figures = result_figures(result)
    if guard.stopped_because == "cancelled" or run_status(run.pk) == Status.CANCELLING:
        _finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures)
        return None
    if guard.stopped_because:
        _finish(run.pk, Status.FAILED, guard.stopped_because, **figures)
        return None
    if result.status == "INFEASIBLE":
        guard.report(95, "No schedule exists; finding the conflicting rules.")
        groups = infeasible_groups(problem) or []
        reasons = explain_groups(problem, groups) or [
            "The rules cannot all be met together (the solver could not narrow it down)."
        ]
        _finish(run.pk, Status.FAILED, _rules_text(reasons), **figures)
        return None
    if not result.found:
        _finish(
            run.pk,
            Status.FAILED,
            f"No schedule found within the time limit of {params['time_limit_seconds']} s "
            f"(solver status {result.status}). Try a longer time limit.",
            **figures,
        )
        return None
    return problem, result


def _end_with(run: GenerationRun, store: Callable[[], object]) -> None:
    """End the run with its draft (or "no changes") through ``store``, saying why if it
    cannot."""
    try:
        store()
    except NoLongerRunning:
        if run_status(run.pk) == Status.CANCELLING:
            _finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.")
    except RotaError as error:  # StaleFence, Busy
        _finish(run.pk, Status.FAILED, error.message)


def _end_cancelled_or_not(run: GenerationRun, figures: dict) -> None:
    if run_status(run.pk) == Status.CANCELLING:
        _finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures)


def _write_patiently(write: Callable[[], object]) -> None:
    """A solve is expensive: if swaps in flight keep the schedule lock past the lock timeout,
    try the write again (each attempt waits up to the lock timeout) before giving up."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            write()
            return
        except Busy:
            if attempt == WRITE_ATTEMPTS:
                raise


def _rules_text(reasons: list[str]) -> str:
    return "No schedule can meet these rules together:\n" + "\n".join(f"- {r}" for r in reasons)


@transaction.atomic
def _finish(run_id: int, status: str, text: str, *, expected=None, **fields) -> bool:
    """End the run (conditional on it still being active) with ``text`` as message/error."""
    now = timezone.now()
    values = {"status": status, "finished_at": now, "progress_message": text.splitlines()[0]}
    if status == Status.FAILED:
        values["error"] = text
    finished = bool(
        GenerationRun.objects.filter(
            pk=run_id, status__in=expected or (Status.RUNNING, Status.CANCELLING)
        ).update(**values, **fields)
    )
    if finished and status == Status.FAILED:
        generation_run_end_notify(run_id=run_id, succeeded=False, message=text)
    return finished
