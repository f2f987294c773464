"""Rota's rostering engine: shift rosters from plain data with CP-SAT (docs/rostering.md).

Pure Python + OR-Tools, no Django: the residency layer (shifts generation) and the public
benchmark (bench/shifts.py) both translate their facts into ``RosterProblem`` and call
``roster_solve``.
"""

from scheduling.roster.explain import roster_explain
from scheduling.roster.problem import (
    Cover,
    Fairness,
    MinFreeDays,
    Person,
    Request,
    RollingMinutes,
    Roster,
    RosterProblem,
    Runs,
    SameShiftDays,
    ShiftType,
    WindowCount,
)
from scheduling.roster.solve import (
    CANCELLED,
    RosterProgress,
    RosterResult,
    RosterSolve,
    roster_solve,
)

__all__ = [
    "CANCELLED",
    "Cover",
    "Fairness",
    "MinFreeDays",
    "Person",
    "Request",
    "RollingMinutes",
    "Roster",
    "RosterProblem",
    "RosterProgress",
    "RosterResult",
    "RosterSolve",
    "Runs",
    "SameShiftDays",
    "ShiftType",
    "WindowCount",
    "roster_explain",
    "roster_solve",
]
