"""Demo call system for the demo program (``manage.py seed_demo``, after residency's demo).

Rotations' usual hours, five shift types (PGY-1 evening call, PGY-2/3 overnight in-house call,
24-hour weekend call, night float Mon-Fri on the Night Float rotation, faculty backup home
call), coverage rules, the country's holidays, and one compliant month of shifts (the calendar
month containing today) built greedily and deterministically: each slot goes to the eligible
person with the fewest of that type (then the least burden), and only if the pure duty-hour
engine finds no new violation for them (tests/shifts/test_demo.py checks the month).

Idempotent: types, rules and patterns are found by natural key; a month that already has shifts
is left alone.
"""

from __future__ import annotations

import calendar
import datetime
from collections import defaultdict
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from residency.models import Absence, AcademicYear, Assignment, Person, ResidentYear
from residency.models import RotationTemplate as Rotation
from shifts import dutyhours, selectors, services
from shifts.models import (
    CoverageRule,
    Shift,
    ShiftRequest,
    ShiftRequestPeriod,
    ShiftType,
    WorkPattern,
)

T = ShiftType.Kind
D = CoverageRule.Days
MON_FRI = range(5)

# rotation code: [(weekdays, start hour, hours)]
PATTERNS = {
    "WARDS": [(MON_FRI, 7, 11)],
    "ICU": [(MON_FRI, 7, 11)],
    "OB": [(MON_FRI, 7, 10)],
    "PEDS": [(MON_FRI, 8, 9)],
    "ED": [(MON_FRI, 8, 10)],
    "CLINIC": [(MON_FRI, 8, 9)],
    "ELEC": [(MON_FRI, 8, 8)],
    "PRECEPT": [(MON_FRI, 8, 9)],
    # NIGHTS: no daytime hours; the night-float shifts are the work.
}

# code: name, kind, start hour, hours, in house, staffed by, burden, rest after, PGY levels,
#       rotations (codes) that take it, max consecutive, colour, coverage [(days, min, max)]
SHIFT_TYPES = {
    "EVE": ("PGY-1 evening call", T.DAY_SHIFT, 17, 5, True, "residents", 1, 0, [1],
            ["WARDS", "PEDS", "OB"], None, "#6fb1e8", [(D.WEEKDAYS, 1, 1)]),
    "NIGHT": ("Overnight call", T.OVERNIGHT_CALL, 17, 14, True, "residents", 1, 14, [2, 3],
              ["WARDS", "ICU"], None, "#e0795b", [(D.WEEKDAYS, 1, 1)]),
    "WKND": ("Weekend 24-h call", T.WEEKEND_CALL, 8, 24, True, "residents", 2, 14, [2, 3],
             ["WARDS", "ICU", "ED", "ELEC"], None, "#c24a7b", [(D.WEEKENDS, 1, 1),
                                                              (D.HOLIDAYS, 1, 1)]),
    "NF": ("Night float", T.NIGHT_FLOAT, 19, 12, True, "residents", 1, 0, [2, 3],
           ["NIGHTS"], 6, "#4b5ba8", [(D.WEEKDAYS, 1, 2)]),
    "BACKUP": ("Faculty backup call", T.HOME_CALL, 17, 15, False, "faculty", 1, 0, [],
               [], None, "#7d8b99", [(D.EVERY_DAY, 1, 1)]),
}  # fmt: skip
ORDER = ["NF", "WKND", "NIGHT", "EVE", "BACKUP"]  # the most constrained first


