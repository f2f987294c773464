"""Shift pages: the month calendar (everyone reads it, coordinators edit from it), a person's
shifts with their duty hours, the assign/move/remove forms and the compliance report. Thin: parse
input, call one service or selector, turn domain errors into form errors and status codes."""

from __future__ import annotations

import calendar
import contextlib
import csv
import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from residency.errors import ConcurrentEdit, Gone, RotaError, RuleViolation
from residency.http import parse_id
from residency.models import Person
from residency.selectors import is_coordinator, person_for_user
from shifts import compliance, selectors, services
from shifts.errors import DutyHourViolation
from shifts.forms import ShiftDeleteForm, ShiftForm
from shifts.models import Shift, ShiftType, SickCall


def _month(request: HttpRequest) -> tuple[datetime.date, datetime.date]:
    """``?month=YYYY-MM`` (the current month if absent or not a month)."""
    today = timezone.localdate()
    year, month = today.year, today.month
    text = request.GET.get("month", "")
    parts = text.split("-")
    digits = len(parts) == 2 and all(p.isascii() and p.isdigit() and len(p) <= 4 for p in parts)
    if digits and 1900 <= int(parts[0]) <= 9000 and 1 <= int(parts[1]) <= 12:
        year, month = int(parts[0]), int(parts[1])
    first = datetime.date(year, month, 1)
    return first, first.replace(day=calendar.monthrange(year, month)[1])


def _month_links(first: datetime.date) -> dict[str, str]:
    previous = (first - datetime.timedelta(days=1)).strftime("%Y-%m")
    following = (first + datetime.timedelta(days=32)).strftime("%Y-%m")
    return {"previous_month": previous, "next_month": following, "month": first.strftime("%Y-%m")}


@login_required
@require_GET
def month_calendar(request: HttpRequest) -> HttpResponse:
    """Days down, shift types across, names in the cells, uncovered slots highlighted. A fixed
    number of queries whatever the month holds (tests/shifts/test_pages.py asserts it)."""
    first, last = _month(request)
    types, days = selectors.month_calendar(start=first, end=last)
    # Shifts whose holder was marked out (sick call) show uncovered until someone covers them;
    # the count of all open sick calls is the coordinator's "uncovered" figure. One query.
    open_calls = list(
        SickCall.objects.filter(resolved_at__isnull=True).values_list("shift_id", flat=True)
    )
    sick = set(open_calls)
    for day in days:
        for cell in day.cells:
            for shift in cell.shifts:
                shift.sick = shift.pk in sick
            cell.sick = any(shift.sick for shift in cell.shifts)
    return render(
        request,
        "shifts/calendar.html",
        {
            "first": first,
            "last": last,
            "types": types,
            "days": days,
            "editable": is_coordinator(request.user),
            "me": person_for_user(user=request.user),
            "open_sick_calls": len(open_calls),
            **_month_links(first),
        },
    )


def _render_person(request: HttpRequest, person: Person, *, own: bool) -> HttpResponse:
    first, last = _month(request)
    return render(
        request,
        "shifts/person.html",
        {
            "person": person,
            "own": own,
            "first": first,
            "shifts": selectors.shifts_for_person(person=person, start=first, end=last),
            "report": compliance.duty_hour_report(person=person, start=first, end=last),
            "editable": is_coordinator(request.user),
            **_month_links(first),
        },
    )


@login_required
@require_GET
def my_shifts(request: HttpRequest) -> HttpResponse:
    person = person_for_user(user=request.user)
    if person is None:
        if is_coordinator(request.user):
            return redirect("shift_calendar")
        raise Http404("Your login is not linked to a person in the program.")
    return _render_person(request, person, own=True)


