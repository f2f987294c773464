"""The independent check of a proposed roster for a period, before it is written.

It shares no code with the roster engine (scheduling/roster): it reads the people's work again
from the database (``shifts.selectors.person_work_load``: shifts, rotation work patterns,
absences), applies the write the rows imply (the existing shifts of the generated types in the
period that are not in the rows go, the rows not yet there come) and judges the result with the
rules every edit uses: the duty-hour engine (``shifts.dutyhours.duty_hour_problems``), coverage
(``shifts.selectors.coverage_rule_pick``), eligibility
(``shifts.selectors.shift_eligibility_problems``) and no overlapping shifts. A model bug, or a
mapping too loose somewhere, is caught here instead of being written.
"""

from __future__ import annotations

import datetime
import itertools
from collections import Counter, defaultdict

from residency.models import Person
from shifts import dutyhours, selectors
from shifts.dutyhours import PersonWork
from shifts.eligibility import eligibility_facts_load
from shifts.formatting import fmt_day, fmt_moment
from shifts.models import Shift, ShiftType

Row = tuple[int, datetime.date, int]  # (person_pk, date, shift_type_pk)


def shift_rows_validate(*, snapshot, rows: set[Row]) -> list[str]:
    """Every rule the period breaks once ``rows`` replace the generated types' shifts of the
    snapshot's people in [start, end]; empty when the roster may be written."""
    start, end = snapshot.start, snapshot.end
    types = {
        t.pk: t for t in ShiftType.objects.prefetch_related("coverage_rules", "eligible_rotations")
    }
    generated = {t.pk for t in snapshot.shift_types.values()}
    removed = {shift_pk for key, (shift_pk, _) in snapshot.current.items() if key not in rows}
    added = rows - set(snapshot.current)
    messages: list[str] = []

    # Coverage of every generated type on every day, counting everyone's shifts.
    count: Counter = Counter()
    for shift_pk, d, type_pk in Shift.objects.filter(
        date__range=(start, end), shift_type_id__in=generated
    ).values_list("pk", "date", "shift_type_id"):
        if shift_pk not in removed:
            count[d, type_pk] += 1
    for _, d, type_pk in added:
        count[d, type_pk] += 1
    holidays = selectors.holidays_between(start=start, end=end)
    d = start
    while d <= end:
        for type_pk in sorted(generated, key=lambda pk: types[pk].code):
            shift_type = types[type_pk]
            rule = selectors.coverage_rule_pick(
                rules=shift_type.coverage_rules.all(), day=d, is_holiday=d in holidays
            )
            have = count[d, type_pk]
            if rule is None and any(a[1] == d and a[2] == type_pk for a in added):
                messages.append(
                    f"{shift_type.name} on {fmt_day(d)}: added although no coverage rule asks "
                    "for it that day."
                )
            if rule and have < rule.min_people:
                messages.append(
                    f"{shift_type.name} on {fmt_day(d)}: {have} of at least "
                    f"{rule.min_people} people."
                )
            if rule and have > rule.max_people:
                messages.append(
                    f"{shift_type.name} on {fmt_day(d)}: {have} people, at most {rule.max_people}."
                )
        d += dutyhours.DAY

    # Eligibility of every proposed shift but the pinned ones (a coordinator's decision).
    pinned = set(
        Shift.objects.filter(date__range=(start, end), pinned=True).values_list(
            "person_id", "date", "shift_type_id"
        )
    )
    people = {
        p.pk: p for p in Person.objects.filter(pk__in={r[0] for r in rows} | {k[0] for k in pinned})
    }
    for person_pk, d, type_pk in sorted(pinned - rows, key=lambda r: (r[1], r[0])):
        if (person_pk, d, type_pk) in snapshot.current:
            messages.append(
                f"{people[person_pk].name}'s pinned {types[type_pk].name} on {fmt_day(d)} "
                "would be removed."
            )
    # Read once, not three queries a row: this runs inside the publish transaction too.
    facts = eligibility_facts_load(person_ids=people, start=start, end=end)
    for person_pk, d, type_pk in sorted(rows, key=lambda r: (r[1], r[0], r[2])):
        if (person_pk, d, type_pk) in pinned:
            continue
        for _, message in selectors.shift_eligibility_problems(
            person=people[person_pk], shift_type=types[type_pk], day=d, facts=facts
        ):
            messages.append(message)

    # Duty hours and overlaps over each affected person's whole work around the period.
    limits = selectors.duty_hour_limits_get()
    blocks = (
        selectors.blocks_touching(start=start, end=end)
        if limits.averaging == dutyhours.BLOCKS
        else []
    )
    lo, hi = selectors.duty_hour_horizon(limits=limits, start=start, end=end, blocks=blocks)
    affected = {pk for pk, _, _ in snapshot.current} | {pk for pk, _, _ in rows}
    works = selectors.person_work_load(person_ids=affected, start=lo, end=hi)
    adding: dict[int, list] = defaultdict(list)
    for person_pk, d, type_pk in added:
        adding[person_pk].append(selectors.shift_type_work(types[type_pk], d))
    kinds = dict(Person.objects.filter(pk__in=works).values_list("pk", "kind"))
    for person_pk, work in sorted(works.items(), key=lambda kv: kv[1].name):
        proposed = PersonWork(
            person_id=work.person_id,
            name=work.name,
            shifts=[s for s in work.shifts if s.shift_id not in removed] + adding[person_pk],
            pattern=work.pattern,
            absent_days=work.absent_days,
        )
        messages.extend(_overlaps(proposed, start, end))
        if kinds[person_pk] != Person.Kind.RESIDENT:
            continue  # the duty-hour rules are the residents' (as the shifts validator judges)
        problems = dutyhours.duty_hour_problems(
            work=proposed, limits=limits, start=start, end=end, blocks=blocks
        )
        messages.extend(p.message for p in problems if p.is_violation)
    return messages


def _overlaps(work: PersonWork, start: datetime.date, end: datetime.date) -> list[str]:
    """Shifts of one person that overlap in time (the database would refuse them)."""
    messages = []
    ordered = sorted(work.shifts, key=lambda s: s.start)
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end and after.date >= start and before.date <= end:
            messages.append(
                f"{work.name}: {before.type_name or before.type_code} from "
                f"{fmt_moment(before.start)} overlaps {after.type_name or after.type_code} from "
                f"{fmt_moment(after.start)}."
            )
    return messages
