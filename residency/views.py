import json
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import csrf as csrf_views
from django.views.decorators.http import require_GET, require_http_methods

from residency import forms, hooks, selectors, services
from residency.errors import Busy, ConcurrentEdit, Gone, RuleViolation
from residency.history_views import assignment_history_entries
from residency.http import error_json, parse_id
from residency.models import AcademicYear, Assignment, Block, Person, RotationTemplate


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Coordinators go to the admin; faculty and residents see their own assignments."""
    if selectors.is_coordinator(request.user):
        return redirect("admin:index")
    person = selectors.person_for_user(user=request.user)
    year = selectors.current_academic_year()
    assignments = []
    if person is not None and year is not None:
        assignments = (
            person.assignments.filter(block__academic_year=year)
            .select_related("block", "rotation")
            .order_by("block__number")
        )
    return render(
        request,
        "residency/home.html",
        {
            "person": person,
            "year": year,
            "assignments": assignments,
            "today": timezone.localdate(),
        },
    )


# --- Schedules, rosters and editing (issue 3) ---------------------------------------------------


def year_from_request(request: HttpRequest) -> AcademicYear | None:
    """``?year=<id>`` if given (404 if unknown), else the current academic year."""
    year_id = request.GET.get("year", "")
    if year_id:
        pk = parse_id(year_id)
        if pk is None:
            raise Http404("No such academic year.")
        return get_object_or_404(AcademicYear, pk=pk)
    return selectors.current_academic_year()


def _render_schedule(request: HttpRequest, person: Person, *, coordinator: bool) -> HttpResponse:
    year = year_from_request(request)
    rows = (
        selectors.schedule_for_person(person=person, academic_year=year, today=timezone.localdate())
        if year
        else []
    )
    return render(
        request,
        "residency/schedule.html",
        {
            "person": person,
            "year": year,
            "years": AcademicYear.objects.order_by("start_date"),
            "rows": rows,
            "coordinator": coordinator,
            "own": person.user_id == request.user.pk,
            # Shifts and calls of the next two weeks (registered by the shifts app).
            "upcoming": hooks.upcoming_for_person(person=person, today=timezone.localdate()),
            "feed_url": request.build_absolute_uri(
                reverse("calendar_feed", args=[person.calendar_token])
            )
            if person.calendar_token and person.user_id == request.user.pk
            else "",
        },
    )


@login_required
@require_GET
def schedule(request: HttpRequest) -> HttpResponse:
    """The logged-in person's own schedule; for a coordinator without one, an index of people
    and blocks to pick from."""
    person = selectors.person_for_user(user=request.user)
    coordinator = selectors.is_coordinator(request.user)
    if person is not None:
        return _render_schedule(request, person, coordinator=coordinator)
    if coordinator:
        year = year_from_request(request)
        return render(
            request,
            "residency/schedule_index.html",
            {
                "year": year,
                "years": AcademicYear.objects.order_by("start_date"),
                "people": Person.objects.filter(active=True),
                "blocks": year.blocks.order_by("number") if year else [],
            },
        )
    return render(request, "residency/schedule.html", {"person": None})


@login_required
@require_GET
def person_schedule(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_object_or_404(Person, pk=person_id)
    coordinator = selectors.is_coordinator(request.user)
    # 404, not 403: whether someone else's schedule exists is not the caller's business.
    if person.user_id != request.user.pk and not coordinator:
        raise Http404("No such person.")
    return _render_schedule(request, person, coordinator=coordinator)


def _coordinator_block(request: HttpRequest, block_id: int) -> Block:
    if not selectors.is_coordinator(request.user):
        # 403, not 404: blocks are no secret (the year grid shows them all); the 403 page says
        # where to look instead.
        raise PermissionDenied(
            "Block rosters and moves are for coordinators. The year grid shows who is on "
            "what in every block."
        )
    return get_object_or_404(Block.objects.select_related("academic_year"), pk=block_id)


@login_required
@require_GET
def block_roster(request: HttpRequest, block_id: int) -> HttpResponse:
    block = _coordinator_block(request, block_id)
    return render(
        request,
        "residency/block_roster.html",
        # "block" would be shadowed inside {% block %} tags.
        {"the_block": block, "groups": selectors.block_roster(block=block)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def block_reassign(request: HttpRequest, block_id: int) -> HttpResponse:
    block = _coordinator_block(request, block_id)
    form = forms.BulkReassignForm(request.POST or None, block=block)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            source, target = form.cleaned_data["from_rotation"], form.cleaned_data["to_rotation"]
            try:
                moved = services.assignments_bulk_reassign(
                    block=block, from_rotation=source, to_rotation=target, by=request.user
                )
            except RuleViolation as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
                status = error.status_code
            except Busy as error:
                form.add_error(None, error.message)
                status = error.status_code
            else:
                messages.success(
                    request,
                    f"Moved {len(moved)} from {source.name} to {target.name} "
                    f"in block {block.number}.",
                )
                return redirect("block_roster", block_id=block.pk)
    return render(
        request, "residency/block_reassign.html", {"the_block": block, "form": form}, status=status
    )


def _next_url(request: HttpRequest) -> str | None:
    """A same-site ``next`` (the year grid sends one), or None."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _after_edit_url(request: HttpRequest, assignment: Assignment) -> str:
    if target := _next_url(request):
        return target
    if selectors.is_coordinator(request.user):
        return reverse("block_roster", args=[assignment.block_id])
    return f"{reverse('schedule')}?year={assignment.block.academic_year_id}"


