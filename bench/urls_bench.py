"""The production URLs plus ``PATCH /bench/assignments/<id>/unconditional``: the assignment
notes edit of ``PATCH /api/assignments/<id>`` without the version check (last writer wins).

Bench-only (bench/settings_bench.py): it exists to measure the cost of the optimistic check and
to show the lost updates it prevents. Same session auth, CSRF, lookup, permission check and
JSON answer as the real endpoint; the write is one unconditional UPDATE in a transaction instead
of the service's conditional one.
"""

from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from residency.api import _assignments, assignment_json, etag

from residency import selectors
from residency.http import BadRequest, api_view, error_json, json_body
from residency.models import Assignment
from residency.urls import urlpatterns as production_urlpatterns


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
    notes = data.get("notes")
    if not isinstance(notes, str) or len(notes) > 2000:
        raise BadRequest("notes must be a string of at most 2000 characters.")
    with transaction.atomic():
        Assignment.objects.filter(pk=assignment_id).update(
            notes=notes,
            version=F("version") + 1,
            updated_by=request.user,
            updated_at=timezone.now(),
        )
    assignment = _assignments().get(pk=assignment_id)
    response = JsonResponse(assignment_json(assignment))
    response["ETag"] = etag(assignment)
    return response


urlpatterns = [
    path("bench/assignments/<int:assignment_id>/unconditional", assignment_patch_unconditional),
    *production_urlpatterns,
]
