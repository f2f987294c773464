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
import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import django_rq
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, prefetch_related_objects
from django.utils import timezone
from redis.exceptions import LockError, RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from residency.errors import Busy, Conflict, Gone, RotaError, RuleViolation
from residency.hooks import BlockChange, block_changes_problems
from residency.locking import lock_rows, locked_transaction, schedule_lock_exclusive
from residency.models import AcademicYear, Assignment, Block
from scheduling.explain import explain_groups, precheck
from scheduling.models import GenerationChange, GenerationRun, ShiftChange
from scheduling.notifications import (
    generation_run_end_notify,
    schedule_publish_begin,
    schedule_publish_end,
)
from scheduling.problem import Problem, problem_load
from scheduling.report import report_summary, result_report
from scheduling.solver import Progress, ScheduleSolve, SolveResult, infeasible_groups
from scheduling.validator import schedule_validate
from swaps.services import swap_requests_expire_for_assignments

logger = logging.getLogger(__name__)
Status = GenerationRun.Status
Kind = GenerationChange.Kind

GUARD_POLL_SECONDS = 0.25  # how often the running job looks for a cancel request
PROGRESS_WRITE_SECONDS = 0.5  # at most one progress UPDATE per this interval
MAX_TIME_LIMIT_SECONDS = 3600
MAX_WORKERS = 16
# CP-SAT's random_seed is a 32-bit signed integer; a larger one fails inside the worker.
MAX_SEED = 2**31 - 1
# Block numbers are small integers (PostgreSQL smallint).
MAX_BLOCK_NUMBER = 32767
WRITE_ATTEMPTS = 3  # the write phase waits for swaps in flight, a bounded number of times
# Automatic publishing: when rows the run would change were changed during its solve, solve
# again from the current schedule at most this many times, then leave a draft for review.
AUTO_PUBLISH_RESOLVES = 2


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
    in_publish: Callable[[int], None] | None = None  # in a publish's transaction, locks held
    # On a solver thread at each solution, after the snapshot was read (holds the solve there).
    on_solution: Callable[[int], None] | None = None


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


class _BlockWork:
    """What a blocks run does at each step of ``_generate``; scheduling/shift_runs.py has the
    same four for shifts, so both kinds share the loop, the lock, the guard and the fence."""

    @staticmethod
    def solve(run: GenerationRun, guard: _Guard) -> tuple[Diff, SolveResult] | None:
        solved = _solve(run, guard)
        if solved is None:
            return None
        problem, result = solved
        return schedule_diff(run_id=run.pk, problem=problem, result=result), result

    @staticmethod
    def figures(result: SolveResult) -> dict:
        return _figures(result)

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


def _generate(run: GenerationRun, guard: _Guard) -> None:
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
        except _NoLongerRunning:
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


def _solve(run: GenerationRun, guard: _Guard) -> tuple[Problem, SolveResult] | None:
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
    figures = _figures(result)
    if guard.stopped_because == "cancelled" or _status(run.pk) == Status.CANCELLING:
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
    except _NoLongerRunning:
        if _status(run.pk) == Status.CANCELLING:
            _finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.")
    except RotaError as error:  # StaleFence, Busy
        _finish(run.pk, Status.FAILED, error.message)


def _end_cancelled_or_not(run: GenerationRun, figures: dict) -> None:
    if _status(run.pk) == Status.CANCELLING:
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


