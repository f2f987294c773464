"""Every write of schedule generation: start, cancel, execute (the job's body), write, reap.

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
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import django_rq
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import LockError, RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from residency.errors import Busy, Conflict, RotaError, RuleViolation
from residency.locking import lock_rows, locked_transaction, schedule_lock_exclusive
from residency.models import AcademicYear, Assignment, Block
from scheduling.explain import explain_groups, precheck
from scheduling.models import GenerationRun
from scheduling.notifications import (
    generation_run_end_notify,
    schedule_publish_begin,
    schedule_publish_end,
)
from scheduling.problem import problem_load
from scheduling.solver import Progress, ScheduleSolve, SolveResult, infeasible_groups
from scheduling.validator import schedule_validate

logger = logging.getLogger(__name__)
Status = GenerationRun.Status

GUARD_POLL_SECONDS = 0.25  # how often the running job looks for a cancel request
PROGRESS_WRITE_SECONDS = 0.5  # at most one progress UPDATE per this interval
MAX_TIME_LIMIT_SECONDS = 3600
MAX_WORKERS = 16
# CP-SAT's random_seed is a 32-bit signed integer; a larger one fails inside the worker.
MAX_SEED = 2**31 - 1
# Block numbers are small integers (PostgreSQL smallint).
MAX_BLOCK_NUMBER = 32767
WRITE_ATTEMPTS = 3  # the write phase waits for swaps in flight, a bounded number of times


class GenerationAlreadyRunning(Conflict):
    def __init__(self, run: GenerationRun) -> None:
        super().__init__(
            f"A generation for {run.academic_year} is already {run.status} (run #{run.pk}). "
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


class StaleFence(RotaError):
    """The run no longer holds the year's generation lock: another run took it."""

    status_code = 409

    def __init__(self) -> None:
        super().__init__(
            "This run lost the generation lock for the year (another run took it over); "
            "nothing was written."
        )


class ScheduleInvalid(RotaError):
    status_code = 422

    def __init__(self, violations) -> None:
        super().__init__(
            f"The generated schedule broke {len(violations)} rule(s); nothing written."
        )
        self.violations = violations


class _NoLongerRunning(Exception):
    """Raised inside the write transaction when the run was cancelled or reaped meanwhile."""


@dataclass
class Hooks:
    """Test seams (None in production): called from the job while it works."""

    after_progress_write: Callable[[int], None] | None = None  # after a progress UPDATE
    in_write_phase: Callable[[int], None] | None = None  # in the write transaction, locks held


hooks = Hooks()


def _redis():
    return django_rq.get_connection("default")


def lock_name(academic_year_id: int) -> str:
    return f"rota:generation-lock:year:{academic_year_id}"


def lock_token(run_id: int) -> str:
    return f"generation-run-{run_id}"


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
    enqueue: bool = True,
) -> GenerationRun:
    """Queue a generation for the year, or raise ``GenerationAlreadyRunning`` (409).
    ``enqueue=False`` leaves the run for the caller to execute (the management command)."""
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
    return _run_create(
        academic_year_id=academic_year_id,
        requested_by=requested_by,
        first_block=first_block,
        last_block=last_block,
        parameters=parameters,
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
def _run_create(*, academic_year_id, requested_by, first_block, last_block, parameters, enqueue):
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
                first_block=first_block,
                last_block=last_block,
                requested_by=requested_by,
                parameters=parameters,
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
    run.rq_job_id = rq_job_id(run.pk)
    run.save(update_fields=["rq_job_id"])
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
            job_timeout=run.parameters["time_limit_seconds"] + 600,
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
        guard = _Guard(run, lock, renew_every=ttl / 3)
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


def _generate(run: GenerationRun, guard: _Guard) -> None:
    params = run.parameters
    problem = problem_load(
        academic_year=run.academic_year,
        first_block=run.first_block,
        last_block=run.last_block,
        max_consecutive_heavy=params["max_consecutive_heavy"],
    )
    reasons = precheck(problem)
    if reasons:
        _finish(run.pk, Status.FAILED, _rules_text(reasons), solver_status="PRECHECK")
        return
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
    figures = _figures(result)
    if guard.stopped_because == "cancelled" or _status(run.pk) == Status.CANCELLING:
        _finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures)
        return
    if guard.stopped_because:
        _finish(run.pk, Status.FAILED, guard.stopped_because, **figures)
        return
    if result.status == "INFEASIBLE":
        guard.report(95, "No schedule exists; finding the conflicting rules.")
        groups = infeasible_groups(problem) or []
        reasons = explain_groups(problem, groups) or [
            "The rules cannot all be met together (the solver could not narrow it down)."
        ]
        _finish(run.pk, Status.FAILED, _rules_text(reasons), **figures)
        return
    if not result.found:
        _finish(
            run.pk,
            Status.FAILED,
            f"No schedule found within the time limit of {params['time_limit_seconds']} s "
            f"(solver status {result.status}). Try a longer time limit.",
            **figures,
        )
        return
    guard.report(95, "Writing the schedule.")
    try:
        _schedule_write_patiently(run=run, result=result)
    except _NoLongerRunning:
        if _status(run.pk) == Status.CANCELLING:
            _finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures)
        return
    except ScheduleInvalid as error:
        text = "\n".join(str(v) for v in error.violations)
        _finish(run.pk, Status.FAILED, f"{error.message}\n{text}", **figures)
        return
    except RotaError as error:  # StaleFence, Busy
        _finish(run.pk, Status.FAILED, error.message, **figures)
        return


