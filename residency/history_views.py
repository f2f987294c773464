"""History pages and the changes API (issue 10): thin, they read residency.history."""

from __future__ import annotations

import datetime

from django.contrib.admin.utils import unquote
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from residency import history, selectors
from residency.http import api_view, error_json, parse_id
from residency.models import Block, Person

PER_PAGE = 50
API_LIMIT_MAX = 500


def _page(request: HttpRequest) -> int:
    page = parse_id(request.GET.get("page", "1"))
    return page if page and page <= 10_000 else 1


def assignment_history_entries(*, request: HttpRequest, assignment_id: int):
    entries = history.history_for_object(label="assignment", object_id=assignment_id)
    if selectors.is_coordinator(request.user):
        return entries
    person = selectors.person_for_user(user=request.user)
    if person is None:
        return []
    # Only the rows of it that were theirs: before a swap it may have been someone else's.
    return [e for e in entries if e.person_ids and person.pk in e.person_ids]


def assignment_history_admin_view(model_admin, request: HttpRequest, object_id: str):
    """The admin's "History" of an assignment, from the history table (so it still answers
    after the row was deleted)."""
    if not selectors.is_coordinator(request.user) and not request.user.is_superuser:
        raise PermissionDenied
    pk = parse_id(unquote(object_id))
    if pk is None:
        raise Http404("No such assignment.")
    entries = history.history_for_object(label="assignment", object_id=pk)
    if not entries:
        raise Http404("No history for this assignment.")
    return TemplateResponse(
        request,
        "admin/residency/assignment/history.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": f"History of assignment #{pk}",
            "opts": model_admin.model._meta,
            "entries": entries,
            "object_id": pk,
        },
    )


@login_required
@require_GET
def person_history(request: HttpRequest, person_id: int) -> HttpResponse:
    person = get_object_or_404(Person, pk=person_id)
    coordinator = selectors.is_coordinator(request.user)
    if person.user_id != request.user.pk and not coordinator:
        raise Http404("No such person.")  # as for schedules: 404, not 403
    page = _page(request)
    entries, more = history.history_for_person(person_id=person.pk, page=page, per_page=PER_PAGE)
    return render(
        request,
        "residency/person_history.html",
        {"person": person, "entries": entries, "page": page, "more": more},
    )


def _date(text: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text) if text else None
    except ValueError:
        return None


@login_required
@require_GET
def recent_changes(request: HttpRequest) -> HttpResponse:
    """Coordinators' program-wide feed, filtered by person, block, source and dates."""
    if not selectors.is_coordinator(request.user):
        raise Http404("No such page.")
    errors = []
    filters = history.FeedFilters()
    for name in ("person", "block"):
        raw = request.GET.get(name, "")
        if raw:
            value = parse_id(raw)
            if value is None:
                errors.append(f"Unknown {name}.")
            setattr(filters, f"{name}_id", value if value is not None else 0)
    source = request.GET.get("source", "")
    if source and source not in history.SOURCES:
        errors.append("Unknown source.")
    filters.source = source
    for name in ("since", "until"):
        raw = request.GET.get(name, "")
        value = _date(raw)
        if raw and value is None:
            errors.append(f"{name.capitalize()}: use a date like 2026-07-01.")
        setattr(filters, name, value)
    page = _page(request)
    entries, more = history.history_feed(filters=filters, page=page, per_page=PER_PAGE)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "residency/recent_changes.html",
        {
            "entries": entries,
            "page": page,
            "more": more,
            "errors": errors,
            "query": query.urlencode(),
            "filters": filters,
            "people": Person.objects.order_by("name"),
            "blocks": Block.objects.select_related("academic_year").order_by(
                "-academic_year__start_date", "number"
            ),
            "sources": history.SOURCES,
        },
        status=400 if errors else 200,
    )


def entry_json(entry: history.HistoryEntry) -> dict:
    return {
        "cursor": entry.cursor,
        "model": entry.kind,
        "object_id": entry.object_id,
        "action": entry.action,
        "at": entry.at.isoformat(),
        "who": entry.who,
        "source": entry.source,
        "user_id": entry.context.get("user"),
        "changes": [
            {"field": c.field, "before": c.before, "after": c.after} for c in entry.changes
        ],
    }


@api_view
def changes_api(request: HttpRequest) -> HttpResponse:
    """``GET /api/changes?since=<cursor>&limit=<n>``: every change after the cursor, oldest
    first. Follow ``next`` (the last entry's cursor) until ``more`` is false; a change appears
    once its transaction and every older one have ended, so a cursor never skips one."""
    if request.method != "GET":
        return error_json("Only GET.", status=405)
    if not request.user.is_authenticated:
        return error_json("Log in first.", status=401)
    if not selectors.is_coordinator(request.user):
        return error_json("Coordinators only.", status=403)
    since = request.GET.get("since", "")
    cursor = history.cursor_decode(since) if since else None
    if since and cursor is None:
        return error_json("Not a cursor.", status=400, errors={"since": ["Not a cursor."]})
    limit = parse_id(request.GET.get("limit", "100"))
    if limit is None or not 1 <= limit <= API_LIMIT_MAX:
        return error_json(
            f"limit: 1 to {API_LIMIT_MAX}.",
            status=400,
            errors={"limit": [f"1 to {API_LIMIT_MAX}."]},
        )
    entries, more = history.changes_since(cursor=cursor, limit=limit)
    return JsonResponse(
        {
            "changes": [entry_json(e) for e in entries],
            "next": entries[-1].cursor if entries else since,
            "more": more,
        }
    )


@login_required
@require_GET
def assignment_history(request: HttpRequest, assignment_id: int) -> HttpResponse:
    """One assignment's history; still there after the assignment was deleted."""
    entries = assignment_history_entries(request=request, assignment_id=assignment_id)
    if not entries:
        raise Http404("No history for this assignment.")
    return render(
        request,
        "residency/assignment_history.html",
        {"entries": entries, "assignment_id": assignment_id},
    )
