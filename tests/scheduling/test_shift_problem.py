"""Shift generation's Django side (scheduling/shift_problem): the snapshot reader's mapping of the
shifts app onto the roster engine, a small program solved and passed by the independent
validator, the validator catching each rule on hand-built rows, the explanation of an
infeasible period in names and dates, and the per-person report."""

from __future__ import annotations

import datetime
import json
from unittest import mock

import pytest
from ortools.sat.python import cp_model

from residency.models import Absence
from scheduling.roster import roster_solve
from scheduling.shift_problem import (
    shift_roster_explain,
    shift_roster_report,
    shift_rows_validate,
    shift_snapshot_load,
)
from scheduling.shift_problem.rules import roster_shift_types
from shifts.dutyhours import Limits
from shifts.models import CoverageRule, ShiftRequest, ShiftType
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    CoverageRuleFactory,
    HolidayFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    ShiftFactory,
    ShiftTypeFactory,
    WorkPatternFactory,
)

DAY = datetime.timedelta(days=1)
START = datetime.date(2040, 7, 2)  # a Monday
END = datetime.date(2040, 7, 15)  # two weeks
HOLIDAY = datetime.date(2040, 7, 4)


class Program:
    """Four PGY-1s on the ward (07:00-17:00 on weekdays), one PGY-1 in clinic, one PGY-3 on
    the ward; a ward night call 17:00-07:00 (10 h of rest cancels the post-call day) needed
    every day, by PGY-1/2 residents on the ward."""

    def __init__(self) -> None:
        self.year = AcademicYearFactory(
            label="2040-41",
            start_date=datetime.date(2040, 7, 1),
            end_date=datetime.date(2041, 6, 30),
        )
        self.block1 = BlockFactory(academic_year=self.year, number=1)
        self.block2 = BlockFactory(academic_year=self.year, number=2)
        self.ward = RotationTemplateFactory(name="Ward", code="WARD")
        self.clinic = RotationTemplateFactory(name="Clinic", code="CLIN")
        for weekday in range(5):
            WorkPatternFactory(rotation=self.ward, weekday=weekday, length_hours=10)
        self.night = ShiftTypeFactory(
            code="NIGHT",
            name="Ward night call",
            start_time=datetime.time(17),
            length_hours=14,
            rest_after_hours=10,
            allowed_pgy_levels=[1, 2],
            burden_points=2,
        )
        self.night.eligible_rotations.add(self.ward)
        CoverageRuleFactory(shift_type=self.night, min_people=1, max_people=1)
        self.ward_people = [self.resident(f"Dr {c}", 1, self.ward) for c in "ABCD"]
        self.clinic_person = self.resident("Dr Clinic", 1, self.clinic)
        self.senior = self.resident("Dr Senior", 3, self.ward)

    def resident(self, name, pgy, rotation):
        person = PersonFactory(name=name)
        ResidentYearFactory(person=person, academic_year=self.year, pgy_level=pgy)
        for block in (self.block1, self.block2):
            AssignmentFactory(person=person, block=block, rotation=rotation)
        return person

    def load(self, **kwargs):
        kwargs.setdefault("start", START)
        kwargs.setdefault("end", END)
        return shift_snapshot_load(academic_year=self.year, **kwargs)


@pytest.fixture
def program(db):
    return Program()


def roster_person(snapshot, person):
    return next(p for p in snapshot.problem.people if p.id == str(person.pk))


# --- The mapping -------------------------------------------------------------------------------


def test_eligibility_by_rotation_and_pgy(program):
    snapshot = program.load()
    assert set(snapshot.people) == {
        str(p.pk) for p in [*program.ward_people, program.clinic_person, program.senior]
    }
    assert snapshot.shift_types == {"NIGHT": program.night}
    clinic = roster_person(snapshot, program.clinic_person)
    assert clinic.shift_types == frozenset({"NIGHT"})
    assert clinic.ineligible[snapshot.day_of(START), "NIGHT"] == "on Clinic"
    assert clinic.cohort == "PGY-1"
    # PGY-3 is not in the call pool at all, so compared with nobody for fairness.
    senior = roster_person(snapshot, program.senior)
    assert senior.shift_types == frozenset() and senior.cohort is None
    ward = roster_person(snapshot, program.ward_people[0])
    assert not any(day == snapshot.day_of(START) for day, _ in ward.ineligible)


