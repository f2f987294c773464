"""Publishing a shifts run (docs/scheduling.md, "Shift runs"): the reviewed publish of a draft
(``shift_generation_publish``, reached through ``publish.generation_run_publish``) and the
job's automatic publish (``shift_job_write``), one write for both (``_changes_apply``).

Publishing never overwrites a shift changed after the snapshot: it refuses (``StaleRows``,
nothing written) if a shift it removes is gone or at another version, or if any shift of a
person on a date the draft changes was created or edited after the run's ``snapshot_at``.
The solve and the diff are in scheduling/shift_runs.py.
"""

from __future__ import annotations

import time

from django.db import IntegrityError, transaction
from django.utils import timezone

from residency.errors import Gone
from residency.history import SOURCE_GENERATION, history_context_set
from residency.locking import lock_people, lock_rows, locked_transaction
from residency.models import AcademicYear, Person
from residency.notification_models import Notification
from residency.notifications import notify_people
from scheduling import publish
from scheduling.diff import ScheduleInvalid, StaleDraft, StaleRows
from scheduling.models import GenerationRun, ShiftChange
from scheduling.notifications import generation_run_end_notify
from scheduling.shift_runs import ShiftDiff, ShiftSolved, solve_figures
from shifts.formatting import fmt_day
from shifts.models import Shift, ShiftType, shift_times
from shifts.services import lock_shift_types
from shifts.validator import shifts_validate

Status = GenerationRun.Status
Kind = ShiftChange.Kind


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
    """Publish a shifts draft (reached through ``publish.generation_run_publish``): its changes
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
        raise StaleDraft(current)
    if publish.hooks.in_publish is not None:
        publish.hooks.in_publish(run.pk)
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
def shift_job_write(
    *, run: GenerationRun, diff: ShiftDiff, result: ShiftSolved, stale: StaleRows | None
) -> int:
    """Automatic publishing from the job: the same write, under the year's generation fence,
    and the run marked succeeded, in one transaction."""
    started = time.monotonic()
    year, current = _lock_for_write(run, diff.changes)
    publish.check_job_may_write(year, current)
    if publish.hooks.in_write_phase is not None:
        publish.hooks.in_write_phase(run.pk)
    ShiftChange.objects.filter(run_id=run.pk).delete()
    written = _changes_apply(run=current, changes=diff.changes, by_id=run.requested_by_id)
    ShiftChange.objects.bulk_create(diff.changes)  # the record of what it did
    publish.job_write_end(
        run=run,
        current=current,
        written=written,
        message=f"Shifts published: {diff.summary}",
        solved_from="the current shifts",
        stale=stale,
        started=started,
        fields={**solve_figures(result), **diff.figures},
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
        raise StaleRows(stale)
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
        raise StaleRows(rows) from error
    introduced = [
        v for v in shifts_validate(start=run.start_date, end=run.end_date) if str(v) not in known
    ]
    if introduced:
        raise ScheduleInvalid(introduced)  # rolls the whole write back
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