def _display(field: str, value: Any) -> str:
    if field == "role":
        return Assignment.Role(value).label
    return "" if value is None else str(value)


@login_required
@require_http_methods(["GET", "POST"])
def assignment_edit(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """Edit one assignment: notes for its owner; person, rotation and role too for a coordinator.

    The form carries the version it was rendered from; the service saves only if the row is
    still at that version (409 page with both versions otherwise, 410 if it was deleted)."""
    assignment = (
        Assignment.objects.select_related("person", "block", "rotation", "updated_by")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None or not selectors.assignment_visible_to(
        user=request.user, assignment=assignment
    ):
        if request.method == "POST":
            # Deleted while the form was open, or never this user's: one answer for both (a
            # 410 for missing ids and a 404 for others' would tell which ids exist), still
            # showing the notes they typed.
            return _gone(
                request,
                request.POST.get("notes", ""),
                heading="This assignment is not available",
                message="It no longer exists, or it is not yours to edit.",
                status=404,
            )
        raise Http404("No such assignment.")

    form_class = forms.assignment_form_class(coordinator=selectors.is_coordinator(request.user))
    if request.method == "GET":
        form = form_class(initial=forms.assignment_form_initial(assignment), assignment=assignment)
        return _render_edit(request, assignment, form)

    form = form_class(request.POST, assignment=assignment)
    if not form.is_valid():
        return _render_edit(request, assignment, form, status=400)
    try:
        updated = services.assignment_update(
            assignment_id=assignment.pk,
            version=form.cleaned_data["version"],
            by=request.user,
            **form.changes(),
        )
    except ConcurrentEdit as error:
        if not selectors.assignment_visible_to(user=request.user, assignment=error.current):
            # A coordinator gave it to someone else meanwhile: not ours to show any more.
            return _gone(
                request,
                form.cleaned_data["notes"],
                heading="This assignment is no longer yours",
                message="A coordinator moved it to someone else while you were editing it.",
                status=409,
            )
        return _conflict(request, form, error.current)
    except Gone:
        return _gone(request, form.cleaned_data.get("notes", ""))
    except RuleViolation as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _render_edit(request, assignment, form, status=error.status_code)
    except Busy as error:
        form.add_error(None, error.message)
        return _render_edit(request, assignment, form, status=error.status_code)
    messages.success(request, f"Saved block {updated.block.number}: {updated.rotation.name}.")
    return redirect(_after_edit_url(request, updated))


def _render_edit(
    request: HttpRequest, assignment: Assignment, form: forms.AssignmentNotesForm, status=200
) -> HttpResponse:
    return render(
        request,
        "residency/assignment_edit.html",
        {
            "assignment": assignment,
            "form": form,
            "back_url": _after_edit_url(request, assignment),
            "next": _next_url(request) or "",
            "history": assignment_history_entries(request=request, assignment_id=assignment.pk),
        },
        status=status,
    )


def _conflict(
    request: HttpRequest, form: forms.AssignmentNotesForm, current: Assignment
) -> HttpResponse:
    """409: the saved values next to the user's own input, and a form holding their input at
    the NEW version, so re-applying it is one click and nothing typed is lost."""
    mine = form.cleaned_data
    untouched = form.untouched_fields()
    comparison = [
        {
            "label": form.fields[field].label or field.capitalize(),
            "saved": _display(field, getattr(current, field)),
            "yours": _display(field, mine[field]),
            "differs": getattr(current, field) != mine[field],
            "untouched": field in untouched,
        }
        for field in form.editable
    ]
    # Re-applying means: this user's changes on top of the new version. Fields they left alone
    # take the newer saved values, so saving does not revert someone else's edit of them.
    reapply = type(form)(
        initial={
            **{
                field: forms.field_raw(
                    getattr(current, field) if field in untouched else mine[field]
                )
                for field in form.editable
            },
            "version": current.version,
            "values_read": json.dumps(forms.assignment_raw_values(current, form.editable)),
        },
        assignment=current,
    )
    return render(
        request,
        "residency/assignment_conflict.html",
        {
            "assignment": current,
            "comparison": comparison,
            "form": reapply,
            "back_url": _after_edit_url(request, current),
            "next": _next_url(request) or "",
        },
        status=409,
    )


def _gone(
    request: HttpRequest,
    notes: str,
    *,
    heading: str = "This assignment no longer exists",
    message: str = "Someone deleted it while you were editing it.",
    status: int = 410,
) -> HttpResponse:
    """The assignment is not there to save to; the user's notes are shown to copy."""
    return render(
        request,
        "residency/assignment_gone.html",
        {"notes": notes, "heading": heading, "message": message},
        status=status,
    )


# --- Rotation colours, the admin login gate, CSRF and lockout answers --------------------------


@require_GET
def rotation_colors_css(request: HttpRequest) -> HttpResponse:
    """``.rot-<id>`` classes with each rotation's colours: a stylesheet, because a strict
    Content-Security-Policy refuses style attributes. Public (colours are no secret)."""
    rules = [
        f".rot-{r.pk} {{ background-color: {r.display_color}; color: {r.text_color}; }}"
        for r in RotationTemplate.objects.order_by("pk")
    ]
    response = HttpResponse("\n".join(rules) + "\n", content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "max-age=60"
    return response


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login page, except for someone already logged in who is not staff: they get
    the 403 page saying what they can do, not a second login form."""
    if request.user.is_authenticated and not request.user.is_staff:
        raise PermissionDenied(
            "The admin is for coordinators. Your schedule, the year grid and swaps are on the "
            "pages linked above."
        )
    return admin.site.login(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF refusals: JSON for the API (clients send the csrftoken cookie's value in the
    X-CSRFToken header, see docs/api.md), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return error_json(
            "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header.",
            status=403,
        )
    return csrf_views.csrf_failure(request, reason=reason)


def login_locked_out(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' answer once a username or a client address is locked out (issue 14): the
    login page again, saying why and for how long, with 429 and Retry-After."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = (
        "Too many failed login attempts for this account or from this address. Logging in is "
        f"blocked for {minutes} minutes; a coordinator can unlock it sooner."
    )
    response = render(
        request,
        "registration/login.html",
        {"form": AuthenticationForm(request), "lockout_message": message},
    )
    response.status_code = 429
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
