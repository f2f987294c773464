"""The shift generation pages (docs/scheduling.md, "Shift generation pages"): the start form
(/generation/shifts/) and what a shifts run's page shows of its draft (the month calendars
and the fairness table, through ``draft_context``). Thin: parse input, call
``shift_generation_start`` or a selector, map domain errors to form errors and status codes."""

from __future__ import annotations

import contextlib
import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from residency.errors import RotaError
from residency.http import parse_id
from residency.models import AcademicYear
from residency.selectors import current_academic_year, is_coordinator
from scheduling import services, shift_runs
from scheduling.forms import ShiftGenerationPageForm
from scheduling.models import GenerationRun
from scheduling.selectors import generation_runs_recent
from scheduling.shift_selectors import (
    shift_draft_calendar,
    shift_period_choices,
    shift_period_default,
    shift_run_fairness,
)


def coordinator_only(request: HttpRequest) -> None:
    """The pages' guard, here and in scheduling/views.py (which imports this module)."""
    if not is_coordinator(request.user):
        raise PermissionDenied("Only coordinators run schedule generation.")


def _initial(request: HttpRequest) -> dict:
    """What a quick choice (or the shifts calendar's link) prefills: ``academic_year``,
    ``start``, ``end`` and ``keep`` from the query string; anything unreadable is ignored."""
    initial: dict = {}
    year_id = parse_id(request.GET.get("academic_year", ""))
    year = AcademicYear.objects.filter(pk=year_id).first() if year_id is not None else None
    for name in ("start", "end"):
        with contextlib.suppress(ValueError):
            initial[name] = datetime.date.fromisoformat(request.GET.get(name, ""))
    if year is None and "start" in initial:
        year = AcademicYear.objects.filter(
            start_date__lte=initial["start"], end_date__gte=initial["start"]
        ).first()
    year = year or current_academic_year(today=timezone.localdate())
    initial["academic_year"] = year
    if "start" not in initial and "end" not in initial:
        period = shift_period_default(year=year, today=timezone.localdate())
        if period is not None:
            initial["start"], initial["end"] = period.start, period.end
    if request.GET.get("keep") in shift_runs.KEEP_CHOICES:
        initial["keep"] = request.GET["keep"]
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def shift_start(request: HttpRequest) -> HttpResponse:
    """GET: the form (prefilled from the query string). POST: queue a shifts run and go to its
    page; 400 for input that does not parse, 422 for a period the service refuses (next to its
    field), 409 while a run of the year is active (linking to it); what was typed is kept."""
    coordinator_only(request)
    status, active_run = 200, None
    if request.method == "GET":
        form = ShiftGenerationPageForm(initial=_initial(request))
        year = form.initial.get("academic_year")
    else:
        form = ShiftGenerationPageForm(request.POST)
        year = None
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            year = data["academic_year"]
            try:
                run = shift_runs.shift_generation_start(
                    academic_year_id=year.pk,
                    start=data["start"],
                    end=data["end"],
                    requested_by=request.user,
                    time_limit_seconds=data.get("time_limit_seconds"),
                    seed=data.get("seed") or 0,
                    workers=data.get("workers"),
                    keep=data.get("keep") or "changes",
                    shift_type_ids=[t.pk for t in data.get("shift_types") or []],
                    auto_publish=bool(data.get("auto_publish")),
                )
            except services.GenerationAlreadyRunning as error:
                form.add_error(None, error.message)
                status, active_run = error.status_code, error.run
            except RotaError as error:
                field = getattr(error, "field", None)
                form.add_error(field if field in form.fields else None, error.message)
                status = error.status_code
            else:
                messages.success(request, f"Shift generation #{run.pk} queued.")
                return redirect("scheduling:run", run.pk)
        year = (
            year
            or AcademicYear.objects.filter(
                pk=parse_id(request.POST.get("academic_year", ""))
            ).first()
        )
    return render(
        request,
        "scheduling/shift_start.html",
        {
            "form": form,
            "year": year,
            "choices": shift_period_choices(year=year, today=timezone.localdate()),
            "active_run": active_run,
            "runs": [r for r in generation_runs_recent(limit=20) if r.is_shifts][:5],
        },
        status=status,
    )


def draft_context(request: HttpRequest, run: GenerationRun, stale_rows) -> dict:
    """What a shifts run's page adds (scheduling/views.py ``_detail``): the draft calendar,
    filtered by ``?type=`` and ``?person=`` (ids), with the rows a refused publish named marked,
    and the fairness table. Nothing before the run has a period's changes or report."""
    if run.status not in (
        GenerationRun.Status.READY,
        GenerationRun.Status.SUCCEEDED,
        GenerationRun.Status.DISCARDED,
        GenerationRun.Status.SUPERSEDED,
    ):
        return {"draft_calendar": None, "fairness": None, "only_changed": False}
    stale = {
        (row["person_id"], row["date"])
        for row in stale_rows or []
        if isinstance(row, dict) and "person_id" in row and "date" in row
    }
    return {
        "draft_calendar": shift_draft_calendar(
            run=run,
            type_id=parse_id(request.GET.get("type", "")),
            person_id=parse_id(request.GET.get("person", "")),
            stale=stale,
        ),
        "only_changed": request.GET.get("changed") == "1",
        "fairness": shift_run_fairness(run=run),
    }
