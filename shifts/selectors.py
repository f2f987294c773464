"""Reads of the daily layer used by more than one caller: the duty-hour check (the pure engine in
shifts/dutyhours.py fed by one loader), eligibility, coverage and the month calendar. The
compliance reports built on the loader are in shifts/compliance.py."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from residency.models import Absence, Assignment, Block, Person, ResidentYear
from residency.selectors import is_coordinator
from shifts import dutyhours
from shifts.dutyhours import DutyHourProblem, Limits, PersonWork, WorkShift
from shifts.eligibility import EligibilityFacts
from shifts.formatting import fmt_day
from shifts.models import (
    CoverageRule,
    DutyHourSettings,
    Holiday,
    Shift,
    ShiftType,
    WorkPattern,
)

DAY = datetime.timedelta(days=1)


# --- Duty hours ---------------------------------------------------------------------------------


def duty_hour_limits_get() -> Limits:
    row = DutyHourSettings.objects.filter(pk=1).first() or DutyHourSettings()
    return Limits(
        averaging=row.averaging,
        averaging_days=row.averaging_days,
        max_weekly_hours=Fraction(row.max_weekly_hours),
        days_off_per_week=Fraction(row.days_off_per_week),
        max_continuous_hours=Fraction(row.max_continuous_hours),
        transition_hours=Fraction(row.transition_hours),
        rest_after_long_call_hours=Fraction(row.rest_after_long_call_hours),
        min_rest_between_periods_hours=Fraction(row.min_rest_between_periods_hours),
        call_every_nth_night=row.call_every_nth_night,
    )


def blocks_touching(*, start: datetime.date, end: datetime.date) -> list[tuple[datetime.date, ...]]:
    """(start, end) of every block (any year) touching [start, end], for block averaging."""
    return list(
        Block.objects.filter(start_date__lte=end, end_date__gte=start)
        .order_by("start_date")
        .values_list("start_date", "end_date")
    )


def duty_hour_horizon(
    *, limits: Limits, start: datetime.date, end: datetime.date, blocks=()
) -> tuple[datetime.date, datetime.date]:
    """The days of work the engine needs to judge windows touching [start, end]: a whole
    averaging window either side (or the blocks), plus two days for shifts and rest that cross
    midnight."""
    reach = datetime.timedelta(days=limits.averaging_days + 2)
    lo, hi = start - reach, end + reach
    for b_start, b_end in blocks:
        lo, hi = min(lo, b_start - 2 * DAY), max(hi, b_end + 2 * DAY)
    return lo, hi


def shift_type_work(shift_type: ShiftType, day: datetime.date, shift_id=None) -> WorkShift:
    """A shift of ``shift_type`` on ``day`` as the engine sees it (naive local wall clock)."""
    start = datetime.datetime.combine(day, shift_type.start_time)
    return WorkShift(
        date=day,
        start=start,
        end=start + datetime.timedelta(minutes=round(Fraction(shift_type.length_hours) * 60)),
        type_code=shift_type.code,
        type_name=shift_type.name,
        in_house=shift_type.in_house,
        counts_as_call=shift_type.counts_as_call,
        rest_after_hours=Fraction(shift_type.rest_after_hours),
        max_consecutive=shift_type.max_consecutive,
        shift_id=shift_id,
    )


def person_work_load(
    *, person_ids: Iterable[int], start: datetime.date, end: datetime.date
) -> dict[int, PersonWork]:
    """Everyone's scheduled work over [start, end] in five queries, whatever the number of
    people: their shifts, their rotations' work patterns on the days of their blocks, and the
    days of approved absence."""
    ids = sorted(set(person_ids))
    works = {
        pk: PersonWork(person_id=pk, name=name)
        for pk, name in Person.objects.filter(pk__in=ids).values_list("pk", "name")
    }
    if not works:
        return works
    types = {t.pk: t for t in ShiftType.objects.all()}
    cache: dict[tuple[int, datetime.date], WorkShift] = {}
    for pk, person_id, day, type_id in Shift.objects.filter(
        person_id__in=ids, date__range=(start - 2 * DAY, end)
    ).values_list("pk", "person_id", "date", "shift_type_id"):
        key = (type_id, day)
        if key not in cache:
            cache[key] = shift_type_work(types[type_id], day)
        base = cache[key]
        works[person_id].shifts.append(WorkShift(**{**base.__dict__, "shift_id": pk}))

    patterns = work_patterns_by_rotation()
    for person_id, rotation_id, b_start, b_end in Assignment.objects.filter(
        person_id__in=ids, block__start_date__lte=end, block__end_date__gte=start
    ).values_list("person_id", "rotation_id", "block__start_date", "block__end_date"):
        week = patterns.get(rotation_id)
        if week:
            works[person_id].pattern.extend(
                pattern_intervals(week=week, start=max(b_start, start), end=min(b_end, end))
            )

    for person_id, a_start, a_end in Absence.objects.filter(
        person_id__in=ids,
        status=Absence.Status.APPROVED,
        start_date__lte=end,
        end_date__gte=start,
    ).values_list("person_id", "start_date", "end_date"):
        day = max(a_start, start)
        while day <= min(a_end, end):
            works[person_id].absent_days.add(day)
            day += DAY
    return works


def _person_work_around(
    *, person_id: int, start: datetime.date, end: datetime.date, limits: Limits
) -> tuple[PersonWork | None, list]:
    blocks = blocks_touching(start=start, end=end) if limits.averaging == dutyhours.BLOCKS else []
    lo, hi = duty_hour_horizon(limits=limits, start=start, end=end, blocks=blocks)
    return person_work_load(person_ids=[person_id], start=lo, end=hi).get(person_id), blocks


def work_patterns_by_rotation() -> dict[int, dict[int, list[tuple[datetime.time, int]]]]:
    """Rotation id -> weekday -> [(start time, minutes)]: every rotation's usual week."""
    patterns: dict[int, dict[int, list[tuple[datetime.time, int]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for rotation_id, weekday, start_time, hours in WorkPattern.objects.values_list(
        "rotation_id", "weekday", "start_time", "length_hours"
    ):
        patterns[rotation_id][weekday].append((start_time, round(Fraction(hours) * 60)))
    return patterns


def pattern_intervals(
    *, week: dict[int, list[tuple[datetime.time, int]]], start: datetime.date, end: datetime.date
) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """A rotation's usual hours on each day of [start, end], as naive local intervals."""
    intervals = []
    day = start
    while day <= end:
        for start_time, minutes in week.get(day.weekday(), ()):
            begin = datetime.datetime.combine(day, start_time)
            intervals.append((begin, begin + datetime.timedelta(minutes=minutes)))
        day += DAY
    return intervals


def duty_hour_problems(
    *,
    person_id: int,
    start: datetime.date,
    end: datetime.date,
    limits: Limits | None = None,
) -> list[DutyHourProblem]:
    """Every duty-hour rule the person's schedule breaks in windows touching [start, end]."""
    limits = limits or duty_hour_limits_get()
    work, blocks = _person_work_around(person_id=person_id, start=start, end=end, limits=limits)
    if work is None:
        return []
    return dutyhours.duty_hour_problems(
        work=work, limits=limits, start=start, end=end, blocks=blocks
    )


def duty_hour_problems_of_change(
    *,
    person_id: int,
    start: datetime.date,
    end: datetime.date,
    without_shift_ids: Iterable[int] = (),
    with_shifts: Iterable[WorkShift] = (),
    limits: Limits | None = None,
) -> tuple[list[DutyHourProblem], list[DutyHourProblem]]:
    """The person's duty-hour problems around [start, end] before and after a proposed change
    (without ``without_shift_ids``, with ``with_shifts``): one load, two evaluations. Shift
    edits, swaps and the block-edit guard judge a change with this."""
    limits = limits or duty_hour_limits_get()
    work, blocks = _person_work_around(person_id=person_id, start=start, end=end, limits=limits)
    if work is None:
        return [], []
    before = dutyhours.duty_hour_problems(
        work=work, limits=limits, start=start, end=end, blocks=blocks
    )
    skip = set(without_shift_ids)
    changed = PersonWork(
        person_id=work.person_id,
        name=work.name,
        shifts=[s for s in work.shifts if s.shift_id not in skip] + list(with_shifts),
        pattern=work.pattern,
        absent_days=work.absent_days,
    )
    after = dutyhours.duty_hour_problems(
        work=changed, limits=limits, start=start, end=end, blocks=blocks
    )
    return before, after


def program_duty_hour_problems(
    *, start: datetime.date, end: datetime.date, person_ids: Iterable[int] | None = None
) -> dict[int, list[DutyHourProblem]]:
    """Every resident's duty-hour problems over [start, end] (the validator, the reports, the
    bench): one load for everyone, then the engine per person."""
    limits = duty_hour_limits_get()
    blocks = blocks_touching(start=start, end=end) if limits.averaging == dutyhours.BLOCKS else []
    lo, hi = duty_hour_horizon(limits=limits, start=start, end=end, blocks=blocks)
    if person_ids is None:
        person_ids = Person.objects.filter(kind=Person.Kind.RESIDENT).values_list("pk", flat=True)
    works = person_work_load(person_ids=person_ids, start=lo, end=hi)
    return {
        pk: dutyhours.duty_hour_problems(
            work=work, limits=limits, start=start, end=end, blocks=blocks
        )
        for pk, work in works.items()
    }


# --- Eligibility and coverage -------------------------------------------------------------------


def assignment_on(*, person_id: int, day: datetime.date) -> Assignment | None:
    """The person's assignment in the block containing ``day``, if any."""
    return (
        Assignment.objects.filter(
            person_id=person_id, block__start_date__lte=day, block__end_date__gte=day
        )
        .select_related("rotation", "block")
        .first()
    )


def shift_eligibility_problems(
    *,
    person: Person,
    shift_type: ShiftType,
    day: datetime.date,
    facts: EligibilityFacts | None = None,
) -> list[tuple[str, str]]:
    """Why ``person`` may not take ``shift_type`` on ``day``, as (field, message) pairs: who the
    type is for (residents or faculty, PGY levels, the rotations that take it that block) and
    approved absences. Edits, swaps and the block-edit guard judge a shift with this.

    ``facts`` (``shifts.eligibility``): what a caller judging many shifts read once; a person
    or day it does not cover is read here, as without it."""
    problems: list[tuple[str, str]] = []
    if facts is not None and not facts.covers(person_id=person.pk, day=day):
        facts = None
    label = shift_type.name
    if not person.active:
        problems.append(("person", f"{person.name} is not active."))
    if not shift_type.active:
        problems.append(("shift_type", f"{label} is no longer used."))
    resident = person.kind == Person.Kind.RESIDENT
    if resident and shift_type.staffed_by == ShiftType.StaffedBy.FACULTY:
        problems.append(
            ("person", f"{label} is taken by faculty, and {person.name} is a resident.")
        )
    if not resident and shift_type.staffed_by == ShiftType.StaffedBy.RESIDENTS:
        problems.append(("person", f"{label} is taken by residents, and {person.name} is faculty."))
    if resident and shift_type.allowed_pgy_levels:
        level = (
            facts.level(person_id=person.pk, day=day)
            if facts is not None
            else ResidentYear.objects.filter(
                person=person,
                academic_year__start_date__lte=day,
                academic_year__end_date__gte=day,
            )
            .values_list("pgy_level", flat=True)
            .first()
        )
        if level not in shift_type.allowed_pgy_levels:
            levels = ", ".join(f"PGY-{n}" for n in sorted(shift_type.allowed_pgy_levels))
            have = f"PGY-{level}" if level else "without a PGY level that year"
            problems.append(("person", f"{label} is taken by {levels}; {person.name} is {have}."))
    pool = list(shift_type.eligible_rotations.all())
    if pool:
        assignment = (
            facts.assignment(person_id=person.pk, day=day)
            if facts is not None
            else assignment_on(person_id=person.pk, day=day)
        )
        names = " or ".join(r.name for r in pool)
        if assignment is None:
            problems.append(
                (
                    "person",
                    f"{label} is taken by people on {names}; {person.name} has no "
                    f"rotation on {fmt_day(day)}.",
                )
            )
        elif assignment.rotation_id not in {r.pk for r in pool}:
            problems.append(
                (
                    "person",
                    f"{label} is taken by people on {names}; {person.name} is on "
                    f"{assignment.rotation.name} in block {assignment.block.number}.",
                )
            )
    absence = (
        facts.absence(person_id=person.pk, day=day)
        if facts is not None
        else Absence.objects.filter(
            person=person, status=Absence.Status.APPROVED, start_date__lte=day, end_date__gte=day
        )
        .order_by("start_date")
        .first()
    )
    if absence is not None:
        problems.append(
            (
                "date",
                f"{person.name} is away on {fmt_day(day)} "
                f"({absence.get_kind_display().lower()}, approved).",
            )
        )
    return problems


def holidays_between(*, start: datetime.date, end: datetime.date) -> dict[datetime.date, str]:
    return dict(Holiday.objects.filter(date__range=(start, end)).values_list("date", "name"))


_DAYS_RANK = {
    CoverageRule.Days.HOLIDAYS: 3,
    CoverageRule.Days.WEEKDAYS: 2,
    CoverageRule.Days.WEEKENDS: 2,
    CoverageRule.Days.EVERY_DAY: 1,
}


def coverage_rule_pick(
    *, rules: Iterable[CoverageRule], day: datetime.date, is_holiday: bool
) -> CoverageRule | None:
    """The rule that applies on ``day`` among one shift type's rules: the most specific day kind
    (holiday > weekday/weekend > every day), then a dated rule over an open-ended one, then the
    lowest id."""
    weekend = day.weekday() >= 5
    best, best_rank = None, None
    for rule in rules:
        if (rule.start_date and day < rule.start_date) or (rule.end_date and day > rule.end_date):
            continue
        if rule.days == CoverageRule.Days.HOLIDAYS and not is_holiday:
            continue
        if rule.days == CoverageRule.Days.WEEKDAYS and (weekend or is_holiday):
            continue
        if rule.days == CoverageRule.Days.WEEKENDS and (not weekend or is_holiday):
            continue
        rank = (
            _DAYS_RANK[rule.days],
            rule.start_date is not None or rule.end_date is not None,
            -rule.pk,
        )
        if best_rank is None or rank > best_rank:
            best, best_rank = rule, rank
    return best


def coverage_rule_for(*, shift_type: ShiftType, day: datetime.date) -> CoverageRule | None:
    return coverage_rule_pick(
        rules=shift_type.coverage_rules.all(),
        day=day,
        is_holiday=Holiday.objects.filter(date=day).exists(),
    )


# --- The month calendar -------------------------------------------------------------------------


@dataclass
class CalendarCell:
    shift_type: ShiftType
    shifts: list[Shift] = field(default_factory=list)
    rule: CoverageRule | None = None

    @property
    def needed(self) -> int:
        return self.rule.min_people if self.rule else 0

    @property
    def maximum(self) -> int | None:
        return self.rule.max_people if self.rule else None

    @property
    def missing(self) -> int:
        return max(0, self.needed - len(self.shifts))

    @property
    def over(self) -> bool:
        return self.maximum is not None and len(self.shifts) > self.maximum

    @property
    def can_add(self) -> bool:
        return self.maximum is None or len(self.shifts) < self.maximum


@dataclass
class CalendarDay:
    day: datetime.date
    holiday: str | None
    cells: list[CalendarCell]

    @property
    def weekend(self) -> bool:
        return self.day.weekday() >= 5


def month_calendar(
    *, start: datetime.date, end: datetime.date
) -> tuple[list[ShiftType], list[CalendarDay]]:
    """Days down, shift types across: who holds each shift and what coverage is missing. Four
    queries whatever the month holds (types, their coverage rules, holidays, shifts)."""
    types = list(ShiftType.objects.filter(active=True).prefetch_related("coverage_rules"))
    holidays = holidays_between(start=start, end=end)
    shifts: dict[tuple[datetime.date, int], list[Shift]] = defaultdict(list)
    for shift in (
        Shift.objects.filter(date__range=(start, end))
        .select_related("person")
        .order_by("date", "person__name")
    ):
        shifts[(shift.date, shift.shift_type_id)].append(shift)
    days = []
    day = start
    while day <= end:
        cells = []
        for shift_type in types:
            cells.append(
                CalendarCell(
                    shift_type=shift_type,
                    shifts=shifts.get((day, shift_type.pk), []),
                    rule=coverage_rule_pick(
                        rules=shift_type.coverage_rules.all(), day=day, is_holiday=day in holidays
                    ),
                )
            )
        days.append(CalendarDay(day=day, holiday=holidays.get(day), cells=cells))
        day += DAY
    return types, days


def shifts_for_person(*, person: Person, start: datetime.date, end: datetime.date) -> list[Shift]:
    return list(
        Shift.objects.filter(person=person, date__range=(start, end))
        .select_related("shift_type", "updated_by")
        .order_by("date", "starts_at")
    )


def shift_visible_to(*, user, shift: Shift) -> bool:
    """Coordinators see every shift; anyone else only their own."""
    if is_coordinator(user):
        return True
    return shift.person.user_id is not None and shift.person.user_id == user.pk
