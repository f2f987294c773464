"""The JSON API of swaps (mounted at /api/swaps): create, read, accept, decline, cancel.

Status codes: 201 created, 200 ok, 400 malformed input, 401 anonymous, 403 not yours to act on,
404 not visible to you, 409 state conflict (no longer pending, already taken, changed since
the request), 422 a scheduling rule refuses it, 503 busy or schedule generation in progress.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_POST

from residency.http import BadRequest, api_view, json_body
from residency.models import Person
from residency.selectors import is_coordinator, person_for_user
from swaps import selectors, services
from swaps.errors import SwapRefused
from swaps.models import SwapRequest


def swap_json(swap: SwapRequest) -> dict:
    return {
        "id": swap.pk,
        "kind": swap.kind,
        "status": swap.status,
        "requester": swap.requester_id,
        "counterpart": swap.counterpart_id,
        "offered": {
            "assignment": swap.offered_id,
            "version": swap.offered_version,
            "label": swap.offered_label,
        },
        "wanted": (
            {
                "assignment": swap.wanted_id,
                "version": swap.wanted_version,
                "label": swap.wanted_label,
            }
            if swap.wanted_version is not None
            else None
        ),
        "message": swap.message,
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
    "counterpart": person id, "message": "..."}."""
    person = _person(request)
    data = json_body(request)
    offered_id = _int_or_none(data, "offered")
    if offered_id is None:
        raise BadRequest("offered is required.", {"offered": ["This field is required."]})
    counterpart = None
    counterpart_id = _int_or_none(data, "counterpart")
    if counterpart_id is not None:
        counterpart = Person.objects.filter(pk=counterpart_id).first()
        if counterpart is None:
            raise BadRequest("No such person.", {"counterpart": ["No such person."]})
    message = data.get("message", "")
    if not isinstance(message, str):
        raise BadRequest("message must be a string.", {"message": ["Must be a string."]})
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
