"""The per-person and per-cohort summary of a proposed roster (stored in GenerationRun.report
and shown with the draft): shifts by type, burden points in the period and over the academic
year so far, weekend and holiday shifts, requests honoured; the spread of points per cohort."""

from __future__ import annotations

from collections import Counter, defaultdict

from residency.models import Person
from shifts.models import Shift

Row = tuple  # (person_pk, date, shift_type_pk)


def shift_roster_report(*, snapshot, rows: set[Row]) -> dict:
    """JSON-serialisable: {"period": ..., "people": [...], "cohorts": [...]}."""
    types = {t.pk: t for t in snapshot.shift_types.values()}
    cohort_of = {p.id: p.cohort for p in snapshot.problem.people}
    earlier: Counter = Counter()
    year_start = snapshot.academic_year.start_date if snapshot.academic_year else snapshot.start
    for person_pk, type_pk in Shift.objects.filter(
        person_id__in=[p.pk for p in snapshot.people.values()],
        shift_type_id__in=types,
        date__gte=year_start,
        date__lt=snapshot.start,
    ).values_list("person_id", "shift_type_id"):
        earlier[person_pk] += types[type_pk].burden_points

    by_person: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_person[row[0]].append(row)
    requests: dict[int, list] = defaultdict(list)
    for request in snapshot.requests:
        requests[request.person_pk].append(request)
    rows_by_day = {(person_pk, d) for person_pk, d, _ in rows}

    people = []
    for pid, person in snapshot.people.items():
        mine = sorted(by_person.get(person.pk, []), key=lambda r: (r[1], types[r[2]].code))
        period_points = sum(types[t].burden_points for _, _, t in mine)
        weekend = [r for r in mine if r[1].weekday() >= 5 or r[1] in snapshot.holidays]
        asked = requests.get(person.pk, [])
        honoured = 0
        for r in asked:
            if r.shift_type_pk is None:
                worked = (person.pk, r.date) in rows_by_day
            else:
                worked = (person.pk, r.date, r.shift_type_pk) in rows
            honoured += worked == r.on
        changed = sum(1 for key in set(mine) ^ {k for k in snapshot.current if k[0] == person.pk})
        people.append(
            {
                "person": person.pk,
                "name": person.name,
                "cohort": cohort_of.get(pid)
                or ("faculty" if person.kind == Person.Kind.FACULTY else None),
                "shifts": dict(sorted(Counter(types[t].code for _, _, t in mine).items())),
                "points": period_points,
                "points_year_to_date": earlier[person.pk] + period_points,
                "weekend_holiday_shifts": len(weekend),
                "weekend_holiday_points": sum(types[t].burden_points for _, _, t in weekend),
                "requests": len(asked),
                "requests_honoured": honoured,
                "changes": changed,
            }
        )

    cohorts = []
    grouped: dict[str, list[dict]] = defaultdict(list)
    for entry in people:
        if entry["cohort"]:
            grouped[entry["cohort"]].append(entry)
    for cohort, members in sorted(grouped.items()):
        year = [m["points_year_to_date"] for m in members]
        period = [m["points"] for m in members]
        cohorts.append(
            {
                "cohort": cohort,
                "people": len(members),
                "points_min": min(period),
                "points_max": max(period),
                "points_spread": max(period) - min(period),
                "year_points_min": min(year),
                "year_points_max": max(year),
                "year_points_spread": max(year) - min(year),
            }
        )
    return {
        "period": {"start": snapshot.start.isoformat(), "end": snapshot.end.isoformat()},
        "shifts": len(rows),
        "changes": sum(p["changes"] for p in people),
        "requests": sum(p["requests"] for p in people),
        "requests_honoured": sum(p["requests_honoured"] for p in people),
        "people": people,
        "cohorts": cohorts,
    }