def test_approved_absence_is_unavailable_with_its_reason(program):
    AbsenceFactory(person=program.ward_people[0], start_date=START + DAY, end_date=START + 2 * DAY)
    AbsenceFactory(
        person=program.ward_people[1],
        start_date=START,
        end_date=START,
        kind=Absence.Kind.CONFERENCE,
        status=Absence.Status.REQUESTED,  # not approved: no effect
    )
    snapshot = program.load()
    away = roster_person(snapshot, program.ward_people[0]).unavailable
    assert away == {
        snapshot.day_of(START + DAY): "vacation",
        snapshot.day_of(START + 2 * DAY): "vacation",
    }
    assert roster_person(snapshot, program.ward_people[1]).unavailable == {}
    # The absent days carry no rotation hours (the duty-hour engine drops them too).
    baseline = roster_person(snapshot, program.ward_people[0]).baseline_minutes
    assert snapshot.day_of(START + DAY) not in baseline
    assert baseline[snapshot.day_of(START)] == 600


def test_baseline_minutes_follow_the_rotations_week(program):
    snapshot = program.load()
    baseline = roster_person(snapshot, program.ward_people[0]).baseline_minutes
    assert baseline[snapshot.day_of(START)] == 600  # Monday
    assert snapshot.day_of(START + 5 * DAY) not in baseline  # Saturday
    # Before block 1 (the year starts on 1 Jul) there is no rotation.
    assert snapshot.day_of(datetime.date(2040, 6, 29)) not in baseline
    assert roster_person(snapshot, program.clinic_person).baseline_minutes == {}


def test_existing_shifts_pinned_current_or_ignored_by_keep(program):
    a, b = program.ward_people[:2]
    kept = ShiftFactory(person=a, date=START, shift_type=program.night, pinned=True)
    loose = ShiftFactory(person=b, date=START + DAY, shift_type=program.night)
    ida, idb = str(a.pk), str(b.pk)
    monday, tuesday = START, START + DAY

    changes = program.load(keep="changes")
    assert changes.problem.pinned[ida, changes.day_of(monday)] == "NIGHT"
    assert (idb, changes.day_of(tuesday)) not in changes.problem.pinned
    assert changes.problem.current == {(idb, changes.day_of(tuesday)): "NIGHT"}
    assert changes.problem.stability_weight > 0
    assert changes.current == {
        (a.pk, monday, program.night.pk): (kept.pk, kept.version),
        (b.pk, tuesday, program.night.pk): (loose.pk, loose.version),
    }

    everything = program.load(keep="all")
    assert everything.problem.pinned[idb, everything.day_of(tuesday)] == "NIGHT"
    assert everything.problem.current == {}

    fresh = program.load(keep="none")
    assert fresh.problem.pinned[ida, fresh.day_of(monday)] == "NIGHT"  # pinned stays pinned
    assert (idb, fresh.day_of(tuesday)) not in fresh.problem.pinned
    assert fresh.problem.current == {} and fresh.problem.stability_weight == 0
    assert set(fresh.current) == set(changes.current)  # the write phase still diffs against them


def test_look_back_and_ahead_days_are_pinned_to_the_shifts_worked(program):
    a = program.ward_people[0]
    ShiftFactory(person=a, date=START - 3 * DAY, shift_type=program.night)
    ShiftFactory(person=a, date=END + 2 * DAY, shift_type=program.night)
    snapshot = program.load()
    assert snapshot.first_day == START - 27 * DAY
    assert snapshot.problem.days == 14 + 2 * 27
    pinned = snapshot.problem.pinned
    assert pinned[str(a.pk), snapshot.day_of(START - 3 * DAY)] == "NIGHT"
    assert pinned[str(a.pk), snapshot.day_of(START - 2 * DAY)] is None
    assert pinned[str(a.pk), snapshot.day_of(END + 2 * DAY)] == "NIGHT"
    assert (str(a.pk), snapshot.day_of(START)) not in pinned
    assert snapshot.day_label(snapshot.day_of(HOLIDAY)) == "Wed 4 Jul"
    assert snapshot.date_of(snapshot.day_of(END)) == END


def test_cover_per_day_with_holiday_precedence(program):
    HolidayFactory(date=HOLIDAY, name="Independence Day")
    CoverageRuleFactory(
        shift_type=program.night, days=CoverageRule.Days.HOLIDAYS, min_people=2, max_people=2
    )
    CoverageRuleFactory(
        shift_type=program.night, days=CoverageRule.Days.WEEKENDS, min_people=0, max_people=1
    )
    # Someone outside the generated people already holds one on Tuesday: one fewer needed.
    ShiftFactory(person=PersonFactory(name="Locum"), date=START + DAY, shift_type=program.night)
    snapshot = program.load()
    cover = {(c.day, c.shift_type): (c.min, c.max) for c in snapshot.problem.cover}
    assert cover[snapshot.day_of(START), "NIGHT"] == (1, 1)
    assert cover[snapshot.day_of(START + DAY), "NIGHT"] == (0, 0)
    assert cover[snapshot.day_of(HOLIDAY), "NIGHT"] == (2, 2)
    assert cover[snapshot.day_of(START + 5 * DAY), "NIGHT"] == (0, 1)  # Saturday
    assert len(cover) == 14


