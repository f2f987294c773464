"""Shift generation on the generation-run machinery (docs/scheduling.md, "Shift runs").

A shifts run is a ``GenerationRun`` of kind ``shifts`` over a date range of one academic year.
Everything around the solve is the blocks run's (scheduling/services.py, execute.py, guard.py,
reaper.py, publish.py): the start under the year's row lock (one active run per year, whatever
its kind), the Redis lock and fence, the guard thread (cancel, progress, lock renewal), the
reaper, the draft, discard and automatic publishing. This module holds what differs: reading the
shifts (scheduling/shift_problem.py), solving with the rostering engine (scheduling/roster/) and
the diff against the shifts read. The publish of that diff (reviewed or automatic) is in
scheduling/shift_publish.py.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from redis.exceptions import RedisError

from residency.errors import Busy, RuleViolation
from residency.locking import lock_people_shared
from residency.models import AcademicYear
from scheduling import execute, publish, services
from scheduling.guard import run_status
from scheduling.models import GenerationRun, ShiftChange
from scheduling.roster import RosterProgress, RosterResult, RosterSolve, roster_explain
from scheduling.solver import Progress
from shifts.formatting import fmt_day
from shifts.models import Shift, ShiftType

Status = GenerationRun.Status
Kind = ShiftChange.Kind
KEEP_CHOICES = ("changes", "all", "none")
SHOWN_VIOLATIONS = 20


def _reader():
    """scheduling/shift_problem.py: the snapshot, the explanation, the validator, the report.
    Looked up at call time so tests can stand in for it."""
    from scheduling import shift_problem

    return shift_problem


# -- start ---------------------------------------------------------------------------------


def shift_generation_start(
    *,
    academic_year_id: int,
    start: datetime.date,
    end: datetime.date,
    requested_by=None,
    time_limit_seconds: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    keep: str = "changes",
    shift_type_ids: list[int] | None = None,
    auto_publish: bool = False,
    enqueue: bool = True,
) -> GenerationRun:
    """Queue a shifts run for ``start``..``end`` (inclusive, inside the academic year), or raise
    ``GenerationAlreadyRunning`` (409) while any run of the year is active, ``RuleViolation``
    (422, with the field) for input the worker could not use. ``keep``: which current shifts
    the solve must keep ("changes": prefer few changes; "all": keep every current shift;
    "none": start afresh; pinned shifts are always kept). ``shift_type_ids``: the active shift
    types to generate (None or empty: every active type; the others' shifts stay as they are)."""
    year = AcademicYear.objects.filter(pk=academic_year_id).first()
    if year is None:
        raise RuleViolation("No such academic year.", "academic_year")
    if start is None or end is None:
        raise RuleViolation("Give the first and the last day.", "start" if start is None else "end")
    if end < start:
        raise RuleViolation("The last day must not come before the first.", "end")
    if not year.start_date <= start <= year.end_date:
        raise RuleViolation(
            f"The first day must be inside {year} ({fmt_day(year.start_date)} to "
            f"{fmt_day(year.end_date)}).",
            "start",
        )
    if not year.start_date <= end <= year.end_date:
        raise RuleViolation(
            f"The last day must be inside {year} ({fmt_day(year.start_date)} to "
            f"{fmt_day(year.end_date)}).",
            "end",
        )
    if keep not in KEEP_CHOICES:
        raise RuleViolation(f"Keep must be one of {', '.join(KEEP_CHOICES)}.", "keep")
    # Time limit, workers and seed: the blocks run's checks and defaults.
    parameters = services._parameters(
        first_block=None,
        last_block=None,
        time_limit_seconds=time_limit_seconds,
        seed=seed,
        workers=workers,
        max_consecutive_heavy=None,
    )
    parameters.pop("max_consecutive_heavy")
    parameters["keep"] = keep
    if shift_type_ids:
        wanted = sorted({int(pk) for pk in shift_type_ids})
        active = set(
            ShiftType.objects.filter(pk__in=wanted, active=True).values_list("pk", flat=True)
        )
        if active != set(wanted):
            raise RuleViolation("Choose active shift types only.", "shift_types")
        parameters["shift_type_ids"] = wanted
    try:
        services.generation_runs_reap(academic_year_id=academic_year_id)
    except RedisError as error:
        raise Busy("The job queue (Redis) is unavailable; try again shortly.") from error
    return services.run_create(
        academic_year_id=academic_year_id,
        requested_by=requested_by,
        parameters=parameters,
        auto_publish=auto_publish,
        enqueue=enqueue,
        kind=GenerationRun.Kind.SHIFTS,
        start_date=start,
        end_date=end,
    )


# -- the job: solve, diff (ShiftWork gives execute._generate its steps) -----------------------


@dataclass
class ShiftDiff:
    """What a roster would change in the shifts it read: additions and removals (a type
    change on a person-day is one of each). Unchanged shifts are only counted."""

    changes: list[ShiftChange]
    kept: int

    @property
    def figures(self) -> dict:
        adds = {(c.person_id, c.date) for c in self.changes if c.kind == Kind.ADD}
        removes = {(c.person_id, c.date) for c in self.changes if c.kind == Kind.REMOVE}
        return {
            "rows_kept": self.kept,
            "rows_changed": len(adds & removes),
            "rows_added": sum(1 for c in self.changes if c.kind == Kind.ADD),
            "rows_removed": sum(1 for c in self.changes if c.kind == Kind.REMOVE),
        }

    @property
    def summary(self) -> str:
        f = self.figures
        return (
            f"{f['rows_added']} shift(s) added, {f['rows_removed']} removed "
            f"({f['rows_changed']} person-day(s) change type); {f['rows_kept']} unchanged."
        )


@dataclass
class ShiftSolved:
    """A roster found and checked: the solver's figures and the report (what it means)."""

    result: RosterResult
    report: dict


def _progress_to_guard(guard) -> Callable[[RosterProgress], None]:
    """The roster engine's progress, in the form the guard writes (scheduling.solver.Progress).
    Before any bound the engine reports -inf; costs are never negative, so 0 is a true bound
    (and keeps -Infinity out of the database and the JSON)."""

    def on_progress(progress: RosterProgress) -> None:
        bound = progress.bound if progress.bound != float("-inf") else 0.0
        guard.on_solution(
            Progress(
                solutions=progress.solutions,
                objective=progress.objective,
                best_bound=bound,
                wall_seconds=progress.wall_seconds,
            )
        )

    return on_progress


def solve_figures(solved: ShiftSolved | RosterResult | None) -> dict:
    if solved is None:
        return {}
    result = solved.result if isinstance(solved, ShiftSolved) else solved
    figures = {
        "solver_status": result.status,
        "objective": result.objective,
        "best_bound": result.bound,
        "gap": result.gap,
        "first_solution_seconds": result.first_solution_seconds,
        "wall_seconds": result.wall_seconds,
    }
    if isinstance(solved, ShiftSolved):
        figures["report"] = solved.report
    return figures


def _fail(run: GenerationRun, text: str, **fields) -> None:
    execute.run_finish(run.pk, Status.FAILED, text, **fields)


def _precheck(snapshot) -> list[str]:
    """The engine's counting checks (no solver, a fraction of a second) with people named: a
    day nobody can cover, a pin the person may not work, hours that cannot be reached. The
    reader's full explanation also searches rule groups with the solver, which is only
    meaningful once the solve proved the problem infeasible."""
    names = {pid: person.name for pid, person in snapshot.people.items()}
    problem = snapshot.problem
    shown = dataclasses.replace(
        problem,
        people=tuple(dataclasses.replace(p, id=names.get(p.id, p.id)) for p in problem.people),
        pinned={(names.get(pid, pid), day): code for (pid, day), code in problem.pinned.items()},
    )
    return roster_explain(shown, day_label=snapshot.day_label)


def shift_snapshot_read(*, run: GenerationRun):
    """Read the run's period and record ``snapshot_at``: every shift written before that moment
    is in the snapshot, and every shift written after it has a later ``updated_at`` (what the
    publish refuses to overwrite)."""
    with transaction.atomic():
        # Shift writers stamp updated_at after they lock their people (lock_people). Without
        # this lock an edit stamped before snapshot_at but committed after the read would be in
        # neither the snapshot nor "changed after it", and the publish could overwrite it: the
        # share lock waits for writers in flight and holds back new ones until the read ends.
        lock_people_shared()
        snapshot_at = timezone.now()
        snapshot = _reader().shift_snapshot_load(
            academic_year=run.academic_year,
            start=run.start_date,
            end=run.end_date,
            keep=run.parameters.get("keep", "changes"),
            shift_type_ids=run.parameters.get("shift_type_ids"),
        )
        GenerationRun.objects.filter(pk=run.pk).update(snapshot_at=snapshot_at)
    return snapshot


def _solve(run: GenerationRun, guard) -> tuple[ShiftDiff, ShiftSolved] | None:
    """Read the shifts, explain or solve, check the roster with the independent validator,
    and diff it against what was read; None when the run ended here (it says why)."""
    reader = _reader()
    params = run.parameters
    snapshot = shift_snapshot_read(run=run)
    reasons = _precheck(snapshot)
    if reasons:
        _fail(run, execute.rules_text(reasons), solver_status="PRECHECK")
        return None
    guard.report(5, "Solving.")
    solve = RosterSolve(
        snapshot.problem,
        time_limit=params["time_limit_seconds"],
        workers=params["workers"],
        seed=params["seed"],
        on_progress=_progress_to_guard(guard),
        # The guard stops the solve on a cancel (solve.stop()); the engine's own watcher also
        # asks, which covers a cancel that lands before guard.solve is set.
        should_stop=lambda: bool(guard.stopped_because),
    )
    guard.solve = solve
    result = solve.run()
    guard.solve = None
    figures = solve_figures(result)
    if guard.stopped_because == "cancelled" or run_status(run.pk) == Status.CANCELLING:
        execute.run_finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures)
        return None
    if guard.stopped_because:
        _fail(run, guard.stopped_because, **figures)
        return None
    if result.status == "INFEASIBLE":
        guard.report(95, "No roster exists; finding the conflicting rules.")
        # The reader's explanation: the counts, then rule groups named by the solver (it may
        # take its own time budget; only ever on a proven-infeasible problem).
        reasons = reader.shift_roster_explain(
            snapshot,
            should_stop=lambda: bool(guard.stopped_because),  # the guard saw a cancel
        ) or [
            f"The shift rules cannot all be met from {fmt_day(run.start_date)} to "
            f"{fmt_day(run.end_date)}: no day or person alone is short (coverage, rest, "
            "duty hours and requests together are)."
        ]
        if run_status(run.pk) == Status.CANCELLING:  # cancelled while it explained
            execute.run_finish(
                run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures
            )
            return None
        _fail(run, execute.rules_text(reasons), **figures)
        return None
    if not result.found:
        _fail(
            run,
            f"No roster found within the time limit of {params['time_limit_seconds']} s "
            f"(solver status {result.status}). Try a longer time limit.",
            **figures,
        )
        return None
    rows = snapshot.rows_of(result.roster)
    # The independent check (the duty-hour engine and coverage, sharing nothing with the model):
    # a roster it rejects is never offered for review.
    violations = reader.shift_rows_validate(snapshot=snapshot, rows=rows)
    if violations:
        _fail(
            run,
            f"The generated roster broke {len(violations)} rule(s) (independent validator); "
            "nothing was written:\n" + "\n".join(f"- {v}" for v in violations),
            **figures,
        )
        return None
    solved = ShiftSolved(result, reader.shift_roster_report(snapshot=snapshot, rows=rows))
    return shift_diff(run_id=run.pk, snapshot=snapshot, rows=rows), solved


