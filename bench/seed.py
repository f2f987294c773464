"""Seed a small program for the benchmarks: ``python -m bench.seed --residents 40 --faculty 8``.

Run with the bench's environment (DATABASE_URL of the bench database). Creates the current
academic year cut into 13 blocks, a few rotations, residents (PGY 1-3) and faculty with logins,
a coordinator, and a full schedule (everyone on a rotation in every block). Prints the logins as
JSON. Everything is created directly (bulk), not through services: this is fixture data.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

PASSWORD = "load-pass-1234"


def academic_year_dates(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    start_year = today.year if today.month >= 7 else today.year - 1
    return datetime.date(start_year, 7, 1), datetime.date(start_year + 1, 6, 30)


def seed(*, residents: int, faculty: int) -> dict:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, User

    from residency.models import (
        AcademicYear,
        Assignment,
        Person,
        ResidentYear,
        RotationTemplate,
    )
    from residency.selectors import COORDINATORS_GROUP
    from residency.services import blocks_create_for_year

    start, end = academic_year_dates(datetime.date.today())
    year = AcademicYear.objects.create(
        label=f"{start.year}-{end.year % 100:02d}", start_date=start, end_date=end
    )
    blocks = blocks_create_for_year(academic_year=year)
    wide = max(residents, 1)
    rotations = [
        RotationTemplate.objects.create(
            name=name, code=code, kind=kind, min_people=0, max_people=wide,
            allowed_pgy_levels=[1, 2, 3], supervision_ratio=4 if kind == "inpatient" else None,
            heavy=kind == "inpatient", weekly_hours=hours,
        )
        for name, code, kind, hours in [
            ("Wards", "WARD", "inpatient", 70),
            ("Clinic", "CLIN", "clinic", 45),
            ("Elective", "ELEC", "elective", 40),
            ("Nights", "NITE", "night", 65),
        ]
    ]  # fmt: skip
    attending = RotationTemplate.objects.create(
        name="Attending clinic", code="ATTN", kind="clinic", staffed_by="faculty",
        min_people=0, max_people=max(faculty, 1), allowed_pgy_levels=[], weekly_hours=50,
    )  # fmt: skip

    password = make_password(PASSWORD)
    coordinators, _ = Group.objects.get_or_create(name=COORDINATORS_GROUP)
    coordinator = User.objects.create(username="coord", password=password, is_staff=True)
    coordinator.groups.add(coordinators)

    people = []
    for i in range(residents):
        user = User.objects.create(username=f"res{i}", password=password)
        people.append(Person(name=f"Resident {i:03d}", email=f"res{i}@example.org",
                             kind="resident", user=user))  # fmt: skip
    for j in range(faculty):
        user = User.objects.create(username=f"fac{j}", password=password)
        people.append(Person(name=f"Faculty {j:03d}", email=f"fac{j}@example.org",
                             kind="faculty", user=user))  # fmt: skip
    people = Person.objects.bulk_create(people)
    ResidentYear.objects.bulk_create(
        ResidentYear(person=p, academic_year=year, pgy_level=1 + i % 3)
        for i, p in enumerate(x for x in people if x.kind == "resident")
    )
    assignments = []
    for b, block in enumerate(blocks):
        for i, person in enumerate(people):
            if person.kind == "resident":
                rotation = rotations[(i + b) % len(rotations)]
                role = "primary"
            else:
                rotation, role = attending, "primary"
            assignments.append(Assignment(person=person, block=block, rotation=rotation, role=role))
    Assignment.objects.bulk_create(assignments)
    return {
        "password": PASSWORD,
        "coordinator": "coord",
        "residents": [f"res{i}" for i in range(residents)],
        "faculty": [f"fac{j}" for j in range(faculty)],
        "academic_year_id": year.pk,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=40)
    parser.add_argument("--faculty", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "residency.settings")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    print(json.dumps(seed(residents=args.residents, faculty=args.faculty)))


if __name__ == "__main__":
    main()
