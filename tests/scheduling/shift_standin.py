"""A small stand-in for scheduling/shift_problem.py (the generation reader), with its interface,
so the shift-run machinery (scheduling/shift_runs.py) is tested on its own: active residents,
every active shift type, each type needs exactly one person a day, approved absences make a
day unavailable, pinned shifts are pinned. The real reader is tested beside it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from residency.models import Absence, Person
from scheduling.roster import Cover, RosterProblem, roster_explain
from scheduling.roster import Person as RosterPerson
from scheduling.roster import ShiftType as RosterType
from shifts.formatting import fmt_day
from shifts.models import Shift, ShiftType

DAY = datetime.timedelta(days=1)


@dataclass
class Snapshot:
    problem: RosterProblem
    start: datetime.date
    end: datetime.date
    first_day: datetime.date
    people: dict
    shift_types: dict
    current: dict

    def day_of(self, date: datetime.date) -> int:
        return (date - self.first_day).days

    def date_of(self, day: int) -> datetime.date:
        return self.first_day + day * DAY

    def day_label(self, day: int) -> str:
        return fmt_day(self.date_of(day))

    def rows_of(self, roster) -> set:
        return {
            (int(pid), self.date_of(day), self.shift_types[code].pk)
            for (pid, day), code in roster.items()
            if self.start <= self.date_of(day) <= self.end
        }


# A test may replace the problem the solver gets (a long solve for cancellation).
override: dict = {}


def shift_snapshot_load(*, academic_year, start, end, keep="changes", shift_type_ids=None):
    types = {t.code: t for t in ShiftType.objects.filter(active=True).order_by("pk")}
    people = {
        str(p.pk): p
        for p in Person.objects.filter(active=True, kind=Person.Kind.RESIDENT).order_by("pk")
    }
    days = (end - start).days + 1
    snapshot = Snapshot(None, start, end, start, people, types, {})
    unavailable: dict[str, dict[int, str]] = {pid: {} for pid in people}
    for absence in Absence.objects.filter(
        status=Absence.Status.APPROVED, start_date__lte=end, end_date__gte=start
    ):
        day = max(absence.start_date, start)
        while day <= min(absence.end_date, end):
            unavailable.setdefault(str(absence.person_id), {})[snapshot.day_of(day)] = "away"
            day += DAY
    pinned, current_roster = {}, {}
    for shift in Shift.objects.filter(date__range=(start, end), shift_type__in=types.values()):
        key = (str(shift.person_id), snapshot.day_of(shift.date))
        if shift.pinned:
            pinned[key] = shift.shift_type.code
        else:
            snapshot.current[shift.person_id, shift.date, shift.shift_type_id] = (
                shift.pk,
                shift.version,
            )
            current_roster[key] = shift.shift_type.code
    snapshot.problem = override.get("problem") or RosterProblem(
        days=days,
        shift_types=tuple(
            RosterType(code, int(t.length_hours * 60), points=t.burden_points)
            for code, t in types.items()
        ),
        people=tuple(RosterPerson(pid, unavailable=unavailable[pid]) for pid in people),
        cover=tuple(Cover(d, code, min=1, max=1) for d in range(days) for code in types),
        first_weekday=start.weekday(),
        pinned=pinned,
        current=current_roster,
        stability_weight=1,
    )
    return snapshot


def shift_roster_explain(snapshot, *, should_stop=None) -> list[str]:
    return roster_explain(snapshot.problem, day_label=snapshot.day_label)


def shift_rows_validate(*, snapshot, rows) -> list[str]:
    """Coverage (exactly one a day per type) and one shift a person a day."""
    problems = []
    for day in range(snapshot.problem.days):
        date = snapshot.date_of(day)
        for shift_type in snapshot.shift_types.values():
            count = sum(1 for _, d, t in rows if d == date and t == shift_type.pk)
            if count != 1:
                problems.append(f"{shift_type.name} on {fmt_day(date)}: {count} people.")
    return problems


def shift_roster_report(*, snapshot, rows) -> dict:
    return {"shifts": len(rows)}
