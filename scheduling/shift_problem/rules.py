"""How the shifts app's times and duty-hour rules become engine rules (docs/rostering.md):
rest after a type as next-day exclusions or whole rest days, the calendar days an overnight
shift reaches, what a shift changes in a person's hours per day, clashes with fixed work and the
rotation's hours, and the program's limits as window rules. Each is at least as strict as the
duty-hour engine (shifts/dutyhours.py), which the independent validator runs on the result."""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from fractions import Fraction

from scheduling import roster
from shifts.dutyhours import Limits
from shifts.models import ShiftType

DAY = datetime.timedelta(days=1)


def start_minute(shift_type: ShiftType) -> int:
    return shift_type.start_time.hour * 60 + shift_type.start_time.minute


def length_minutes(shift_type: ShiftType) -> int:
    return round(Fraction(shift_type.length_hours) * 60)


def rest_minutes(shift_type: ShiftType, limits: Limits, lead: int = 0) -> int:
    """Minutes that must stay free after a shift of this type: its own rest, and for in-house
    call that makes 24 h or more of continuous work (with ``lead`` minutes of rotation hours
    running into its start) the program's rest after long call, the duty-hour engine's
    ``rest_after_call`` rule. At-home shifts impose none (the engine ignores them)."""
    if not shift_type.in_house:
        return 0
    rest = round(Fraction(shift_type.rest_after_hours) * 60)
    if (
        shift_type.counts_as_call
        and length_minutes(shift_type) + lead >= limits.max_continuous_hours * 60
    ):
        rest = max(rest, round(Fraction(limits.rest_after_long_call_hours) * 60))
    return rest


def pattern_leads(types, patterns) -> dict[int, int]:
    """Shift type pk -> the most minutes of any rotation's usual hours that run up to (or
    into) its start the same day: a 14 h call at 17:00 after a 07:00-17:00 ward day is 24 h of
    continuous work, a long call, whoever takes it."""
    leads = {}
    for t in types:
        begin = start_minute(t)
        lead = 0
        for week in patterns.values():
            for day in week.values():
                for start_time, minutes in day:
                    p_start = start_time.hour * 60 + start_time.minute
                    if p_start < begin <= p_start + minutes:
                        lead = max(lead, begin - p_start)
        leads[t.pk] = lead
    return leads


def roster_shift_types(
    types: list[ShiftType], limits: Limits, leads: dict[int, int] | None = None
) -> tuple[roster.ShiftType, ...]:
    """Engine shift types: hours, rest as whole days or next-day exclusions, points, and the
    calendar days an overnight shift reaches (worked days for the one-day-in-seven rule)."""
    result = []
    for a in types:
        blocked_until = (
            start_minute(a)
            + length_minutes(a)
            + rest_minutes(a, limits, (leads or {}).get(a.pk, 0))
        )
        # Types b that may not start on day k after a: b would start before a's rest ends.
        forbidden = {
            k: {b.code for b in types if start_minute(b) + 1440 * k < blocked_until}
            for k in range(1, 5)
        }
        last = max((k for k, codes in forbidden.items() if codes), default=0)
        everyone = {b.code for b in types}
        cannot_follow: frozenset[str] = frozenset()
        rest_days = 0
        if last == 1 and forbidden[1] != everyone:
            cannot_follow = frozenset(forbidden[1])
        elif last:
            # The engine's rest is whole days; a partly blocked last day is blocked whole
            # (stricter than the rule, never looser).
            rest_days = last
        end = start_minute(a) + length_minutes(a)
        result.append(
            roster.ShiftType(
                id=a.code,
                minutes=length_minutes(a) if a.in_house else 0,
                cannot_follow=cannot_follow,
                rest_days_after=rest_days,
                points=a.burden_points,
                busy_days_after=max(0, math.ceil(end / 1440) - 1),
            )
        )
    return tuple(result)


def spread_minutes(
    start: datetime.datetime, end: datetime.datetime, into: dict[datetime.date, int]
):
    """Minutes of [start, end) per calendar day (as the duty-hour engine counts them)."""
    cursor = start
    while cursor < end:
        midnight = datetime.datetime.combine(cursor.date() + DAY, datetime.time())
        piece = min(end, midnight)
        into[cursor.date()] += int((piece - cursor).total_seconds()) // 60
        cursor = piece


def duty_hour_rules(*, types: list[ShiftType], limits: Limits, residents: frozenset[str]):
    """The program's duty-hour limits as engine window rules, for residents (the duty-hour
    engine judges residents only). Each is at least as strict as ``shifts.dutyhours``."""
    window = limits.averaging_days
    # Shifts' minutes are spread over calendar days per person (``shift_minutes``), as the
    # duty-hour engine counts them, so the limit is the engine's own.
    max_minutes = math.floor(limits.max_weekly_hours * 60 * window / 7)
    min_free = math.ceil(Fraction(limits.days_off_per_week) * window / 7)
    call_types = frozenset(t.code for t in types if t.counts_as_call)
    counts = []
    if call_types:
        counts.append(
            roster.WindowCount(
                call_types,
                window=window,
                max_count=window // limits.call_every_nth_night,
                people=residents,
            )
        )
    for t in types:
        # At most k days in a row of one type: every k + 1 days hold at most k of them.
        if t.max_consecutive:
            counts.append(
                roster.WindowCount(
                    frozenset({t.code}),
                    window=t.max_consecutive + 1,
                    max_count=t.max_consecutive,
                )
            )
    return {
        "rolling_minutes": (roster.RollingMinutes(window, max_minutes, people=residents),),
        "min_free_days": (roster.MinFreeDays(window, min_free, people=residents),)
        if min_free
        else (),
        "window_counts": tuple(counts),
    }


