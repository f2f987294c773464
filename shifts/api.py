"""JSON API of the daily layer (docs/api.md). Thin: parse, check permission, call the service.

``GET/PATCH /api/shifts/<id>`` follows the assignments' conventions (residency/api.py): GET
answers an ``ETag: "v<version>"``; a PATCH names the version it is based on in ``If-Match``
(stale: 412) or a ``version`` field (stale: 409), both answered with the current shift. A change
that breaks a duty-hour rule answers 422 with the problems and their numbers; a coordinator may
send ``override_reason`` to make it anyway (recorded).

``GET /api/people/<id>/duty-hours?from=&to=``: the person's compliance report.

``GET/POST /api/shift-requests``, ``DELETE /api/shift-requests/<id>``: the caller's own shift
requests (docs/shifts.md, "Requests").
"""

from __future__ import annotations

import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.utils import timezone

from residency.api import ETAG_PATTERN
from residency.errors import ConcurrentEdit
from residency.http import BadRequest, api_view, error_json, json_body
from residency.models import Person
from residency.selectors import is_coordinator, person_for_user
from shifts import compliance, selectors, services
from shifts import requests as requests_module
from shifts.errors import DutyHourViolation
from shifts.models import Shift, ShiftRequest, ShiftRequestPeriod, ShiftType

PATCHABLE: dict[str, type] = {
    "notes": str,
    "person": int,
    "shift_type": int,
    "date": str,
    "override_reason": str,
    "pinned": bool,
}
OWNER_PATCHABLE = {"notes"}


def shift_json(shift: Shift) -> dict[str, Any]:
    return {
        "id": shift.pk,
        "version": shift.version,
        "person": shift.person_id,
        "person_name": shift.person.name,
        "date": shift.date.isoformat(),
        "shift_type": shift.shift_type_id,
        "shift_type_code": shift.shift_type.code,
        "shift_type_name": shift.shift_type.name,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "notes": shift.notes,
        "pinned": shift.pinned,
        "updated_by": shift.updated_by.get_username() if shift.updated_by else None,
        "updated_at": shift.updated_at.isoformat(),
    }


def _with_etag(response: HttpResponse, shift: Shift) -> HttpResponse:
    response["ETag"] = f'"v{shift.version}"'
    return response


def _not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    response = error_json(f"{request.method} is not allowed here.", status=405)
    response["Allow"] = allowed
    return response


@api_view
def shift_detail(request: HttpRequest, shift_id: int) -> HttpResponse:
    if request.method not in ("GET", "PATCH"):
        return _not_allowed(request, "GET, PATCH")
    shift = (
        Shift.objects.select_related("person", "shift_type", "updated_by")
        .filter(pk=shift_id)
        .first()
    )
    # Someone else's shift is answered exactly like a missing one.
    if shift is None or not selectors.shift_visible_to(user=request.user, shift=shift):
        return error_json(f"No shift with id {shift_id}.", status=404)
    if request.method == "GET":
        get_token(request)
        return _with_etag(JsonResponse(shift_json(shift)), shift)
    return _shift_patch(request, shift)


def _shift_patch(request: HttpRequest, shift: Shift) -> HttpResponse:
    data = json_body(request)
    body_version = data.pop("version", None)
    _check_types(data, body_version)
    if not is_coordinator(request.user) and set(data) - OWNER_PATCHABLE:
        return error_json(
            "You may change only the notes of your own shifts; ask a coordinator (or offer a "
            "swap) to change the person, date or type.",
            status=403,
        )
    if_match = request.headers.get("If-Match")
    if if_match is not None and if_match.strip() == "*":
        if_match = None
    if if_match is None and body_version is None:
        return error_json(
            'Say which version you are changing: an If-Match header ("v3", from the ETag) '
            'or a "version" field.',
            status=428,
        )
    version = body_version
    if if_match is not None:
        match = ETAG_PATTERN.match(if_match.strip())
        if match is None:
            return _stale(request, shift, status=412)
        version = int(match[1])
        if body_version is not None and body_version != version:
            raise BadRequest("The If-Match header and the version field disagree.")

    reason = data.pop("override_reason", "")
    changes, errors = _resolve(data)
    if errors:
        return error_json("Some values are not acceptable.", status=422, errors=errors)
    if not changes:
        raise BadRequest(
            "Name at least one field to change: notes, pinned, person, shift_type, date."
        )
    try:
        updated = services.shift_update(
            shift_id=shift.pk, version=version, by=request.user, override_reason=reason,
            **changes,
        )  # fmt: skip
    except ConcurrentEdit as error:
        return _stale(request, error.current, status=412 if if_match is not None else 409)
    except DutyHourViolation as error:
        return error_json(
            error.message,
            status=422,
            errors={"override_reason": [p.message for p in error.problems]},
            problems=[compliance.problem_json(p) for p in error.problems],
        )
    return _with_etag(JsonResponse(shift_json(updated)), updated)


