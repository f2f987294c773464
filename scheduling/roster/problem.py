"""The data a roster is generated from: plain, immutable, no Django (docs/rostering.md).

A roster gives each person at most one shift type per day over a horizon of ``days`` days
(day 0 is the first day; ``first_weekday`` says which weekday it is, 0 = Monday). Everything the
residency layer knows (rotation pools, absences, duty-hour rules, history) is translated into
these classes by the caller; the benchmark reader (bench/shifts.py) does the same for the
Curtois & Qu instances. One engine serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ShiftType:
    id: str
    minutes: int
    # Shift types that may not be worked on the day after this one.
    cannot_follow: frozenset[str] = frozenset()
    # Whole days that must be free of any shift after this one (post-call rest).
    rest_days_after: int = 0
    # Burden points one shift of this type is worth (fairness).
    points: int = 0
    # Calendar days after its day that the shift still reaches (an overnight shift ending 07:00
    # reaches one): they count as worked for ``MinFreeDays``, as the duty-hour rules count them.
    busy_days_after: int = 0


@dataclass(frozen=True)
class Person:
    id: str
    # Shift types this person may ever work (None = all).
    shift_types: frozenset[str] | None = None
    # Per shift type maximum count over the horizon (missing = no limit).
    max_shifts: dict[str, int] = field(default_factory=dict)
    min_minutes: int = 0
    max_minutes: int | None = None
    min_consecutive_shifts: int = 1
    max_consecutive_shifts: int | None = None
    min_consecutive_days_off: int = 1
    max_weekends: int | None = None
    # Day -> why this person works no shift that day ("vacation", "day off", ...).
    unavailable: dict[int, str] = field(default_factory=dict)
    # (day, shift type) -> why this person may not work that type that day ("on ICU").
    ineligible: dict[tuple[int, str], str] = field(default_factory=dict)
    # Day -> minutes worked that day outside the roster (a rotation's work pattern). They count
    # toward rolling-window hours and make the day a working day for free-day rules.
    baseline_minutes: dict[int, int] = field(default_factory=dict)
    # Fairness cohort (a PGY level, a call pool); None = not compared with anyone.
    cohort: str | None = None
    # (day, shift type) -> ((days after ``day``, minutes), ...): what a shift of that type that
    # day changes in this person's work per calendar day, for ``RollingMinutes``: an overnight
    # shift split at midnight, rotation hours it overlaps counted once, rotation hours its rest
    # cancels taken off (negative). Missing: the type's minutes, all on its own day.
    shift_minutes: dict[tuple[int, str], tuple[tuple[int, int], ...]] = field(default_factory=dict)

    def may_work(self, day: int, shift_type: str) -> bool:
        if day in self.unavailable:
            return False
        if self.shift_types is not None and shift_type not in self.shift_types:
            return False
        return (day, shift_type) not in self.ineligible


@dataclass(frozen=True)
class Request:
    """A wish to work (``on``) or not to work a shift type on a day; ``weight`` is its cost
    when not honoured. ``shift_type`` None on an off request means "no shift at all"."""

    person: str
    day: int
    shift_type: str | None
    weight: int
    on: bool


@dataclass(frozen=True)
class Cover:
    """How many people a shift type needs on a day. ``min``/``max`` are hard; ``preferred``
    is soft: each person under costs ``under_weight``, each person over ``over_weight``."""

    day: int
    shift_type: str
    min: int = 0
    max: int | None = None
    preferred: int | None = None
    under_weight: int = 0
    over_weight: int = 0


@dataclass(frozen=True)
class RollingMinutes:
    """No more than ``max_minutes`` of work (shifts + baseline) in any ``window`` consecutive
    days inside the horizon. ACGME 80 h/week averaged over 4 weeks: window 28, 80*4*60."""

    window: int
    max_minutes: int
    people: frozenset[str] | None = None  # None = everyone


@dataclass(frozen=True)
class MinFreeDays:
    """At least ``min_free`` days with no work (no shift, no baseline) in any ``window``
    consecutive days. ACGME one day in seven averaged over 4 weeks: window 28, min_free 4."""

    window: int
    min_free: int
    people: frozenset[str] | None = None


@dataclass(frozen=True)
class WindowCount:
    """At most ``max_count`` shifts of ``shift_types`` in any ``window`` consecutive days.
    In-house call at most every third night: window 3, max 1 (strict) or window 28, max 9
    (averaged over four weeks)."""

    shift_types: frozenset[str]
    window: int
    max_count: int
    people: frozenset[str] | None = None


@dataclass(frozen=True)
class Runs:
    """Days on ``shift_types`` come in runs of ``min_length`` to ``max_length`` consecutive
    days, each followed by at least ``rest_after`` days with no shift at all (night float:
    runs of 5-6 nights, then two days off). A run touching the first or last day of the
    horizon is exempt from the minimum (it continues outside the horizon), as for
    ``Person.min_consecutive_shifts``."""

    shift_types: frozenset[str]
    min_length: int = 1
    max_length: int | None = None
    rest_after: int = 0
    people: frozenset[str] | None = None


@dataclass(frozen=True)
class SameShiftDays:
    """For each group of days, a person works ``shift_type`` on every day of the group or on
    none of them: weekend call paired Friday to Sunday to one person, groups = each
    (Friday, Saturday, Sunday) of the horizon."""

    shift_type: str
    groups: tuple[tuple[int, ...], ...]
    people: frozenset[str] | None = None


@dataclass(frozen=True)
class Fairness:
    """Minimise ``weight`` x (max - min) points within each cohort. A person's points are
    ``history`` (earlier months) plus the points of their shifts on ``days`` (None = every
    day), a shift of type t being worth ``points[t]`` (missing = ShiftType.points)."""

    name: str
    weight: int
    points: dict[str, int] | None = None
    days: frozenset[int] | None = None
    history: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RosterProblem:
    days: int
    shift_types: tuple[ShiftType, ...]
    people: tuple[Person, ...]
    cover: tuple[Cover, ...] = ()
    requests: tuple[Request, ...] = ()
    first_weekday: int = 0  # weekday of day 0, 0 = Monday
    # (person, day) -> shift type id, or None for a pinned day off.
    pinned: dict[tuple[str, int], str | None] = field(default_factory=dict)
    # The roster in force now; each person-day that differs costs ``stability_weight``.
    current: dict[tuple[str, int], str] = field(default_factory=dict)
    stability_weight: int = 0
    rolling_minutes: tuple[RollingMinutes, ...] = ()
    min_free_days: tuple[MinFreeDays, ...] = ()
    window_counts: tuple[WindowCount, ...] = ()
    runs: tuple[Runs, ...] = ()
    same_shift_days: tuple[SameShiftDays, ...] = ()
    fairness: tuple[Fairness, ...] = ()
    # Honoured requests spread fairly: the most request weight any one person of a cohort
    # loses (requests not honoured) costs this much per unit, so the misses are shared rather
    # than all falling on one person.
    request_fairness_weight: int = 0

    def shift_type(self, shift_id: str) -> ShiftType:
        for t in self.shift_types:
            if t.id == shift_id:
                return t
        raise KeyError(shift_id)

    def weekends(self) -> list[tuple[int, ...]]:
        """Each weekend as the horizon days of its Saturday and Sunday (one day at an edge)."""
        result: dict[int, list[int]] = {}
        for day in range(self.days):
            weekday = (self.first_weekday + day) % 7
            if weekday in (5, 6):
                week = (self.first_weekday + day) // 7
                result.setdefault(week, []).append(day)
        return [tuple(days) for _, days in sorted(result.items())]


Roster = dict[tuple[str, int], str]  # (person, day) -> shift type; days off are absent
