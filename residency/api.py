"""JSON API for assignments (docs/api.md). Thin: parse, check permission, call the service.

Optimistic concurrency over HTTP: GET answers an ``ETag: "v<version>"``; a PATCH must name the
version it is based on, in ``If-Match`` (a stale one answers 412) or in a ``version`` field of
the body (a stale one answers 409); both answers carry the current representation.

Session-authenticated, so CSRF protection stays on: clients send the ``csrftoken`` cookie's
value in an ``X-CSRFToken`` header (GET sets the cookie). See residency.views.csrf_failure.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token

from residency import selectors, services
from residency.errors import ConcurrentEdit
from residency.http import BadRequest, api_view, error_json, json_body, parse_id
from residency.models import AcademicYear, Assignment, Person, RotationTemplate

# A strong entity tag naming a version: "v3". Weak tags (W/"v3") never match an If-Match.
ETAG_PATTERN = re.compile(r'^"v(\d+)"$')
# Fields a PATCH may set, with the JSON type each must have.
PATCHABLE: dict[str, type] = {"notes": str, "role": str, "person": int, "rotation": int}
OWNER_PATCHABLE = {"notes"}
# Versions are PostgreSQL integers: more digits than this cannot name one.
MAX_VERSION_DIGITS = 10


def assignment_json(assignment: Assignment) -> dict[str, Any]:
    block = assignment.block
    return {
        "id": assignment.pk,
        "version": assignment.version,
        "person": assignment.person_id,
        "person_name": assignment.person.name,
        "block": assignment.block_id,
        "block_number": block.number,
        "block_start": block.start_date.isoformat(),
        "block_end": block.end_date.isoformat(),
        "academic_year": block.academic_year_id,
        "rotation": assignment.rotation_id,
        "rotation_code": assignment.rotation.code,
        "rotation_name": assignment.rotation.name,
        "role": assignment.role,
        "notes": assignment.notes,
        "pinned": assignment.pinned,
        # The display name, not the login name: logins are credentials' other half.
        "updated_by": selectors.user_display_name(assignment.updated_by)
        if assignment.updated_by
        else None,
        "updated_at": assignment.updated_at.isoformat(),
    }


def etag(assignment: Assignment) -> str:
    return f'"v{assignment.version}"'


def _with_etag(response: HttpResponse, assignment: Assignment) -> HttpResponse:
    response["ETag"] = etag(assignment)
    return response


def _not_found(assignment_id: int) -> JsonResponse:
    return error_json(f"No assignment with id {assignment_id}.", status=404)


def _assignments():
    return Assignment.objects.select_related("person", "block", "rotation", "updated_by")


@api_view
def assignment_detail(request: HttpRequest, assignment_id: int) -> HttpResponse:
    if request.method not in ("GET", "PATCH"):
        response = error_json(f"{request.method} is not allowed here.", status=405)
        response["Allow"] = "GET, PATCH"
        return response
    assignment = _assignments().filter(pk=assignment_id).first()
    # Someone else's assignment is answered exactly like a missing one.
    if assignment is None or not selectors.assignment_visible_to(
        user=request.user, assignment=assignment
    ):
        return _not_found(assignment_id)
    if request.method == "GET":
        get_token(request)  # sets the csrftoken cookie the client needs for PATCH
        return _with_etag(JsonResponse(assignment_json(assignment)), assignment)
    return _assignment_patch(request, assignment)


def _assignment_patch(request: HttpRequest, assignment: Assignment) -> HttpResponse:
    data = json_body(request)
    body_version = data.pop("version", None)
    _check_types(data, body_version)
    if not selectors.is_coordinator(request.user) and set(data) - OWNER_PATCHABLE:
        return error_json(
            "You may change only the notes of your own assignments; ask a coordinator to "
            "change the rotation, person or role.",
            status=403,
        )

    if_match = request.headers.get("If-Match")
    if if_match is not None and if_match.strip() == "*":
        if_match = None  # "any version" names none: a blind write is what we refuse to do
    if if_match is None and body_version is None:
        return error_json(
            'Say which version you are changing: an If-Match header ("v3", from the ETag) '
            'or a "version" field.',
            status=428,
        )
    version = body_version
    if if_match is not None:
        match = ETAG_PATTERN.match(if_match.strip())
        if match is None:  # a weak tag, a list, garbage: none can match the current version
            return _stale(request, assignment, status=412)
        if len(match[1]) > MAX_VERSION_DIGITS:  # also beyond Python's int-from-text limit
            raise BadRequest("The If-Match header names a version number far too large.")
        version = int(match[1])
        if body_version is not None and body_version != version:
            raise BadRequest("The If-Match header and the version field disagree.")

    changes, errors = _resolve(data)
    if errors:
        return error_json("Some values are not acceptable.", status=422, errors=errors)
    try:
        updated = services.assignment_update(
            assignment_id=assignment.pk, version=version, by=request.user, **changes
        )
    except ConcurrentEdit as error:
        return _stale(request, error.current, status=412 if if_match is not None else 409)
    return _with_etag(JsonResponse(assignment_json(updated)), updated)


def _check_types(data: dict[str, Any], body_version: Any) -> None:
    errors: dict[str, list[str]] = {}
    for field in sorted(set(data) - set(PATCHABLE)):
        errors[field] = ["Unknown or read-only field."]
    for field, expected in PATCHABLE.items():
        value = data.get(field)
        # bool is an int in Python, not in JSON.
        if field in data and (not isinstance(value, expected) or isinstance(value, bool)):
            errors[field] = [f"Must be {'a string' if expected is str else 'an integer id'}."]
    if body_version is not None and (
        not isinstance(body_version, int) or isinstance(body_version, bool)
    ):
        errors["version"] = ["Must be an integer."]
    if errors:
        raise BadRequest("Some fields are invalid.", errors=errors)
    if not data:
        raise BadRequest(f"Name at least one field to change: {', '.join(PATCHABLE)}.")


def _resolve(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Ids to objects; unknown ids and roles are rule violations (422), not malformed input."""
    changes = dict(data)
    errors: dict[str, list[str]] = {}
    for field, model in (("person", Person), ("rotation", RotationTemplate)):
        if field in changes:
            changes[field] = model.objects.filter(pk=changes[field]).first()
            if changes[field] is None:
                errors[field] = [f"No {field} with id {data[field]}."]
    if "role" in changes and changes["role"] not in Assignment.Role.values:
        errors["role"] = [f"Must be one of {', '.join(Assignment.Role.values)}."]
    return changes, errors


