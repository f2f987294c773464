"""Eligibility judged from facts read once (``shifts.eligibility``) says exactly what the
one-shift queries say, for every branch of the rule, and reads nothing more; the validators that
judge many shifts do not read per shift."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shifts import selectors
from shifts.eligibility import eligibility_facts_load
from shifts.models import ShiftType
from shifts.validator import shifts_validate
from tests.factories import (
    AbsenceFactory,
    AcademicYearFactory,
    AssignmentFactory,
    BlockFactory,
    PersonFactory,
    ResidentYearFactory,
    RotationTemplateFactory,
    ShiftFactory,
    ShiftTypeFactory,
)

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


@pytest.fixture
def world():
    """Two blocks, a ward pool, and people for each branch of the eligibility rule."""
    year = AcademicYearFactory(start_date=datetime.date(2040, 7, 1))
    first, second = BlockFactory(academic_year=year), BlockFactory(academic_year=year)
    ward, clinic = RotationTemplateFactory(name="Ward"), RotationTemplateFactory(name="Clinic")
    call = ShiftTypeFactory(
        name="Ward call", staffed_by=ShiftType.StaffedBy.RESIDENTS, allowed_pgy_levels=[2, 3]
    )
    call.eligible_rotations.set([ward])
    people = {
        # PGY-2 on the ward in block 1, on clinic in block 2, away three days across the
        # block boundary and with a pending (not counted) absence later.
        "moves": PersonFactory(name="Dr Moves"),
        "pgy1": PersonFactory(name="Dr Junior"),  # PGY-1: wrong level
        "no_year": PersonFactory(name="Dr Nolevel"),  # no PGY level that year
        "no_rotation": PersonFactory(name="Dr Unplaced"),  # a level, no assignment
        "faculty": PersonFactory(name="Dr Senior", faculty=True),
        "inactive": PersonFactory(name="Dr Gone", active=False),
    }
    for key, level in (("moves", 2), ("pgy1", 1), ("no_rotation", 3), ("inactive", 2)):
        ResidentYearFactory(person=people[key], academic_year=year, pgy_level=level)
    AssignmentFactory(person=people["moves"], block=first, rotation=ward)
    AssignmentFactory(person=people["moves"], block=second, rotation=clinic)
    for key in ("pgy1", "no_year", "faculty", "inactive"):
        AssignmentFactory(person=people[key], block=first, rotation=ward)
    AbsenceFactory(
        person=people["moves"], start_date=first.end_date - DAY, end_date=second.start_date
    )
    AbsenceFactory(
        person=people["moves"],
        start_date=second.start_date + 5 * DAY,
        end_date=second.start_date + 6 * DAY,
        status="requested",
    )
    edges = [first.end_date - DAY, first.end_date, second.start_date, second.start_date + 5 * DAY]
    days = sorted({first.start_date + n * DAY for n in range(0, 56, 3)} | set(edges))
    return year, call, people, days


def test_facts_give_the_same_answers_as_the_queries(world, django_assert_num_queries):
    year, call, people, days = world
    call = ShiftType.objects.prefetch_related("eligible_rotations").get(pk=call.pk)
    facts = eligibility_facts_load(
        person_ids=[p.pk for p in people.values()], start=year.start_date, end=year.end_date
    )
    expected = {
        (key, day): selectors.shift_eligibility_problems(person=person, shift_type=call, day=day)
        for key, person in people.items()
        for day in days
    }
    # Every branch is exercised (so agreeing means something).
    messages = " ".join(m for problems in expected.values() for _f, m in problems)
    for fragment in (
        "is not active",
        "is faculty",
        "is PGY-1",
        "without a PGY level",
        "has no rotation",
        "is on Clinic",
        "is away on",
    ):
        assert fragment in messages, fragment
    assert any(problems == [] for problems in expected.values())
    with django_assert_num_queries(0):
        got = {
            (key, day): selectors.shift_eligibility_problems(
                person=person, shift_type=call, day=day, facts=facts
            )
            for key, person in people.items()
            for day in days
        }
    assert got == expected


def test_a_day_or_person_the_facts_do_not_cover_is_read_as_before(world):
    year, call, people, _days = world
    moves = people["moves"]
    narrow = eligibility_facts_load(
        person_ids=[people["pgy1"].pk], start=year.start_date, end=year.start_date
    )
    away = year.start_date + 27 * DAY  # the last day of block 1: on leave
    assert selectors.shift_eligibility_problems(
        person=moves, shift_type=call, day=away, facts=narrow
    ) == selectors.shift_eligibility_problems(person=moves, shift_type=call, day=away)


def test_the_program_validator_reads_no_more_for_more_shifts(world):
    year, call, people, days = world
    for key in ("moves", "pgy1", "faculty"):
        ShiftFactory(person=people[key], shift_type=call, date=days[1])

    def validate() -> tuple[int, list]:
        with CaptureQueriesContext(connection) as captured:
            violations = shifts_validate(start=year.start_date, end=days[-1])
        return len(captured), [v for v in violations if v.rule == "eligibility"]

    few, few_found = validate()
    for day in days[2:]:
        for key in ("moves", "pgy1", "faculty"):
            ShiftFactory(person=people[key], shift_type=call, date=day)
    many, many_found = validate()
    assert len(many_found) > len(few_found) > 0
    # Everything else reads per person or per day, not per shift: the same people, the same
    # period, the same count (before, each shift cost three or four more).
    assert many == few
