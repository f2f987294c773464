"""The residents' wishes page: ranked rotation wishes per block and vacation requests for a
year whose wish window is open (docs/scheduling.md, "Preferences")."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from residency.errors import RotaError
from residency.http import BadRequest, api_view, json_body, parse_id
from residency.models import Absence, Person, ResidentYear
from residency.selectors import person_for_user
from scheduling import preference_services as services
from scheduling.forms import RotationWishForm, VacationRequestForm
from scheduling.models import PreferenceWindow, RotationWish


def _resident_person(request: HttpRequest) -> Person:
    person = person_for_user(user=request.user)
    if person is None or person.kind != Person.Kind.RESIDENT:
        raise Http404("Wishes are entered by residents linked to this login.")
    return person


def _window(request: HttpRequest, person: Person) -> PreferenceWindow | None:
    """The window of the year named in ``year``, else the open window that closes first."""
    year_id = parse_id(request.GET.get("year", "") or request.POST.get("year", ""))
    windows = _windows(person)
    if year_id is not None:
        return windows.filter(academic_year_id=year_id).first()
    return windows.filter(deadline__gte=timezone.now()).order_by("deadline").first()


def _windows(person: Person):
    """The wish windows of every year ``person`` is a resident in."""
    years = ResidentYear.objects.filter(person=person).values("academic_year_id")
    return PreferenceWindow.objects.filter(academic_year_id__in=years).select_related(
        "academic_year"
    )


def _resident(request: HttpRequest) -> tuple[Person, ResidentYear, PreferenceWindow]:
    """The login's person and the year whose wishes they enter (``_window``)."""
    person = _resident_person(request)
    return _in_window(person, _window(request, person))


def _in_window(
    person: Person, window: PreferenceWindow | None
) -> tuple[Person, ResidentYear, PreferenceWindow]:
    if window is None:
        raise Http404("No wishes are being collected for a year of yours.")
    membership = ResidentYear.objects.get(person=person, academic_year=window.academic_year)
    return person, membership, window


def _page(request, person, membership, window, *, wish_form=None, vacation_form=None, status=200):
    year = window.academic_year
    wishes = RotationWish.objects.filter(person=person, block__academic_year=year).select_related(
        "block", "rotation"
    )
    requests = Absence.objects.filter(
        person=person, start_date__lte=year.end_date, end_date__gte=year.start_date
    ).exclude(status=Absence.Status.CANCELLED)
    context = {
        "window": window,
        "year": year,
        "pgy": membership.pgy_level,
        "open": timezone.now() <= window.deadline,
        "wishes": wishes,
        "requests": requests,
        "wish_form": wish_form or RotationWishForm(academic_year=year, pgy=membership.pgy_level),
        "vacation_form": vacation_form or VacationRequestForm(),
    }
    return render(request, "scheduling/wishes.html", context, status=status)


@login_required
def wishes(request: HttpRequest) -> HttpResponse:
    person = _resident_person(request)
    window = _window(request, person)
    if window is None and not request.GET.get("year"):
        # The menu links here all year; between wish windows the page says so (and links the
        # closed windows, which can still be read) rather than answering "not found".
        closed = _windows(person).order_by("-deadline")
        return render(request, "scheduling/wishes_none.html", {"closed": closed})
    return _page(request, *_in_window(person, window))


def _back(window: PreferenceWindow):
    return redirect(f"/generation/wishes/?year={window.academic_year_id}")


@login_required
@require_POST
def wish_add(request: HttpRequest) -> HttpResponse:
    person, membership, window = _resident(request)
    form = RotationWishForm(
        request.POST, academic_year=window.academic_year, pgy=membership.pgy_level
    )
    if not form.is_valid():
        return _page(request, person, membership, window, wish_form=form, status=400)
    data = form.cleaned_data
    try:
        wish = services.rotation_wish_add(
            person=person, block_id=data["block"].pk, rotation_id=data["rotation"].pk,
            rank=data["rank"],
        )  # fmt: skip
    except RotaError as error:
        field = getattr(error, "field", None)
        form.add_error(field if field in form.fields else None, error.message)
        return _page(request, person, membership, window, wish_form=form, status=error.status_code)
    messages.success(request, f"Saved: block {wish.block.number}, choice #{wish.rank}.")
    return _back(window)


@login_required
@require_POST
def wish_remove(request: HttpRequest, pk: int) -> HttpResponse:
    person, _, window = _resident(request)
    try:
        services.rotation_wish_remove(person=person, wish_id=pk)
    except RotaError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Wish removed.")
    return _back(window)


@login_required
@require_POST
def vacation_request(request: HttpRequest) -> HttpResponse:
    person, membership, window = _resident(request)
    form = VacationRequestForm(request.POST)
    if not form.is_valid():
        return _page(request, person, membership, window, vacation_form=form, status=400)
    data = form.cleaned_data
    try:
        services.vacation_request_add(
            person=person, academic_year=window.academic_year, start_date=data["start_date"],
            end_date=data["end_date"], note=data["note"],
        )  # fmt: skip
    except RotaError as error:
        field = getattr(error, "field", None)
        form.add_error(field if field in form.fields else None, error.message)
        return _page(
            request, person, membership, window, vacation_form=form, status=error.status_code
        )
    messages.success(request, "Vacation requested; the coordinator will approve or deny it.")
    return _back(window)


# -- JSON API: /api/wishes ------------------------------------------------------------------


def _wish_json(wish: RotationWish) -> dict:
    return {
        "id": wish.pk,
        "block": {"id": wish.block_id, "number": wish.block.number},
        "rank": wish.rank,
        "rotation": {"id": wish.rotation_id, "code": wish.rotation.code},
    }


def _api_resident(request: HttpRequest) -> Person:
    person = person_for_user(user=request.user)
    if person is None or person.kind != Person.Kind.RESIDENT:
        raise Http404("Wishes are entered by residents linked to this login.")
    return person


@api_view
@require_http_methods(["GET", "POST"])
def api_wishes(request: HttpRequest) -> HttpResponse:
    """GET: the caller's wishes; POST {"block", "rotation", "rank"}: add one (201, or 400/422)."""
    person = _api_resident(request)
    if request.method == "GET":
        wishes = RotationWish.objects.filter(person=person).select_related("block", "rotation")
        return JsonResponse({"wishes": [_wish_json(w) for w in wishes]})
    data = json_body(request)
    values = {name: data.get(name) for name in ("block", "rotation", "rank")}
    bad = {
        name: ["A whole number is required."]
        for name, value in values.items()
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31
    }
    if bad:
        raise BadRequest("Invalid wish.", bad)
    wish = services.rotation_wish_add(
        person=person, block_id=values["block"], rotation_id=values["rotation"],
        rank=values["rank"],
    )  # fmt: skip
    return JsonResponse(_wish_json(wish), status=201)


@api_view
@require_http_methods(["DELETE"])
def api_wish_delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.rotation_wish_remove(person=_api_resident(request), wish_id=pk)
    return HttpResponse(status=204)
