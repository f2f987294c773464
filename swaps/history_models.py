"""History of swap requests (issue 10): an append-only event table filled by triggers, like
residency's (residency/history_models.py). Imported at the end of ``swaps/models.py``."""

from __future__ import annotations

from django.db import models

from residency.history import history_register
from residency.history_models import event_model, history_indexes
from swaps.models import SwapRequest

__all__ = ["SwapRequestEvent"]


SwapRequestEvent = event_model(
    SwapRequest,
    "SwapRequestEvent",
    indexes=[
        *history_indexes("swaprequest_ev", "requester"),
        models.Index(fields=["counterpart"], name="swaprequest_ev_counterpart"),
    ],
)


history_register(
    SwapRequestEvent, rank=5, label="swap request", person_fields=("requester", "counterpart")
)
