#!/usr/bin/env python
"""The year grid's server-side render time and query count (not a test; prints a table).

    python bench/grid.py [--size L] [--repeat 20]

Creates a synthetic program (scheduling/synthetic.py; L = 140 residents, 150 faculty, 13 blocks),
gives every resident and faculty member an assignment in every block plus some absences, then
renders /schedule/year/<label>/ in-process through Django's test client (the whole view: the
selector's queries, grouping, the template) as a coordinator (cells are edit links) and as a
resident, and reports the median and 90th percentile wall time and the number of queries.

Without DATABASE_URL it uses the database ``rota_bench`` on the embedded PostgreSQL; with
DATABASE_URL it uses that database. It deletes what it created. Figures belong in
docs/performance.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.generate import _cleanup, _setup_django  # noqa: E402

PREFIX = "GRID"


def _program(size: str):
    from residency.models import Assignment, Person, RotationTemplate
    from scheduling.synthetic import (
        synthetic_absences_add,
        synthetic_previous_schedule_create,
        synthetic_program_create,
    )

    year = synthetic_program_create(size=size, seed=0, prefix=f"{PREFIX}{size}", start_year=2095)
    synthetic_previous_schedule_create(academic_year=year, seed=0)
    synthetic_absences_add(academic_year=year, seed=0, share=0.2)
    # Faculty rows too (the synthetic schedule only places residents): one faculty rotation each.
    rng = random.Random(0)
    faculty_rotations = list(
        RotationTemplate.objects.filter(
            code__startswith=f"{PREFIX}{size}-", staffed_by=RotationTemplate.StaffedBy.FACULTY
        )
    ) or list(RotationTemplate.objects.filter(code__startswith=f"{PREFIX}{size}-"))
    faculty = Person.objects.filter(
        kind=Person.Kind.FACULTY, email__endswith=f".{PREFIX.lower()}{size.lower()}@example.org"
    )
    rows = []
    for person in faculty:
        for block in year.blocks.all():
            rotation = rng.choice(faculty_rotations)
            supervising = rotation.staffed_by == RotationTemplate.StaffedBy.RESIDENTS
            role = Assignment.Role.SUPERVISING if supervising else Assignment.Role.PRIMARY
            rows.append(Assignment(person=person, block=block, rotation=rotation, role=role))
    Assignment.objects.bulk_create(rows)
    return year


def _measure(client, url: str, repeat: int) -> tuple[list[float], int, int]:
    from django.db import connection

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return times, len(queries), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="L", choices=["S", "M", "L"])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    _setup_django()

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from residency.models import Assignment, Person
    from residency.selectors import COORDINATORS_GROUP

    call_command("migrate", verbosity=0)
    prefix = f"{PREFIX}{args.size}"
    _cleanup(prefix)
    User = get_user_model()
    User.objects.filter(username__startswith="bench-grid-").delete()
    try:
        year = _program(args.size)
        coordinator = User.objects.create(username="bench-grid-coordinator", is_staff=True)
        coordinator.groups.add(Group.objects.get_or_create(name=COORDINATORS_GROUP)[0])
        resident_user = User.objects.create(username="bench-grid-resident")
        resident = Person.objects.filter(
            kind=Person.Kind.RESIDENT, email__endswith=f".{prefix.lower()}@example.org"
        ).first()
        resident.user = resident_user
        resident.save(update_fields=["user"])
        people = Person.objects.filter(email__endswith=f".{prefix.lower()}@example.org").count()
        cells = Assignment.objects.filter(block__academic_year=year).count()
        url = reverse("year_grid", args=[year.label])
        print(
            f"Year grid, program {args.size}: {people} people, {year.blocks.count()} blocks, "
            f"{cells} assignments; {args.repeat} renders after one warm-up"
        )
        print(f"{'as':<12} {'median ms':>10} {'p90 ms':>8} {'max ms':>8} {'queries':>8} {'KiB':>6}")
        for role, user in (("coordinator", coordinator), ("resident", resident_user)):
            client = Client()
            client.force_login(user)
            times, queries, size = _measure(client, url, args.repeat)
            p90 = statistics.quantiles(times, n=10)[-1] if len(times) >= 2 else times[0]
            print(
                f"{role:<12} {statistics.median(times):>10.1f} {p90:>8.1f} {max(times):>8.1f} "
                f"{queries:>8} {size / 1024:>6.0f}"
            )
    finally:
        User.objects.filter(username__startswith="bench-grid-").delete()
        _cleanup(prefix)


if __name__ == "__main__":
    main()
