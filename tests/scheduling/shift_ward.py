"""The week of night call the stand-in shift-run tests share (tests/scheduling/test_shift_runs.py,
test_shift_runs_publish.py, test_shift_runs_races.py; the ``ward`` and ``standin`` fixtures are in
tests/scheduling/conftest.py), and the helpers that start and run a shifts run over it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from scheduling import services, shift_runs
from scheduling.models import GenerationRun, ShiftChange
from shifts.models import Shift
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    CoverageRuleFactory,
    PersonFactory,
    ShiftFactory,
    ShiftTypeFactory,
)

DAY = datetime.timedelta(days=1)


@dataclass
class Ward:
    """Night call (NC) needs exactly one resident a night. Ann holds it every night of the week
    ``start``..``end``; then she gets approved leave on the third night. So any run must change
    exactly that night: remove Ann's shift and give it to Ben (nobody else may)."""

    year: object
    nc: object
    ann: object
    ben: object
    start: datetime.date
    end: datetime.date

    @property
    def leave_day(self) -> datetime.date:
        return self.start + 2 * DAY

    def shift(self, person, day) -> Shift:
        return Shift.objects.get(person=person, date=day, shift_type=self.nc)

    def rows(self) -> list[tuple]:
        return sorted(
            Shift.objects.values_list(
                "pk", "person_id", "date", "shift_type_id", "version", "notes", "updated_at"
            )
        )


def ward_create() -> Ward:
    year = AcademicYearFactory()
    nc = ShiftTypeFactory(code="NC", name="Night call")
    CoverageRuleFactory(shift_type=nc)
    ann = PersonFactory(name="Ann", with_login=True)
    ben = PersonFactory(name="Ben", with_login=True)
    start = year.start_date + 7 * DAY
    end = start + 6 * DAY
    for offset in range(7):
        ShiftFactory(person=ann, shift_type=nc, date=start + offset * DAY)
    AbsenceFactory(person=ann, start_date=start + 2 * DAY, end_date=start + 2 * DAY)
    return Ward(year, nc, ann, ben, start, end)


def run_start(ward: Ward, **kwargs) -> GenerationRun:
    kwargs.setdefault("time_limit_seconds", 10)
    kwargs.setdefault("workers", 1)
    return shift_runs.shift_generation_start(
        academic_year_id=ward.year.pk, start=ward.start, end=ward.end, **kwargs
    )


def run_draft(ward: Ward, **kwargs) -> GenerationRun:
    run = run_start(ward, enqueue=False, **kwargs)
    services.generation_run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


def run_changes(run) -> list[tuple]:
    return sorted(
        ShiftChange.objects.filter(run=run).values_list(
            "kind", "person__name", "date", "shift_type__code", "shift_id", "version_read"
        )
    )