def fixed_clash(d: datetime.date, t: ShiftType, fixed, limits: Limits, leads) -> str | None:
    """Why a shift of ``t`` on ``d`` cannot sit next to the person's fixed shifts: it would
    overlap one, fall in the rest one imposes, or put one in its own rest."""
    begin = datetime.datetime.combine(d, t.start_time)
    stop = begin + datetime.timedelta(minutes=length_minutes(t))
    rest_end = stop + datetime.timedelta(minutes=rest_minutes(t, limits, leads.get(t.pk, 0)))
    for other_begin, other_stop, other in fixed:
        label = f"{other.name} on {other_begin:%a} {other_begin.day} {other_begin:%b}"
        # The other shift overlaps this one or starts inside the rest this one imposes.
        if other_begin < rest_end and other_stop > begin:
            return f"has {label}"
        # This one starts inside the rest the other imposes.
        other_rest_end = other_stop + datetime.timedelta(
            minutes=rest_minutes(other, limits, leads.get(other.pk, 0))
        )
        if begin < other_rest_end and stop > other_stop:
            return f"resting after {label}"
    return None


def pattern_clash(d: datetime.date, t: ShiftType, intervals, limits: Limits, leads) -> str | None:
    """Why a shift of ``t`` on ``d`` cannot sit in the person's rotation hours, judged as the
    duty-hour engine does: the hours around it merge into one stretch of continuous work (no
    longer than 24 + 4 h), and after a long in-house call the next rotation hours (those the
    shift's own rest does not cancel) start only after the rest."""
    if not t.in_house:
        return None
    begin = datetime.datetime.combine(d, t.start_time)
    stop = begin + datetime.timedelta(minutes=length_minutes(t))
    cancelled = stop + datetime.timedelta(minutes=round(Fraction(t.rest_after_hours) * 60))
    near = sorted(
        piece
        for n in (-1, 0, 1, 2)
        for b, e, name in intervals.get(d + n * DAY, ())
        for piece in cut((b, e, name), stop, cancelled)
    )
    first, last = begin, stop
    for b, e, _name in reversed([p for p in near if p[0] < begin]):
        if e >= first:
            first = min(first, b)
    for b, e, _name in near:
        if first <= b <= last:
            last = max(last, e)
    worked = int((last - first).total_seconds()) // 60
    if worked > (limits.max_continuous_hours + limits.transition_hours) * 60:
        return f"{worked / 60:g} h in a row with the rotation's hours"
    if t.counts_as_call and worked >= limits.max_continuous_hours * 60:
        free_until = last + datetime.timedelta(
            minutes=round(Fraction(limits.rest_after_long_call_hours) * 60)
        )
        for b, _e, name in near:
            if last < b < free_until:
                return f"{name} hours {b:%a} {b:%H:%M} fall in the rest after the call"
    return None


def cut(piece, start, end):
    """``piece`` (begin, end, name) without [start, end): the rotation's hours a shift's rest
    cancels (the duty-hour engine removes them too)."""
    b, e, name = piece
    if e <= start or b >= end:
        return [piece]
    parts = []
    if b < start:
        parts.append((b, start, name))
    if e > end:
        parts.append((end, e, name))
    return parts


def day_minutes(intervals) -> dict[datetime.date, int]:
    """Minutes of the union of ``intervals`` per calendar day."""
    merged: list[list[datetime.datetime]] = []
    for b, e in sorted(intervals):
        if merged and b <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([b, e])
    minutes: dict[datetime.date, int] = defaultdict(int)
    for b, e in merged:
        spread_minutes(b, e, minutes)
    return minutes


def shift_minutes_of(d: datetime.date, t: ShiftType, work) -> tuple[tuple[int, int], ...]:
    """What a shift of ``t`` on ``d`` changes in a person's work per calendar day (days after
    ``d``, minutes), counted as the duty-hour engine counts: the union of the rotation's hours
    and shifts (an overlap counts once), split at midnight, less the rotation hours the
    shift's rest cancels. ``work``: (start, end, is rotation hours) of the person's rotation
    hours and fixed in-house shifts (a rest cancels only rotation hours)."""
    if not t.in_house:
        return ()
    begin = datetime.datetime.combine(d, t.start_time)
    stop = begin + datetime.timedelta(minutes=length_minutes(t))
    cancelled = stop + datetime.timedelta(minutes=round(Fraction(t.rest_after_hours) * 60))
    lo, hi = begin - 2 * DAY, cancelled + 2 * DAY
    near = [(b, e, pattern) for b, e, pattern in work if e > lo and b < hi]
    before = day_minutes((b, e) for b, e, _ in near)
    kept = [(b, e) for b, e, pattern in near if not pattern]
    kept += [
        (cb, ce)
        for b, e, pattern in near
        if pattern
        for cb, ce, _ in cut((b, e, ""), stop, cancelled)
    ]
    after = day_minutes([*kept, (begin, stop)])
    return tuple(
        ((day - d).days, after.get(day, 0) - before.get(day, 0))
        for day in sorted(set(before) | set(after))
        if after.get(day, 0) != before.get(day, 0)
    )
