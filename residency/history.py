"""History of every change (issue 10): who, when, through what, before -> after.

The rows are written by database triggers (residency/history_models.py), so nothing that writes
can skip them. This module attaches the *context* (the actor and the source) and reads history
back for the pages and the API:

- ``HistoryContextMiddleware``: every write request runs inside a context naming the logged-in
  user and the source (admin, API, edit page...).
- ``history_context(source=..., actor=...)``: services, jobs and commands add theirs (a bulk
  move, "swap #12", "generation run #5", "manage.py seed_demo"). Nested inside a request's
  context it refines it; alone it opens one for the block. The context travels with each SQL
  statement (pghistory prefixes a transaction-local ``set_config``), so the trigger stores it on
  the event row.
- ``history_register``: each app registers its event tables with the fields that name a person
  and a block, so the person page, the feed and ``/api/changes`` cover every tracked model
  without residency importing the other apps.
"""

from __future__ import annotations

import base64
import datetime
import heapq
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pghistory
from django.db import connection, models
from django.db.models import OuterRef, Q, Subquery
from django.http import HttpRequest, HttpResponse

# What changed a row: the labels stored in the context's "source".
SOURCE_EDIT_PAGE = "edit page"
SOURCE_API = "api"
SOURCE_ADMIN = "admin"
SOURCE_BULK_MOVE = "bulk move"
SOURCE_SWAP = "swap"
SOURCE_GENERATION = "generation publish"
SOURCE_COMMAND = "command"
SOURCE_JOB = "job"
SOURCES = (
    SOURCE_EDIT_PAGE,
    SOURCE_API,
    SOURCE_ADMIN,
    SOURCE_BULK_MOVE,
    SOURCE_SWAP,
    SOURCE_GENERATION,
    SOURCE_COMMAND,
    SOURCE_JOB,
)
# Columns that say nothing to a reader of "what changed" (a creation time is the insert
# event's own time).
HIDDEN_FIELDS = {"id", "updated_at", "created_at"}


def _user_metadata(user) -> dict[str, Any]:
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    return {"user": user.pk, "user_name": user.get_full_name() or user.get_username()}


def history_context(*, source: str, actor: str = "", by=None) -> pghistory.context:
    """Attach ``source`` (one of SOURCES), an ``actor`` label and the user ``by`` to the changes
    made inside the ``with`` block (and, nested in a request, to the rest of the request)."""
    metadata: dict[str, Any] = {"source": source, **_user_metadata(by)}
    if actor:
        metadata["actor"] = actor
    return pghistory.context(**metadata)


def history_context_set(*, source: str, actor: str = "", by=None) -> None:
    """Attach the context to the rest of the current transaction (for a long write, such as
    generation's, that is not one ``with`` block). Inside an entered context (a request) it
    refines that one; otherwise it sets the transaction-local settings the triggers read."""
    metadata: dict[str, Any] = {"source": source, **_user_metadata(by)}
    if actor:
        metadata["actor"] = actor
    if pghistory.runtime._tracker.__dict__.get("value") is not None:
        pghistory.context(**metadata)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pghistory.context_id', %s, true), "
            "set_config('pghistory.context_metadata', %s, true)",
            [str(uuid.uuid4()), json.dumps(metadata)],
        )


def _source_for_path(path: str) -> str:
    if path.startswith("/admin/"):
        return SOURCE_ADMIN
    if path.startswith("/api/"):
        return SOURCE_API
    if path.startswith("/swaps/"):
        return SOURCE_SWAP
    if path.startswith("/generation/"):
        return SOURCE_GENERATION
    return SOURCE_EDIT_PAGE


class HistoryContextMiddleware:
    """Runs every write request inside a history context: the user and the source by path."""

    WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in self.WRITE_METHODS:
            return self.get_response(request)
        with history_context(
            source=_source_for_path(request.path), by=getattr(request, "user", None)
        ):
            pghistory.context(url=request.path[:200])
            return self.get_response(request)


# --- the registry of event tables ------------------------------------------------------------