def _figures(result: SolveResult | None) -> dict:
    if result is None:
        return {}
    return {
        "solver_status": result.status,
        "objective": result.objective,
        "best_bound": result.best_bound,
        "gap": result.gap,
        "first_solution_seconds": result.first_solution_seconds,
        "wall_seconds": result.wall_seconds,
        "report": result.report,
        "fairness_spread": {str(pgy): spread for pgy, spread in result.fairness_spread.items()},
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


# -- the diff ------------------------------------------------------------------------------


@dataclass
class Diff:
    """What a solve would change in the schedule it read, person by block. Unchanged rows
    (same rotation and role) are only counted: publishing never touches them."""

    changes: list[GenerationChange]
    kept: int

    def count(self, kind: str) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    @property
    def figures(self) -> dict:
        return {
            "rows_kept": self.kept,
            "rows_changed": self.count(Kind.CHANGE),
            "rows_added": self.count(Kind.ADD),
            "rows_removed": self.count(Kind.REMOVE),
        }

    @property
    def summary(self) -> str:
        f = self.figures
        return (
            f"{f['rows_changed']} changed, {f['rows_added']} added, {f['rows_removed']} removed; "
            f"{f['rows_kept']} unchanged."
        )


def schedule_diff(*, run_id: int, problem: Problem, result: SolveResult) -> Diff:
    """Compare the solution with the snapshot, person by block, over the generated blocks'
    non-pinned rows (pinned rows and other blocks are constants the solver did not decide)."""
    after = {
        (person_id, block_id): (rotation_id, role)
        for person_id, block_id, rotation_id, role in result.assignments
        if (person_id, block_id) not in problem.fixed
    }
    before = problem.previous
    changes: list[GenerationChange] = []
    kept = 0
    for key in sorted(set(before) | set(after)):
        person_id, block_id = key
        old, new = before.get(key), after.get(key)
        if old == new:
            kept += 1
            continue
        assignment_id, version = problem.versions.get(key, (None, None))
        kind = Kind.CHANGE if old and new else Kind.ADD if new else Kind.REMOVE
        changes.append(
            GenerationChange(
                run_id=run_id,
                kind=kind,
                person_id=person_id,
                block_id=block_id,
                assignment_id=assignment_id,
                version_read=version,
                rotation_before_id=old[0] if old else None,
                role_before=old[1] if old else "",
                rotation_after_id=new[0] if new else None,
                role_after=new[1] if new else "",
            )
        )
    return Diff(changes=changes, kept=kept)


class StaleRows(Conflict):
    """Rows the run would change or remove were changed (edited, swapped, moved, deleted) after
    its snapshot, or a person-block it would add was booked meanwhile: nothing was written."""

    def __init__(self, rows: list[dict]) -> None:
        shown = "; ".join(row["text"] for row in rows[:SHOWN_STALE_ROWS])
        more = f"; and {len(rows) - SHOWN_STALE_ROWS} more" if len(rows) > SHOWN_STALE_ROWS else ""
        self.summary = (
            f"{len(rows)} row(s) changed since this run read the schedule: {shown}{more}."
        )
        super().__init__(
            f"Nothing was published. {self.summary} Generate again from the current schedule."
        )
        self.rows = rows


class StaleDraft(Conflict):
    """Only a draft ready for review can be published; this one was discarded, superseded by a
    newer run, already published, or never became a draft."""

    def __init__(self, run: GenerationRun) -> None:
        why = {
            Status.DISCARDED: "it was discarded",
            Status.SUPERSEDED: "a newer run was started for this year (it is stale)",
            Status.SUCCEEDED: "it was already published",
        }.get(run.status, f"it is {run.get_status_display().lower()}, not ready for review")
        super().__init__(
            f"Generation #{run.pk} cannot be published: {why}. Generate again from the current "
            "schedule."
        )
        self.run = run


SHOWN_STALE_ROWS = 20


def _change_text(change: GenerationChange) -> str:
    who = f"{change.person.name}, block {change.block.number}"
    before = change.rotation_before.code if change.rotation_before_id else ""
    after = change.rotation_after.code if change.rotation_after_id else ""
    if change.kind == Kind.ADD:
        return f"{who}: nothing -> {after}"
    if change.kind == Kind.REMOVE:
        return f"{who}: {before} -> nothing"
    return f"{who}: {before} -> {after}"


def _diff_apply(*, run: GenerationRun, changes: list[GenerationChange], by_id) -> int:
    """Apply ``changes`` if every row they change or remove is still at the version the solve
    read and no person-block they add was booked since; else raise ``StaleRows`` (the caller's
    transaction rolls back: all or nothing). Runs inside the caller's transaction, which holds
    the year's schedule lock exclusively (no swap executes meanwhile). Returns rows written."""
    prefetch_related_objects(changes, "person", "block", "rotation_before", "rotation_after")
    block_ids = sorted({change.block_id for change in changes})
    # The blocks, before their rows (the order of assignment_update): a coordinator moving
    # someone into one of these blocks waits for the publish, or commits first and is seen
    # below, so capacity is never judged on rows that are changing underneath.
    lock_rows(Block.objects.filter(pk__in=block_ids))
    existing = [change for change in changes if change.kind != Kind.ADD]
    rows = {
        row.pk: row
        for row in lock_rows(
            Assignment.objects.filter(pk__in=[change.assignment_id for change in existing])
        )
    }
    stale = []
    for change in existing:
        row = rows.get(change.assignment_id)
        if row is None:
            stale.append(_stale_row(change, None, "deleted since"))
        elif row.version != change.version_read:
            stale.append(
                _stale_row(change, row, f"changed since (version {change.version_read} -> "
                                        f"{row.version})")
            )  # fmt: skip
    adds = {(c.person_id, c.block_id): c for c in changes if c.kind == Kind.ADD}
    if adds:
        booked = Assignment.objects.filter(
            block_id__in={b for _, b in adds}, person_id__in={p for p, _ in adds}
        ).values_list("person_id", "block_id", "pk", "version")
        for person_id, block_id, pk, version in booked:
            if (person_id, block_id) in adds:
                stale.append(_stale_row(adds[(person_id, block_id)], None, "booked since",
                                        assignment_id=pk, version=version))  # fmt: skip
    if stale:
        raise StaleRows(stale)
    # History names this run as the actor of every row it writes; who was where, for the
    # digests (issue 10).
    publish = schedule_publish_begin(run_id=run.pk, block_ids=block_ids)

    # Open swap requests over rows this publish changes or removes can no longer execute as
    # asked: expired here, in this transaction, with the reason (unchanged rows keep theirs).
    swap_requests_expire_for_assignments(
        notes={
            change.assignment_id: f"Generation #{run.pk} changed the schedule: "
            f"{_change_text(change)}."
            for change in existing
        }
    )
    now = timezone.now()
    for change in changes:
        if change.kind != Kind.CHANGE:
            continue
        # Conditional on the version read, like every edit (the row lock makes it hold).
        updated = Assignment.objects.filter(
            pk=change.assignment_id, version=change.version_read
        ).update(
            rotation_id=change.rotation_after_id,
            role=change.role_after,
            version=F("version") + 1,
            updated_by_id=by_id,
            updated_at=now,
            generation_run_id=run.pk,
        )
        assert updated == 1, f"locked row {change.assignment_id} changed under its lock"
    removed = [c.assignment_id for c in changes if c.kind == Kind.REMOVE]
    if removed:
        Assignment.objects.filter(pk__in=removed).delete()
    try:
        with transaction.atomic():
            Assignment.objects.bulk_create(
                Assignment(
                    person_id=change.person_id,
                    block_id=change.block_id,
                    rotation_id=change.rotation_after_id,
                    role=change.role_after,
                    generation_run_id=run.pk,
                    updated_by_id=by_id,
                )
                for change in adds.values()
            )
    except IntegrityError as error:  # unique(person, block): booked despite the block locks
        raise StaleRows([{"text": "a person-block it adds was booked meanwhile"}]) from error
    year = AcademicYear.objects.get(pk=run.academic_year_id)
    # The daily layer (residency.hooks): nobody may be left holding shifts their new rotation
    # does not allow, nor break a duty-hour rule with their new rotation's usual hours.
    daily = block_changes_problems(
        BlockChange(
            change.person_id,
            change.block.start_date,
            change.block.end_date,
            change.rotation_before_id,
            change.rotation_after_id,
        )
        for change in changes
    )
    if daily:
        raise ScheduleInvalid([f"[shifts] {problem}" for problem in daily])
    violations = schedule_validate(
        academic_year=year,
        first_block=run.first_block,
        last_block=run.last_block,
        max_consecutive_heavy=run.parameters.get("max_consecutive_heavy"),
    )
    if violations:
        raise ScheduleInvalid(violations)  # rolls the whole write back
    # One digest per person moved, and the coordinators' notice: in this transaction.
    schedule_publish_end(
        publish, block_ids=block_ids, message=f"Published: {len(changes)} row(s) written."
    )
    return len(changes)


def _stale_row(change: GenerationChange, row, what: str, **now) -> dict:
    text = f"{change.person.name}, block {change.block.number} ({what})"
    return {
        "person": change.person.name,
        "person_id": change.person_id,
        "block": change.block.number,
        "assignment_id": change.assignment_id or now.get("assignment_id"),
        "version_read": change.version_read,
        "version_now": row.version if row is not None else now.get("version"),
        "text": text,
    }


# -- drafts, publishing, automatic publishing ------------------------------------------------


def _lock_for_write(run: GenerationRun) -> tuple[AcademicYear, GenerationRun]:
    # Exclusive schedule lock: swaps of this year (shared holders) are refused meanwhile and the
    # ones in flight finish first; no swap interleaves with the version checks and the writes.
    schedule_lock_exclusive(academic_year_id=run.academic_year_id)
    # The year row: serialises fence checks with a newer run bumping the fence, and a publish
    # with a new run's start (which makes this draft stale).
    year = lock_rows(AcademicYear.objects.filter(pk=run.academic_year_id))[0]
    # The run row: a cancel, a discard or a second publish (conditional UPDATEs on the status)
    # waits for this transaction and then finds the run finished, or wins first and we see it.
    current = lock_rows(GenerationRun.objects.filter(pk=run.pk))[0]
    return year, current


def _check_job_may_write(year: AcademicYear, current: GenerationRun) -> None:
    if year.generation_fence != current.fence_token:
        raise StaleFence()
    if current.status != Status.RUNNING:
        raise _NoLongerRunning()


def draft_store(
    *, run: GenerationRun, diff: Diff, result: SolveResult, stale: StaleRows | None = None
) -> GenerationRun:
    """End the run with its proposed changes stored for review (status ready), or, when it
    changes nothing, succeeded without writing anything. Writes no assignment."""
    return run_draft_store(
        run=run,
        changes=diff.changes,
        fields={**_figures(result), **diff.figures},
        summary=diff.summary,
        stale=stale,
    )


@locked_transaction
def run_draft_store(
    *, run: GenerationRun, changes: list, fields: dict, summary: str, stale: StaleRows | None
) -> GenerationRun:
    """The draft of either kind of run: ``changes`` (GenerationChange or ShiftChange rows)
    stored for review under the year's fence, with ``fields`` (figures) on the run."""
    year = lock_rows(AcademicYear.objects.filter(pk=run.academic_year_id))[0]
    current = lock_rows(GenerationRun.objects.filter(pk=run.pk))[0]
    _check_job_may_write(year, current)
    # An earlier attempt's draft (automatic publishing that solved again).
    GenerationChange.objects.filter(run_id=run.pk).delete()
    ShiftChange.objects.filter(run_id=run.pk).delete()
    fields = {**fields, "progress": 100, "finished_at": timezone.now()}
    if not changes:
        GenerationRun.objects.filter(pk=run.pk).update(
            status=Status.SUCCEEDED,
            progress_message="No changes: the current schedule already is the best one found.",
            assignments_written=0,
            **fields,
        )
        generation_run_end_notify(
            run_id=run.pk,
            succeeded=True,
            message="No changes: the current schedule already is the best one found.",
            outcome="finished with no changes",
        )
        return run
    type(changes[0]).objects.bulk_create(changes)
    if stale is None:
        message = f"Ready for review: {summary}"
    else:
        message = (
            f"Needs review: {stale.summary} Solved {AUTO_PUBLISH_RESOLVES + 1} times; "
            "nothing was published."
        )[:300]
    GenerationRun.objects.filter(pk=run.pk).update(
        status=Status.READY,
        progress_message=message,
        stale_rows=stale.rows if stale else [],
        **fields,
    )
    # Same transaction: a draft that rolls back tells nobody.
    generation_run_end_notify(
        run_id=run.pk, succeeded=True, message=message, outcome="is ready for review"
    )
    return run


@locked_transaction
def schedule_write(
    *,
    run: GenerationRun,
    diff: Diff,
    result: SolveResult | None = None,
    stale: StaleRows | None = None,
) -> int:
    """Automatic publishing from the job: the version-checked diff write, under the year's
    generation fence, and the run marked succeeded, in one transaction. ``stale``: the rows
    that made an earlier attempt solve again (named in the run's message)."""
    started = time.monotonic()
    year, current = _lock_for_write(run)
    _check_job_may_write(year, current)
    if hooks.in_write_phase is not None:
        hooks.in_write_phase(run.pk)
    GenerationChange.objects.filter(run_id=run.pk).delete()
    written = _diff_apply(run=current, changes=diff.changes, by_id=run.requested_by_id)
    GenerationChange.objects.bulk_create(diff.changes)  # the record of what it did
    resolved = (
        f" Solved again {current.resolves} time(s) from the current schedule, because "
        f"{stale.summary[0].lower()}{stale.summary[1:]}"
        if stale is not None
        else ""
    )
    now = timezone.now()
    GenerationRun.objects.filter(pk=run.pk).update(
        status=Status.SUCCEEDED,
        progress=100,
        progress_message=(_written_message(result, diff) + resolved)[:300],
        finished_at=now,
        published_at=now,
        published_by_id=run.requested_by_id,
        assignments_written=written,
        stale_rows=stale.rows if stale is not None else [],
        publish_seconds=time.monotonic() - started,
        **_figures(result),
        **diff.figures,
    )
    return written


def _written_message(result: SolveResult | None, diff: Diff) -> str:
    # The figures the coordinator judges by (scheduling/report.py), not the objective's gap:
    # its bound is weak, so a percentage would alarm for nothing (docs/scheduling.md, "Run
    # figures").
    summary = f" {report_summary(result.report)}." if result is not None and result.report else ""
    if result is None or result.status == "OPTIMAL":
        return f"Optimal schedule published: {diff.summary}{summary}"
    return (
        f"Schedule published: {diff.summary} Time limit reached; best found in the time:{summary}"
    )


def generation_run_publish(*, run_id: int, by=None) -> GenerationRun:
    """Publish a draft: apply its changes in one transaction under the year's exclusive schedule
    lock, only if every row it changes or removes is still at the version its solve read
    (``StaleRows`` naming them otherwise: nothing written). Rows it leaves unchanged may have
    been edited meanwhile: they do not block it. A discarded, superseded or published run
    raises ``StaleDraft``. Open swap requests over changed or removed rows are expired."""
    started = time.monotonic()
    run = GenerationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise Gone("No such generation run.")
    if run.kind == GenerationRun.Kind.SHIFTS:
        from scheduling.shift_publish import shift_generation_publish  # imports this module

        return shift_generation_publish(run_id=run_id, by=by)
    _publish(run=run, by=by, started=started)
    return GenerationRun.objects.select_related("academic_year").get(pk=run_id)


@locked_transaction
def _publish(*, run: GenerationRun, by, started: float) -> None:
    _year, current = _lock_for_write(run)
    if current.status != Status.READY:
        raise StaleDraft(current)
    if hooks.in_publish is not None:
        hooks.in_publish(run.pk)
    changes = list(GenerationChange.objects.filter(run_id=run.pk).order_by("pk"))
    # "Last changed by" on the rows: whoever published (their decision), else who asked.
    by_id = by.pk if by is not None else current.requested_by_id
    written = _diff_apply(run=current, changes=changes, by_id=by_id)
    now = timezone.now()
    GenerationRun.objects.filter(pk=run.pk).update(
        status=Status.SUCCEEDED,
        progress_message=f"Published: {written} row(s) written. "
        f"{current.rows_kept} row(s) left untouched.",
        published_at=now,
        published_by=by,
        assignments_written=written,
        publish_seconds=time.monotonic() - started,
    )


def generation_run_discard(*, run_id: int, by=None) -> tuple[GenerationRun, str]:
    """Discard a draft: it can no longer be published. Harmless to repeat."""
    if GenerationRun.objects.filter(pk=run_id, status=Status.READY).update(
        status=Status.DISCARDED,
        progress_message=f"Discarded{_by_text(by)}; nothing was published.",
    ):
        message = "Draft discarded; nothing was published."
    else:
        run = GenerationRun.objects.filter(pk=run_id).first()
        if run is None:
            raise Gone("No such generation run.")
        if run.status != Status.DISCARDED:
            raise Conflict(
                f"Only a draft ready for review can be discarded; generation #{run.pk} is "
                f"{run.get_status_display().lower()}."
            )
        message = "This draft was already discarded."
    return GenerationRun.objects.select_related("academic_year").get(pk=run_id), message


def _by_text(by) -> str:
    return f" by {by.get_username()}" if by is not None else ""


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
        if hooks.on_solution is not None:
            hooks.on_solution(self.run_id)

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
        # No gap here: the objective's bound is weak, so a percentage would alarm for nothing
        # (the finished run reports changes, fairness and wishes: scheduling/report.py).
        changed = (
            ""
            if latest.changes is None
            else f" the best changes {latest.changes} person-block(s) of the current schedule;"
        )
        message = f"{latest.solutions} schedule(s) found meeting every rule;{changed} improving it."
        GenerationRun.objects.filter(pk=self.run_id, status=Status.RUNNING).update(
            progress=percent, progress_message=message, objective=latest.objective,
            best_bound=latest.best_bound, gap=latest.gap,
        )  # fmt: skip
        self._written = latest
        if hooks.after_progress_write is not None:
            hooks.after_progress_write(self.run_id)
        return True


# -- reaper --------------------------------------------------------------------------------


# rq's word that a job will never (again) run the run's body.
_JOB_ENDED = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED)