@transaction.atomic
def demo_shifts_seed(*, year: AcademicYear, today: datetime.date) -> dict[str, int]:
    created: dict[str, int] = defaultdict(int)
    rotations = {r.code: r for r in Rotation.objects.all()}
    for code, rows in PATTERNS.items():
        if code not in rotations:
            continue
        for weekdays, hour, hours in rows:
            for weekday in weekdays:
                _, new = WorkPattern.objects.get_or_create(
                    rotation=rotations[code],
                    weekday=weekday,
                    start_time=datetime.time(hour),
                    defaults={"length_hours": Decimal(hours)},
                )
                created["work patterns"] += new
    types = {}
    for code, spec in SHIFT_TYPES.items():
        (name, kind, hour, hours, in_house, staffed, burden, rest, levels, pool, maxc, colour,
         coverage) = spec  # fmt: skip
        shift_type, new = ShiftType.objects.get_or_create(
            code=code,
            defaults={
                "name": name, "kind": kind, "start_time": datetime.time(hour),
                "length_hours": Decimal(hours), "in_house": in_house, "staffed_by": staffed,
                "burden_points": burden, "rest_after_hours": Decimal(rest),
                "allowed_pgy_levels": levels, "max_consecutive": maxc, "colour": colour,
            },
        )  # fmt: skip
        if new:
            shift_type.eligible_rotations.set([rotations[c] for c in pool if c in rotations])
            for days, low, high in coverage:
                CoverageRule.objects.create(
                    shift_type=shift_type, days=days, min_people=low, max_people=high
                )
                created["coverage rules"] += 1
        created["shift types"] += new
        types[code] = shift_type
    for calendar_year in {year.start_date.year, year.end_date.year}:
        created["holidays"] += len(services.holidays_seed(year=calendar_year))
    created["shift requests"] = demo_shift_requests_seed(types=types, today=today)

    first = today.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    if Shift.objects.filter(date__range=(first, last)).exists():
        return created
    created["shifts"] = _month_plan(types=types, first=first, last=last)
    return created


def _month_plan(*, types: dict[str, ShiftType], first: datetime.date, last: datetime.date) -> int:
    """Fill the month's coverage minimums greedily, never creating a duty-hour violation."""
    limits = selectors.duty_hour_limits_get()
    lo, hi = selectors.duty_hour_horizon(limits=limits, start=first, end=last)
    people = {p.pk: p for p in Person.objects.filter(active=True)}
    works = selectors.person_work_load(person_ids=people, start=lo, end=hi)
    rotation_on: dict[tuple[int, datetime.date], int] = {}
    for person_id, rotation_id, b_start, b_end in Assignment.objects.filter(
        block__start_date__lte=last, block__end_date__gte=first
    ).values_list("person_id", "rotation_id", "block__start_date", "block__end_date"):
        day = max(b_start, first)
        while day <= min(b_end, last):
            rotation_on[(person_id, day)] = rotation_id
            day += datetime.timedelta(days=1)
    levels = {
        (pk, ay_start, ay_end): level
        for pk, level, ay_start, ay_end in ResidentYear.objects.values_list(
            "person_id", "pgy_level", "academic_year__start_date", "academic_year__end_date"
        )
    }
    absent = defaultdict(set)
    for pk, a_start, a_end in Absence.objects.filter(
        status=Absence.Status.APPROVED, start_date__lte=last, end_date__gte=first
    ).values_list("person_id", "start_date", "end_date"):
        for n in range((a_end - a_start).days + 1):
            absent[pk].add(a_start + datetime.timedelta(days=n))
    holidays = selectors.holidays_between(start=first, end=last)
    pools = {code: {r.pk for r in t.eligible_rotations.all()} for code, t in types.items()}
    rules = {code: list(t.coverage_rules.all()) for code, t in types.items()}
    taken: dict[tuple[int, str], int] = defaultdict(int)
    burden: dict[int, int] = defaultdict(int)

    def level(pk: int, day: datetime.date) -> int | None:
        return next((lv for (p, s, e), lv in levels.items() if p == pk and s <= day <= e), None)

    def eligible(person: Person, shift_type: ShiftType, code: str, day: datetime.date) -> bool:
        if (person.kind == Person.Kind.RESIDENT) != (shift_type.staffed_by == "residents"):
            return False
        if day in absent[person.pk]:
            return False
        if shift_type.allowed_pgy_levels and level(person.pk, day) not in (
            shift_type.allowed_pgy_levels
        ):
            return False
        return not pools[code] or rotation_on.get((person.pk, day)) in pools[code]

    plan: list[Shift] = []
    day = first
    while day <= last:
        for code in ORDER:
            shift_type = types[code]
            rule = selectors.coverage_rule_pick(
                rules=rules[code], day=day, is_holiday=day in holidays
            )
            if rule is None:
                continue
            candidates = sorted(
                (p for p in people.values() if eligible(p, shift_type, code, day)),
                key=lambda p, code=code: (taken[(p.pk, code)], burden[p.pk], p.name),
            )
            placed = 0
            for person in candidates:
                if placed >= rule.min_people:
                    break
                work = works.get(person.pk)
                new = selectors.shift_type_work(shift_type, day)
                if work is None or any(
                    s.start < new.end and new.start < s.end for s in work.shifts
                ):
                    continue
                if person.kind == Person.Kind.RESIDENT:
                    window = (day - datetime.timedelta(days=1), day + datetime.timedelta(days=2))
                    before = dutyhours.duty_hour_problems(
                        work=work, limits=limits, start=window[0], end=window[1]
                    )
                    work.shifts.append(new)
                    after = dutyhours.duty_hour_problems(
                        work=work, limits=limits, start=window[0], end=window[1]
                    )
                    known = {p.message for p in before}
                    if any(p.is_violation and p.message not in known for p in after):
                        work.shifts.pop()
                        continue
                else:
                    work.shifts.append(new)
                plan.append(Shift(person=person, shift_type=shift_type, date=day))
                taken[(person.pk, code)] += 1
                burden[person.pk] += shift_type.burden_points
                placed += 1
        day += datetime.timedelta(days=1)
    for shift in plan:
        shift.set_times()
    Shift.objects.bulk_create(plan)
    return len(plan)