@dataclass(frozen=True)
class Tracked:
    event_model: type[models.Model]
    rank: int  # fixed forever: part of the /api/changes cursor
    label: str  # "assignment", "swap request"...
    person_fields: tuple[str, ...] = ()
    block_field: str = ""


_REGISTRY: dict[str, Tracked] = {}


def history_register(
    event_model: type[models.Model],
    *,
    rank: int,
    label: str,
    person_fields: tuple[str, ...] = (),
    block_field: str = "",
) -> None:
    """Make ``event_model`` part of the person pages, the feed and /api/changes."""
    tracked = Tracked(event_model, rank, label, person_fields, block_field)
    if any(t.rank == rank and t.label != label for t in _REGISTRY.values()):
        raise ValueError(f"history rank {rank} is taken")
    _REGISTRY[label] = tracked


def tracked_models() -> list[Tracked]:
    return sorted(_REGISTRY.values(), key=lambda t: t.rank)


# --- reading history back --------------------------------------------------------------------


@dataclass
class Change:
    field: str
    before: str
    after: str


@dataclass
class HistoryEntry:
    kind: str  # the tracked model's label
    object_id: int
    object_label: str
    event_id: int
    xid: int
    rank: int
    at: datetime.datetime
    action: str  # insert, update, delete
    who: str
    source: str
    context: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    person_ids: set[int] = field(default_factory=set)  # the people this row was about

    @property
    def cursor(self) -> str:
        return cursor_encode(self.xid, self.rank, self.event_id)

    @property
    def done(self) -> str:
        """The action as a reader says it: "created", "updated", "deleted"."""
        return {"insert": "created", "update": "updated", "delete": "deleted"}[self.action]


def _fields(event_model) -> list[models.Field]:
    tracked = {f.name for f in event_model.pgh_tracked_model._meta.concrete_fields}
    return [
        f
        for f in event_model._meta.concrete_fields
        if f.name in tracked and f.name not in HIDDEN_FIELDS
    ]


def _who(context: dict[str, Any] | None, event) -> str:
    context = context or {}
    parts = [p for p in (context.get("actor"), context.get("user_name")) if p]
    if parts:
        return " / ".join(dict.fromkeys(parts))
    if getattr(event, "updated_by_id", None):
        return f"user #{event.updated_by_id}"
    return "system (no context)"


class _Labels:
    """Turns stored ids into names, in one query per related model."""

    def __init__(self, events_by_model: dict[type, list]) -> None:
        self.names: dict[tuple[type, Any], str] = {}
        self.wanted: dict[type, set] = {}
        for event_model, events in events_by_model.items():
            self.add(event_model, events)

    def add(self, event_model, events: list) -> None:
        """Names still to look up (resolved lazily, all at once, by ``show``)."""
        for f in _fields(event_model):
            if f.is_relation:
                ids = {getattr(e, f.attname) for e in events} - {None}
                self.wanted.setdefault(f.related_model, set()).update(ids)

    def _resolve(self) -> None:
        for model, ids in self.wanted.items():
            missing = [pk for pk in ids if (model, pk) not in self.names]
            if not missing:
                continue
            queryset = model._default_manager.all()
            if any(f.name == "academic_year" for f in model._meta.fields):
                queryset = queryset.select_related("academic_year")
            found = queryset.in_bulk(missing)
            for pk in missing:
                self.names[(model, pk)] = str(found[pk]) if pk in found else f"#{pk} (deleted)"
        self.wanted = {}

    def show(self, f: models.Field, event) -> str:
        value = getattr(event, f.attname)
        if value is None or value == "":
            return "-"
        if f.is_relation:
            if self.wanted:
                self._resolve()
            return self.names.get((f.related_model, value), f"#{value} (deleted)")
        if f.choices:
            return str(dict(f.flatchoices).get(value, value))
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "-"
        return str(value)