def _check_types(data: dict[str, Any], body_version: Any) -> None:
    errors: dict[str, list[str]] = {}
    for name in sorted(set(data) - set(PATCHABLE)):
        errors[name] = ["Unknown or read-only field."]
    for name, expected in PATCHABLE.items():
        value = data.get(name)
        if name not in data:
            continue
        if expected is bool:
            if not isinstance(value, bool):
                errors[name] = ["Must be true or false."]
        elif not isinstance(value, expected) or isinstance(value, bool):
            errors[name] = [f"Must be {'a string' if expected is str else 'an integer id'}."]
    if body_version is not None and (
        not isinstance(body_version, int) or isinstance(body_version, bool)
    ):
        errors["version"] = ["Must be an integer."]
    if errors:
        raise BadRequest("Some fields are invalid.", errors=errors)
    if not data:
        raise BadRequest(f"Name at least one field to change: {', '.join(PATCHABLE)}.")


def _resolve(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    changes = dict(data)
    errors: dict[str, list[str]] = {}
    for name, model in (("person", Person), ("shift_type", ShiftType)):
        if name in changes:
            changes[name] = model.objects.filter(pk=min(changes[name], 2**63 - 1)).first()
            if changes[name] is None:
                errors[name] = [f"No {name.replace('_', ' ')} with id {data[name]}."]
    if "date" in changes:
        changes["date"] = _parse_day(changes["date"])
        if changes["date"] is None:
            errors["date"] = ["Must be a date like 2041-01-31 (years 1900 to 9000)."]
    if "notes" in changes and len(changes["notes"]) > 2000:
        errors["notes"] = ["Notes are limited to 2000 characters."]
    return changes, errors


def _stale(request: HttpRequest, current: Shift, *, status: int) -> HttpResponse:
    message = (
        "The If-Match version is not the current one: someone else changed this shift."
        if status == 412
        else "Someone else changed this shift first. Nothing of yours was saved."
    )
    if not selectors.shift_visible_to(user=request.user, shift=current):
        return error_json(message, status=status)
    return _with_etag(error_json(message, status=status, current=shift_json(current)), current)


def _date_param(request: HttpRequest, name: str, default: datetime.date) -> datetime.date:
    text = request.GET.get(name, "")
    if not text:
        return default
    day = _parse_day(text)
    if day is None:
        message = "Must be a date like 2041-01-31 (years 1900 to 9000)."
        raise BadRequest("Invalid query.", errors={name: [message]})
    return day


def _parse_day(text: str) -> datetime.date | None:
    """A date in ISO form within years the rules can compute around (no overflow), or None."""
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        return None
    return day if 1900 <= day.year <= 9000 else None


@api_view
def person_duty_hours(request: HttpRequest, person_id: int) -> HttpResponse:
    """The person's duty hours: weekly hours, days off, call nights, problems, overrides.
    Coordinators may ask about anyone; others only about themselves."""
    if request.method != "GET":
        return _not_allowed(request, "GET")
    person = Person.objects.filter(pk=person_id).first()
    own = person_for_user(user=request.user)
    if person is None or not (is_coordinator(request.user) or (own and own.pk == person.pk)):
        return error_json(f"No person with id {person_id}.", status=404)
    today = timezone.localdate()
    start = _date_param(request, "from", today - datetime.timedelta(days=27))
    end = _date_param(request, "to", start + datetime.timedelta(days=27))
    if end < start:
        raise BadRequest("Invalid query.", errors={"to": ["Must not be before from."]})
    if (end - start).days >= compliance.MAX_REPORT_DAYS:
        raise BadRequest(
            "Invalid query.",
            errors={"to": [f"Ask for at most {compliance.MAX_REPORT_DAYS} days at a time."]},
        )
    report = compliance.duty_hour_report(person=person, start=start, end=end)
    return JsonResponse(report.as_json())


# -- shift requests: /api/shift-requests (the caller's own; docs/api.md) ------------------------

REQUEST_FIELDS = {"date", "kind", "shift_type", "priority", "note"}


def _requester(request: HttpRequest) -> Person:
    person = person_for_user(user=request.user)
    if person is None:
        raise Http404("Shift requests are made by people of the program linked to this login.")
    return person


def shift_request_json(item: ShiftRequest) -> dict[str, Any]:
    return {
        "id": item.pk,
        "date": item.date.isoformat(),
        "kind": item.kind,
        "shift_type": item.shift_type_id,
        "shift_type_code": item.shift_type.code if item.shift_type_id else None,
        "priority": item.priority,
        "weight": item.weight,
        "note": item.note,
        "created_at": item.created_at.isoformat(),
    }


def _period_json(period: ShiftRequestPeriod, items: list[ShiftRequest]) -> dict[str, Any]:
    return {
        "id": period.pk,
        "start_date": period.start_date.isoformat(),
        "end_date": period.end_date.isoformat(),
        "deadline": period.deadline.isoformat(),
        "open": period.is_open,
        "note": period.note,
        "requests_left": max(0, requests_module.MAX_REQUESTS_PER_PERIOD - len(items)),
        "requests": [shift_request_json(item) for item in items],
    }


@api_view
def shift_request_list(request: HttpRequest) -> HttpResponse:
    """GET: the caller's requests in the current periods; POST {"date", "kind", "shift_type",
    "priority", "note"}: add one (201; 400 malformed, 422 refused, 409 past the deadline)."""
    if request.method not in ("GET", "POST"):
        return _not_allowed(request, "GET, POST")
    person = _requester(request)
    if request.method == "GET":
        periods = requests_module.shift_request_periods_current()
        mine = requests_module.shift_requests_of(person=person, periods=periods)
        return JsonResponse({"periods": [_period_json(p, mine[p.pk]) for p in periods]})
    data = json_body(request)
    errors: dict[str, list[str]] = {
        name: ["Unknown field."] for name in sorted(set(data) - REQUEST_FIELDS)
    }
    day = _parse_day(data["date"]) if isinstance(data.get("date"), str) else None
    if day is None:
        errors["date"] = ["Must be a date like 2041-01-31 (years 1900 to 9000)."]
    kind = data.get("kind")
    if kind not in ShiftRequest.Kind.values:
        errors["kind"] = ['Must be "on" or "off".']
    type_id = data.get("shift_type")
    if type_id is not None and (
        isinstance(type_id, bool) or not isinstance(type_id, int) or not 0 < type_id < 2**63
    ):
        errors["shift_type"] = ["Must be a shift type id, or null for the whole day."]
    priority = data.get("priority", ShiftRequest.Priority.MEDIUM)
    if isinstance(priority, bool) or priority not in ShiftRequest.Priority.values:
        errors["priority"] = ["Must be 1 (high), 2 (medium) or 3 (low)."]
    note = data.get("note", "")
    if not isinstance(note, str):
        errors["note"] = ["Must be a string."]
    if errors:
        raise BadRequest("Some fields are invalid.", errors=errors)
    shift_type = None
    if type_id is not None:
        shift_type = ShiftType.objects.filter(pk=type_id).first()
        if shift_type is None:
            return error_json(
                "Some values are not acceptable.",
                status=422,
                errors={"shift_type": [f"No shift type with id {type_id}."]},
            )
    created = requests_module.shift_request_create(
        person=person, date=day, kind=kind, shift_type=shift_type, priority=priority, note=note
    )
    return JsonResponse(shift_request_json(created), status=201)


@api_view
def shift_request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """DELETE: withdraw one of the caller's requests while its period is open (204; 409 past
    the deadline). Someone else's request is answered like a missing one (404)."""
    if request.method != "DELETE":
        return _not_allowed(request, "DELETE")
    person = _requester(request)
    if not requests_module.shift_request_delete(person=person, request_id=pk):
        return error_json(f"No shift request of yours with id {pk}.", status=404)
    return HttpResponse(status=204)
