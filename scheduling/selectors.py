"""Reads of the scheduling app shared by the pages, the API and the admin."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from scheduling.models import GenerationRun


def generation_run_json(*, run: GenerationRun) -> dict[str, Any]:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "id": run.pk,
        "url": reverse("scheduling:run", args=[run.pk]),
        "api_url": reverse("scheduling_api:detail", args=[run.pk]),
        "academic_year": {"id": run.academic_year_id, "label": str(run.academic_year)},
        "first_block": run.first_block,
        "last_block": run.last_block,
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
        "assignments_written": run.assignments_written,
        # Changes (and the floor), fairness spreads, wishes honoured per person (report.py).
        "report": run.report,
        "error": run.error,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "cancelled_at": iso(run.cancelled_at),
    }


def generation_runs_recent(*, limit: int = 50):
    return GenerationRun.objects.select_related("academic_year", "requested_by")[:limit]