def _entries(tracked: Tracked, events: list, labels: _Labels) -> list[HistoryEntry]:
    """Entries with before -> after, the "before" being the object's previous event."""
    event_model = tracked.event_model
    previous: dict[int, Any] = {}
    if events:
        # Each event's predecessor (same row, next lower id): one index probe per event, however
        # long the row's history is.
        before_ids = dict(
            event_model.objects.filter(pgh_id__in=[e.pgh_id for e in events])
            .annotate(
                before_id=Subquery(
                    event_model.objects.filter(
                        pgh_obj_id=OuterRef("pgh_obj_id"), pgh_id__lt=OuterRef("pgh_id")
                    )
                    .order_by("-pgh_id")
                    .values("pgh_id")[:1]
                )
            )
            .values_list("pgh_id", "before_id")
        )
        earlier = event_model.objects.in_bulk([pk for pk in before_ids.values() if pk])
        previous = {pk: earlier.get(before) for pk, before in before_ids.items()}
        labels.add(event_model, list(earlier.values()))
    fields = _fields(event_model)
    entries = []
    for e in events:
        before = previous.get(e.pgh_id)
        changes = []
        for f in fields:
            after = labels.show(f, e)
            if e.pgh_label == "delete":
                changes.append(Change(f.verbose_name, after, "-"))
            elif before is None:
                if e.pgh_label == "insert":
                    changes.append(Change(f.verbose_name, "-", after))
                else:  # the first recorded event of a row older than history
                    changes.append(Change(f.verbose_name, "?", after))
            elif getattr(before, f.attname) != getattr(e, f.attname):
                changes.append(Change(f.verbose_name, labels.show(f, before), after))
        context = e.pgh_context or {}
        entries.append(
            HistoryEntry(
                kind=tracked.label,
                object_id=e.pgh_obj_id,
                object_label=f"{tracked.label} #{e.pgh_obj_id}",
                event_id=e.pgh_id,
                xid=e.pgh_xid,
                rank=tracked.rank,
                at=e.pgh_created_at,
                action=e.pgh_label,
                who=_who(context, e),
                source=context.get("source", ""),
                context=context,
                changes=changes,
                person_ids={
                    getattr(e, f"{name}_id")
                    for name in tracked.person_fields
                    if getattr(e, f"{name}_id", None)
                },
            )
        )
    return entries


def _to_entries(rows: Iterable[tuple[Tracked, Any]]) -> list[HistoryEntry]:
    rows = list(rows)
    by_model: dict[type, list] = {}
    for tracked, event in rows:
        by_model.setdefault(tracked.event_model, []).append(event)
    labels = _Labels(by_model)
    built: dict[tuple[int, int], HistoryEntry] = {}
    for tracked in tracked_models():
        events = by_model.get(tracked.event_model, [])
        for entry in _entries(tracked, events, labels):
            built[(entry.rank, entry.event_id)] = entry
    return [built[(tracked.rank, event.pgh_id)] for tracked, event in rows]


def history_for_object(*, label: str, object_id: int, limit: int = 500) -> list[HistoryEntry]:
    """The events of one row (the newest ``limit``), newest first; still there after the row
    is deleted."""
    tracked = _REGISTRY[label]
    events = tracked.event_model.objects.filter(pgh_obj_id=object_id).order_by("-pgh_id")[:limit]
    return _to_entries((tracked, e) for e in events)


@dataclass
class FeedFilters:
    person_id: int | None = None
    block_id: int | None = None
    source: str = ""
    since: datetime.date | None = None
    until: datetime.date | None = None


