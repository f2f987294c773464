"""The year grid, the exports (the whole year for coordinators, one's own schedule for anyone)
and the private calendar feed with its address (issue 11). The schedule pages and the
assignment edit are in residency/views.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from residency import calendar, exports, forms, selectors, services
from residency import year_grid as grids
from residency.grid_html import grid_rows_render
from residency.models import AcademicYear, Person
from residency.views import year_from_request


@login_required
@require_GET
def year_grid(request: HttpRequest, label: str | None = None) -> HttpResponse:
    """Everyone logged in sees the whole year (who is on what in every block); coordinators'
    cells link to the version-checked edit."""
    year = _grid_year(label)
    filter_form = forms.GridFilterForm(request.GET or None)
    coordinator = selectors.is_coordinator(request.user)
    grid = (
        grids.year_grid(
            academic_year=year,
            include_requested_absences=coordinator,
            **filter_form.filters(),
        )
        if year
        else None
    )
    me = selectors.person_for_user(user=request.user)
    if grid is not None:
        grid_rows_render(
            grid, coordinator=coordinator, me_id=me.pk if me else None, back=request.get_full_path()
        )
    return render(
        request,
        "residency/year_grid.html",
        {
            "year": year,
            "years": AcademicYear.objects.order_by("start_date"),
            "grid": grid,
            "filter_form": filter_form,
            "coordinator": coordinator,
            "filtered": any(request.GET.get(k) for k in ("q", "kind", "pgy", "rotation")),
        },
    )


def _grid_year(label: str | None) -> AcademicYear | None:
    if label is None:
        return selectors.current_academic_year()
    year = selectors.academic_year_by_label(label=label)
    if year is None:
        raise Http404("No such academic year.")
    return year


@login_required
@require_GET
def year_grid_export(request: HttpRequest, label: str, fmt: str) -> HttpResponse:
    if not selectors.is_coordinator(request.user):
        raise PermissionDenied(
            "Exporting the whole year is for coordinators. You can download your own schedule "
            "from My schedule."
        )
    year = _grid_year(label)
    grid = grids.year_grid(
        academic_year=year, **forms.GridFilterForm(request.GET or None).filters()
    )
    return _download(
        f"rota-{year.label}",
        fmt,
        csv=lambda: exports.grid_csv(grid),
        xlsx=lambda: exports.grid_xlsx(grid),
    )


@login_required
@require_GET
def schedule_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The logged-in person's schedule for one year (``?year=<id>``) as CSV or Excel."""
    person = selectors.person_for_user(user=request.user)
    if person is None:
        raise PermissionDenied("Your login is not linked to a person in the program yet.")
    year = year_from_request(request)
    if year is None:
        raise Http404("No academic year has been set up yet.")
    rows = selectors.schedule_for_person(person=person, academic_year=year)
    return _download(
        f"rota-{year.label}-{person.name}",
        fmt,
        csv=lambda: exports.schedule_csv(rows),
        xlsx=lambda: exports.schedule_xlsx(rows, title=year.label),
    )


def _download(stem: str, fmt: str, *, csv, xlsx) -> HttpResponse:
    if fmt == "csv":
        response = HttpResponse(csv(), content_type="text/csv; charset=utf-8")
    elif fmt == "xlsx":
        response = HttpResponse(xlsx(), content_type=exports.XLSX_TYPE)
    else:
        raise Http404("No such format.")
    response["Content-Disposition"] = f'attachment; filename="{slugify(stem)}.{fmt}"'
    return response


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The private feed: the token is the credential (calendar apps cannot log in). An unknown
    or revoked token is a plain 404."""
    person = Person.objects.filter(calendar_token=token).first() if token else None
    if person is None:
        raise Http404("No such calendar.")
    response = HttpResponse(
        calendar.calendar_for_person(person=person), content_type="text/calendar; charset=utf-8"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
@require_POST
def calendar_regenerate(request: HttpRequest) -> HttpResponse:
    person = selectors.person_for_user(user=request.user)
    if person is None:
        raise PermissionDenied("Your login is not linked to a person in the program yet.")
    had_one = bool(person.calendar_token)
    services.calendar_token_regenerate(person=person)
    messages.success(
        request,
        "New calendar address made; the old one no longer works. Subscribe again with the new one."
        if had_one
        else "Your calendar address is ready: copy it into your calendar app.",
    )
    return redirect(f"{reverse('schedule')}#calendar")