def test_a_type_no_rule_asks_for_on_a_day_gets_none_added_that_day(program):
    # Weekend call is wanted on weekends only: on a weekday generation must not hand one out
    # (to even out points, say); one a person already holds that day may stay.
    weekend = ShiftTypeFactory(code="WKND", name="Weekend call", start_time=datetime.time(8))
    CoverageRuleFactory(shift_type=weekend, days=CoverageRule.Days.WEEKENDS)
    tuesday = START + DAY
    ShiftFactory(person=program.ward_people[0], date=tuesday, shift_type=weekend)
    snapshot = program.load()
    cover = {(c.day, c.shift_type): (c.min, c.max) for c in snapshot.problem.cover}
    assert cover[snapshot.day_of(START), "WKND"] == (0, 0)  # Monday: nobody holds one
    assert cover[snapshot.day_of(tuesday), "WKND"] == (0, 1)  # the one held may stay
    assert cover[snapshot.day_of(START + 5 * DAY), "WKND"] == (1, 1)  # Saturday: the rule
    # The independent validator refuses one added on a weekday.
    extra = (program.ward_people[1].pk, START, weekend.pk)
    problems = shift_rows_validate(snapshot=snapshot, rows=set(snapshot.current) | {extra})
    assert any("Weekend call on" in p and "no coverage rule asks for it" in p for p in problems), (
        problems
    )


def test_duty_hour_rules_and_points_map_onto_the_engine(program):
    snapshot = program.load()
    p = snapshot.problem
    night = p.shift_type("NIGHT")
    # 10 h of ward hours run into the 17:00 call: 24 h of continuous work, a long call, so
    # 14 h of rest until 21:00 the next day: no call the next evening.
    assert night.rest_days_after == 1
    assert night.busy_days_after == 1
    assert night.points == 2 and night.minutes == 14 * 60
    # Minutes per calendar day as the duty-hour engine counts them: Monday's call adds 7 h to
    # Monday (17:00-24:00 after the 10 h ward day) and on Tuesday its 7 h replace the ward day
    # its rest cancels (-3 h); Friday's call adds 7 h on Friday and 7 h on Saturday.
    ward = roster_person(snapshot, program.ward_people[0])
    assert ward.shift_minutes[snapshot.day_of(START), "NIGHT"] == ((0, 420), (1, -180))
    friday = snapshot.day_of(START + 4 * DAY)
    assert ward.shift_minutes[friday, "NIGHT"] == ((0, 420), (1, 420))
    (rolling,) = p.rolling_minutes
    assert rolling.window == 28 and rolling.max_minutes == 80 * 4 * 60
    (free,) = p.min_free_days
    assert (free.window, free.min_free) == (28, 4)
    (calls,) = p.window_counts
    assert calls.shift_types == {"NIGHT"} and (calls.window, calls.max_count) == (28, 9)
    assert {f.name for f in p.fairness} == {"points", "weekends"}
    weekends = next(f for f in p.fairness if f.name == "weekends")
    assert snapshot.day_of(START + 5 * DAY) in weekends.days
    assert snapshot.day_of(START) not in weekends.days


def test_rest_after_a_24_hour_call_and_a_short_night():
    limits = Limits()
    call = ShiftType(
        code="C24", start_time=datetime.time(7), length_hours=24, kind="overnight_call"
    )
    evening = ShiftType(code="EVE", start_time=datetime.time(21), length_hours=4, kind="day_shift")
    day = ShiftType(code="DAY", start_time=datetime.time(8), length_hours=8, kind="day_shift")
    types = {t.id: t for t in roster_shift_types([call, evening, day], limits)}
    # 24 h call ending 07:00 + 14 h: free until 21:00, so only the 21:00 shift may follow.
    assert types["C24"].cannot_follow == {"C24", "DAY"}
    assert types["C24"].rest_days_after == 0
    types = {t.id: t for t in roster_shift_types([call, day], limits)}
    assert types["C24"].rest_days_after == 1  # nothing the next day
    assert types["DAY"].rest_days_after == 0 and not types["DAY"].cannot_follow


