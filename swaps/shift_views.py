"""Pages of shift trades (for the person linked to the login) and of sick-call coverage (for
coordinators). Thin: parse input, call one selector or service, render or redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from residency.errors import RotaError
from residency.http import parse_id
from residency.models import Person
from residency.selectors import is_coordinator, person_for_user
from shifts.models import Shift, SickCall
from swaps import services, shift_selectors
from swaps.forms import SickCallDayForm, SickCallPostForm
from swaps.models import SwapRequest


def _person_or_404(request: HttpRequest) -> Person:
    person = person_for_user(user=request.user)
    if person is None:
        raise Http404("Your login is not linked to a person in the program.")
    return person


def _own_shift(request: HttpRequest, shift_id: int) -> tuple[Person, Shift]:
    person = _person_or_404(request)
    shift = get_object_or_404(
        Shift.objects.select_related("person", "shift_type"), pk=shift_id, person=person
    )
    return person, shift


@login_required
def shift_trades(request: HttpRequest) -> HttpResponse:
    """My shifts that can still be traded, the open pool I could take from, my requests."""
    person = person_for_user(user=request.user)
    context: dict = {"person": person}
    if person is not None:
        context |= {
            "shifts": shift_selectors.tradeable_shifts(person=person)[:60],
            "pool": shift_selectors.open_shift_offers(person=person),
            "requests": shift_selectors.shift_requests_for(person=person),
        }
    return render(request, "swaps/shift_trades.html", context)


@login_required
def shift_trade_builder(request: HttpRequest, shift_id: int) -> HttpResponse:
    """Only the trades the services would accept right now for this shift."""
    _person, shift = _own_shift(request, shift_id)
    options = shift_selectors.shift_trade_options(shift=shift)
    return render(
        request,
        "swaps/shift_builder.html",
        {
            "shift": shift,
            "giveaways": [o for o in options if o.gets is None],
            "trades": [o for o in options if o.gets is not None],
        },
    )


@login_required
def shift_trade_confirm(request: HttpRequest, shift_id: int) -> HttpResponse:
    """GET: what each side gives and gets, and a button. POST: send the request."""
    person, shift = _own_shift(request, shift_id)
    data = request.POST if request.method == "POST" else request.GET
    kind = data.get("kind", "")
    if kind not in SwapRequest.Kind.values:
        return render(request, "swaps/shift_bad.html", {"shift": shift}, status=400)
    counterpart_id = parse_id(data.get("counterpart", ""))
    wanted_id = parse_id(data.get("wanted", ""))
    counterpart = Person.objects.filter(pk=counterpart_id).first() if counterpart_id else None
    wanted = (
        Shift.objects.select_related("person", "shift_type").filter(pk=wanted_id).first()
        if wanted_id
        else None
    )
    context = {"shift": shift, "kind": kind, "counterpart": counterpart, "wanted": wanted}
    if request.method != "POST":
        return render(request, "swaps/shift_confirm.html", context)
    try:
        swap = services.shift_swap_request_create(
            requester=person,
            kind=kind,
            offered_shift_id=shift.pk,
            counterpart=counterpart,
            wanted_shift_id=wanted.pk if wanted else (wanted_id or None),
            message=data.get("message", "")[:1000],
            by=request.user,
        )
    except RotaError as error:
        context["error"] = error.message
        return render(request, "swaps/shift_confirm.html", context, status=error.status_code)
    messages.success(request, f"Request #{swap.pk} sent.")
    return redirect("swaps:shift_trades")


@login_required
def shift_take(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: confirmation of a take from the pool. POST: take it (first valid taker wins)."""
    person = _person_or_404(request)
    offer = get_object_or_404(
        SwapRequest.objects.select_related(*shift_selectors.SHIFT_RELATED),
        pk=pk,
        unit=SwapRequest.Unit.SHIFT,
        kind=SwapRequest.Kind.OPEN,
        requester__kind=person.kind,
    )
    if request.method != "POST":
        return render(request, "swaps/shift_take.html", {"offer": offer})
    try:
        swap = services.swap_request_accept(
            swap_request_id=offer.pk, person=person, by=request.user
        )
    except RotaError as error:
        messages.error(request, error.message)
        return redirect("swaps:shift_trades")
    if swap.status == SwapRequest.Status.EXECUTED:
        messages.success(request, f"You took {offer.offered_label}. It is on your schedule.")
    else:
        messages.success(request, "You took it; it now waits for a coordinator's approval.")
    return redirect("swaps:shift_trades")


