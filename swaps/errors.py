"""The one domain error of the swaps app: a swap that may not happen, with a machine-readable
``reason`` (for the API and the tests) and a message meant for the person who acted."""

from __future__ import annotations

from residency.errors import RotaError

# Reasons that describe the request's state rather than a scheduling rule: answered 409.
STATE_REASONS = frozenset(
    {
        "not_pending",
        "already_taken",
        "not_executable",
        "not_executed",
        "assignment_gone",
        "assignment_changed",
        "rollback_changed",
        "duplicate",
        "shift_gone",
        "shift_changed",
    }
)
# Reasons that mean the request can never execute: the request is marked expired.
STALE_REASONS = frozenset({"assignment_gone", "assignment_changed", "shift_gone", "shift_changed"})
# Reasons a rule gave for refusing an execution: recorded on the request (``refusal``).
RULE_REASONS = frozenset({"ineligible", "duty_hours", "too_late", "cap"})


class SwapRefused(RotaError):
    """The swap was refused and nothing changed. ``reason`` is one of: not_pending,
    already_taken, not_executable, not_executed, assignment_gone, assignment_changed,
    rollback_changed, duplicate, shift_gone, shift_changed (409); not_allowed (403); invalid,
    ineligible, block_started, rollback_window, duty_hours, too_late, cap (422)."""

    def __init__(self, message: str, *, reason: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        if reason in STATE_REASONS:
            self.status_code = 409
        elif reason == "not_allowed":
            self.status_code = 403
        else:
            self.status_code = 422
