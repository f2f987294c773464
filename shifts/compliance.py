"""Duty-hour compliance reports: one person's hours, days off, call nights, problems and
overrides over a range (the person page and the API), and the whole program's (the compliance
page and its CSV). Both load through ``shifts.selectors.person_work_load`` and judge with the
engine in shifts/dutyhours.py."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from residency.models import Person
from shifts import dutyhours
from shifts.dutyhours import DutyHourProblem, Limits, PersonWork
from shifts.models import DutyHourOverride
from shifts.selectors import (
    blocks_touching,
    duty_hour_horizon,
    duty_hour_limits_get,
    person_work_load,
)

MAX_REPORT_DAYS = 400


def weekly_hours(
    *, work: PersonWork, start: datetime.date, end: datetime.date, whole_weeks: bool = True
) -> list[tuple[datetime.date, float]]:
    """Scheduled hours per week (weeks starting on ``start``), for the compliance report. The
    last week is cut at ``end`` unless ``whole_weeks``."""
    ev = dutyhours.evaluate_work(work)
    weeks = []
    week_start = start
    last = end.toordinal()
    while week_start <= end:
        first = week_start.toordinal()
        stop = first + 7 if whole_weeks else min(first + 7, last + 1)
        minutes = sum(ev.daily_minutes.get(n, 0) for n in range(first, stop))
        weeks.append((week_start, minutes / 60))
        week_start += 7 * dutyhours.DAY
    return weeks


def days_off(*, work: PersonWork, start: datetime.date, end: datetime.date) -> int:
    ev = dutyhours.evaluate_work(work)
    first = start.toordinal()
    return sum(1 for n in range(first, end.toordinal() + 1) if n not in ev.busy_days)


@dataclass
class DutyHourReport:
    """One person's compliance over [start, end]: hours per week, days off, call nights, every
    problem (with numbers) and every override a coordinator recorded."""

    person: Person
    start: datetime.date
    end: datetime.date
    limits: Limits
    weeks: list[tuple[datetime.date, float]]
    days_off: int
    in_house_calls: int
    problems: list[DutyHourProblem]
    overrides: list

    @property
    def violations(self) -> list[DutyHourProblem]:
        return [p for p in self.problems if p.is_violation]

    @property
    def warnings(self) -> list[DutyHourProblem]:
        return [p for p in self.problems if not p.is_violation]

    def as_json(self) -> dict:
        return {
            "person": self.person.pk,
            "person_name": self.person.name,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "limits": {
                "averaging": self.limits.averaging,
                "averaging_days": self.limits.averaging_days,
                "max_weekly_hours": float(self.limits.max_weekly_hours),
                "days_off_per_week": float(self.limits.days_off_per_week),
                "max_continuous_hours": float(self.limits.max_continuous_hours),
                "transition_hours": float(self.limits.transition_hours),
                "rest_after_long_call_hours": float(self.limits.rest_after_long_call_hours),
                "min_rest_between_periods_hours": float(self.limits.min_rest_between_periods_hours),
                "call_every_nth_night": self.limits.call_every_nth_night,
            },
            "weeks": [{"start": w.isoformat(), "hours": round(h, 2)} for w, h in self.weeks],
            "days_off": self.days_off,
            "in_house_calls": self.in_house_calls,
            "problems": [problem_json(p) for p in self.problems],
            "overrides": [
                {
                    "date": o.date.isoformat(),
                    "shift_type": o.shift_type.code,
                    "reason": o.reason,
                    "problems": o.problems,
                    "by": o.created_by.get_username() if o.created_by else None,
                    "at": o.created_at.isoformat(),
                }
                for o in self.overrides
            ],
        }


def problem_json(problem: DutyHourProblem) -> dict:
    return {
        "rule": problem.rule,
        "severity": problem.severity,
        "from": problem.start.isoformat(),
        "to": problem.end.isoformat(),
        "value": problem.value,
        "limit": problem.limit,
        "message": problem.message,
    }


def duty_hour_report(*, person: Person, start: datetime.date, end: datetime.date) -> DutyHourReport:
    limits = duty_hour_limits_get()
    blocks = blocks_touching(start=start, end=end) if limits.averaging == dutyhours.BLOCKS else []
    lo, hi = duty_hour_horizon(limits=limits, start=start, end=end, blocks=blocks)
    work = person_work_load(person_ids=[person.pk], start=lo, end=hi).get(person.pk) or PersonWork(
        person.pk, person.name
    )
    problems = (
        dutyhours.duty_hour_problems(work=work, limits=limits, start=start, end=end, blocks=blocks)
        if person.kind == Person.Kind.RESIDENT
        else []
    )
    return DutyHourReport(
        person=person,
        start=start,
        end=end,
        limits=limits,
        weeks=weekly_hours(work=work, start=start, end=end),
        days_off=days_off(work=work, start=start, end=end),
        in_house_calls=sum(1 for s in work.shifts if s.counts_as_call and start <= s.date <= end),
        problems=problems,
        overrides=list(
            DutyHourOverride.objects.filter(person=person, date__range=(start, end))
            .select_related("shift_type", "created_by")
            .order_by("date")
        ),
    )


@dataclass
class ComplianceRow:
    person: Person
    weeks: list[tuple[datetime.date, float]]
    average: float
    days_off: int
    in_house_calls: int
    problems: list[DutyHourProblem]

    @property
    def violations(self) -> list[DutyHourProblem]:
        return [p for p in self.problems if p.is_violation]

    @property
    def warnings(self) -> list[DutyHourProblem]:
        return [p for p in self.problems if not p.is_violation]

    @property
    def max_week(self) -> float:
        return max((h for _, h in self.weeks), default=0.0)


AT_RISK_FRACTION = 0.9  # an average within 10% of the weekly limit is "at risk"


def program_compliance(
    *, start: datetime.date, end: datetime.date
) -> tuple[list[ComplianceRow], list[DutyHourOverride], Limits]:
    """Every active resident's hours, days off, call nights and problems over [start, end],
    worst first (violations, then the highest average): one load for everyone."""
    limits = duty_hour_limits_get()
    blocks = blocks_touching(start=start, end=end) if limits.averaging == dutyhours.BLOCKS else []
    lo, hi = duty_hour_horizon(limits=limits, start=start, end=end, blocks=blocks)
    people = {p.pk: p for p in Person.objects.filter(kind=Person.Kind.RESIDENT, active=True)}
    works = person_work_load(person_ids=people, start=lo, end=hi)
    days = (end - start).days + 1
    rows = []
    for pk, work in works.items():
        weeks = weekly_hours(work=work, start=start, end=end)
        total = sum(h for _, h in weekly_hours(work=work, start=start, end=end, whole_weeks=False))
        rows.append(
            ComplianceRow(
                person=people[pk],
                weeks=weeks,
                average=total * 7 / days,
                days_off=days_off(work=work, start=start, end=end),
                in_house_calls=sum(
                    1 for s in work.shifts if s.counts_as_call and start <= s.date <= end
                ),
                problems=dutyhours.duty_hour_problems(
                    work=work, limits=limits, start=start, end=end, blocks=blocks
                ),
            )
        )
    rows.sort(key=lambda r: (-len(r.violations), -r.average, r.person.name))
    overrides = list(
        DutyHourOverride.objects.filter(date__range=(start, end))
        .select_related("person", "shift_type", "created_by")
        .order_by("date")
    )
    return rows, overrides, limits


def is_at_risk(row: ComplianceRow, limits: Limits) -> bool:
    return bool(row.violations) or row.average >= float(limits.max_weekly_hours) * AT_RISK_FRACTION
