"""The shifts app's facts for a period, read once and translated into a ``RosterProblem``
(docs/rostering.md, "How the residency rules map onto the engine").

Roster ids: a person is ``str(Person.pk)``, a shift type its ``ShiftType.code``. Day 0 of the
problem is ``first_day``, 27 days before the period, and the horizon runs 27 days past it: those
days are pinned to the shifts actually worked (or planned), so the 28-day duty-hour windows that
touch the period see the weeks around it, as the duty-hour engine does.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from residency.models import Absence, AcademicYear, Assignment, Person, ResidentYear
from scheduling import roster
from scheduling.roster import Roster, RosterProblem
from scheduling.shift_problem.rules import (
    duty_hour_rules,
    fixed_clash,
    length_minutes,
    pattern_clash,
    pattern_leads,
    roster_shift_types,
    shift_minutes_of,
    spread_minutes,
)
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
# Per unit of request weight the unluckiest person of a cohort loses: honoured requests are
# spread fairly (nobody always loses theirs), on top of each request's own weight.
REQUEST_FAIRNESS_WEIGHT = 1
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
        length = datetime.timedelta(minutes=length_minutes(shift_type))
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
    held = Counter((d, type_pk) for (_person, d, type_pk) in current)
    for d in in_period:
        for t in types:
            rule: CoverageRule | None = selectors.coverage_rule_pick(
                rules=t.coverage_rules.all(), day=d, is_holiday=d in holidays
            )
            if rule is None:
                # No rule asks for this type that day: generation adds none (a weekend call on
                # a Tuesday to even out points would be nonsense); the ones people hold may stay.
                cover.append(
                    roster.Cover(day=(d - first_day).days, shift_type=t.code, max=held[d, t.pk])
                )
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

    rules = duty_hour_rules(types=types, limits=limits, residents=residents)
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
        request_fairness_weight=REQUEST_FAIRNESS_WEIGHT,
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


def _cohort(*, resident: bool, pgy: int | None) -> str | None:
    """Whom a person's burden is compared with: their PGY level, or the faculty. Someone who
    may take none of the generated types is compared with nobody (their zero would only
    stretch the spread)."""
    if not resident:
        return FACULTY_COHORT
    return f"PGY-{pgy}" if pgy else None


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
            spread_minutes(begin, stop, minutes)
            intervals[d].append((begin, stop, rotation.name))
    for begin, stop, shift_type in fixed:
        if shift_type.in_house:
            spread_minutes(begin, stop, minutes)
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
            clash = fixed_clash(d, t, fixed, limits, leads) or pattern_clash(
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
        (day, t.code): shift_minutes_of(first_day + day * DAY, t, work) for day, t in options
    }
    return roster.Person(
        id=pid,
        shift_types=frozenset(may),
        unavailable=unavailable,
        ineligible=ineligible,
        baseline_minutes=baseline,
        shift_minutes=shift_minutes,
        cohort=_cohort(resident=resident, pgy=pgy) if may else None,
    )