# --- Sick calls (coordinators) ----------------------------------------------------------------


def _coordinator_only(request: HttpRequest) -> None:
    if not is_coordinator(request.user):
        raise Http404("Only coordinators handle sick calls.")


@login_required
def sick_calls(request: HttpRequest) -> HttpResponse:
    """Open sick calls (uncovered shifts) and the form that marks someone out for a day."""
    _coordinator_only(request)
    form = SickCallDayForm(request.POST or None)
    shift_id = parse_id(request.POST.get("shift", "")) if request.method == "POST" else None
    if shift_id is not None:
        # One shift (a link from the calendar, the load test): mark its holder out for it.
        try:
            call = services.shift_sick_call_report(shift_id=shift_id, by=request.user)
        except RotaError as error:
            messages.error(request, error.message)
            return redirect("swaps:sick_calls")
        messages.success(request, "The shift is marked uncovered.")
        return redirect("swaps:sick_call", pk=call.pk)
    if request.method == "POST":
        if form.is_valid():
            calls = services.shift_sick_call_report_day(
                person=form.cleaned_data["person"],
                day=form.cleaned_data["date"],
                by=request.user,
                note=form.cleaned_data["note"],
            )
            if calls:
                messages.success(request, f"{len(calls)} shift(s) marked uncovered.")
                return redirect("swaps:sick_call", pk=calls[0].pk)
            form.add_error("date", "This person holds no shift (not already uncovered) that day.")
        return render(
            request,
            "swaps/sick_calls.html",
            {"form": form, "calls": shift_selectors.open_sick_calls()},
            status=400,
        )
    return render(
        request, "swaps/sick_calls.html", {"form": form, "calls": shift_selectors.open_sick_calls()}
    )


@login_required
def sick_call(request: HttpRequest, pk: int) -> HttpResponse:
    """Ranked replacements with a one-click assign, and posting to the pool with a bonus note."""
    _coordinator_only(request)
    call = get_object_or_404(
        SickCall.objects.select_related("shift__shift_type", "shift__person", "person"), pk=pk
    )
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "assign":
                replacement = get_object_or_404(
                    Person, pk=parse_id(request.POST.get("person", "")) or 0
                )
                services.shift_sick_call_assign(
                    sick_call_id=call.pk, person=replacement, by=request.user
                )
                messages.success(request, f"{replacement.name} covers the shift.")
                return redirect("swaps:sick_calls")
            if action == "post":
                form = SickCallPostForm(request.POST)
                if not form.is_valid():
                    messages.error(request, "The bonus note is limited to 1000 characters.")
                    return redirect("swaps:sick_call", pk=call.pk)
                services.shift_sick_call_post(
                    sick_call_id=call.pk, by=request.user, bonus_note=form.cleaned_data["bonus"]
                )
                messages.success(request, "Posted to the open pool.")
                return redirect("swaps:sick_call", pk=call.pk)
        except RotaError as error:
            messages.error(request, error.message)
            return redirect("swaps:sick_call", pk=call.pk)
        return render(request, "swaps/shift_bad.html", {"shift": call.shift}, status=400)
    replacements = shift_selectors.sick_call_replacements(sick_call=call) if call.is_open else []
    return render(
        request,
        "swaps/sick_call.html",
        {
            "call": call,
            "compliant": [r for r in replacements if r.compliant],
            "others": [r for r in replacements if not r.compliant],
            "posted": call.pool_requests.filter(status__in=SwapRequest.OPEN_STATUSES).first(),
            "post_form": SickCallPostForm(),
            "now": timezone.now(),
        },
    )
