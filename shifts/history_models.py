"""History of shifts, shift requests and request periods (issue 10): append-only event tables
filled by triggers, like residency's (residency/history_models.py). Imported at the end of
``shifts/models.py``."""

from __future__ import annotations

from residency.history import history_register
from residency.history_models import event_model, history_indexes
from shifts.models import Shift
from shifts.request_models import ShiftRequest, ShiftRequestPeriod

__all__ = ["ShiftEvent", "ShiftRequestEvent", "ShiftRequestPeriodEvent"]

ShiftEvent = event_model(Shift, "ShiftEvent", indexes=history_indexes("shift_ev", "person"))

# A request is what generation weighs, and its deadline is what makes it count: who added,
# changed or withdrew one, and when a coordinator moved a deadline, is part of the record.
ShiftRequestEvent = event_model(
    ShiftRequest, "ShiftRequestEvent", indexes=history_indexes("shiftrequest_ev", "person")
)
ShiftRequestPeriodEvent = event_model(
    ShiftRequestPeriod, "ShiftRequestPeriodEvent", indexes=history_indexes("requestperiod_ev")
)

history_register(ShiftEvent, rank=6, label="shift", person_fields=("person",))
history_register(ShiftRequestEvent, rank=7, label="shift request", person_fields=("person",))
history_register(ShiftRequestPeriodEvent, rank=8, label="shift request period")
