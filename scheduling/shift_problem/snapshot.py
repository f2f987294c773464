"""The shifts app's facts for a period, read once and translated into a ``RosterProblem``
(docs/rostering.md, "How the residency rules map onto the engine").

Roster ids: a person is ``str(Person.pk)``, a shift type its ``ShiftType.code``. Day 0 of the
problem is ``first_day``, 27 days before the period, and the horizon runs 27 days past it: those
days are pinned to the shifts actually worked (or planned), so the 28-day duty-hour windows that
touch the period see the weeks around it, as the duty-hour engine does.
"""

from __future__ import annotations

import datetime
import math
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from residency.models import Absence, AcademicYear, Assignment, Person, ResidentYear
from scheduling import roster
from scheduling.roster import Roster, RosterProblem
from shifts import selectors
from shifts.dutyhours import Limits
from shifts.models import REQUEST_WEIGHTS, CoverageRule, Shift, ShiftRequest, ShiftType

DAY = datetime.timedelta(days=1)
# Look-back and look-ahead: one duty-hour window (28 days) minus the day it shares with the period.
REACH_DAYS = 27

KEEP_ALL, KEEP_CHANGES, KEEP_NONE = "all", "changes", "none"
KEEPS = (KEEP_ALL, KEEP_CHANGES, KEEP_NONE)

# Objective weights (integers). A changed person-day costs less than an unhonoured normal
# request, and a point of spread within a cohort costs about as much as one.
STABILITY_WEIGHT = 2
POINTS_FAIRNESS_WEIGHT = 3
WEEKEND_FAIRNESS_WEIGHT = 2
FACULTY_COHORT = "faculty"


@dataclass(frozen=True)
class SnapshotRequest:
    """A person's wish for a day (shifts.ShiftRequest), kept for the report."""

    person_pk: int
    date: datetime.date
    shift_type_pk: int | None
    on: bool
    weight: int


@dataclass(frozen=True)
class ShiftSnapshot:
    problem: RosterProblem
    start: datetime.date
    end: datetime.date
    first_day: datetime.date
    people: dict[str, Person]
    shift_types: dict[str, ShiftType]
    # Existing shifts of the generated types held by these people in [start, end], whatever
    # ``keep`` said: (person_pk, date, shift_type_pk) -> (shift_pk, version). The write phase
    # deletes those not in the new rows and creates the rows not in here.
    current: dict[tuple[int, datetime.date, int], tuple[int, int]]
    academic_year: AcademicYear | None = None
    keep: str = KEEP_CHANGES
    holidays: dict[datetime.date, str] = field(default_factory=dict)
    # Points of the generated types' shifts in the academic year before ``first_day``.
    history_points: dict[str, int] = field(default_factory=dict)
    history_weekend_points: dict[str, int] = field(default_factory=dict)
    requests: tuple[SnapshotRequest, ...] = ()
    limits: Limits = field(default_factory=Limits)

    def day_of(self, d: datetime.date) -> int:
        return (d - self.first_day).days

    def date_of(self, day: int) -> datetime.date:
        return self.first_day + day * DAY

    def day_label(self, day: int) -> str:
        d = self.date_of(day)
        return f"{d:%a} {d.day} {d:%b}"

    def rows_of(self, roster: Roster) -> set[tuple[int, datetime.date, int]]:
        """The roster's shifts inside [start, end] as (person_pk, date, shift_type_pk)."""
        first, last = self.day_of(self.start), self.day_of(self.end)
        return {
            (self.people[pid].pk, self.date_of(day), self.shift_types[code].pk)
            for (pid, day), code in roster.items()
            if first <= day <= last
        }


# --- Times -----------------------------------------------------------------------------------


def _start_minute(shift_type: ShiftType) -> int:
    return shift_type.start_time.hour * 60 + shift_type.start_time.minute


def _length(shift_type: ShiftType) -> int:
    return round(Fraction(shift_type.length_hours) * 60)