def _filtered(tracked: Tracked, filters: FeedFilters):
    queryset = tracked.event_model.objects.all()
    if filters.person_id is not None:
        if not tracked.person_fields:
            return None
        condition = Q()
        for name in tracked.person_fields:
            condition |= Q(**{f"{name}_id": filters.person_id})
        queryset = queryset.filter(condition)
    if filters.block_id is not None:
        if not tracked.block_field:
            return None
        queryset = queryset.filter(**{f"{tracked.block_field}_id": filters.block_id})
    if filters.source:
        queryset = queryset.filter(pgh_context__source=filters.source)
    if filters.since:
        queryset = queryset.filter(pgh_created_at__date__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(pgh_created_at__date__lte=filters.until)
    return queryset


def history_feed(*, filters: FeedFilters, page: int, per_page: int = 50):
    """One page of every tracked model's events, newest first, and whether there is more.

    Each table is read in its index order for the first ``page * per_page + 1`` rows and the
    tables are merged, so page N costs N pages per table: fine for a human paging a feed.
    """
    wanted = page * per_page + 1
    streams = []
    for tracked in tracked_models():
        queryset = _filtered(tracked, filters)
        if queryset is None:
            continue
        events = queryset.order_by("-pgh_created_at", "-pgh_id")[:wanted]
        streams.append(
            [
                ((-e.pgh_created_at.timestamp(), -tracked.rank, -e.pgh_id), tracked, e)
                for e in events
            ]
        )
    merged = list(heapq.merge(*streams, key=lambda row: row[0]))
    chosen = merged[(page - 1) * per_page : page * per_page]
    return _to_entries((t, e) for _, t, e in chosen), len(merged) > page * per_page


def history_for_person(*, person_id: int, page: int = 1, per_page: int = 50):
    return history_feed(filters=FeedFilters(person_id=person_id), page=page, per_page=per_page)


# --- /api/changes: a monotonic cursor ---------------------------------------------------------
#
# Events are ordered by (writing transaction id, table rank, event id). A transaction that has
# not committed yet could still add events with a smaller id than ones already visible, so the
# API only returns events of transactions older than the oldest one still running in this
# database: every transaction below that horizon has ended, so nothing can appear behind a
# cursor that was handed out. A reader may see a change late (as late as the longest write
# transaction), never skip one.


def cursor_encode(xid: int, rank: int, event_id: int) -> str:
    return base64.urlsafe_b64encode(f"{xid}.{rank}.{event_id}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[int, int, int] | None:
    """The cursor's parts, or None if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        xid, rank, event_id = (int(part) for part in text.split("."))
    except (ValueError, UnicodeDecodeError):
        return None
    if min(xid, rank, event_id) < 0 or max(xid, event_id) >= 2**63:
        return None
    return xid, rank, event_id


# The oldest transaction id still running *in this database* (other databases of the cluster
# cannot write our tables, so their long transactions must not hold the feed back), or the next
# id to be assigned if none is. ``backend_xid`` is a 32-bit xid: widened with the epoch of the
# snapshot's xmax. Sessions of other database roles are visible only with pg_read_all_stats.
HORIZON_SQL = """
WITH snap AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax),
running AS (
    SELECT ((snap.xmax >> 32) << 32) + a.backend_xid::text::bigint AS xid, snap.xmax
    FROM pg_stat_activity a, snap
    WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL
      AND a.pid <> pg_backend_pid()
)
SELECT LEAST(
    (SELECT xmax FROM snap),
    (SELECT MIN(CASE WHEN xid > xmax THEN xid - 4294967296 ELSE xid END) FROM running)
)
"""


def _horizon() -> int:
    with connection.cursor() as cursor:
        cursor.execute(HORIZON_SQL)
        return cursor.fetchone()[0]


def changes_since(*, cursor: tuple[int, int, int] | None, limit: int = 100):
    """Up to ``limit`` events after ``cursor`` (None: from the start), oldest first, and whether
    more are ready now."""
    horizon = _horizon()
    xid, rank, event_id = cursor or (-1, -1, -1)
    streams = []
    for tracked in tracked_models():
        queryset = tracked.event_model.objects.filter(pgh_xid__lt=horizon)
        if tracked.rank < rank:
            queryset = queryset.filter(pgh_xid__gt=xid)
        elif tracked.rank == rank:
            queryset = queryset.filter(Q(pgh_xid__gt=xid) | Q(pgh_xid=xid, pgh_id__gt=event_id))
        else:
            queryset = queryset.filter(pgh_xid__gte=xid)
        events = queryset.order_by("pgh_xid", "pgh_id")[: limit + 1]
        streams.append([((e.pgh_xid, tracked.rank, e.pgh_id), tracked, e) for e in events])
    merged = list(heapq.merge(*streams, key=lambda row: row[0]))
    return _to_entries((t, e) for _, t, e in merged[:limit]), len(merged) > limit
