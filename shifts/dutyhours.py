"""The duty-hour (ACGME) rules engine: a pure function over plain data.

Nothing here touches the database, so the same code judges a coordinator's edit, a swap, the
rostering solver's candidate schedules, the validator and the compliance reports. The thin ORM
loader is ``shifts.selectors.person_work_load``; ``shifts.selectors.duty_hour_problems`` ties
the two together.

Time is local wall-clock time (naive datetimes in the program's time zone), counted in whole
minutes, so the boundaries are exact: 80.0 h/week passes and 80.5 fails, 14 h off passes and
13 h 59 min fails. How each rule is computed is written next to it and in docs/shifts.md.
"""

from __future__ import annotations

import bisect
import datetime
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from shifts.formatting import fmt_hours, fmt_moment, fmt_span

VIOLATION = "violation"
WARNING = "warning"

ROLLING = "rolling"
BLOCKS = "blocks"

DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Limits:
    """The program's limits (``DutyHourSettings``), ACGME defaults."""

    averaging: str = ROLLING  # or BLOCKS: average over the program's blocks
    averaging_days: int = 28
    max_weekly_hours: Fraction = Fraction(80)
    days_off_per_week: Fraction = Fraction(1)
    max_continuous_hours: Fraction = Fraction(24)
    transition_hours: Fraction = Fraction(4)
    rest_after_long_call_hours: Fraction = Fraction(14)
    min_rest_between_periods_hours: Fraction = Fraction(8)
    call_every_nth_night: int = 3


@dataclass(frozen=True)
class WorkShift:
    """One shift, as the engine needs it."""

    date: datetime.date
    start: datetime.datetime  # naive local time
    end: datetime.datetime
    type_code: str
    type_name: str = ""
    in_house: bool = True
    counts_as_call: bool = False  # in-house call, for the every-third-night rule
    rest_after_hours: Fraction = Fraction(0)
    max_consecutive: int | None = None
    shift_id: int | None = None


@dataclass
class PersonWork:
    """A person's scheduled work over some range: the rotation's usual hours (``pattern``, one
    interval per working stretch), shifts, and the days of approved absence."""

    person_id: int
    name: str
    shifts: list[WorkShift] = field(default_factory=list)
    pattern: list[tuple[datetime.datetime, datetime.datetime]] = field(default_factory=list)
    absent_days: set[datetime.date] = field(default_factory=set)


@dataclass(frozen=True)
class DutyHourProblem:
    rule: str
    severity: str
    person_id: int
    person_name: str
    start: datetime.date
    end: datetime.date
    value: float
    limit: float
    message: str

    @property
    def key(self) -> tuple:
        """Identifies the problem across two evaluations (before and after a change)."""
        return (self.rule, self.person_id, self.start, self.end)

    @property
    def is_violation(self) -> bool:
        return self.severity == VIOLATION


def _minutes(hours: Fraction | float | int) -> int:
    return round(Fraction(hours) * 60)


