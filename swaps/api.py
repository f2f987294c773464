"""The JSON API of swaps (mounted at /api/swaps): create, read, accept, decline, cancel; for
block assignments ("offered"/"wanted") and single shifts ("offered_shift"/"wanted_shift").
The open shift pool: GET /api/shifts/open, POST /api/shifts/<shift id>/take.

Status codes: 201 created, 200 ok, 400 malformed input, 401 anonymous, 403 not yours to act on,
404 not visible to you, 409 state conflict (no longer pending, already taken, changed since
the request), 422 a scheduling rule refuses it, 503 busy or schedule generation in progress.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_POST

from residency.http import BadRequest, api_view, json_body
from residency.models import Person
from residency.selectors import is_coordinator, person_for_user
from swaps import selectors, services, shift_selectors
from swaps.errors import SwapRefused
from swaps.models import SwapRequest


def swap_json(swap: SwapRequest) -> dict:
    return {
        "id": swap.pk,
        "unit": swap.unit,
        "kind": swap.kind,
        "status": swap.status,
        "requester": swap.requester_id,
        "counterpart": swap.counterpart_id,
        "offered": {
            "assignment": swap.offered_id,
            "shift": swap.offered_shift_id,
            "version": swap.offered_version,
            "label": swap.offered_label,
        },
        "wanted": (
            {
                "assignment": swap.wanted_id,
                "shift": swap.wanted_shift_id,
                "version": swap.wanted_version,
                "label": swap.wanted_label,
            }
            if swap.wanted_version is not None
            else None
        ),
        "message": swap.message,
        "refusal": swap.refusal,
        "created_at": swap.created_at.isoformat(),
        "executed_at": swap.executed_at.isoformat() if swap.executed_at else None,
        "events": [
            {
                "from": event.from_status,
                "to": event.to_status,
                "by": event.actor_label,
                "note": event.note,
                "at": event.at.isoformat(),
            }
            for event in swap.events.all()
        ],
    }


def _person(request: HttpRequest) -> Person:
    person = person_for_user(user=request.user)
    if person is None:
        raise SwapRefused(
            "Your login is not linked to a person in the program.", reason="not_allowed"
        )
    return person


def _int_or_none(data: dict, key: str) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{key} must be an integer id.", {key: ["Must be an integer id."]})
    return value


@api_view
@require_POST
def create(request: HttpRequest) -> JsonResponse:
    """Body: {"kind": "one_to_one"|"give_away"|"open", "offered": id, "wanted": id,
    "counterpart": person id, "message": "..."}; for shifts "offered_shift" and
    "wanted_shift" (shift ids) instead of "offered" and "wanted"."""
    person = _person(request)
    data = json_body(request)
    offered_shift_id = _int_or_none(data, "offered_shift")
    offered_id = _int_or_none(data, "offered")
    if offered_id is None and offered_shift_id is None:
        raise BadRequest(
            "offered (an assignment) or offered_shift (a shift) is required.",
            {"offered": ["This field is required."]},
        )
    if offered_id is not None and offered_shift_id is not None:
        raise BadRequest(
            "Offer an assignment or a shift, not both.",
            {"offered_shift": ["Offer an assignment or a shift, not both."]},
        )
    counterpart = None
    counterpart_id = _int_or_none(data, "counterpart")
    if counterpart_id is not None:
        counterpart = Person.objects.filter(pk=counterpart_id).first()
        if counterpart is None:
            raise BadRequest("No such person.", {"counterpart": ["No such person."]})
    message = data.get("message", "")
    if not isinstance(message, str):
        raise BadRequest("message must be a string.", {"message": ["Must be a string."]})
    if offered_shift_id is not None:
        swap = services.shift_swap_request_create(
            requester=person,
            kind=str(data.get("kind", "")),
            offered_shift_id=offered_shift_id,
            counterpart=counterpart,
            wanted_shift_id=_int_or_none(data, "wanted_shift"),
            message=message,
            by=request.user,
        )
        return JsonResponse(swap_json(swap), status=201)
    swap = services.swap_request_create(
        requester=person,
        kind=str(data.get("kind", "")),
        offered_id=offered_id,
        counterpart=counterpart,
        wanted_id=_int_or_none(data, "wanted"),
        message=message,
        by=request.user,
    )
    return JsonResponse(swap_json(swap), status=201)


def _visible(request: HttpRequest, pk: int) -> tuple[Person | None, SwapRequest]:
    if is_coordinator(request.user):
        qs = SwapRequest.objects.all()
        return person_for_user(user=request.user), get_object_or_404(qs, pk=pk)
    person = _person(request)
    return person, get_object_or_404(selectors.swap_request_visible_to(person=person), pk=pk)


@api_view
@require_GET
def detail(request: HttpRequest, pk: int) -> JsonResponse:
    _, swap = _visible(request, pk)
    return JsonResponse(swap_json(swap))


def _act(request: HttpRequest, pk: int, service) -> JsonResponse:
    person, swap = _visible(request, pk)
    if person is None:
        raise SwapRefused("Coordinators act on requests in the admin.", reason="not_allowed")
    updated = service(swap_request_id=swap.pk, person=person, by=request.user)
    return JsonResponse(swap_json(SwapRequest.objects.get(pk=updated.pk)))


@api_view
@require_POST
def accept(request: HttpRequest, pk: int) -> JsonResponse:
    return _act(request, pk, services.swap_request_accept)


@api_view
@require_POST
def decline(request: HttpRequest, pk: int) -> JsonResponse:
    return _act(request, pk, services.swap_request_decline)


@api_view
@require_POST
def cancel(request: HttpRequest, pk: int) -> JsonResponse:
    return _act(request, pk, services.swap_request_cancel)


# --- the open shift pool ----------------------------------------------------------------------


@api_view
@require_GET
def open_shifts(request: HttpRequest) -> JsonResponse:
    """The pool: pending open shift offers the caller could take now (same rules as taking);
    coordinators see every pending open shift offer."""
    if is_coordinator(request.user):
        offers = shift_selectors.open_shift_offers()
    else:
        offers = shift_selectors.open_shift_offers(person=_person(request))
    return JsonResponse(
        {
            "results": [
                {
                    "request": offer.pk,
                    "shift": offer.offered_shift_id,
                    "version": offer.offered_version,
                    "label": offer.offered_label,
                    "type": offer.offered_shift.shift_type.code,
                    "date": offer.offered_shift.date.isoformat(),
                    "starts_at": offer.offered_shift.starts_at.isoformat(),
                    "ends_at": offer.offered_shift.ends_at.isoformat(),
                    "from": offer.requester_id,
                    "sick_call": offer.sick_call_id,
                    "message": offer.message,
                }
                for offer in offers
            ]
        }
    )


@api_view
@require_POST
def take_shift(request: HttpRequest, shift_id: int) -> JsonResponse:
    """Take the shift from the pool: the pending open offer of it among the caller's kind.
    200 with the request (executed, or accepted awaiting approval); 404 when the shift is not
    in the pool (or not visible); 409 when someone took it first; 422 when a rule refuses."""
    person = _person(request)
    offer = (
        SwapRequest.objects.filter(
            unit=SwapRequest.Unit.SHIFT,
            kind=SwapRequest.Kind.OPEN,
            offered_shift_id=shift_id,
            requester__kind=person.kind,
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if offer is None:
        raise Http404
    updated = services.swap_request_accept(swap_request_id=offer.pk, person=person, by=request.user)
    return JsonResponse(swap_json(SwapRequest.objects.get(pk=updated.pk)))