def _schedule_write_patiently(*, run: GenerationRun, result: SolveResult) -> None:
    """A solve is expensive: if swaps in flight keep the schedule lock past the lock timeout,
    try the write again (each attempt waits up to the lock timeout) before giving up."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            schedule_write(run=run, result=result)
            return
        except Busy:
            if attempt == WRITE_ATTEMPTS:
                raise


def _rules_text(reasons: list[str]) -> str:
    return "No schedule can meet these rules together:\n" + "\n".join(f"- {r}" for r in reasons)


def _figures(result: SolveResult) -> dict:
    return {
        "solver_status": result.status,
        "objective": result.objective,
        "best_bound": result.best_bound,
        "gap": result.gap,
        "first_solution_seconds": result.first_solution_seconds,
        "wall_seconds": result.wall_seconds,
    }


def _status(run_id: int) -> str:
    return GenerationRun.objects.values_list("status", flat=True).get(pk=run_id)


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


# -- write phase ---------------------------------------------------------------------------


@locked_transaction
def schedule_write(*, run: GenerationRun, result: SolveResult) -> int:
    """Replace the run's blocks' non-pinned assignments with the solution, in one transaction.

    Replaced assignments are deleted and the new ones are new rows (version 1, this run's id),
    so a swap or an edit that still refers to an old row finds it gone and cannot apply.
    """
    # Exclusive schedule lock: swaps of this year (shared holders) are refused meanwhile and
    # the ones in flight finish first; no swap can interleave with the replacement.
    schedule_lock_exclusive(academic_year_id=run.academic_year_id)
    # The year row: serialises fence checks with a newer run bumping the fence.
    year = lock_rows(AcademicYear.objects.filter(pk=run.academic_year_id))[0]
    # The run row: a cancel (conditional UPDATE on status=running) waits for this transaction
    # and then finds the run finished, or wins first and we see it here.
    current = lock_rows(GenerationRun.objects.filter(pk=run.pk))[0]
    if year.generation_fence != current.fence_token:
        raise StaleFence()
    if current.status != Status.RUNNING:
        raise _NoLongerRunning()
    if hooks.in_write_phase is not None:
        hooks.in_write_phase(run.pk)

    blocks = Block.objects.filter(academic_year_id=run.academic_year_id)
    if run.first_block is not None:
        blocks = blocks.filter(number__gte=run.first_block, number__lte=run.last_block)
    block_ids = list(blocks.values_list("pk", flat=True))
    # History names this run as the actor of every row it deletes and creates.
    publish = schedule_publish_begin(run_id=run.pk, block_ids=block_ids)
    Assignment.objects.filter(block_id__in=block_ids, pinned=False).delete()
    created = Assignment.objects.bulk_create(
        Assignment(
            person_id=person_id,
            block_id=block_id,
            rotation_id=rotation_id,
            role=role,
            generation_run_id=run.pk,
            updated_by_id=run.requested_by_id,
        )
        for person_id, block_id, rotation_id, role in result.assignments
    )
    violations = schedule_validate(
        academic_year=year,
        first_block=run.first_block,
        last_block=run.last_block,
        max_consecutive_heavy=run.parameters.get("max_consecutive_heavy"),
    )
    if violations:
        raise ScheduleInvalid(violations)  # rolls the whole write back

    gap = result.gap or 0.0
    if result.status == "OPTIMAL":
        message = f"Optimal schedule written ({len(created)} assignments)."
    else:
        message = (
            f"Schedule written ({len(created)} assignments); time limit reached, "
            f"not proven optimal (gap {gap:.1%})."
        )
    schedule_publish_end(publish, block_ids=block_ids, message=message)
    GenerationRun.objects.filter(pk=run.pk).update(
        status=Status.SUCCEEDED,
        progress=100,
        progress_message=message,
        finished_at=timezone.now(),
        assignments_written=len(created),
        **_figures(result),
    )
    return len(created)


# -- the job's guard thread ------------------------------------------------------------------


class _Guard:
    """While the job runs: looks for a cancel request every GUARD_POLL_SECONDS (the solver's
    callback only fires on solutions, so it cannot be relied on to notice), renews the Redis
    lock, and writes progress at most every PROGRESS_WRITE_SECONDS. It is the only thread that
    touches the database besides the job's own, and closes its connection when done."""

    def __init__(self, run: GenerationRun, lock, *, renew_every: float) -> None:
        self.run_id = run.pk
        self.time_limit = run.parameters["time_limit_seconds"]
        self.lock = lock
        self.renew_every = renew_every
        self.solve: ScheduleSolve | None = None
        self.stopped_because = ""  # "cancelled", or why the run must fail
        self._latest: Progress | None = None
        self._written: Progress | None = None
        self._progress_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"generation-{run.pk}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def on_solution(self, progress: Progress) -> None:  # called on a solver thread: no DB here
        with self._progress_lock:
            self._latest = progress

    def report(self, percent: int, message: str) -> None:
        GenerationRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            progress=percent, progress_message=message
        )

    def _halt(self, reason: str) -> None:
        self.stopped_because = self.stopped_because or reason
        if self.solve is not None:
            self.solve.stop()

    def _run(self) -> None:
        renewed = last_write = time.monotonic()
        try:
            while not self._stop.wait(GUARD_POLL_SECONDS):
                status = _status(self.run_id)
                if status == Status.CANCELLING:
                    self._halt("cancelled")
                elif status != Status.RUNNING:
                    self._halt(f"The run was marked {status} while it ran; nothing was written.")
                now = time.monotonic()
                if now - renewed >= self.renew_every:
                    try:
                        self.lock.reacquire()  # back to the full expiry
                        renewed = now
                    except LockError:
                        self._halt(
                            "The generation lock expired and could not be renewed; "
                            "nothing was written."
                        )
                if now - last_write >= PROGRESS_WRITE_SECONDS and self._write_progress():
                    last_write = now
        except Exception:
            logger.exception("generation guard %s", self.run_id)
            self._halt("The generation's watchdog failed; nothing was written.")
        finally:
            connection.close()

    def _write_progress(self) -> bool:
        with self._progress_lock:
            latest = self._latest
        if latest is None or latest is self._written:
            return False
        fraction = max(latest.wall_seconds / self.time_limit, 1 - min(1.0, latest.gap))
        percent = 10 + int(80 * min(1.0, fraction))
        message = (
            f"{latest.solutions} schedule(s) found; best objective {latest.objective:g}, "
            f"gap {latest.gap:.1%}."
        )
        GenerationRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            progress=percent, progress_message=message, objective=latest.objective,
            best_bound=latest.best_bound, gap=latest.gap,
        )  # fmt: skip
        self._written = latest
        if hooks.after_progress_write is not None:
            hooks.after_progress_write(self.run_id)
        return True


