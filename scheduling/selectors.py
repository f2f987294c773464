"""Reads of the scheduling app shared by the pages, the API and the admin."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.urls import reverse

from residency.models import Assignment
from scheduling.models import GenerationChange, GenerationRun, ShiftChange


def generation_run_json(*, run: GenerationRun) -> dict[str, Any]:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "id": run.pk,
        "url": reverse("scheduling:run", args=[run.pk]),
        "api_url": reverse("scheduling_api:detail", args=[run.pk]),
        "academic_year": {"id": run.academic_year_id, "label": str(run.academic_year)},
        "kind": run.kind,
        "first_block": run.first_block,
        "last_block": run.last_block,
        "start_date": iso(run.start_date),
        "end_date": iso(run.end_date),
        "parameters": run.parameters,
        "status": run.status,
        "finished": run.status in GenerationRun.FINISHED_STATUSES,
        "progress": run.progress,
        "message": run.progress_message,
        "solver": {
            "status": run.solver_status,
            "objective": run.objective,
            "best_bound": run.best_bound,
            "gap": run.gap,
            "first_solution_seconds": run.first_solution_seconds,
            "wall_seconds": run.wall_seconds,
        },
        "status_label": run.get_status_display(),
        "auto_publish": run.auto_publish,
        "snapshot_at": iso(run.snapshot_at),
        "rows": {
            "kept": run.rows_kept,
            "changed": run.rows_changed,
            "added": run.rows_added,
            "removed": run.rows_removed,
        },
        "fairness_spread": run.fairness_spread,
        "resolves": run.resolves,
        "stale_rows": run.stale_rows,
        "publish_url": reverse("scheduling_api:publish", args=[run.pk]),
        "discard_url": reverse("scheduling_api:discard", args=[run.pk]),
        "published_at": iso(run.published_at),
        "publish_seconds": run.publish_seconds,
        "assignments_written": run.assignments_written,
        # Changes (and the floor), fairness spreads, wishes honoured per person (report.py).
        "report": run.report,
        "error": run.error,
        # A shifts run's proposed (or, published, applied) changes; [] for a blocks run.
        "shift_changes": [
            {
                "kind": change.kind,
                "person": {"id": change.person_id, "name": change.person.name},
                "date": change.date.isoformat(),
                "shift_type": {"id": change.shift_type_id, "code": change.shift_type.code},
                "shift_id": change.shift_id,
                "version_read": change.version_read,
            }
            for change in (_shift_changes(run) if run.is_shifts else [])
        ],
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "cancelled_at": iso(run.cancelled_at),
    }


def generation_runs_recent(*, limit: int = 50):
    return GenerationRun.objects.select_related("academic_year", "requested_by")[:limit]


def _placement(rotation, role: str) -> str:
    if rotation is None:
        return "nothing"
    if role and role != Assignment.Role.PRIMARY:
        return f"{rotation.name} ({Assignment.Role(role).label.lower()})"
    return rotation.name


@dataclass(frozen=True)
class ChangeRow:
    person: str
    block: int
    kind: str
    kind_label: str
    before: str
    after: str


def generation_run_diff(*, run: GenerationRun) -> dict[str, Any]:
    """A run's proposed changes in a coordinator's terms: per block, who goes from what to what,
    with counts by kind and the number of people affected."""
    changes = GenerationChange.objects.filter(run=run).select_related(
        "person", "block", "rotation_before", "rotation_after"
    ).order_by("block__number", "person__name", "pk")  # fmt: skip
    rows = [
        ChangeRow(
            person=change.person.name,
            block=change.block.number,
            kind=change.kind,
            kind_label=change.get_kind_display(),
            before=_placement(change.rotation_before, change.role_before),
            after=_placement(change.rotation_after, change.role_after),
        )
        for change in changes
    ]
    counts = Counter(row.kind for row in rows)
    return {
        "blocks": [
            {"number": number, "rows": list(group)}
            for number, group in groupby(rows, key=lambda row: row.block)
        ],
        "changed": counts[GenerationChange.Kind.CHANGE],
        "added": counts[GenerationChange.Kind.ADD],
        "removed": counts[GenerationChange.Kind.REMOVE],
        "total": len(rows),
        "people": len({row.person for row in rows}),
    }


def _shift_changes(run: GenerationRun):
    return (
        ShiftChange.objects.filter(run=run)
        .select_related("person", "shift_type")
        .order_by("date", "person__name", "kind", "pk")
    )


@dataclass(frozen=True)
class ShiftChangeRow:
    date: object
    person: str
    shift_type: str
    kind: str
    kind_label: str


def generation_run_shift_diff(*, run: GenerationRun) -> dict[str, Any]:
    """A shifts run's changes per day: who gains or loses which shift."""
    rows = [
        ShiftChangeRow(
            date=change.date,
            person=change.person.name,
            shift_type=change.shift_type.name,
            kind=change.kind,
            kind_label=change.get_kind_display(),
        )
        for change in _shift_changes(run)
    ]
    counts = Counter(row.kind for row in rows)
    return {
        "days": [
            {"date": day, "rows": list(group)} for day, group in groupby(rows, key=lambda r: r.date)
        ],
        "added": counts[ShiftChange.Kind.ADD],
        "removed": counts[ShiftChange.Kind.REMOVE],
        "total": len(rows),
        "people": len({row.person for row in rows}),
    }