def _merge(
    intervals: Iterable[tuple[datetime.datetime, datetime.datetime]],
) -> list[list[datetime.datetime]]:
    """Union of intervals; touching intervals (one ends when the next starts) merge."""
    merged: list[list[datetime.datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1][1] = end
        else:
            merged.append([start, end])
    return merged


def _subtract(
    interval: tuple[datetime.datetime, datetime.datetime],
    holes: list[tuple[datetime.datetime, datetime.datetime]],
) -> list[tuple[datetime.datetime, datetime.datetime]]:
    pieces = [interval]
    for hole_start, hole_end in holes:
        next_pieces = []
        for start, end in pieces:
            if hole_end <= start or hole_start >= end:
                next_pieces.append((start, end))
                continue
            if start < hole_start:
                next_pieces.append((start, hole_start))
            if hole_end < end:
                next_pieces.append((hole_end, end))
        pieces = next_pieces
    return pieces


@dataclass
class _Period:
    """A stretch of continuous in-house work (merged intervals)."""

    start: datetime.datetime
    end: datetime.datetime
    has_call: bool = False

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclass
class WorkEvaluation:
    """What ``evaluate_work`` finds in one person's work: the rules and the compliance reports
    (shifts/compliance.py) read it."""

    periods: list[_Period]
    # Days are proleptic ordinals (date.toordinal()): integer keys keep a year's evaluation fast.
    daily_minutes: dict[int, int]
    busy_days: set[int]  # any work, at-home call included
    home_call_only_days: set[int]  # busy only because of at-home call
    call_nights: list[int]


def evaluate_work(work: PersonWork) -> WorkEvaluation:
    in_house = [s for s in work.shifts if s.in_house]
    # Rest a shift imposes afterwards removes the rotation's usual hours in it (the post-call day).
    rests = sorted(
        (s.end, s.end + datetime.timedelta(minutes=_minutes(s.rest_after_hours)))
        for s in in_house
        if s.rest_after_hours > 0
    )
    rest_starts = [r[0] for r in rests]
    longest_rest = max((r[1] - r[0] for r in rests), default=datetime.timedelta(0))
    intervals: list[tuple[datetime.datetime, datetime.datetime]] = []
    for start, end in work.pattern:
        if start.date() in work.absent_days:
            continue
        if rests:
            lo = bisect.bisect_left(rest_starts, start - longest_rest)
            hi = bisect.bisect_left(rest_starts, end)
            holes = [r for r in rests[lo:hi] if r[1] > start]
            if holes:
                intervals.extend(_subtract((start, end), holes))
                continue
        intervals.append((start, end))
    intervals.extend((s.start, s.end) for s in in_house)

    call_starts = sorted((s.start, s.end) for s in in_house if s.counts_as_call)
    periods = [_Period(start, end) for start, end in _merge(intervals)]
    if call_starts:
        starts = [p.start for p in periods]
        for call_start, _ in call_starts:
            index = bisect.bisect_right(starts, call_start) - 1
            if index >= 0:
                periods[index].has_call = True

    daily: dict[int, int] = {}
    busy: set[int] = set()
    for period in periods:
        _spread(period.start, period.end, daily, busy)
    home_busy: set[int] = set()
    for shift in work.shifts:
        if not shift.in_house:
            _spread(shift.start, shift.end, None, home_busy)
    return WorkEvaluation(
        periods=periods,
        daily_minutes=daily,
        busy_days=busy | home_busy,
        home_call_only_days=home_busy - busy,
        call_nights=sorted(s.date.toordinal() for s in in_house if s.counts_as_call),
    )


def _spread(
    start: datetime.datetime,
    end: datetime.datetime,
    daily: dict[int, int] | None,
    busy: set[int],
) -> None:
    """Add the interval's minutes to each calendar day it touches (keys: day ordinals)."""
    day = start.toordinal()
    midnight = datetime.datetime.combine(start.date() + DAY, datetime.time())
    cursor = start
    while True:
        piece_end = end if end <= midnight else midnight
        busy.add(day)
        if daily is not None:
            daily[day] = daily.get(day, 0) + int((piece_end - cursor).total_seconds()) // 60
        if piece_end >= end:
            return
        cursor, day, midnight = midnight, day + 1, midnight + DAY


@functools.lru_cache(maxsize=64)
def _windows(
    averaging: str,
    averaging_days: int,
    start: int,
    end: int,
    blocks: tuple[tuple[datetime.date, datetime.date], ...],
) -> tuple[tuple[int, int], ...]:
    """The averaging windows (first and last day ordinals) that touch days [start, end]: the
    program's blocks, or every rolling window of ``averaging_days`` days. Cached: a program's
    evaluation asks the same for every person."""
    if averaging == BLOCKS and blocks:
        ordinals = ((b.toordinal(), e.toordinal()) for b, e in blocks)
        return tuple((b, e) for b, e in ordinals if b <= end and e >= start)
    first = start - (averaging_days - 1)
    return tuple((n, n + averaging_days - 1) for n in range(first, end + 1))


def _worst_per_run(
    flagged: list[tuple[int, tuple[datetime.date, datetime.date], float]],
) -> list[tuple[tuple[datetime.date, datetime.date], float]]:
    """Overlapping rolling windows that all break a rule are one problem: report the worst
    window of each run of consecutive flagged windows (index, window, value)."""
    runs: list[tuple[tuple[datetime.date, datetime.date], float]] = []
    last_index = None
    for index, window, value in flagged:
        if last_index is not None and index == last_index + 1:
            if value > runs[-1][1]:
                runs[-1] = (window, value)
        else:
            runs.append((window, value))
        last_index = index
    return runs


def duty_hour_problems(
    *,
    work: PersonWork,
    limits: Limits,
    start: datetime.date,
    end: datetime.date,
    blocks: list[tuple[datetime.date, datetime.date]] | None = None,
) -> list[DutyHourProblem]:
    """Every duty-hour rule ``work`` breaks in windows and periods touching [start, end].

    ``work`` must hold the person's work from ``averaging_days`` (+2) before ``start`` to as
    long after ``end`` (``shifts.selectors.person_work_load`` loads exactly that). ``blocks``
    (start, end) are used when the program averages over its blocks.
    """
    ev = evaluate_work(work)
    problems: list[DutyHourProblem] = []
    name = work.name

    def add(rule, severity, w_start, w_end, value, limit, message):
        problems.append(
            DutyHourProblem(
                rule, severity, work.person_id, name, w_start, w_end, value, limit, message
            )
        )

    windows = _windows(
        limits.averaging,
        limits.averaging_days,
        start.toordinal(),
        end.toordinal(),
        tuple(tuple(b) for b in blocks or ()),
    )
    daily = ev.daily_minutes
    # The limits as integer ratios, so the loop below compares integers (Fraction arithmetic
    # per window would dominate a year's evaluation).
    weekly = Fraction(limits.max_weekly_hours) * 60
    weekly_num, weekly_den = weekly.numerator, weekly.denominator
    off = Fraction(limits.days_off_per_week)
    off_num, off_den = off.numerator, off.denominator
    nth = limits.call_every_nth_night
    over_hours, short_days, over_call = [], [], []
    calls = ev.call_nights
    if windows:
        # Prefix sums over the days the windows cover: each window is then O(1).
        first = windows[0][0] if len(windows) == 1 else min(w[0] for w in windows)
        span = max(w[1] for w in windows) - first + 1
        minutes_before = [0] * (span + 1)
        busy_before = [0] * (span + 1)
        busy_days = ev.busy_days
        running_minutes = running_busy = 0
        for n in range(span):
            running_minutes += daily.get(first + n, 0)
            running_busy += (first + n) in busy_days
            minutes_before[n + 1] = running_minutes
            busy_before[n + 1] = running_busy
    as_dates = datetime.date.fromordinal
    for index, (w_start, w_end) in enumerate(windows):
        days = w_end - w_start + 1
        lo, hi = w_start - first, w_end - first + 1
        total = minutes_before[hi] - minutes_before[lo]
        free = days - (busy_before[hi] - busy_before[lo])
        window = None
        # 80 h/week averaged: total / (days / 7) <= limit, in exact integer arithmetic.
        if total * 7 * weekly_den > weekly_num * days:
            window = (as_dates(w_start), as_dates(w_end))
            over_hours.append((index, window, total * 7 / days / 60))
        # One day in seven free, averaged: free days >= days * (1 / 7).
        if free * 7 * off_den < off_num * days:
            window = window or (as_dates(w_start), as_dates(w_end))
            short_days.append((index, window, -free))
        # In-house call no more often than every third night, averaged: nights * 3 <= days.
        if calls:
            nights = bisect.bisect_right(calls, w_end) - bisect.bisect_left(calls, w_start)
            if nights * nth > days:
                window = window or (as_dates(w_start), as_dates(w_end))
                over_call.append((index, window, nights))

    for (w_start, w_end), value in _worst_per_run(over_hours):
        add(
            "weekly_hours",
            VIOLATION,
            w_start,
            w_end,
            round(value, 2),
            float(limits.max_weekly_hours),
            f"{name}: {fmt_hours(value)} h/week averaged over {fmt_span(w_start, w_end)}; "
            f"limit {fmt_hours(limits.max_weekly_hours)}.",
        )
    for (w_start, w_end), negative_free in _worst_per_run(short_days):
        free = -negative_free
        days = (w_end - w_start).days + 1
        required = limits.days_off_per_week * days / 7
        home = sorted(
            datetime.date.fromordinal(d)
            for d in ev.home_call_only_days
            if w_start.toordinal() <= d <= w_end.toordinal()
        )
        note = ""
        if home:
            listed = ", ".join(f"{d.day} {d:%b}" for d in home[:5])
            note = f" (at-home call on {listed} is not a day off)"
        add(
            "days_off",
            VIOLATION,
            w_start,
            w_end,
            free,
            float(required),
            f"{name}: {free} day(s) free of work in {days} days, {fmt_span(w_start, w_end)}"
            f"{note}; at least {fmt_hours(required)} required (one day in seven).",
        )
    for (w_start, w_end), nights in _worst_per_run(over_call):
        days = (w_end - w_start).days + 1
        allowed = days // limits.call_every_nth_night
        add(
            "call_frequency",
            VIOLATION,
            w_start,
            w_end,
            nights,
            allowed,
            f"{name}: {nights} in-house call nights in {days} days, {fmt_span(w_start, w_end)}; "
            f"at most {allowed} (every {_ordinal(limits.call_every_nth_night)} night).",
        )

    _period_rules(ev.periods, limits, start, end, add, name)
    _consecutive_rules(work.shifts, start, end, add, name)
    problems.sort(key=lambda p: (p.start, p.severity != VIOLATION, p.rule))
    return problems


def _period_rules(periods, limits, start, end, add, name) -> None:
    continuous_limit = _minutes(limits.max_continuous_hours + limits.transition_hours)
    long_call = _minutes(limits.max_continuous_hours)
    rest_after_call = _minutes(limits.rest_after_long_call_hours)
    min_rest = _minutes(limits.min_rest_between_periods_hours)
    for index, period in enumerate(periods):
        touches = period.start.date() <= end and period.end.date() >= start
        if touches and period.minutes > continuous_limit:
            add(
                "continuous",
                VIOLATION,
                period.start.date(),
                period.end.date(),
                period.minutes / 60,
                continuous_limit / 60,
                f"{name}: {fmt_hours(period.minutes / 60)} h of continuous scheduled work from "
                f"{fmt_moment(period.start)} to {fmt_moment(period.end)}; limit "
                f"{fmt_hours(limits.max_continuous_hours)} h + "
                f"{fmt_hours(limits.transition_hours)} h for transitions.",
            )
        if index + 1 >= len(periods):
            continue
        following = periods[index + 1]
        if not (period.end.date() <= end and following.start.date() >= start):
            continue
        gap = int((following.start - period.end).total_seconds() // 60)
        if period.has_call and period.minutes >= long_call and gap < rest_after_call:
            add(
                "rest_after_call",
                VIOLATION,
                period.end.date(),
                following.start.date(),
                gap / 60,
                rest_after_call / 60,
                f"{name}: {fmt_hours(gap / 60)} h free between {fmt_hours(period.minutes / 60)} h "
                f"of in-house call ending {fmt_moment(period.end)} and work at "
                f"{fmt_moment(following.start)}; at least "
                f"{fmt_hours(limits.rest_after_long_call_hours)} h required.",
            )
        elif gap < min_rest:
            add(
                "rest_between",
                WARNING,
                period.end.date(),
                following.start.date(),
                gap / 60,
                min_rest / 60,
                f"{name}: only {fmt_hours(gap / 60)} h free between work ending "
                f"{fmt_moment(period.end)} and work at {fmt_moment(following.start)}; "
                f"{fmt_hours(limits.min_rest_between_periods_hours)} h should be free.",
            )


def _consecutive_rules(shifts, start, end, add, name) -> None:
    """Per-type limits: at most ``max_consecutive`` days in a row of one shift type."""
    by_type: dict[str, list[WorkShift]] = {}
    for shift in shifts:
        if shift.max_consecutive:
            by_type.setdefault(shift.type_code, []).append(shift)
    for typed in by_type.values():
        limit = typed[0].max_consecutive
        dates = sorted({s.date for s in typed})
        run_start = previous = dates[0]
        for day in [*dates[1:], None]:
            if day is not None and day == previous + DAY:
                previous = day
                continue
            length = (previous - run_start).days + 1
            if length > limit and run_start <= end and previous >= start:
                label = typed[0].type_name or typed[0].type_code
                add(
                    "consecutive",
                    VIOLATION,
                    run_start,
                    previous,
                    length,
                    limit,
                    f"{name}: {length} {label} shifts in a row, {fmt_span(run_start, previous)}; "
                    f"at most {limit}.",
                )
            if day is not None:
                run_start = previous = day


def _ordinal(n: int) -> str:
    return {1: "", 2: "second", 3: "third", 4: "fourth"}.get(n, f"{n}th")