@login_required
@require_GET
def person_shifts(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_object_or_404(Person, pk=person_id)
    own = person.user_id is not None and person.user_id == request.user.pk
    # 404, not 403: whether someone else's page exists is not the caller's business.
    if not (own or is_coordinator(request.user)):
        raise Http404("No such person.")
    return _render_person(request, person, own=own)


def _coordinator_only(request: HttpRequest) -> None:
    if not is_coordinator(request.user):
        raise Http404("Only coordinators edit shifts.")


def _calendar_url(day: datetime.date) -> str:
    return f"{reverse('shift_calendar')}?month={day:%Y-%m}#d{day:%Y-%m-%d}"


def _apply_error(form: ShiftForm, error: RotaError) -> int:
    """Put a refusal on the form; the HTTP status to answer with."""
    if isinstance(error, DutyHourViolation):
        for problem in error.problems:
            form.add_error("override_reason", problem.message)
        form.add_error(
            "override_reason",
            "Refused: this breaks the duty-hour rules above. To make it anyway, write why here "
            "and save again (recorded in the compliance report).",
        )
    elif isinstance(error, RuleViolation):
        form.add_error(error.field if error.field in form.fields else None, error.message)
    else:
        form.add_error(None, error.message)
    return error.status_code


@login_required
@require_http_methods(["GET", "POST"])
def shift_new(request: HttpRequest) -> HttpResponse:
    _coordinator_only(request)
    status = 200
    if request.method == "GET":
        initial = {}
        day = request.GET.get("date", "")
        with contextlib.suppress(ValueError):
            initial["date"] = datetime.date.fromisoformat(day) if day else None
        type_id = parse_id(request.GET.get("type", ""))
        if type_id is not None:
            initial["shift_type"] = ShiftType.objects.filter(pk=type_id).first()
        form = ShiftForm(initial=initial)
    else:
        form = ShiftForm(request.POST)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                shift = services.shift_create(
                    person=data["person"], shift_type=data["shift_type"], date=data["date"],
                    notes=data["notes"], pinned=data["pinned"], by=request.user,
                    override_reason=data["override_reason"],
                )  # fmt: skip
            except RotaError as error:
                status = _apply_error(form, error)
            else:
                messages.success(
                    request, f"{shift.person.name} has {shift.shift_type.name} on {shift.date}."
                )
                return redirect(_calendar_url(shift.date))
    return render(request, "shifts/shift_form.html", {"form": form, "shift": None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def shift_edit(request: HttpRequest, shift_id: int) -> HttpResponse:
    """Move a shift (person, date, type) or change its notes, at the version the form was
    rendered from: 409 with the saved values and what was typed if someone saved first, 410 if
    it was deleted."""
    _coordinator_only(request)
    shift = (
        Shift.objects.select_related("person", "shift_type", "updated_by")
        .filter(pk=shift_id)
        .first()
    )
    if shift is None:
        if request.method == "POST":
            return _gone(request)
        raise Http404("No such shift.")
    if request.method == "GET":
        form = ShiftForm(
            initial={
                "version": shift.version,
                "person": shift.person,
                "date": shift.date,
                "shift_type": shift.shift_type,
                "notes": shift.notes,
                "pinned": shift.pinned,
            }
        )
        return _render_edit(request, shift, form)
    form = ShiftForm(request.POST)
    if not form.is_valid():
        return _render_edit(request, shift, form, status=400)
    data = form.cleaned_data
    if data["version"] is None:
        form.add_error(None, "This form lost the version it was opened with. Reload the page.")
        return _render_edit(request, shift, form, status=400)
    changes = {
        name: data[name]
        for name in services.SHIFT_EDITABLE_FIELDS
        if data[name] != getattr(shift, name)
    }
    try:
        updated = services.shift_update(
            shift_id=shift.pk, version=data["version"], by=request.user,
            override_reason=data["override_reason"], **changes,
        )  # fmt: skip
    except ConcurrentEdit as error:
        current = error.current
        # The form keeps what was typed and now names the newer version: saving again is a
        # deliberate overwrite.
        bound = request.POST.copy()
        bound["version"] = str(current.version)
        return _render_edit(request, current, ShiftForm(bound), status=409, conflict=True)
    except Gone:
        return _gone(request)
    except RotaError as error:
        status = _apply_error(form, error)
        return _render_edit(request, shift, form, status=status)
    messages.success(request, f"Saved {updated.shift_type.name} on {updated.date}.")
    return redirect(_calendar_url(updated.date))


def _render_edit(request, shift, form, *, status=200, conflict=False) -> HttpResponse:
    return render(
        request,
        "shifts/shift_form.html",
        {
            "form": form,
            "shift": shift,
            "conflict": conflict,
            "delete_form": ShiftDeleteForm(initial={"version": shift.version}),
        },
        status=status,
    )


def _gone(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "shifts/shift_gone.html",
        {"typed": request.POST.get("notes", "")},
        status=410,
    )


@login_required
@require_POST
def shift_delete(request: HttpRequest, shift_id: int) -> HttpResponse:
    _coordinator_only(request)
    form = ShiftDeleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "This form lost the version it was opened with. Reload the page.")
        return redirect("shift_calendar")
    try:
        shift = Shift.objects.select_related("shift_type").get(pk=shift_id)
    except Shift.DoesNotExist:
        return _gone(request)
    try:
        services.shift_delete(shift_id=shift_id, version=form.cleaned_data["version"])
    except ConcurrentEdit as error:
        current = error.current
        edit = ShiftForm(
            {
                "version": current.version,
                "person": current.person_id,
                "date": current.date,
                "shift_type": current.shift_type_id,
                "notes": current.notes,
                "pinned": current.pinned,
            }
        )
        edit.is_valid()
        edit.add_error(
            None,
            "Someone changed this shift after you opened it, so it was not removed. Here it is "
            "as saved now; remove it again if you still want to.",
        )
        return _render_edit(request, current, edit, status=409, conflict=True)
    except Gone:
        return _gone(request)
    except RotaError as error:
        messages.error(request, error.message)
        return redirect("shift_edit", shift_id=shift_id)
    messages.success(request, f"Removed {shift.shift_type.name} on {shift.date}.")
    return redirect(_calendar_url(shift.date))


# --- Compliance ---------------------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[datetime.date, datetime.date]:
    """``?from=&to=`` (ISO dates), else the month given by ``?month=`` or the current one."""
    first, last = _month(request)
    try:
        start = datetime.date.fromisoformat(request.GET.get("from", ""))
        end = datetime.date.fromisoformat(request.GET.get("to", ""))
    except ValueError:
        return first, last
    if start > end or (end - start).days >= compliance.MAX_REPORT_DAYS or start.year < 1900:
        return first, last
    if end.year > 9000:
        return first, last
    return start, end


@login_required
@require_GET
def compliance_program(request: HttpRequest) -> HttpResponse:
    """Who is at risk: every resident's hours, days off, call nights, violations and the
    overrides recorded over the period."""
    _coordinator_only(request)
    start, end = _period(request)
    rows, overrides, limits = compliance.program_compliance(start=start, end=end)
    return render(
        request,
        "shifts/compliance.html",
        {
            "rows": [(row, compliance.is_at_risk(row, limits)) for row in rows],
            "overrides": overrides,
            "limits": limits,
            "start": start,
            "end": end,
            "max_weekly": float(limits.max_weekly_hours),
            **_month_links(start.replace(day=1)),
        },
    )


def _csv_text(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@login_required
@require_GET
def compliance_csv(request: HttpRequest) -> HttpResponse:
    _coordinator_only(request)
    start, end = _period(request)
    rows, overrides, _ = compliance.program_compliance(start=start, end=end)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="duty-hours-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "person", "email", "from", "to", "average h/week", "days off", "in-house calls",
            "rule", "severity", "problem from", "problem to", "value", "limit", "message",
        ]
    )  # fmt: skip
    for row in rows:
        base = [
            _csv_text(row.person.name), _csv_text(row.person.email), start, end,
            f"{row.average:.1f}", row.days_off, row.in_house_calls,
        ]  # fmt: skip
        if not row.problems:
            writer.writerow([*base, "", "", "", "", "", "", ""])
        for p in row.problems:
            writer.writerow(
                [*base, p.rule, p.severity, p.start, p.end, p.value, p.limit, _csv_text(p.message)]
            )
    for o in overrides:
        writer.writerow(
            [
                _csv_text(o.person.name), _csv_text(o.person.email), start, end, "", "", "",
                "override", "override", o.date, o.date, "", "",
                _csv_text(f"{o.shift_type.name}: {o.reason} (by {o.created_by}; {o.problems})"),
            ]
        )  # fmt: skip
    return response
