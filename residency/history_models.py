"""History tables (issue 10): one append-only event table per tracked model, filled by
PostgreSQL triggers (django-pghistory on django-pgtrigger).

Triggers see every write, including those that bypass ``Model.save()``: the version-checked
``QuerySet.update`` of every edit, generation's ``bulk_create`` and deletes. Each event row is a
snapshot of the row after an insert or update (before a delete) plus:

- ``pgh_context``: who and through what (``residency.history``: the request middleware and the
  services attach it; a JSON copy per row, no shared context row to upsert);
- ``pgh_xid``: the id of the writing transaction, the cursor of ``GET /api/changes``
  (``residency.history.changes_since``);
- ``pgh_label``: insert, update or delete.

Imported at the end of ``residency/models.py``; other apps declare theirs the same way
(``swaps/history_models.py``).
"""

from __future__ import annotations

import pghistory
from django.db import models
from pghistory.models import Event

from residency.models import Absence, Assignment, ResidentYear, RotationTemplate

__all__ = ["AbsenceEvent", "AssignmentEvent", "ResidentYearEvent", "RotationTemplateEvent"]


class CurrentTransactionId(models.Func):
    """The writing transaction's id as a bigint (``pg_current_xact_id()`` is an xid8)."""

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()
    allowed_default = True


class HistoryEvent(Event):
    """Base of every event table: pghistory's columns plus the writing transaction's id."""

    # Not a column the trigger writes: the database default fills it in.
    pgh_xid = models.BigIntegerField(db_default=CurrentTransactionId(), editable=False)

    class Meta:
        abstract = True


def trackers() -> tuple:
    """Fresh trackers per model (pghistory fills each one in for its model)."""
    return (
        pghistory.InsertEvent("insert"),
        pghistory.UpdateEvent("update"),
        pghistory.DeleteEvent("delete"),
    )


def event_model(
    tracked: type[models.Model], name: str, *, indexes: list[models.Index]
) -> type[models.Model]:
    """The event model of ``tracked``, append-only (``PGHISTORY_APPEND_ONLY``: a trigger
    refuses UPDATE and DELETE on it), placed in the tracked model's app."""
    return pghistory.create_event_model(
        tracked,
        *trackers(),
        base_model=HistoryEvent,
        context_field=pghistory.ContextJSONField(),
        obj_field=pghistory.ObjForeignKey(related_name="history"),
        model_name=name,
        abstract=False,
        meta={"indexes": indexes},
    )


def history_indexes(prefix: str, *extra: str) -> list[models.Index]:
    return [
        models.Index(fields=["pgh_obj", "pgh_id"], name=f"{prefix}_obj"),
        models.Index(fields=["pgh_xid", "pgh_id"], name=f"{prefix}_xid"),
        models.Index(fields=["pgh_created_at"], name=f"{prefix}_created"),
        *(models.Index(fields=[field], name=f"{prefix}_{field}") for field in extra),
    ]


AssignmentEvent = event_model(
    Assignment, "AssignmentEvent", indexes=history_indexes("assignment_ev", "person", "block")
)


AbsenceEvent = event_model(Absence, "AbsenceEvent", indexes=history_indexes("absence_ev", "person"))


ResidentYearEvent = event_model(
    ResidentYear, "ResidentYearEvent", indexes=history_indexes("residentyear_ev", "person")
)


RotationTemplateEvent = event_model(
    RotationTemplate, "RotationTemplateEvent", indexes=history_indexes("rotation_ev")
)


def _register() -> None:
    from residency.history import history_register

    history_register(
        AssignmentEvent, rank=1, label="assignment", person_fields=("person",), block_field="block"
    )
    history_register(AbsenceEvent, rank=2, label="absence", person_fields=("person",))
    history_register(ResidentYearEvent, rank=3, label="resident year", person_fields=("person",))
    history_register(RotationTemplateEvent, rank=4, label="rotation")


_register()
