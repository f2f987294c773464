"""Shift generation's Django side (docs/rostering.md): the snapshot reader that turns the
shifts app's facts into a ``RosterProblem``, the explanation of an infeasible period in people
and dates, the independent validator of a proposed roster and the per-person report."""

from scheduling.shift_problem.explain import shift_roster_explain
from scheduling.shift_problem.report import shift_roster_report
from scheduling.shift_problem.snapshot import (
    KEEP_ALL,
    KEEP_CHANGES,
    KEEP_NONE,
    ShiftSnapshot,
    shift_snapshot_load,
)
from scheduling.shift_problem.validate import shift_rows_validate

__all__ = [
    "KEEP_ALL",
    "KEEP_CHANGES",
    "KEEP_NONE",
    "ShiftSnapshot",
    "shift_roster_explain",
    "shift_roster_report",
    "shift_rows_validate",
    "shift_snapshot_load",
]
