"""Coordinator pages (/generation/) and the JSON API (/api/generation-runs). Thin: they parse
input, check the caller is a coordinator, and call one service."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from redis.exceptions import RedisError

from residency.errors import RotaError
from residency.http import BadRequest, api_view, error_json, json_body, rota_error_json
from residency.selectors import current_academic_year, is_coordinator
from scheduling import services, shift_runs, shift_views
from scheduling.forms import GenerationStartForm, ShiftGenerationStartForm
from scheduling.models import GenerationRun
from scheduling.selectors import (
    generation_run_diff,
    generation_run_json,
    generation_run_shift_diff,
    generation_runs_recent,
)
from scheduling.shift_views import coordinator_only


def _start_form(data) -> forms.Form:
    """The start form for the kind asked for: blocks (the default) or shifts."""
    if data is not None and data.get("kind") == GenerationRun.Kind.SHIFTS:
        return ShiftGenerationStartForm(data)
    return GenerationStartForm(data)


def _start(request: HttpRequest, data: dict) -> GenerationRun:
    if data.get("kind") == GenerationRun.Kind.SHIFTS:
        return shift_runs.shift_generation_start(
            academic_year_id=data["academic_year"].pk,
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
    return services.generation_run_start(
        academic_year_id=data["academic_year"].pk,
        requested_by=request.user,
        first_block=data.get("first_block"),
        last_block=data.get("last_block"),
        time_limit_seconds=data.get("time_limit_seconds"),
        seed=data.get("seed") or 0,
        workers=data.get("workers"),
        auto_publish=bool(data.get("auto_publish")),
    )


# -- pages ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest) -> HttpResponse:
    coordinator_only(request)
    year = current_academic_year()
    form = _start_form(request.POST or None)
    if request.method == "GET":
        form = GenerationStartForm(initial={"academic_year": year})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                run = _start(request, form.cleaned_data)
            except services.GenerationAlreadyRunning as error:
                messages.error(request, error.message)
                return redirect("scheduling:run", error.run.pk)
            except RotaError as error:
                form.add_error(getattr(error, "field", None), error.message)
                status = error.status_code
            else:
                messages.success(request, f"Generation #{run.pk} queued.")
                return redirect("scheduling:run", run.pk)
        else:
            status = 400
    return render(
        request,
        "scheduling/run_list.html",
        {"form": form, "runs": generation_runs_recent()},
        status=status,
    )


def _detail(request: HttpRequest, pk: int, *, status: int = 200, refusal=None) -> HttpResponse:
    run = get_object_or_404(GenerationRun.objects.select_related("academic_year"), pk=pk)
    run = _reaped_if_dead(run)
    same = {key: run.parameters.get(key) for key in ("time_limit_seconds", "seed", "workers")}
    if run.is_shifts:
        again = ShiftGenerationStartForm(
            initial={
                "academic_year": run.academic_year_id,
                "start": run.start_date,
                "end": run.end_date,
                "keep": run.parameters.get("keep"),
                **same,
            }
        )
    else:
        again = GenerationStartForm(
            initial={
                "academic_year": run.academic_year_id,
                "first_block": run.first_block,
                "last_block": run.last_block,
                **same,
            }
        )
    stale_rows = getattr(refusal, "rows", None) or run.stale_rows
    return render(
        request,
        "scheduling/run_detail.html",
        {
            "run": run,
            "run_json": generation_run_json(run=run),
            "diff": generation_run_diff(run=run),
            "shift_diff": generation_run_shift_diff(run=run) if run.is_shifts else None,
            "refusal": refusal,
            "stale_rows": stale_rows,
            "again": again,
            **(shift_views.draft_context(request, run, stale_rows) if run.is_shifts else {}),
        },
        status=status,
    )


@login_required
@require_GET
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    coordinator_only(request)
    return _detail(request, pk)


@login_required
@require_POST
def run_publish(request: HttpRequest, pk: int) -> HttpResponse:
    coordinator_only(request)
    get_object_or_404(GenerationRun, pk=pk)
    try:
        run = services.generation_run_publish(run_id=pk, by=request.user)
    except RotaError as error:  # stale rows or a stale draft (409), busy (503), rules (422)
        return _detail(request, pk, status=error.status_code, refusal=error)
    messages.success(request, f"Generation #{run.pk}: {run.progress_message}")
    return redirect("scheduling:run", pk)


@login_required
@require_POST
def run_discard(request: HttpRequest, pk: int) -> HttpResponse:
    coordinator_only(request)
    get_object_or_404(GenerationRun, pk=pk)
    try:
        _, message = services.generation_run_discard(run_id=pk, by=request.user)
    except RotaError as error:
        return _detail(request, pk, status=error.status_code, refusal=error)
    messages.info(request, message)
    return redirect("scheduling:run", pk)


def _reaped_if_dead(run: GenerationRun) -> GenerationRun:
    """The page polls this: an active run whose rq job rq reports failed or gone shows failed
    at once rather than "running" until its lock expires."""
    try:
        if run.is_active and services.generation_runs_reap(run_id=run.pk):
            run.refresh_from_db()
    except RedisError:  # the page still shows the run as stored; the cron reaper retries
        pass
    return run


@login_required
@require_POST
def run_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    coordinator_only(request)
    get_object_or_404(GenerationRun, pk=pk)
    _, message = services.generation_run_cancel(run_id=pk)
    messages.info(request, message)
    return redirect("scheduling:run", pk)


# -- JSON API ------------------------------------------------------------------------------


def _api_coordinator_only(request: HttpRequest) -> JsonResponse | None:
    if not is_coordinator(request.user):
        return error_json("Only coordinators run schedule generation.", status=403)
    return None


@api_view
@require_POST
def api_start(request: HttpRequest) -> HttpResponse:
    if denied := _api_coordinator_only(request):
        return denied
    body = json_body(request)
    if body.get("kind", GenerationRun.Kind.BLOCKS) not in GenerationRun.Kind.values:
        raise BadRequest("Invalid generation request.", {"kind": ["Use blocks or shifts."]})
    form = _start_form(body)
    if not form.is_valid():
        raise BadRequest(
            "Invalid generation request.",
            {field: [str(e) for e in errors] for field, errors in form.errors.items()},
        )
    try:
        run = _start(request, form.cleaned_data)
    except services.GenerationAlreadyRunning as error:
        return rota_error_json(error, running_run=generation_run_json(run=error.run))
    response = JsonResponse(generation_run_json(run=run), status=202)
    response["Location"] = generation_run_json(run=run)["api_url"]
    return response


@api_view
@require_GET
def api_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if denied := _api_coordinator_only(request):
        return denied
    run = GenerationRun.objects.select_related("academic_year").filter(pk=pk).first()
    if run is None:
        return error_json("No such generation run.", status=404)
    return JsonResponse(generation_run_json(run=_reaped_if_dead(run)))


@api_view
@require_POST
def api_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    if denied := _api_coordinator_only(request):
        return denied
    if not GenerationRun.objects.filter(pk=pk).exists():
        return error_json("No such generation run.", status=404)
    run, message = services.generation_run_cancel(run_id=pk)
    return JsonResponse({**generation_run_json(run=run), "detail": message})


@api_view
@require_POST
def api_publish(request: HttpRequest, pk: int) -> HttpResponse:
    """200 + the run; 409 with ``stale_rows`` (rows changed since the snapshot) or with
    ``stale_draft`` (discarded, superseded or already published); nothing written on refusal."""
    if denied := _api_coordinator_only(request):
        return denied
    if not GenerationRun.objects.filter(pk=pk).exists():
        return error_json("No such generation run.", status=404)
    try:
        run = services.generation_run_publish(run_id=pk, by=request.user)
    except services.StaleRows as error:
        return rota_error_json(error, stale_rows=error.rows)
    except services.StaleDraft as error:
        return rota_error_json(
            error, stale_draft=True, run=generation_run_json(run=error.run)
        )  # fmt: skip
    return JsonResponse(generation_run_json(run=run))


@api_view
@require_POST
def api_discard(request: HttpRequest, pk: int) -> HttpResponse:
    if denied := _api_coordinator_only(request):
        return denied
    if not GenerationRun.objects.filter(pk=pk).exists():
        return error_json("No such generation run.", status=404)
    run, message = services.generation_run_discard(run_id=pk, by=request.user)
    return JsonResponse({**generation_run_json(run=run), "detail": message})
