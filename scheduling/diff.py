"""The diff of a blocks solve against the schedule it read, and its write (docs/scheduling.md).

``schedule_diff`` says what a solve would change, person by block; ``diff_apply`` writes such
changes, version-checked, all or nothing (``StaleRows`` names the rows changed since the
snapshot). Drafts, publishing and automatic publishing around it are in scheduling/publish.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, prefetch_related_objects
from django.utils import timezone

from residency.errors import Conflict, RotaError
from residency.hooks import BlockChange, block_changes_problems
from residency.locking import lock_rows
from residency.models import AcademicYear, Assignment, Block
from scheduling.models import GenerationChange, GenerationRun
from scheduling.notifications import (
    schedule_publish_begin,
    schedule_publish_end,
)
from scheduling.problem import Problem
from scheduling.solver import SolveResult
from scheduling.validator import schedule_validate
from swaps.services import swap_requests_expire_for_assignments

Status = GenerationRun.Status
Kind = GenerationChange.Kind

# Automatic publishing: when rows the run would change were changed during its solve, solve


class ScheduleInvalid(RotaError):
    status_code = 422

    def __init__(self, violations) -> None:
        super().__init__(
            f"The generated schedule broke {len(violations)} rule(s); nothing written."
        )
        self.violations = violations


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


def diff_apply(*, run: GenerationRun, changes: list[GenerationChange], by_id) -> int:
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
