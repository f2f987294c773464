"""Seed the benchmarks' program: ``python -m bench.seed`` (prints the logins as JSON).

Run with the bench's environment (DATABASE_URL of the bench database). The program is the demo
program (``residency.demo``, what ``manage.py seed_demo`` creates: 18 residents, 12 faculty, the
current academic year in 13 blocks, ten rotations, absences and a complete valid schedule; and
the demo call system with a month of shifts). The
bench adds a login for every person (username = the local part of their e-mail) so that each
simulated client can be someone, all with one password (loopback only).
"""

from __future__ import annotations

import datetime
import json
import os
import sys

PASSWORD = "load-pass-1234"


def seed() -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from residency.demo import demo_program_seed
    from residency.models import Person
    from shifts.demo import demo_shifts_seed

    summary = demo_program_seed()
    # The daily layer: the demo call system and a compliant month of shifts in the month the
    # year's last block starts: in the future (tradeable all run long). The load test's
    # whole-year generations minimise changes, so they rarely move anyone there; a publish that
    # would move someone off the rotation their shifts need is refused (docs/shifts.md, "The
    # two layers") and ends its run failed, which the checker accepts as a terminal state.
    last_block = summary.year.blocks.order_by("-number").first()
    month_day = max(last_block.start_date, datetime.date.today() + datetime.timedelta(days=2))
    demo_shifts_seed(year=summary.year, today=month_day)
    User = get_user_model()
    password = make_password(PASSWORD)  # hashed once: hashing is slow on purpose
    # Residents first, then faculty.
    people = sorted(
        Person.objects.select_related("user"), key=lambda p: (not p.is_resident, p.name)
    )
    usernames = []
    for person in people:
        if person.user is None:
            person.user = User.objects.create(
                username=person.email.split("@")[0], password=password
            )
            person.save(update_fields=["user"])
        else:
            User.objects.filter(pk=person.user_id).update(password=password)
        usernames.append(person.user.username)
    coordinator = User.objects.get(username="coordinator")
    User.objects.filter(pk=coordinator.pk).update(password=password)
    return {
        "password": PASSWORD,
        "coordinator": coordinator.username,
        "people": usernames,
        "academic_year_id": summary.year.pk,
        "shift_month": month_day.strftime("%Y-%m"),
    }


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "residency.settings")
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    print(json.dumps(seed()))


if __name__ == "__main__":
    main()
