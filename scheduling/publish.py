"""Drafts and publishing of a blocks run (docs/scheduling.md): the draft stored for review, the
reviewed publish and discard, and the job's automatic publish; all writes of the diff go through
``scheduling.diff.diff_apply`` (version-checked, all or nothing). The run's lifecycle around
them (start, cancel, execute, guard, reap) is in scheduling/services.py and execute.py (services
re-exports the names used through it); shifts runs publish through scheduling/shift_publish.py.

A job writes only while the year's generation fence still holds its token
(``check_job_may_write``): a job whose Redis lock expired and was taken by another never writes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from residency.errors import Conflict, Gone, RotaError
from residency.locking import lock_rows, locked_transaction, schedule_lock_exclusive
from residency.models import AcademicYear
from scheduling.diff import Diff, StaleDraft, StaleRows, diff_apply
from scheduling.models import GenerationChange, GenerationRun, ShiftChange
from scheduling.notifications import (
    generation_run_end_notify,
)
from scheduling.report import report_summary
from scheduling.solver import SolveResult

Status = GenerationRun.Status
Kind = GenerationChange.Kind

# Automatic publishing: when rows the run would change were changed during its solve, solve
# again from the current schedule at most this many times, then leave a draft for review.
AUTO_PUBLISH_RESOLVES = 2


class StaleFence(RotaError):
    """The run no longer holds the year's generation lock: another run took it."""

    status_code = 409

    def __init__(self) -> None:
        super().__init__(
            "This run lost the generation lock for the year (another run took it over); "
            "nothing was written."
        )


class NoLongerRunning(Exception):
    """Raised inside the write transaction when the run was cancelled or reaped meanwhile."""


@dataclass
class Hooks:
    """Test seams (None in production): called from the job while it works. Defined here, where
    the write and publish seams are called, because services (the guard's seams; tests reach the
    object as ``services.hooks``) imports this module, not the other way round."""

    after_progress_write: Callable[[int], None] | None = None  # after a progress UPDATE
    in_write_phase: Callable[[int], None] | None = None  # in the write transaction, locks held
    in_publish: Callable[[int], None] | None = None  # in a publish's transaction, locks held
    # On a solver thread at each solution, after the snapshot was read (holds the solve there).
    on_solution: Callable[[int], None] | None = None


hooks = Hooks()


def result_figures(result: SolveResult | None) -> dict:
    """The run's fields for a blocks solve (written with a draft, a publish or a failure)."""
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


def check_job_may_write(year: AcademicYear, current: GenerationRun) -> None:
    if year.generation_fence != current.fence_token:
        raise StaleFence()
    if current.status != Status.RUNNING:
        raise NoLongerRunning()


def draft_store(
    *, run: GenerationRun, diff: Diff, result: SolveResult, stale: StaleRows | None = None
) -> GenerationRun:
    """End the run with its proposed changes stored for review (status ready), or, when it
    changes nothing, succeeded without writing anything. Writes no assignment."""
    return run_draft_store(
        run=run,
        changes=diff.changes,
        fields={**result_figures(result), **diff.figures},
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
    check_job_may_write(year, current)
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
    check_job_may_write(year, current)
    if hooks.in_write_phase is not None:
        hooks.in_write_phase(run.pk)
    GenerationChange.objects.filter(run_id=run.pk).delete()
    written = diff_apply(run=current, changes=diff.changes, by_id=run.requested_by_id)
    GenerationChange.objects.bulk_create(diff.changes)  # the record of what it did
    job_write_end(
        run=run,
        current=current,
        written=written,
        message=_written_message(result, diff),
        solved_from="the current schedule",
        stale=stale,
        started=started,
        fields={**result_figures(result), **diff.figures},
    )
    return written


def job_write_end(
    *,
    run: GenerationRun,
    current: GenerationRun,
    written: int,
    message: str,
    solved_from: str,
    stale: StaleRows | None,
    started: float,
    fields: dict,
) -> None:
    """The end of an automatic publish of either kind (``schedule_write``,
    ``shift_publish.shift_job_write``), in its write transaction: the run succeeded, published by
    whoever asked for it, with ``fields`` (figures) and ``message`` saying what it wrote and, if
    earlier attempts were ``stale``, why it solved again (from ``solved_from``)."""
    resolved = (
        f" Solved again {current.resolves} time(s) from {solved_from}, because "
        f"{stale.summary[0].lower()}{stale.summary[1:]}"
        if stale is not None
        else ""
    )
    now = timezone.now()
    GenerationRun.objects.filter(pk=run.pk).update(
        status=Status.SUCCEEDED,
        progress=100,
        progress_message=(message + resolved)[:300],
        finished_at=now,
        published_at=now,
        published_by_id=run.requested_by_id,
        assignments_written=written,
        stale_rows=stale.rows if stale is not None else [],
        publish_seconds=time.monotonic() - started,
        **fields,
    )


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
    written = diff_apply(run=current, changes=changes, by_id=by_id)
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