# -- reaper --------------------------------------------------------------------------------


def generation_runs_reap(*, academic_year_id: int | None = None) -> list[int]:
    """Mark failed the active runs whose worker is gone: a running run whose Redis lock is no
    longer held by it (expired: the worker stopped renewing it), or a queued run whose rq job
    is missing or ended without running it (after a grace period: it may be mid-enqueue)."""
    redis = _redis()
    runs = GenerationRun.objects.filter(status__in=GenerationRun.ACTIVE_STATUSES)
    if academic_year_id is not None:
        runs = runs.filter(academic_year_id=academic_year_id)
    grace = timezone.now() - datetime.timedelta(seconds=settings.ROTA_GENERATION_REAP_GRACE_SECONDS)
    reaped = []
    for run in runs:
        reason = ""
        if run.status in (Status.RUNNING, Status.CANCELLING):
            holder = redis.get(lock_name(run.academic_year_id))
            if holder != lock_token(run.pk).encode():
                reason = "The worker running this generation stopped (its lock expired)."
        elif run.created_at < grace:
            try:
                job = Job.fetch(run.rq_job_id, connection=redis)
                job_status = job.get_status()
            except NoSuchJobError:
                job_status = None
            if job_status is None or job_status in (
                JobStatus.FAILED,
                JobStatus.STOPPED,
                JobStatus.CANCELED,
                JobStatus.FINISHED,
            ):
                reason = "The queued job for this generation is gone; it never ran."
        if not reason:
            continue
        with transaction.atomic():  # the run's end and the coordinators' notice together
            if GenerationRun.objects.filter(pk=run.pk, status=run.status).update(
                status=Status.FAILED,
                finished_at=timezone.now(),
                error=reason,
                progress_message=reason,
            ):
                generation_run_end_notify(run_id=run.pk, succeeded=False, message=reason)
                logger.warning("reaped generation run %s: %s", run.pk, reason)
                reaped.append(run.pk)
    return reaped
