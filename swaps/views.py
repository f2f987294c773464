"""Pages for faculty and residents: offer a swap, answer requests, take open offers.

Every page acts for the person linked to the login, on that person's own requests only; a
request that is not theirs (or not an open offer among their kind) is answered 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

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


def _builder(person: Person, offered_id: int | None, kind: str) -> dict:
    """The swap builder's state: the assignments ``person`` may offer, the chosen one, and for
    the chosen kind only the counterparts that would be accepted right now."""
    offerable = list(selectors.offerable_assignments(person=person))
    offered = next((a for a in offerable if a.pk == offered_id), None)
    if kind not in SwapRequest.Kind.values:
        kind = ""
    options = None
    if offered is not None and kind == SwapRequest.Kind.ONE_TO_ONE:
        options = selectors.swap_one_to_one_options(person=person, offered=offered)
    elif offered is not None and kind == SwapRequest.Kind.GIVE_AWAY:
        options = selectors.swap_give_away_options(person=person, offered=offered)
    return {
        "offerable": offerable,
        "offered": offered,
        "kind": kind,
        "kinds": SwapRequest.Kind.choices,
        "options": options,
        "step": 2 if offered is not None and kind else 1,
    }


@login_required
def new(request: HttpRequest) -> HttpResponse:
    """Step 1 (GET): choose the assignment and the kind of swap. Step 2 (GET with both): choose
    among the counterparts that are legal right now. POST sends the request; the service checks
    everything again."""
    person = _person_or_404(request)
    if request.method == "POST":
        form = SwapOfferForm(request.POST, person=person)
        context = _builder(
            person, parse_id(request.POST.get("offered", "")), request.POST.get("kind", "")
        )
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
                return render(
                    request, "swaps/new.html", {"form": form, **context}, status=error.status_code
                )
            messages.success(request, f"Request #{swap.pk} sent: {_summary(swap)}.")
            return redirect("swaps:overview")
        return render(request, "swaps/new.html", {"form": form, **context}, status=400)
    offered = parse_id(request.GET.get("assignment", ""))
    form = SwapOfferForm(initial={"offered": offered} if offered is not None else {}, person=person)
    context = _builder(person, offered, request.GET.get("kind", ""))
    if request.GET.get("step") == "1":
        context["step"] = 1  # "Change": back to the first step with the choices kept
    return render(request, "swaps/new.html", {"form": form, **context})


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
@require_GET
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """What accepting (or taking) would do, before anything happens: what you give, what you
    get. The button posts to ``accept``, which checks everything again under locks."""
    person, swap = _visible_swap(request, pk)
    taking = swap.kind == SwapRequest.Kind.OPEN and swap.requester_id != person.pk
    if not taking and swap.counterpart_id != person.pk:
        raise Http404
    if swap.status != SwapRequest.Status.PENDING:
        messages.info(request, f"Request #{swap.pk} is {swap.get_status_display().lower()}.")
        return redirect("swaps:detail", swap.pk)
    you_give = you_get = None
    if taking:
        you_get = swap.offered
        you_give = (
            selectors.giving_back_for(taker=person, offered=swap.offered) if swap.offered else None
        )
    else:
        you_get, you_give = swap.offered, swap.wanted
    problems = []
    if swap.offered is not None:
        problems = selectors.swap_exchange_problems(
            requester=swap.requester, counterpart=person, offered=swap.offered, wanted=you_give
        )
    return render(
        request,
        "swaps/confirm.html",
        {
            "swap": swap,
            "taking": taking,
            "you_give": _label(you_give, person),
            "you_get": _label(you_get, person),
            "problems": problems,
            "back": request.GET.get("back", ""),
        },
    )


def _label(assignment, viewer: Person) -> str:
    if assignment is None:
        return ""
    rotation = selectors.rotation_label_for(assignment=assignment, viewer=viewer)
    return f"{rotation}, {selectors.block_label(assignment.block)}"


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
