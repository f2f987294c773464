"""Executing a generation run (the rq job's body, scheduling/jobs.py): take the year's Redis
lock, claim the run (and the fence), solve, then leave a draft or publish (docs/scheduling.md).
The same loop serves both kinds of run; ``_work_for`` gives the kind's steps (``_BlockWork``
here, ``ShiftWork`` in scheduling/shift_runs.py). ``run_finish`` ends a run conditionally on its
status, so a finishing job, a cancel and the reaper can never both win."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from redis.exceptions import LockError

from residency.errors import Busy, RotaError
from residency.models import AcademicYear
from scheduling.diff import Diff, ScheduleInvalid, StaleRows, schedule_diff
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
from scheduling.reaper import _redis, lock_name, lock_token
from scheduling.report import result_report
from scheduling.search import ScheduleSolve
from scheduling.solver import SolveResult, infeasible_groups

logger = logging.getLogger(__name__)
Status = GenerationRun.Status

WRITE_ATTEMPTS = 3  # the write phase waits for swaps in flight, a bounded number of times


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
        run_finish(
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
        run_finish(run_id, Status.FAILED, f"Unexpected error: {error}")
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
            run_finish(run.pk, Status.FAILED, f"{error.message}\n{text}", **work.figures(result))
            return
        except RotaError as error:  # StaleFence, Busy
            run_finish(run.pk, Status.FAILED, error.message, **work.figures(result))
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
        run_finish(run.pk, Status.FAILED, rules_text(reasons), solver_status="PRECHECK")
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
        run_finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures)
        return None
    if guard.stopped_because:
        run_finish(run.pk, Status.FAILED, guard.stopped_because, **figures)
        return None
    if result.status == "INFEASIBLE":
        guard.report(95, "No schedule exists; finding the conflicting rules.")
        groups = infeasible_groups(problem) or []
        reasons = explain_groups(problem, groups) or [
            "The rules cannot all be met together (the solver could not narrow it down)."
        ]
        run_finish(run.pk, Status.FAILED, rules_text(reasons), **figures)
        return None
    if not result.found:
        run_finish(
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
            run_finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.")
    except RotaError as error:  # StaleFence, Busy
        run_finish(run.pk, Status.FAILED, error.message)


def _end_cancelled_or_not(run: GenerationRun, figures: dict) -> None:
    if run_status(run.pk) == Status.CANCELLING:
        run_finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures)


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


def rules_text(reasons: list[str]) -> str:
    return "No schedule can meet these rules together:\n" + "\n".join(f"- {r}" for r in reasons)


@transaction.atomic
def run_finish(run_id: int, status: str, text: str, *, expected=None, **fields) -> bool:
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
