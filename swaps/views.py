"""Pages for faculty and residents: offer a swap, answer requests, take open offers.

Every page acts for the person linked to the login, on that person's own requests only; a
request that is not theirs (or not an open offer among their kind) is answered 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from residency.errors import RotaError
from residency.http import parse_id
from residency.models import Person
from residency.selectors import person_for_user
from swaps import selectors, services
from swaps.forms import SwapOfferForm
from swaps.models import SwapRequest


def _person_or_404(request: HttpRequest) -> Person:
    person = person_for_user(user=request.user)
    if person is None:
        raise Http404("Your login is not linked to a person in the program.")
    return person


def _visible_swap(request: HttpRequest, pk: int) -> tuple[Person, SwapRequest]:
    person = _person_or_404(request)
    return person, get_object_or_404(selectors.swap_request_visible_to(person=person), pk=pk)


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    person = person_for_user(user=request.user)
    context = {"person": person}
    if person is not None:
        context |= {
            "inbox": selectors.swap_requests_inbox(person=person),
            "outgoing": selectors.swap_requests_outgoing(person=person),
            "answered": selectors.swap_requests_answered(person=person),
        }
    return render(request, "swaps/overview.html", context)


@login_required
def marketplace(request: HttpRequest) -> HttpResponse:
    person = person_for_user(user=request.user)
    offers = selectors.marketplace_offers(person=person) if person else []
    return render(request, "swaps/marketplace.html", {"person": person, "offers": offers})


@login_required
def new(request: HttpRequest) -> HttpResponse:
    person = _person_or_404(request)
    if request.method == "POST":
        form = SwapOfferForm(request.POST, person=person)
        if form.is_valid():
            data = form.cleaned_data
            try:
                swap = services.swap_request_create(
                    requester=person,
                    kind=data["kind"],
                    offered_id=data["offered"].pk,
                    counterpart=data["counterpart"],
                    wanted_id=data["wanted"].pk if data["wanted"] else None,
                    message=data["message"],
                    by=request.user,
                )
            except RotaError as error:
                field = getattr(error, "field", None)
                form.add_error(field if field in form.fields else None, error.message)
                return render(request, "swaps/new.html", {"form": form}, status=error.status_code)
            messages.success(request, f"Request #{swap.pk} sent: {_summary(swap)}.")
            return redirect("swaps:overview")
        return render(request, "swaps/new.html", {"form": form}, status=400)
    initial = {}
    offered = parse_id(request.GET.get("assignment", ""))
    if offered is not None:
        initial["offered"] = offered
    form = SwapOfferForm(initial=initial, person=person)
    return render(request, "swaps/new.html", {"form": form})


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    person, swap = _visible_swap(request, pk)
    return render(
        request,
        "swaps/detail.html",
        {
            "swap": swap,
            "events": swap.events.select_related("actor"),
            "can_answer": swap.status == SwapRequest.Status.PENDING
            and swap.kind != SwapRequest.Kind.OPEN
            and swap.counterpart_id == person.pk,
            "can_take": swap.status == SwapRequest.Status.PENDING
            and swap.kind == SwapRequest.Kind.OPEN
            and swap.requester_id != person.pk,
            "can_cancel": swap.status == SwapRequest.Status.PENDING
            and swap.requester_id == person.pk,
        },
    )


def _summary(swap: SwapRequest) -> str:
    if swap.kind == SwapRequest.Kind.OPEN:
        return f"{swap.offered_label} is on the marketplace"
    if swap.kind == SwapRequest.Kind.GIVE_AWAY:
        return f"{swap.offered_label} offered to {swap.counterpart.name}"
    return f"{swap.offered_label} for {swap.wanted_label}"


def _act(request: HttpRequest, call, success: str) -> HttpResponse:
    """Run one service for a button; report the outcome and go back (post/redirect/get)."""
    try:
        swap = call()
    except RotaError as error:
        messages.error(request, error.message)
    else:
        text = success
        if swap.status == SwapRequest.Status.EXECUTED:
            text += " The swap has been applied to the schedule."
        elif swap.status == SwapRequest.Status.ACCEPTED:
            text += " It now waits for a coordinator's approval."
        messages.success(request, text)
    back = "swaps:marketplace" if request.POST.get("back") == "marketplace" else "swaps:overview"
    return redirect(back)


@login_required
@require_POST
def accept(request: HttpRequest, pk: int) -> HttpResponse:
    person, swap = _visible_swap(request, pk)
    if swap.kind == SwapRequest.Kind.OPEN and swap.requester_id != person.pk:
        success = f"You took offer #{swap.pk}."
    elif swap.counterpart_id == person.pk:
        success = f"You accepted request #{swap.pk}."
    else:
        raise Http404
    return _act(
        request,
        lambda: services.swap_request_accept(
            swap_request_id=swap.pk, person=person, by=request.user
        ),
        success,
    )


@login_required
@require_POST
def decline(request: HttpRequest, pk: int) -> HttpResponse:
    person, swap = _visible_swap(request, pk)
    if swap.counterpart_id != person.pk:
        raise Http404
    return _act(
        request,
        lambda: services.swap_request_decline(
            swap_request_id=swap.pk, person=person, by=request.user
        ),
        f"You declined request #{swap.pk}.",
    )


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    person, swap = _visible_swap(request, pk)
    if swap.requester_id != person.pk:
        raise Http404
    return _act(
        request,
        lambda: services.swap_request_cancel(
            swap_request_id=swap.pk, person=person, by=request.user
        ),
        f"You cancelled request #{swap.pk}.",
    )
