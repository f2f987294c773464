"""History of shifts (issue 10): an append-only event table filled by triggers, like
residency's (residency/history_models.py). Imported at the end of ``shifts/models.py``."""

from __future__ import annotations

from residency.history import history_register
from residency.history_models import event_model, history_indexes
from shifts.models import Shift

__all__ = ["ShiftEvent"]

ShiftEvent = event_model(Shift, "ShiftEvent", indexes=history_indexes("shift_ev", "person"))

history_register(ShiftEvent, rank=6, label="shift", person_fields=("person",))