def _job_status(run: GenerationRun, redis) -> str | None:
    """The run's rq job status, or None if rq has no such job."""
    try:
        return Job.fetch(run.rq_job_id, connection=redis).get_status()
    except NoSuchJobError:
        return None


def generation_runs_reap(
    *, academic_year_id: int | None = None, run_id: int | None = None
) -> list[int]:
    """Mark failed the active runs whose worker is gone:
    - a running run whose rq job rq reports failed, stopped, cancelled, finished or missing
      (a killed work-horse: rq records the failure at once, so the run page need not wait for
      the lock to expire);
    - a running run whose Redis lock is no longer held by it (expired: the worker stopped
      renewing it; the only check for runs executed in-process, which have no rq job);
    - a queued run whose rq job is missing or ended without running it (after a grace period:
      it may be mid-enqueue).
    Every mark is a conditional UPDATE on the status read, so a run that finished meanwhile is
    left as it finished."""
    redis = _redis()
    runs = GenerationRun.objects.filter(status__in=GenerationRun.ACTIVE_STATUSES)
    if academic_year_id is not None:
        runs = runs.filter(academic_year_id=academic_year_id)
    if run_id is not None:
        runs = runs.filter(pk=run_id)
    grace = timezone.now() - datetime.timedelta(seconds=settings.ROTA_GENERATION_REAP_GRACE_SECONDS)
    reaped = []
    for run in runs:
        reason = ""
        if run.status in (Status.RUNNING, Status.CANCELLING):
            job_status = _job_status(run, redis) if run.rq_job_id else JobStatus.STARTED
            if job_status is None and run.parameters.get("in_process"):
                job_status = JobStatus.STARTED  # no job by design: the lock tells
            holder = redis.get(lock_name(run.academic_year_id))
            if job_status is None or job_status in _JOB_ENDED:
                reason = (
                    f"The worker running this generation stopped (rq reports its job "
                    f"{job_status.value if job_status else 'missing'})."
                )
            elif holder != lock_token(run.pk).encode():
                reason = "The worker running this generation stopped (its lock expired)."
        elif run.created_at < grace and (
            not run.rq_job_id or _job_status(run, redis) in (None, *_JOB_ENDED)
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