def test_requests_become_weighted_engine_requests(program):
    a = program.ward_people[0]
    ShiftRequest.objects.create(person=a, date=START, kind="off", priority=1)
    ShiftRequest.objects.create(
        person=a, date=START + DAY, shift_type=program.night, kind="on", priority=3
    )
    snapshot = program.load()
    got = {(r.day, r.shift_type, r.on, r.weight) for r in snapshot.problem.requests}
    assert got == {
        (snapshot.day_of(START), None, False, 10),
        (snapshot.day_of(START + DAY), "NIGHT", True, 1),
    }


# --- Solving and validating --------------------------------------------------------------------


def test_a_small_program_solves_and_passes_the_independent_validator(program):
    a = program.ward_people[0]
    ShiftRequest.objects.create(person=a, date=START, kind="off", priority=1)
    snapshot = program.load()
    result = roster_solve(snapshot.problem, time_limit=5, workers=1, seed=0)
    assert result.found, result.status
    rows = snapshot.rows_of(result.roster)
    assert len(rows) == 14  # one call a night
    assert all(person_pk in {p.pk for p in program.ward_people} for person_pk, _, _ in rows)
    assert (a.pk, START, program.night.pk) not in rows
    assert shift_rows_validate(snapshot=snapshot, rows=rows) == []

    report = shift_roster_report(snapshot=snapshot, rows=rows)
    json.dumps(report)  # stored in GenerationRun.report
    by_name = {p["name"]: p for p in report["people"]}
    assert sum(p["shifts"].get("NIGHT", 0) for p in report["people"]) == 14
    assert by_name["Dr A"]["requests"] == 1 and by_name["Dr A"]["requests_honoured"] == 1
    assert by_name["Dr Clinic"]["points"] == 0
    for name in ("Dr A", "Dr B", "Dr C", "Dr D"):
        person = by_name[name]
        assert person["points"] == 2 * person["shifts"]["NIGHT"]
        assert person["points_year_to_date"] == person["points"]
    (pgy1,) = [c for c in report["cohorts"] if c["cohort"] == "PGY-1"]
    # Fairness within PGY-1: the four on the ward split 14 calls 4/4/3/3; the clinic resident
    # cannot take any, so the spread is measured including them (0 points).
    assert pgy1["people"] == 5 and pgy1["points_max"] == 8


def test_validator_catches_coverage_under_and_over(program):
    a, b = program.ward_people[:2]
    night = program.night.pk
    rows = {(a.pk, START, night), (b.pk, START, night)}
    rows |= {(a.pk if n % 2 else b.pk, START + n * DAY, night) for n in range(2, 14)}
    messages = shift_rows_validate(snapshot=program.load(), rows=rows)
    assert "Ward night call on 2 Jul 2040: 2 people, at most 1." in messages
    assert "Ward night call on 3 Jul 2040: 0 of at least 1 people." in messages


def test_validator_catches_an_ineligible_person(program):
    snapshot = program.load()
    rows = {(program.clinic_person.pk, START, program.night.pk)}
    messages = shift_rows_validate(snapshot=snapshot, rows=rows)
    assert any(
        m.startswith("Ward night call is taken by people on Ward; Dr Clinic is on Clinic")
        for m in messages
    )


def test_validator_catches_80_hours_and_rest_after_a_24_hour_call(program):
    heavy = RotationTemplateFactory(name="Heavy", code="HEAVY")
    for weekday in range(7):
        WorkPatternFactory(
            rotation=heavy, weekday=weekday, start_time=datetime.time(7), length_hours=11
        )
    tired = program.resident("Dr Tired", 1, heavy)
    caller = PersonFactory(name="Dr Caller")
    ResidentYearFactory(person=caller, academic_year=program.year, pgy_level=1)
    evening = ShiftTypeFactory(
        code="EVE",
        name="Evening",
        kind=ShiftType.Kind.DAY_SHIFT,
        start_time=datetime.time(19),
        length_hours=4,
    )
    call = ShiftTypeFactory(
        code="C24", name="24h call", start_time=datetime.time(7), length_hours=24
    )
    snapshot = program.load(shift_type_ids=[evening.pk, call.pk])
    rows = {(tired.pk, START + n * DAY, evening.pk) for n in range(4)}
    rows |= {(caller.pk, START, call.pk), (caller.pk, START + DAY, evening.pk)}
    messages = shift_rows_validate(snapshot=snapshot, rows=rows)
    assert any(m.startswith("Dr Tired: ") and "h/week averaged over" in m for m in messages)
    assert any(
        m.startswith("Dr Caller: 12 h free between 24 h of in-house call") for m in messages
    ), messages
    # Without the evening shifts Dr Tired's 77 h weeks are within the limit.
    calm = shift_rows_validate(snapshot=snapshot, rows={(caller.pk, START, call.pk)})
    assert not any("h/week" in m for m in calm)


