"""Shift generation on the generation-run machinery (docs/scheduling.md, "Shift runs").

A shifts run is a ``GenerationRun`` of kind ``shifts`` over a date range of one academic year.
Everything around the solve is the blocks run's (scheduling/services.py): the start under the
year's row lock (one active run per year, whatever its kind), the Redis lock and fence, the
guard thread (cancel, progress, lock renewal), the reaper, the draft, discard and automatic
publishing. This module holds what differs: reading the shifts (scheduling/shift_problem.py),
solving with the rostering engine (scheduling/roster/), the diff against the shifts read, and
the publish of that diff.

Publishing never overwrites a shift changed after the snapshot: it refuses (``StaleRows``,
nothing written) if a shift it removes is gone or at another version, or if any shift of a
person on a date the draft changes was created or edited after the run's ``snapshot_at``.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from residency.errors import Busy, Gone, RuleViolation
from residency.history import SOURCE_GENERATION, history_context_set
from residency.locking import lock_people, lock_people_shared, lock_rows, locked_transaction
from residency.models import AcademicYear, Person
from residency.notification_models import Notification
from residency.notifications import notify_people
from scheduling import services
from scheduling.models import GenerationRun, ShiftChange
from scheduling.notifications import generation_run_end_notify
from scheduling.roster import RosterProgress, RosterResult, RosterSolve, roster_explain
from scheduling.solver import Progress
from shifts.dutyhours import fmt_day
from shifts.models import Shift, ShiftType, shift_times
from shifts.services import lock_shift_types
from shifts.validator import shifts_validate

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


# -- the job: solve, diff (ShiftWork gives services._generate its steps) -----------------------


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


def _figures(solved: ShiftSolved | RosterResult | None) -> dict:
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
    services._finish(run.pk, Status.FAILED, text, **fields)


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
        _fail(run, services._rules_text(reasons), solver_status="PRECHECK")
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
    figures = _figures(result)
    if guard.stopped_because == "cancelled" or services._status(run.pk) == Status.CANCELLING:
        services._finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures)
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
        if services._status(run.pk) == Status.CANCELLING:  # cancelled while it explained
            services._finish(run.pk, Status.CANCELLED, "Cancelled; nothing was written.", **figures)
            return None
        _fail(run, services._rules_text(reasons), **figures)
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
    """The steps of ``services._generate`` for a shifts run."""

    solve = staticmethod(_solve)
    figures = staticmethod(_figures)

    @staticmethod
    def draft(*, run: GenerationRun, diff: ShiftDiff, result: ShiftSolved, stale=None) -> None:
        services.run_draft_store(
            run=run,
            changes=diff.changes,
            fields={**_figures(result), **diff.figures},
            summary=diff.summary,
            stale=stale,
        )

    @staticmethod
    def write(*, run: GenerationRun, diff: ShiftDiff, result: ShiftSolved, stale=None) -> None:
        _job_write(run=run, diff=diff, result=result, stale=stale)


# -- publishing ------------------------------------------------------------------------------


def _lock_for_write(run: GenerationRun, changes: list[ShiftChange]):
    """The locks of a shift publish, in the order every shift edit takes them (shifts/services.py:
    people, then shift types), so a publish and a concurrent edit, trade or sick call of one of
    its people queue instead of interleaving: whichever comes second sees what the first
    committed (the edit waits and then judges duty hours on the published shifts; the publish
    waits and then finds the edited shift stale). Then the year row (a new run's start
    supersedes drafts under it; the fence) and the run row (a cancel, discard or second publish
    waits for this transaction)."""
    lock_people({c.person_id for c in changes})
    lock_shift_types({c.shift_type_id for c in changes})
    year = lock_rows(AcademicYear.objects.filter(pk=run.academic_year_id))[0]
    current = lock_rows(GenerationRun.objects.filter(pk=run.pk))[0]
    return year, current


def shift_generation_publish(*, run_id: int, by=None) -> GenerationRun:
    """Publish a shifts draft (reached through ``services.generation_run_publish``): its changes
    in one transaction, only if no shift it touches changed after the snapshot
    (``StaleRows`` naming them otherwise; nothing written), and only if the daily layer's
    validator finds no violation over the period that was not there before (``ScheduleInvalid``,
    rolled back). A discarded, superseded or published run raises ``StaleDraft``."""
    started = time.monotonic()
    run = GenerationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise Gone("No such generation run.")
    _publish(run=run, by=by, started=started)
    return GenerationRun.objects.select_related("academic_year").get(pk=run_id)


@locked_transaction
def _publish(*, run: GenerationRun, by, started: float) -> None:
    # A READY draft's changes no longer change (only a running run rewrites its own).
    changes = list(ShiftChange.objects.filter(run_id=run.pk).order_by("pk"))
    _year, current = _lock_for_write(run, changes)
    if current.status != Status.READY:
        raise services.StaleDraft(current)
    if services.hooks.in_publish is not None:
        services.hooks.in_publish(run.pk)
    by_id = by.pk if by is not None else current.requested_by_id
    written = _changes_apply(run=current, changes=changes, by_id=by_id)
    GenerationRun.objects.filter(pk=run.pk).update(
        status=Status.SUCCEEDED,
        progress_message=f"Published: {written} shift change(s) written. "
        f"{current.rows_kept} shift(s) left untouched.",
        published_at=timezone.now(),
        published_by=by,
        assignments_written=written,
        publish_seconds=time.monotonic() - started,
    )


@locked_transaction
def _job_write(
    *, run: GenerationRun, diff: ShiftDiff, result: ShiftSolved, stale: services.StaleRows | None
) -> int:
    """Automatic publishing from the job: the same write, under the year's generation fence,
    and the run marked succeeded, in one transaction."""
    started = time.monotonic()
    year, current = _lock_for_write(run, diff.changes)
    services._check_job_may_write(year, current)
    if services.hooks.in_write_phase is not None:
        services.hooks.in_write_phase(run.pk)
    ShiftChange.objects.filter(run_id=run.pk).delete()
    written = _changes_apply(run=current, changes=diff.changes, by_id=run.requested_by_id)
    ShiftChange.objects.bulk_create(diff.changes)  # the record of what it did
    resolved = (
        f" Solved again {current.resolves} time(s) from the current shifts, because "
        f"{stale.summary[0].lower()}{stale.summary[1:]}"
        if stale is not None
        else ""
    )
    now = timezone.now()
    GenerationRun.objects.filter(pk=run.pk).update(
        status=Status.SUCCEEDED,
        progress=100,
        progress_message=(f"Shifts published: {diff.summary}{resolved}")[:300],
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


def _stale_rows(run: GenerationRun, changes: list[ShiftChange]) -> list[dict]:
    """Every reason the draft may no longer be written: a shift it removes is gone or at another
    version, a shift it adds was booked meanwhile, or any shift of a person on a date it
    changes was created or edited after the snapshot. Runs under the people locks, so no edit
    of these people lands between this check and the writes."""
    if not changes:
        return []
    people = {p.pk: p.name for p in Person.objects.filter(pk__in={c.person_id for c in changes})}
    types = {t.pk: t for t in ShiftType.objects.filter(pk__in={c.shift_type_id for c in changes})}
    stale: list[dict] = []

    def row(change: ShiftChange, what: str, **more) -> dict:
        name, label = people[change.person_id], types[change.shift_type_id].name
        return {
            "person": name,
            "person_id": change.person_id,
            "date": change.date.isoformat(),
            "shift_type": label,
            "shift_id": change.shift_id,
            "version_read": change.version_read,
            "text": f"{name}, {label} on {fmt_day(change.date)} ({what})",
            **more,
        }

    removes = [c for c in changes if c.kind == Kind.REMOVE]
    rows = {s.pk: s for s in lock_rows(Shift.objects.filter(pk__in=[c.shift_id for c in removes]))}
    for change in removes:
        shift = rows.get(change.shift_id)
        if shift is None:
            stale.append(row(change, "deleted since", version_now=None))
        elif shift.pinned:  # pinning bumps the version too; never remove a pinned shift
            stale.append(row(change, "pinned since", version_now=shift.version))
        elif shift.version != change.version_read:
            stale.append(
                row(
                    change,
                    f"changed since (version {change.version_read} -> {shift.version})",
                    version_now=shift.version,
                )
            )
    reported = {(r["person_id"], r["date"]) for r in stale}
    person_days = {(c.person_id, c.date) for c in changes}
    by_day = {(c.person_id, c.date): c for c in changes}
    touched = Shift.objects.filter(
        person_id__in={p for p, _ in person_days},
        date__in={d for _, d in person_days},
        # Every job records snapshot_at before reading; the run's creation is earlier still, so
        # a run without one (made by hand) is judged conservatively.
        updated_at__gt=run.snapshot_at or run.created_at,
    ).select_related("shift_type")
    for shift in touched.order_by("date", "person_id", "pk"):
        key = (shift.person_id, shift.date)
        if key not in person_days or (shift.person_id, shift.date.isoformat()) in reported:
            continue
        name = people[shift.person_id]
        stale.append(
            {
                **row(by_day[key], ""),
                "shift_type": shift.shift_type.name,
                "shift_id": shift.pk,
                "version_read": None,
                "version_now": shift.version,
                "text": f"{name}, {shift.shift_type.name} on {fmt_day(shift.date)} "
                f"(created or changed since the run read the shifts)",
            }
        )
    return stale


def _changes_apply(*, run: GenerationRun, changes: list[ShiftChange], by_id) -> int:
    """Write ``changes`` inside the caller's transaction (which holds the locks of
    ``_lock_for_write``), all or nothing. Returns the number of shifts written."""
    stale = _stale_rows(run, changes)
    if stale:
        raise services.StaleRows(stale)
    # Only violations the write introduces refuse it: the period may already break a rule the
    # run did not decide (a pinned shift, a type it did not generate).
    known = {str(v) for v in shifts_validate(start=run.start_date, end=run.end_date)}
    history_context_set(source=SOURCE_GENERATION, actor=f"generation run #{run.pk}")
    removed = [c.shift_id for c in changes if c.kind == Kind.REMOVE]
    if removed:
        Shift.objects.filter(pk__in=removed).delete()
    types = {t.pk: t for t in ShiftType.objects.filter(pk__in={c.shift_type_id for c in changes})}
    added = []
    for change in changes:
        if change.kind != Kind.ADD:
            continue
        starts_at, ends_at = shift_times(date=change.date, shift_type=types[change.shift_type_id])
        added.append(
            Shift(
                person_id=change.person_id,
                date=change.date,
                shift_type_id=change.shift_type_id,
                starts_at=starts_at,
                ends_at=ends_at,
                updated_by_id=by_id,
            )
        )
    try:
        with transaction.atomic():
            Shift.objects.bulk_create(added)
    except IntegrityError as error:
        # No overlap per person (the exclusion constraint): a shift the snapshot did not have,
        # outside what the checks above see (a neighbouring day's shift, created meanwhile).
        rows = _overlapping(added) or [
            {"text": "a shift it adds overlaps one booked meanwhile for the same person"}
        ]
        raise services.StaleRows(rows) from error
    introduced = [
        v for v in shifts_validate(start=run.start_date, end=run.end_date) if str(v) not in known
    ]
    if introduced:
        raise services.ScheduleInvalid(introduced)  # rolls the whole write back
    _notify(run=run, changes=changes, types=types)
    return len(changes)


def _overlapping(added: list[Shift]) -> list[dict]:
    """The shifts to add that overlap a shift a person holds now, named."""
    rows = []
    for shift in added:
        other = (
            Shift.objects.filter(
                person_id=shift.person_id, starts_at__lt=shift.ends_at, ends_at__gt=shift.starts_at
            )
            .select_related("person", "shift_type")
            .first()
        )
        if other is not None:
            rows.append(
                {
                    "person": other.person.name,
                    "person_id": other.person_id,
                    "date": other.date.isoformat(),
                    "shift_type": other.shift_type.name,
                    "shift_id": other.pk,
                    "version_now": other.version,
                    "text": f"{other.person.name}, {other.shift_type.name} on "
                    f"{fmt_day(other.date)} (booked since; it overlaps the shift this run adds "
                    f"on {fmt_day(shift.date)})",
                }
            )
    return rows


def _notify(*, run: GenerationRun, changes: list[ShiftChange], types: dict) -> None:
    """One notice per person whose shifts changed, and the coordinators': in the publish's
    transaction, so a publish that rolls back tells nobody."""
    by_person: dict[int, list[str]] = {}
    for change in sorted(changes, key=lambda c: (c.date, c.kind)):
        verb = "new" if change.kind == Kind.ADD else "removed"
        by_person.setdefault(change.person_id, []).append(
            f"{fmt_day(change.date)}: {types[change.shift_type_id].name} ({verb})"
        )
    for person in Person.objects.filter(pk__in=list(by_person)):
        notify_people(
            people=[person],
            kind=Notification.Kind.SCHEDULE_CHANGED,
            subject="Your shifts changed",
            body=f"Generation run #{run.pk} changed your shifts:\n"
            + "\n".join(by_person[person.pk]),
            url="/shifts/",
        )
    generation_run_end_notify(
        run_id=run.pk,
        succeeded=True,
        message=f"Published: {len(changes)} shift change(s) written; "
        f"{len(by_person)} people's shifts changed.",
    )