def _stale(request: HttpRequest, current: Assignment, *, status: int) -> HttpResponse:
    message = (
        "The If-Match version is not the current one: someone else changed this assignment."
        if status == 412
        else "Someone else changed this assignment first. Nothing of yours was saved."
    )
    if not selectors.assignment_visible_to(user=request.user, assignment=current):
        return error_json(message, status=status)  # it was moved to someone else
    return _with_etag(error_json(message, status=status, current=assignment_json(current)), current)


@api_view
def assignment_list(request: HttpRequest) -> HttpResponse:
    """``GET /api/assignments?year=<id>&person=<id>``: a year's assignments (default: the
    current year); coordinators may ask for anyone or everyone, others get their own."""
    if request.method != "GET":
        response = error_json(f"{request.method} is not allowed here.", status=405)
        response["Allow"] = "GET"
        return response
    year_id, person_id = request.GET.get("year", ""), request.GET.get("person", "")
    for name, value in (("year", year_id), ("person", person_id)):
        if value and parse_id(value) is None:
            raise BadRequest("Invalid query.", errors={name: ["Must be an integer id."]})
    year = (
        AcademicYear.objects.filter(pk=year_id).first()
        if year_id
        else selectors.current_academic_year()
    )
    if year is None:
        return error_json("No such academic year.", status=404)
    queryset = selectors.assignments_for_year(academic_year=year)
    if selectors.is_coordinator(request.user):
        if person_id:
            queryset = queryset.filter(person_id=person_id)
    else:
        own = selectors.person_for_user(user=request.user)
        if own is None or (person_id and int(person_id) != own.pk):
            return error_json("No such person.", status=404)
        queryset = queryset.filter(person=own)
    get_token(request)
    return JsonResponse(
        {"academic_year": year.pk, "results": [assignment_json(a) for a in queryset]}
    )