def test_validator_refuses_to_remove_a_pinned_shift(program):
    a, b = program.ward_people[:2]
    ShiftFactory(person=a, date=START, shift_type=program.night, pinned=True)
    snapshot = program.load()
    messages = shift_rows_validate(snapshot=snapshot, rows={(b.pk, START, program.night.pk)})
    assert "Dr A's pinned Ward night call on 2 Jul 2040 would be removed." in messages


def test_validator_applies_the_diff_against_existing_shifts(program):
    a, b = program.ward_people[:2]
    ShiftFactory(person=a, date=START, shift_type=program.night)
    snapshot = program.load()
    # Moving Monday's call from A to B: A's existing shift goes, so Monday has one, not two.
    rows = {(b.pk, START, program.night.pk)}
    messages = shift_rows_validate(snapshot=snapshot, rows=rows)
    assert not any("on 2 Jul 2040" in m for m in messages), messages
    assert "Ward night call on 3 Jul 2040: 0 of at least 1 people." in messages


# --- Explanations ------------------------------------------------------------------------------


def test_nobody_eligible_names_people_reasons_and_a_date_range(program):
    for person in program.ward_people:
        AbsenceFactory(person=person, start_date=HOLIDAY, end_date=HOLIDAY + DAY)
    snapshot = program.load()
    assert not roster_solve(snapshot.problem, time_limit=5, workers=1).found
    messages = shift_roster_explain(snapshot)
    assert messages == [
        "Nobody eligible for Ward night call on Wed 4 Jul - Thu 5 Jul: Dr A, Dr B, Dr C, "
        "Dr D (vacation); Dr Clinic (on Clinic)."
    ]


def test_too_few_people_names_who_can_and_why_the_others_cannot(program):
    HolidayFactory(date=HOLIDAY, name="Independence Day")
    CoverageRuleFactory(
        shift_type=program.night, days=CoverageRule.Days.HOLIDAYS, min_people=2, max_people=2
    )
    a, b, c, _d = program.ward_people
    ShiftFactory(person=a, date=HOLIDAY - DAY, shift_type=program.night, pinned=True)
    for person in (b, c):
        AbsenceFactory(person=person, start_date=HOLIDAY, end_date=HOLIDAY)
    snapshot = program.load()
    assert shift_roster_explain(snapshot) == [
        "Ward night call on Wed 4 Jul needs 2 people but only 1 can work it (Dr D): "
        "Dr A (resting after Ward night call on Tue 3 Jul); Dr B, Dr C (vacation); "
        "Dr Clinic (on Clinic)."
    ]


def test_the_solver_side_explanation_names_the_rules_and_people(program):
    # One resident for a call every night: each night is coverable on its own, but the
    # one-day-in-seven and call-frequency rules cannot all hold.
    year = program.year
    solo_rotation = RotationTemplateFactory(name="Nights", code="NGT")
    short = ShiftTypeFactory(
        code="SN", name="Short night", start_time=datetime.time(18), length_hours=12
    )
    CoverageRuleFactory(shift_type=short, min_people=1, max_people=1)
    ShiftType.objects.exclude(pk=short.pk).update(active=False)
    for person in [*program.ward_people, program.clinic_person, program.senior]:
        person.resident_years.all().delete()
    solo = program.resident("Dr Solo", 1, solo_rotation)
    snapshot = shift_snapshot_load(academic_year=year, start=START, end=END)
    assert list(snapshot.people) == [str(solo.pk)]
    assert not roster_solve(snapshot.problem, time_limit=5, workers=1).found
    messages = shift_roster_explain(snapshot)
    assert messages == [
        "No roster meets all of these together:",
        "Short night on Fri 6 Jul - Sun 15 Jul needs 1 person.",
        "Dr Solo may take at most 9 shifts of Short night in any 28 days.",
    ]

    # A cancelled run's explanation stops: asked to stop during the first check, it runs no
    # further check (the watcher stops the solve in progress within 0.1 s).
    asked = []
    solves = []
    real_solve = cp_model.CpSolver.solve

    def counting_solve(self, *args, **kwargs):
        solves.append(1)
        return real_solve(self, *args, **kwargs)

    def stop_after_first_check() -> bool:
        asked.append(1)
        return bool(solves)

    with mock.patch.object(cp_model.CpSolver, "solve", counting_solve):
        shift_roster_explain(snapshot, should_stop=stop_after_first_check)
    assert len(solves) == 1 and asked
