"""Domain errors of the daily layer (subclasses of residency.errors, so every interface already
maps them to a status code and a message)."""

from __future__ import annotations

from residency.errors import RuleViolation
from shifts.dutyhours import DutyHourProblem


class DutyHourViolation(RuleViolation):
    """The change breaks duty-hour rules; ``problems`` carries them with their numbers. A
    coordinator may still make it with a written reason (``override_reason``)."""

    def __init__(self, problems: list[DutyHourProblem]) -> None:
        lines = " ".join(p.message for p in problems)
        super().__init__(
            f"This change breaks the duty-hour rules: {lines} A coordinator may make it anyway "
            "with a written reason.",
            field="override_reason",
        )
        self.problems = problems