def demo_shift_requests_seed(*, types: dict[str, ShiftType], today: datetime.date) -> int:
    """A request period for next month (deadline a week from ``today``, noon) and a few requests
    from the first residents and a faculty member: a day off, "not overnight call", "weekend
    call, please". Skipped when any period already covers next month."""
    first = (today.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    if ShiftRequestPeriod.objects.filter(start_date__lte=last, end_date__gte=first).exists():
        return 0
    deadline = datetime.datetime.combine(today + datetime.timedelta(days=7), datetime.time(12))
    ShiftRequestPeriod.objects.create(
        start_date=first, end_date=last,
        deadline=timezone.make_aware(deadline, timezone.get_default_timezone()),
        note="Requests for next month's call schedule: high priority for what really matters.",
    )  # fmt: skip
    residents = Person.objects.filter(kind=Person.Kind.RESIDENT, active=True).order_by("pk")[:6]
    faculty = Person.objects.filter(kind=Person.Kind.FACULTY, active=True).order_by("pk").first()
    wishes: list[ShiftRequest] = []
    for n, person in enumerate(residents):
        day_off = first + datetime.timedelta(days=4 + n)
        wishes.append(ShiftRequest(person=person, date=day_off, kind="off", priority=1,
                                   note="Family event"))  # fmt: skip
        wishes.append(ShiftRequest(person=person, date=first + datetime.timedelta(days=11 + n),
                                   kind="off", shift_type=types["NIGHT"], priority=2))  # fmt: skip
        if n % 2:
            saturday = first + datetime.timedelta(days=(5 - first.weekday()) % 7 + 7 * (n // 2))
            if saturday == day_off:  # never a day off and a call wish on one day
                saturday += datetime.timedelta(days=7)
            wishes.append(ShiftRequest(person=person, date=saturday, kind="on",
                                       shift_type=types["WKND"], priority=3))  # fmt: skip
    if faculty is not None:
        wishes.append(ShiftRequest(person=faculty, date=first + datetime.timedelta(days=9),
                                   kind="off", priority=1, note="Conference"))  # fmt: skip
    ShiftRequest.objects.bulk_create(wishes)
    return len(wishes)