def shift_diff(*, run_id: int, snapshot, rows: set[tuple[int, datetime.date, int]]) -> ShiftDiff:
    """Compare the roster's rows with the shifts of the generated types in the period that the
    snapshot read (``snapshot.current``, with ids and versions). Shifts the run must keep are
    constants, never added or removed: pinned shifts (the problem's pins, and every shift
    marked pinned, e.g. a second one the same day that the roster holds as fixed work) and, with
    ``keep="all"``, every current shift. Days outside the period and other types are in
    neither side."""
    problem = snapshot.problem
    current = snapshot.current
    protected = {
        (snapshot.people[pid].pk, snapshot.date_of(day), snapshot.shift_types[code].pk)
        for (pid, day), code in problem.pinned.items()
        if code is not None and code in snapshot.shift_types and pid in snapshot.people
    }
    if getattr(snapshot, "keep", "changes") == "all":
        protected |= set(current)
    else:
        marked = set(
            Shift.objects.filter(
                pk__in=[pk for pk, _ in current.values()], pinned=True
            ).values_list("pk", flat=True)
        )
        protected |= {key for key, (pk, _) in current.items() if pk in marked}
    before = {key: value for key, value in current.items() if key not in protected}
    after = {row for row in rows if row not in protected}
    changes = [
        ShiftChange(
            run_id=run_id,
            kind=Kind.REMOVE,
            person_id=person_id,
            date=day,
            shift_type_id=type_id,
            shift_id=before[person_id, day, type_id][0],
            version_read=before[person_id, day, type_id][1],
        )
        for person_id, day, type_id in sorted(set(before) - after)
    ]
    changes += [
        ShiftChange(
            run_id=run_id, kind=Kind.ADD, person_id=person_id, date=day, shift_type_id=type_id
        )
        for person_id, day, type_id in sorted(after - set(before))
    ]
    return ShiftDiff(changes=changes, kept=len(set(before) & after))


class ShiftWork:
    """The steps of ``execute._generate`` for a shifts run."""

    solve = staticmethod(_solve)
    figures = staticmethod(solve_figures)

    @staticmethod
    def draft(*, run: GenerationRun, diff: ShiftDiff, result: ShiftSolved, stale=None) -> None:
        publish.run_draft_store(
            run=run,
            changes=diff.changes,
            fields={**solve_figures(result), **diff.figures},
            summary=diff.summary,
            stale=stale,
        )

    @staticmethod
    def write(*, run: GenerationRun, diff: ShiftDiff, result: ShiftSolved, stale=None) -> None:
        from scheduling.shift_publish import shift_job_write  # imports this module

        shift_job_write(run=run, diff=diff, result=result, stale=stale)
