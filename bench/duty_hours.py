"""Duty-hour evaluation speed: a whole program's year, and one person's check at edit time.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/duty_hours.py [--residents 140]

Builds a synthetic program in the configured database INSIDE ONE TRANSACTION THAT IS ROLLED BACK
at the end (nothing is left behind): one academic year in 13 four-week blocks, ``--residents``
residents rotating through Wards (Mon-Fri 07-18, overnight in-house call 17-07 Tue-Thu every
fourth night with the next day off, and a 24-hour weekend call each block), Night float (Sun-Thu
19-07), Clinic (Mon-Fri 08-17 plus an at-home call Mon-Thu once a week) and Elective (Mon-Fri
08-16), about 100 shifts per resident and year. Then it times, and prints as a table:

- load: ``person_work_load`` for everyone over the year (the five queries and building the data);
- engine: the pure rules engine for everyone over the year (no database);
- program: ``program_duty_hour_problems`` for the year (load + engine), what the validator runs;
- person: ``duty_hour_problems`` for one person around one date (one load + engine), median;
- edit: ``new_duty_hour_violations`` (the before/after pair a shift edit runs), median.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "residency.settings")

DAY = datetime.timedelta(days=1)


class Rollback(Exception):
    pass


def seed(residents: int):
    from residency.models import AcademicYear, Assignment, Block, Person, ResidentYear
    from residency.models import RotationTemplate as Rotation
    from residency.services import blocks_create_for_year
    from shifts.models import Shift, ShiftType, WorkPattern

    time = datetime.time
    start = datetime.date(2090, 7, 1)
    year = AcademicYear.objects.create(
        label="bench-dh", start_date=start, end_date=datetime.date(2091, 6, 30)
    )
    blocks_create_for_year(academic_year=year)
    blocks = list(Block.objects.filter(academic_year=year).order_by("number"))

    def rotation(code, kind, hours):
        return Rotation.objects.create(
            name=f"Bench {code}", code=f"BDH{code}", kind=kind, max_people=999,
            allowed_pgy_levels=[1, 2, 3], weekly_hours=hours,
        )  # fmt: skip

    wards = rotation("W", Rotation.Kind.INPATIENT, 60)
    nights = rotation("N", Rotation.Kind.NIGHT, 60)
    clinic = rotation("C", Rotation.Kind.CLINIC, 45)
    elective = rotation("E", Rotation.Kind.ELECTIVE, 40)
    patterns = []
    for weekday in range(5):
        patterns += [
            WorkPattern(rotation=wards, weekday=weekday, start_time=time(7), length_hours=11),
            WorkPattern(rotation=clinic, weekday=weekday, start_time=time(8), length_hours=9),
            WorkPattern(rotation=elective, weekday=weekday, start_time=time(8), length_hours=8),
        ]
    WorkPattern.objects.bulk_create(patterns)

    def shift_type(code, kind, hour, hours, **extra):
        return ShiftType.objects.create(
            code=f"BDH{code}", name=f"Bench {code}", kind=kind, start_time=datetime.time(hour),
            length_hours=hours, **extra,
        )  # fmt: skip

    # Post-call: 14 h free after the overnight call (the next ward day is off).
    call = shift_type("CALL", ShiftType.Kind.OVERNIGHT_CALL, 17, 14, rest_after_hours=14)
    weekend = shift_type("WKND", ShiftType.Kind.WEEKEND_CALL, 7, 24, rest_after_hours=14)
    night = shift_type("NF", ShiftType.Kind.NIGHT_FLOAT, 19, 12, max_consecutive=6)
    home = shift_type("HOME", ShiftType.Kind.HOME_CALL, 17, 15, in_house=False)

    people = Person.objects.bulk_create(
        Person(name=f"Bench resident {n}", email=f"bench-dh-{n}@example.org", kind="resident")
        for n in range(residents)
    )
    ResidentYear.objects.bulk_create(
        ResidentYear(person=p, academic_year=year, pgy_level=1 + n % 3)
        for n, p in enumerate(people)
    )
    cycle = [wards, clinic, nights, elective]
    assignments, shifts = [], []
    for n, person in enumerate(people):
        for block in blocks:
            rot = cycle[(n + block.number) % len(cycle)]
            assignments.append(Assignment(person=person, block=block, rotation=rot))
            day = block.start_date
            while day <= block.end_date:
                offset = (day - block.start_date).days
                if rot is wards and offset % 4 == n % 4 and 1 <= day.weekday() <= 3:
                    shifts.append(Shift(person=person, date=day, shift_type=call))
                elif rot is wards and day.weekday() == 6 and offset // 7 == n % 4:
                    shifts.append(Shift(person=person, date=day, shift_type=weekend))
                elif rot is nights and day.weekday() in (6, 0, 1, 2, 3):
                    shifts.append(Shift(person=person, date=day, shift_type=night))
                elif rot is clinic and day.weekday() == (n % 4):
                    shifts.append(Shift(person=person, date=day, shift_type=home))
                day += DAY
    Assignment.objects.bulk_create(assignments)
    for shift in shifts:
        shift.set_times()
    Shift.objects.bulk_create(shifts, batch_size=2000)
    return year, people, len(shifts)


def timed(func):
    began = time.perf_counter()
    result = func()
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=140)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import transaction

    from shifts import dutyhours, selectors
    from shifts.models import ShiftType
    from shifts.services import new_duty_hour_violations

    rows = []
    try:
        with transaction.atomic():
            seconds, (year, people, shift_count) = timed(lambda: seed(args.residents))
            print(
                f"seeded {len(people)} residents, {shift_count} shifts in {seconds:.1f} s "
                "(rolled back at the end)"
            )
            ids = [p.pk for p in people]
            limits = selectors.duty_hour_limits_get()
            lo, hi = selectors.duty_hour_horizon(
                limits=limits, start=year.start_date, end=year.end_date
            )
            load_s, works = timed(
                lambda: selectors.person_work_load(person_ids=ids, start=lo, end=hi)
            )
            engine_s, problems = timed(
                lambda: [
                    dutyhours.duty_hour_problems(
                        work=w, limits=limits, start=year.start_date, end=year.end_date
                    )
                    for w in works.values()
                ]
            )
            program_s, _ = timed(
                lambda: selectors.program_duty_hour_problems(
                    start=year.start_date, end=year.end_date, person_ids=ids
                )
            )
            found = sum(len(p) for p in problems)
            rows += [
                ("load (year, everyone)", load_s, f"{len(works)} people"),
                ("engine (year, everyone)", engine_s, f"{found} problems"),
                ("program = load + engine", program_s, "under 1 s wanted"),
            ]
            day = year.start_date + 100 * DAY
            person_times, edit_times = [], []
            extra = ShiftType.objects.get(code="BDHHOME")
            for run in range(args.runs):
                person = ids[run % len(ids)]
                person_times.append(
                    timed(
                        lambda p=person: selectors.duty_hour_problems(
                            person_id=p, start=day - DAY, end=day + 2 * DAY
                        )
                    )[0]
                )
                edit_times.append(
                    timed(
                        lambda p=person: new_duty_hour_violations(
                            person_id=p, day=day, add=[(extra, day)]
                        )
                    )[0]
                )
            rows += [
                ("person check (median)", statistics.median(person_times), "under 20 ms wanted"),
                ("edit check, before+after (median)", statistics.median(edit_times), ""),
            ]
            raise Rollback
    except Rollback:
        pass
    print()
    print(f"{'measure':36} {'ms':>9}  note")
    print("-" * 70)
    for name, seconds, note in rows:
        print(f"{name:36} {seconds * 1000:9.1f}  {note}")


if __name__ == "__main__":
    main()
