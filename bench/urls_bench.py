"""The production URLs plus ``PATCH /bench/assignments/<id>/unconditional``: the assignment
edit of ``PATCH /api/assignments/<id>`` without the version check (last writer wins).

Bench-only (bench/settings_bench.py): it exists to measure what the optimistic check costs and
to show the lost updates it prevents. It is the real endpoint's path with one difference: the
service below is ``residency.services.assignment_update`` minus the version comparison and the
``version=`` condition of its UPDATE. Same session auth, CSRF, lookup, permission check, input
checks, transaction, lock timeout, placement re-check and JSON answer.
"""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone

from residency import api, selectors
from residency.api import _assignments, _check_types, _resolve, assignment_json, etag
from residency.errors import RuleViolation
from residency.history import HistoryContextMiddleware
from residency.http import api_view, error_json, json_body
from residency.locking import locked_transaction
from residency.models import Assignment
from residency.services import (
    ASSIGNMENT_EDITABLE_FIELDS,
    PLACEMENT_FIELDS,
    _assignment_or_gone,
    _lock_block,
    _raise_first,
)
from residency.urls import urlpatterns as production_urlpatterns


@locked_transaction
def assignment_update_unconditional(*, assignment_id: int, by=None, **changes: Any) -> Assignment:
    unknown = set(changes) - set(ASSIGNMENT_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    current = _assignment_or_gone(assignment_id)
    merged = {field: changes.get(field, getattr(current, field)) for field in PLACEMENT_FIELDS}
    if any(merged[field] != getattr(current, field) for field in PLACEMENT_FIELDS):
        _lock_block(merged["block"])
        _raise_first(selectors.placement_problems(**merged, ignore_assignment_ids=[assignment_id]))
    if "notes" in changes and len(changes["notes"]) > 2000:
        raise RuleViolation("Notes are limited to 2000 characters.", field="notes")
    values = {
        f"{field}_id" if field in ("person", "block", "rotation") else field: getattr(
            value, "pk", value
        )
        for field, value in changes.items()
    }
    try:
        with transaction.atomic():
            Assignment.objects.filter(pk=assignment_id).update(
                **values, version=F("version") + 1, updated_by=by, updated_at=timezone.now()
            )
    except IntegrityError as error:
        raise RuleViolation("Double booking.", field="person") from error
    return Assignment.objects.select_related("person", "block", "rotation").get(pk=assignment_id)


@api_view
def assignment_patch_unconditional(request: HttpRequest, assignment_id: int) -> HttpResponse:
    if request.method != "PATCH":
        return error_json("PATCH only.", status=405)
    assignment = _assignments().filter(pk=assignment_id).first()
    if assignment is None or not selectors.assignment_visible_to(
        user=request.user, assignment=assignment
    ):
        return error_json(f"No assignment with id {assignment_id}.", status=404)
    data = json_body(request)
    data.pop("version", None)
    _check_types(data, None)
    if not selectors.is_coordinator(request.user) and set(data) - {"notes"}:
        return error_json("Notes only.", status=403)
    changes, errors = _resolve(data)
    if errors:
        return error_json("Some values are not acceptable.", status=422, errors=errors)
    updated = assignment_update_unconditional(
        assignment_id=assignment.pk, by=request.user, **changes
    )
    response = JsonResponse(assignment_json(updated))
    response["ETag"] = etag(updated)
    return response


class BenchHistoryContextMiddleware(HistoryContextMiddleware):
    """The real middleware, except on ``/bench/nohistory/`` (history off, for comparison)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(NO_HISTORY_PREFIX):
            return self.get_response(request)
        return super().__call__(request)


NO_HISTORY_PREFIX = "/bench/nohistory/"

urlpatterns = [
    path("bench/assignments/<int:assignment_id>/unconditional", assignment_patch_unconditional),
    # The real endpoint, unchanged, under a path the middleware above leaves without context.
    path("bench/nohistory/api/assignments/<int:assignment_id>", api.assignment_detail),
    *production_urlpatterns,
]
