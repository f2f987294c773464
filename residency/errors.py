"""Domain errors. Services raise them; views, the admin and jobs turn them into messages and HTTP
status codes (see residency/http.py). Each carries a message meant for the person who acted."""

from __future__ import annotations

from typing import Any


class RotaError(Exception):
    """Base for errors a user can be told about."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConcurrentEdit(RotaError):
    """Someone saved a newer version first; ``current`` is the row as it is now."""

    status_code = 409

    def __init__(self, current: Any, message: str = "") -> None:
        super().__init__(
            message
            or "Someone else changed this while you were editing it. Nothing of yours was saved."
        )
        self.current = current


class Gone(RotaError):
    """The object was deleted meanwhile."""

    status_code = 410


class RuleViolation(RotaError):
    """A scheduling rule refuses the change. ``field`` names the form field to attach it to."""

    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(RotaError):
    """The request conflicts with the current state (already taken, already running, ...)."""

    status_code = 409


class Busy(RotaError):
    """A lock could not be had within the lock timeout: another change is in progress."""

    status_code = 503

    def __init__(self, message: str = "") -> None:
        super().__init__(message or "Someone else is changing these rows right now. Try again.")


class ScheduleLocked(Busy):
    """Schedule generation is writing this academic year; swaps and bulk edits wait for it."""

    def __init__(self, year_label: str = "") -> None:
        year = f" for {year_label}" if year_label else ""
        super().__init__(
            f"Schedule generation in progress{year}: the schedule is being rewritten. "
            "Try again when it has finished."
        )
