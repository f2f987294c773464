"""The "My shift requests" page (docs/shifts.md, "Requests"): a resident or faculty member
enters and withdraws their requests for the current periods. Thin: parse, call
``shifts.requests``, turn refusals into form errors and status codes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from residency.errors import RotaError
from residency.models import Person
from residency.selectors import is_coordinator, person_for_user
from shifts import requests as shift_requests
from shifts.formatting import fmt_day
from shifts.forms import ShiftRequestForm


def _person(request: HttpRequest) -> Person:
    person = person_for_user(user=request.user)
    if person is None:
        raise Http404("Shift requests are made by people of the program linked to this login.")
    return person


def _form(person: Person, periods, data=None) -> ShiftRequestForm:
    staffed_by = shift_requests.STAFFED_BY_FOR_KIND.get(person.kind, "")
    open_periods = [p for p in periods if p.is_open]
    return ShiftRequestForm(data, staffed_by=staffed_by, periods=open_periods)


def _page(request, person: Person, *, form=None, status: int = 200) -> HttpResponse:
    periods = shift_requests.shift_request_periods_current()
    mine = shift_requests.shift_requests_of(person=person, periods=periods)
    entries = [
        {
            "period": period,
            "open": period.is_open,
            "requests": mine[period.pk],
            "left": max(0, shift_requests.MAX_REQUESTS_PER_PERIOD - len(mine[period.pk])),
        }
        for period in periods
    ]
    context = {
        "person": person,
        "entries": entries,
        "any_open": any(entry["open"] for entry in entries),
        "form": form or _form(person, periods),
        "limit": shift_requests.MAX_REQUESTS_PER_PERIOD,
    }
    return render(request, "shifts/requests.html", context, status=status)


@login_required
@require_GET
def my_shift_requests(request: HttpRequest) -> HttpResponse:
    if person_for_user(user=request.user) is None and is_coordinator(request.user):
        # Coordinators without a person of their own manage periods and read every request in
        # the admin.
        return redirect("admin:shifts_shiftrequest_changelist")
    return _page(request, _person(request))


@login_required
@require_POST
def shift_request_add(request: HttpRequest) -> HttpResponse:
    person = _person(request)
    form = _form(person, shift_requests.shift_request_periods_current(), request.POST)
    if not form.is_valid():
        return _page(request, person, form=form, status=400)
    data = form.cleaned_data
    try:
        created = shift_requests.shift_request_create(
            person=person, date=data["date"], kind=data["kind"], shift_type=data["shift_type"],
            priority=data["priority"], note=data["note"],
        )  # fmt: skip
    except RotaError as error:
        # The form, with what was typed, and the reason (422 bad request, 409 deadline passed).
        field = getattr(error, "field", None)
        form.add_error(field if field in form.fields else None, error.message)
        return _page(request, person, form=form, status=error.status_code)
    messages.success(
        request,
        f"Saved: {shift_requests.describe(created)} on {created.date:%a} {fmt_day(created.date)} "
        f"({created.get_priority_display().lower()} priority).",
    )
    return redirect(reverse("shift_requests"))


@login_required
@require_POST
def shift_request_delete(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request)
    try:
        removed = shift_requests.shift_request_delete(person=person, request_id=pk)
    except RotaError as error:
        messages.error(request, error.message)
        return _page(request, person, status=error.status_code)
    if not removed:
        # Someone else's request answers exactly like one already withdrawn.
        raise Http404("No such request of yours: it may have been withdrawn already.")
    messages.success(request, "Request withdrawn.")
    return redirect(reverse("shift_requests"))