def _rest(shift_type: ShiftType, limits: Limits, lead: int = 0) -> int:
    """Minutes that must stay free after a shift of this type: its own rest, and for in-house
    call that makes 24 h or more of continuous work (with ``lead`` minutes of rotation hours
    running into its start) the program's rest after long call, the duty-hour engine's
    ``rest_after_call`` rule. At-home shifts impose none (the engine ignores them)."""
    if not shift_type.in_house:
        return 0
    rest = round(Fraction(shift_type.rest_after_hours) * 60)
    if shift_type.counts_as_call and _length(shift_type) + lead >= limits.max_continuous_hours * 60:
        rest = max(rest, round(Fraction(limits.rest_after_long_call_hours) * 60))
    return rest


def pattern_leads(types, patterns) -> dict[int, int]:
    """Shift type pk -> the most minutes of any rotation's usual hours that run up to (or
    into) its start the same day: a 14 h call at 17:00 after a 07:00-17:00 ward day is 24 h of
    continuous work, a long call, whoever takes it."""
    leads = {}
    for t in types:
        begin = _start_minute(t)
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
        blocked_until = _start_minute(a) + _length(a) + _rest(a, limits, (leads or {}).get(a.pk, 0))
        # Types b that may not start on day k after a: b would start before a's rest ends.
        forbidden = {
            k: {b.code for b in types if _start_minute(b) + 1440 * k < blocked_until}
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
        end = _start_minute(a) + _length(a)
        result.append(
            roster.ShiftType(
                id=a.code,
                minutes=_length(a) if a.in_house else 0,
                cannot_follow=cannot_follow,
                rest_days_after=rest_days,
                points=a.burden_points,
                busy_days_after=max(0, math.ceil(end / 1440) - 1),
            )
        )
    return tuple(result)


def _spread(start: datetime.datetime, end: datetime.datetime, into: dict[datetime.date, int]):
    """Minutes of [start, end) per calendar day (as the duty-hour engine counts them)."""
    cursor = start
    while cursor < end:
        midnight = datetime.datetime.combine(cursor.date() + DAY, datetime.time())
        piece = min(end, midnight)
        into[cursor.date()] += int((piece - cursor).total_seconds()) // 60
        cursor = piece


# --- Loading ---------------------------------------------------------------------------------


def _requests_load(*, people: dict[str, Person], start, end) -> list[SnapshotRequest]:
    """The people's requests for days in [start, end], weighted by priority."""
    return [
        SnapshotRequest(
            person_pk=person_pk,
            date=d,
            shift_type_pk=type_pk,
            on=kind == ShiftRequest.Kind.ON,
            weight=REQUEST_WEIGHTS[priority],
        )
        for person_pk, d, type_pk, kind, priority in ShiftRequest.objects.filter(
            person_id__in=[p.pk for p in people.values()], date__range=(start, end)
        )
        .order_by("date", "person_id", "pk")
        .values_list("person_id", "date", "shift_type_id", "kind", "priority")
    ]


def _validate_period(*, academic_year: AcademicYear, start, end, keep: str) -> None:
    if keep not in KEEPS:
        raise ValueError(f"keep must be one of {', '.join(KEEPS)}, not {keep!r}.")
    if start > end:
        raise ValueError("The period ends before it starts.")
    if start < academic_year.start_date or end > academic_year.end_date:
        raise ValueError(f"The period must lie inside {academic_year.label}.")


def shift_snapshot_load(
    *,
    academic_year: AcademicYear,
    start: datetime.date,
    end: datetime.date,
    keep: str = KEEP_CHANGES,
    shift_type_ids: list[int] | None = None,
) -> ShiftSnapshot:
    """Everything shift generation for [start, end] needs, read once (a fixed number of
    queries whatever the size of the program), as a ``RosterProblem`` plus the maps back to
    people, types, dates and the existing shifts with their versions."""
    _validate_period(academic_year=academic_year, start=start, end=end, keep=keep)
    limits = selectors.duty_hour_limits_get()
    type_qs = ShiftType.objects.prefetch_related("eligible_rotations", "coverage_rules")
    if shift_type_ids is None:
        type_qs = type_qs.filter(active=True)
    else:
        type_qs = type_qs.filter(pk__in=shift_type_ids)
    types = list(type_qs.order_by("start_time", "code"))
    by_code = {t.code: t for t in types}
    first_day, last_day = start - REACH_DAYS * DAY, end + REACH_DAYS * DAY
    days = (last_day - first_day).days + 1
    dates = [first_day + n * DAY for n in range(days)]
    in_period = [d for d in dates if start <= d <= end]

    # People: residents of the year (PGY from it), faculty when a type is theirs.
    pgy = dict(
        ResidentYear.objects.filter(academic_year=academic_year, person__active=True).values_list(
            "person_id", "pgy_level"
        )
    )
    people_qs = Person.objects.filter(pk__in=pgy)
    if any(t.staffed_by == ShiftType.StaffedBy.FACULTY for t in types):
        people_qs = people_qs | Person.objects.filter(kind=Person.Kind.FACULTY, active=True)
    people = {str(p.pk): p for p in people_qs.order_by("name", "pk")}
    pks = [p.pk for p in people.values()]

    # The block schedule over the horizon: person -> date -> rotation.
    rotation_on: dict[int, dict[datetime.date, object]] = defaultdict(dict)
    for a in (
        Assignment.objects.filter(
            person_id__in=pks, block__start_date__lte=last_day, block__end_date__gte=first_day
        )
        .select_related("rotation", "block")
        .order_by("role")  # primary before backup/supervising
    ):
        d = max(a.block.start_date, first_day)
        while d <= min(a.block.end_date, last_day):
            rotation_on[a.person_id].setdefault(d, a.rotation)
            d += DAY
    absent: dict[int, dict[datetime.date, str]] = defaultdict(dict)
    for absence in Absence.objects.filter(
        person_id__in=pks,
        status=Absence.Status.APPROVED,
        start_date__lte=last_day,
        end_date__gte=first_day,
    ).order_by("start_date"):
        d = max(absence.start_date, first_day)
        while d <= min(absence.end_date, last_day):
            absent[absence.person_id].setdefault(d, absence.get_kind_display().lower())
            d += DAY
    patterns = selectors.work_patterns_by_rotation()
    holidays = selectors.holidays_between(start=first_day, end=last_day)
    all_types = {t.pk: t for t in ShiftType.objects.all()}

    # Existing shifts: the generated types in the horizon become pins / current; everything
    # else (other types, a second shift the same day) is fixed work around the roster.
    generated = {t.pk for t in types}
    pinned: dict[tuple[str, int], str | None] = {}
    problem_current: dict[tuple[str, int], str] = {}
    current: dict[tuple[int, datetime.date, int], tuple[int, int]] = {}
    fixed: dict[int, list[tuple[datetime.datetime, datetime.datetime, ShiftType]]] = defaultdict(
        list
    )
    outside: dict[tuple[datetime.date, int], int] = defaultdict(int)
    shift_rows = Shift.objects.filter(date__range=(first_day - 2 * DAY, last_day)).values_list(
        "pk", "person_id", "date", "shift_type_id", "version", "pinned"
    )
    for shift_pk, person_pk, d, type_pk, version, is_pinned in shift_rows.order_by("date", "pk"):
        shift_type = all_types[type_pk]
        pid = str(person_pk)
        if pid not in people:
            if type_pk in generated and start <= d <= end:
                outside[d, type_pk] += 1  # someone else's: it stays and counts toward cover
            continue
        day = (d - first_day).days
        is_generated, is_in_period = type_pk in generated, start <= d <= end
        if is_generated and is_in_period:
            current[person_pk, d, type_pk] = (shift_pk, version)
        if is_generated and day >= 0 and (pid, day) not in pinned:
            if not is_in_period or is_pinned or keep == KEEP_ALL:
                pinned[pid, day] = shift_type.code
                continue
            if keep == KEEP_CHANGES:
                problem_current.setdefault((pid, day), shift_type.code)
            continue  # regenerated (a second unpinned one that day is dropped)
        if is_generated and is_in_period and not (is_pinned or keep == KEEP_ALL):
            continue
        # Fixed work around the roster: other types, a second kept shift the same day.
        begin = datetime.datetime.combine(d, shift_type.start_time)
        length = datetime.timedelta(minutes=_length(shift_type))
        fixed[person_pk].append((begin, begin + length, shift_type))
    # Outside the period nothing moves: a look-back or look-ahead day without a shift is off.
    for pid in people:
        for day, d in enumerate(dates):
            if not (start <= d <= end):
                pinned.setdefault((pid, day), None)

    leads = pattern_leads(all_types.values(), patterns)
    engine_types = roster_shift_types(types, limits, leads)
    residents = frozenset(pid for pid, p in people.items() if p.kind == Person.Kind.RESIDENT)
    roster_people = []
    for pid, person in people.items():
        roster_people.append(
            _roster_person(
                pid=pid,
                person=person,
                pgy=pgy.get(person.pk),
                types=types,
                limits=limits,
                dates=dates,
                in_period=in_period,
                first_day=first_day,
                rotation_on=rotation_on[person.pk],
                absent=absent[person.pk],
                patterns=patterns,
                fixed=fixed[person.pk],
                leads=leads,
                pins={day: code for (p, day), code in pinned.items() if p == pid},
            )
        )

    cover = []
    for d in in_period:
        for t in types:
            rule: CoverageRule | None = selectors.coverage_rule_pick(
                rules=t.coverage_rules.all(), day=d, is_holiday=d in holidays
            )
            if rule is None:
                continue
            have = outside[d, t.pk]
            cover.append(
                roster.Cover(
                    day=(d - first_day).days,
                    shift_type=t.code,
                    min=max(0, rule.min_people - have),
                    max=max(0, rule.max_people - have),
                )
            )

    requests = _requests_load(people=people, start=start, end=end)
    code_of = {t.pk: t.code for t in types}
    roster_requests = tuple(
        roster.Request(
            person=str(r.person_pk),
            day=(r.date - first_day).days,
            shift_type=None if r.shift_type_pk is None else code_of.get(r.shift_type_pk),
            weight=r.weight,
            on=r.on,
        )
        for r in requests
        if r.shift_type_pk is None or r.shift_type_pk in code_of
    )

    # Fairness history: the generated types' points earlier in the academic year.
    history: dict[str, int] = defaultdict(int)
    weekend_history: dict[str, int] = defaultdict(int)
    year_holidays = selectors.holidays_between(start=academic_year.start_date, end=first_day)
    for person_pk, d, type_pk in Shift.objects.filter(
        person_id__in=pks,
        shift_type_id__in=generated,
        date__gte=academic_year.start_date,
        date__lt=first_day,
    ).values_list("person_id", "date", "shift_type_id"):
        points = all_types[type_pk].burden_points
        history[str(person_pk)] += points
        if d.weekday() >= 5 or d in year_holidays:
            weekend_history[str(person_pk)] += points
    weekend_days = frozenset(n for n, d in enumerate(dates) if d.weekday() >= 5 or d in holidays)

    rules = _duty_hour_rules(types=types, limits=limits, residents=residents)
    problem = RosterProblem(
        days=days,
        shift_types=engine_types,
        people=tuple(roster_people),
        cover=tuple(cover),
        requests=roster_requests,
        first_weekday=first_day.weekday(),
        pinned=pinned,
        current=problem_current,
        stability_weight=STABILITY_WEIGHT if keep == KEEP_CHANGES else 0,
        fairness=(
            roster.Fairness("points", POINTS_FAIRNESS_WEIGHT, history=dict(history)),
            roster.Fairness(
                "weekends",
                WEEKEND_FAIRNESS_WEIGHT,
                days=weekend_days,
                history=dict(weekend_history),
            ),
        ),
        **rules,
    )
    return ShiftSnapshot(
        problem=problem,
        start=start,
        end=end,
        first_day=first_day,
        people=people,
        shift_types=by_code,
        current=current,
        academic_year=academic_year,
        keep=keep,
        holidays=holidays,
        history_points=dict(history),
        history_weekend_points=dict(weekend_history),
        requests=tuple(requests),
        limits=limits,
    )


def _duty_hour_rules(*, types: list[ShiftType], limits: Limits, residents: frozenset[str]):
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


def _roster_person(
    *,
    pid,
    person,
    pgy,
    types,
    limits,
    dates,
    in_period,
    first_day,
    rotation_on,
    absent,
    patterns,
    fixed,
    leads,
    pins,
) -> roster.Person:
    resident = person.kind == Person.Kind.RESIDENT
    may = set()
    for t in types:
        if resident != (t.staffed_by == ShiftType.StaffedBy.RESIDENTS):
            continue
        if resident and t.allowed_pgy_levels and pgy not in t.allowed_pgy_levels:
            continue
        may.add(t.code)

    # Baseline: the rotation's usual hours on each day (not on absent days) and fixed shifts.
    minutes: dict[datetime.date, int] = defaultdict(int)
    intervals: dict[datetime.date, list[tuple[datetime.datetime, datetime.datetime, str]]] = (
        defaultdict(list)
    )
    for d in dates:
        rotation = rotation_on.get(d)
        if rotation is None or d in absent:
            continue
        for begin_time, length in patterns.get(rotation.pk, {}).get(d.weekday(), ()):
            begin = datetime.datetime.combine(d, begin_time)
            stop = begin + datetime.timedelta(minutes=length)
            _spread(begin, stop, minutes)
            intervals[d].append((begin, stop, rotation.name))
    for begin, stop, shift_type in fixed:
        if shift_type.in_house:
            _spread(begin, stop, minutes)
    baseline = {
        (d - first_day).days: m for d, m in minutes.items() if m and first_day <= d <= dates[-1]
    }

    unavailable = {(d - first_day).days: absent[d] for d in in_period if d in absent}
    ineligible: dict[tuple[int, str], str] = {}
    for d in in_period:
        day = (d - first_day).days
        if day in unavailable:
            continue
        rotation = rotation_on.get(d)
        for t in types:
            if t.code not in may:
                continue
            pool = list(t.eligible_rotations.all())
            if pool and (rotation is None or rotation not in pool):
                ineligible[day, t.code] = f"on {rotation.name}" if rotation else "no rotation"
                continue
            clash = _clash(d, t, fixed, limits, leads) or _pattern_clash(
                d, t, intervals, limits, leads
            )
            if clash:
                ineligible[day, t.code] = clash
    # What each possible shift changes in the person's work per day (see _shift_minutes).
    work = [(b, e, True) for pieces in intervals.values() for b, e, _ in pieces]
    work += [(b, e, False) for b, e, shift_type in fixed if shift_type.in_house]
    by_code = {t.code: t for t in types}
    options = [
        ((d - first_day).days, t)
        for d in in_period
        for t in types
        if t.code in may
        and (d - first_day).days not in unavailable
        and ((d - first_day).days, t.code) not in ineligible
    ]
    options += [(day, by_code[code]) for day, code in pins.items() if code is not None]
    shift_minutes = {
        (day, t.code): _shift_minutes(first_day + day * DAY, t, work) for day, t in options
    }
    return roster.Person(
        id=pid,
        shift_types=frozenset(may),
        unavailable=unavailable,
        ineligible=ineligible,
        baseline_minutes=baseline,
        shift_minutes=shift_minutes,
        cohort=f"PGY-{pgy}" if resident and pgy else (None if resident else FACULTY_COHORT),
    )


def _clash(d: datetime.date, t: ShiftType, fixed, limits: Limits, leads) -> str | None:
    """Why a shift of ``t`` on ``d`` cannot sit next to the person's fixed shifts: it would
    overlap one, fall in the rest one imposes, or put one in its own rest."""
    begin = datetime.datetime.combine(d, t.start_time)
    stop = begin + datetime.timedelta(minutes=_length(t))
    rest_end = stop + datetime.timedelta(minutes=_rest(t, limits, leads.get(t.pk, 0)))
    for other_begin, other_stop, other in fixed:
        label = f"{other.name} on {other_begin:%a} {other_begin.day} {other_begin:%b}"
        # The other shift overlaps this one or starts inside the rest this one imposes.
        if other_begin < rest_end and other_stop > begin:
            return f"has {label}"
        # This one starts inside the rest the other imposes.
        other_rest_end = other_stop + datetime.timedelta(
            minutes=_rest(other, limits, leads.get(other.pk, 0))
        )
        if begin < other_rest_end and stop > other_stop:
            return f"resting after {label}"
    return None


def _pattern_clash(d: datetime.date, t: ShiftType, intervals, limits: Limits, leads) -> str | None:
    """Why a shift of ``t`` on ``d`` cannot sit in the person's rotation hours, judged as the
    duty-hour engine does: the hours around it merge into one stretch of continuous work (no
    longer than 24 + 4 h), and after a long in-house call the next rotation hours (those the
    shift's own rest does not cancel) start only after the rest."""
    if not t.in_house:
        return None
    begin = datetime.datetime.combine(d, t.start_time)
    stop = begin + datetime.timedelta(minutes=_length(t))
    cancelled = stop + datetime.timedelta(minutes=round(Fraction(t.rest_after_hours) * 60))
    near = sorted(
        piece
        for n in (-1, 0, 1, 2)
        for b, e, name in intervals.get(d + n * DAY, ())
        for piece in _cut((b, e, name), stop, cancelled)
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


def _cut(piece, start, end):
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


def _day_minutes(intervals) -> dict[datetime.date, int]:
    """Minutes of the union of ``intervals`` per calendar day."""
    merged: list[list[datetime.datetime]] = []
    for b, e in sorted(intervals):
        if merged and b <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([b, e])
    minutes: dict[datetime.date, int] = defaultdict(int)
    for b, e in merged:
        _spread(b, e, minutes)
    return minutes


def _shift_minutes(d: datetime.date, t: ShiftType, work) -> tuple[tuple[int, int], ...]:
    """What a shift of ``t`` on ``d`` changes in a person's work per calendar day (days after
    ``d``, minutes), counted as the duty-hour engine counts: the union of the rotation's hours
    and shifts (an overlap counts once), split at midnight, less the rotation hours the
    shift's rest cancels. ``work``: (start, end, is rotation hours) of the person's rotation
    hours and fixed in-house shifts (a rest cancels only rotation hours)."""
    if not t.in_house:
        return ()
    begin = datetime.datetime.combine(d, t.start_time)
    stop = begin + datetime.timedelta(minutes=_length(t))
    cancelled = stop + datetime.timedelta(minutes=round(Fraction(t.rest_after_hours) * 60))
    lo, hi = begin - 2 * DAY, cancelled + 2 * DAY
    near = [(b, e, pattern) for b, e, pattern in work if e > lo and b < hi]
    before = _day_minutes((b, e) for b, e, _ in near)
    kept = [(b, e) for b, e, pattern in near if not pattern]
    kept += [
        (cb, ce)
        for b, e, pattern in near
        if pattern
        for cb, ce, _ in _cut((b, e, ""), stop, cancelled)
    ]
    after = _day_minutes([*kept, (begin, stop)])
    return tuple(
        ((day - d).days, after.get(day, 0) - before.get(day, 0))
        for day in sorted(set(before) | set(after))
        if after.get(day, 0) != before.get(day, 0)
    )
